import { sql } from 'kysely'
import type { Queryable, Transaction } from '../../db/database.ts'
import type { AvailRow, SandboxCreateArmRow, SandboxCreativeFormatRow } from '../../db/tables.ts'

/**
 * The sandbox's own state (migration 0015): creative formats seeded by comply_test_controller,
 * force_create_media_buy_arm directives, and the wholesale removal of a storefront's sandbox
 * data on reset. Every statement here is scoped to the sandbox source or to sandbox keys.
 */

export async function findSandboxAvail(db: Queryable, inventorySourceId: number, availId: string): Promise<AvailRow | undefined> {
  return db.selectFrom('avail').selectAll().where('inventory_source_id', '=', inventorySourceId).where('avail_id', '=', availId).executeTakeFirst()
}

/**
 * The first seed of a run replaces the sandbox source's demo catalog: its avails that are not
 * fixtures stop being sellable (deactivated, never deleted: a hold on one stays exact).
 */
export async function deactivateNonFixtureAvails(trx: Transaction, inventorySourceId: number, fixtureKey: string, now: Date): Promise<number> {
  const result = await trx
    .updateTable('avail')
    .set({ status: 'INACTIVE', updated_at: now })
    .where('inventory_source_id', '=', inventorySourceId)
    .where('status', '=', 'ACTIVE')
    // The demo avails and the standing fixtures (`standing: true`) give way to what a run seeds.
    .where(sql<boolean>`not (source_metadata ? ${fixtureKey}) or coalesce((source_metadata -> ${fixtureKey} ->> 'standing') = 'true', false)`)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

export async function upsertSeededFormat(
  db: Queryable,
  input: { inventorySourceId: number; formatId: string; name: string; formatType: string | null; now: Date },
): Promise<void> {
  await db
    .insertInto('sandbox_creative_format')
    .values({ inventory_source_id: input.inventorySourceId, format_id: input.formatId, name: input.name, format_type: input.formatType, created_at: input.now })
    .onConflict((oc) => oc.columns(['inventory_source_id', 'format_id']).doUpdateSet({ name: input.name, format_type: input.formatType }))
    .execute()
}

/** Seeds a format only when it is not there yet (a product's format id names no fixture of its own). */
export async function ensureSeededFormat(trx: Transaction, input: { inventorySourceId: number; formatId: string; name: string; formatType: string | null; now: Date }): Promise<void> {
  await trx
    .insertInto('sandbox_creative_format')
    .values({ inventory_source_id: input.inventorySourceId, format_id: input.formatId, name: input.name, format_type: input.formatType, created_at: input.now })
    .onConflict((oc) => oc.columns(['inventory_source_id', 'format_id']).doNothing())
    .execute()
}

/** The seeded formats of a sandbox source, in id order. */
export async function listSeededFormats(db: Queryable, inventorySourceId: number): Promise<SandboxCreativeFormatRow[]> {
  return db.selectFrom('sandbox_creative_format').selectAll().where('inventory_source_id', '=', inventorySourceId).orderBy('format_id').execute()
}

/** Registers the key's next create_media_buy arm, replacing a directive not yet taken. */
export async function putCreateArm(db: Queryable, input: { apiKeyId: number; arm: 'submitted' | 'input-required'; taskId: string | null; message: string | null; now: Date }): Promise<void> {
  const values = { arm: input.arm, task_id: input.taskId, message: input.message, created_at: input.now }
  await db
    .insertInto('sandbox_create_arm')
    .values({ api_key_id: input.apiKeyId, ...values })
    .onConflict((oc) => oc.column('api_key_id').doUpdateSet(values))
    .execute()
}

/** Whether another key's pending directive already forces this task id onto its next create. */
export async function isTaskIdForcedByAnotherKey(db: Queryable, input: { apiKeyId: number; taskId: string }): Promise<boolean> {
  const row = await db.selectFrom('sandbox_create_arm').select('api_key_id').where('task_id', '=', input.taskId).where('api_key_id', '<>', input.apiKeyId).executeTakeFirst()
  return row !== undefined
}

/** Takes (deletes and returns) the key's pending directive: it shapes exactly one create. */
export async function takeCreateArm(trx: Queryable, apiKeyId: number): Promise<SandboxCreateArmRow | undefined> {
  return trx.deleteFrom('sandbox_create_arm').where('api_key_id', '=', apiKeyId).returningAll().executeTakeFirst()
}

/** The ids of the storefront's sandbox buyer keys (revoked ones too: their rows are sandbox rows). */
export async function listSandboxKeyIds(db: Queryable, storefrontId: number): Promise<number[]> {
  const rows = await db.selectFrom('api_key').select('id').where('storefront_id', '=', storefrontId).where('sandbox', '=', true).execute()
  return rows.map((row) => row.id)
}

/**
 * Removes what the SDK stored for the storefront's sandbox keys: their idempotency replay rows
 * (scoped by the principal `api_key:<id>`, see src/mcp/agent.ts) and the tasks of their accounts.
 */
export async function deleteSandboxSdkRows(trx: Transaction, input: { apiKeyIds: readonly number[]; accountIds: readonly string[] }): Promise<{ idempotency: number; tasks: number }> {
  let idempotency = 0
  for (const apiKeyId of input.apiKeyIds) {
    // The SDK's scope separator is U+001F; '_' and '%' cannot occur in the principal.
    const removed = await trx.deleteFrom('adcp_idempotency').where('scoped_key', 'like', `api_key:${apiKeyId}\u001f%`).executeTakeFirst()
    idempotency += Number(removed.numDeletedRows)
  }
  let tasks = 0
  if (input.accountIds.length > 0) {
    const removed = await trx.deleteFrom('adcp_decisioning_tasks').where('account_id', 'in', [...input.accountIds]).executeTakeFirst()
    tasks = Number(removed.numDeletedRows)
  }
  await trx.deleteFrom('sandbox_create_arm').where('api_key_id', 'in', input.apiKeyIds.length > 0 ? [...input.apiKeyIds] : [-1]).execute()
  return { idempotency, tasks }
}
