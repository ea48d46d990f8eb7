import { randomBytes } from 'node:crypto'
import type { Queryable } from '../db/database.ts'
import type { ForwardedMediaBuyRow, ForwardedPackageRow, InventorySourceRow } from '../db/tables.ts'
import type { SecretBox } from '../shared/secret-box.ts'
import type { AgentAuth } from './source.schema.ts'
import { recordConnectionCheck } from './source-store.ts'
import type { UpstreamAgentTarget } from './upstream-agent-client.ts'

/**
 * What the storefront keeps of the supply it sells from upstream AdCP agents: which sources are
 * upstream agents and how to reach them, what each last answered, and where each forwarded media
 * buy lives.
 */

/**
 * The upstream AdCP agents of a storefront, in sourceId order: what a live key buys from, its
 * ACTIVE AGENT sources and its ACTIVE managed sources whose tenant's MCP endpoint and principal
 * token are stored (a managed source without them is a tenant the storefront only watches); or
 * (`sandbox`) its sandbox supply, at most one ACTIVE AGENT source (migration 0019), which only
 * sandbox keys buy from. The one rule of what is sold from upstream; `agentTargetOf` is how each is reached.
 */
export async function listUpstreamAgentSources(db: Queryable, storefrontId: number, options: { sandbox: boolean } = { sandbox: false }): Promise<InventorySourceRow[]> {
  return db
    .selectFrom('inventory_source')
    .selectAll()
    .where('storefront_id', '=', storefrontId)
    .where((eb) => eb.or([
      eb('execution_type', '=', 'AGENT'),
      eb.and([
        eb('execution_type', '=', 'MANAGED_SALES_AGENT'),
        eb('endpoint_url', 'is not', null),
        eb('agent_auth_ciphertext', 'is not', null),
      ]),
    ]))
    .where('status', '=', 'ACTIVE')
    .where('sandbox', '=', false)
    .where('sandbox_supply', '=', options.sandbox)
    .orderBy('source_id')
    .execute()
}

/**
 * How to reach an upstream agent, its credential opened: an AGENT source's endpoint and auth; a
 * managed source's resolved mcpUrl with its tenant principal's token (its auth_ciphertext is the
 * tenant-management key, which never goes to the MCP endpoint).
 */
export function agentTargetOf(source: InventorySourceRow, secrets: SecretBox): UpstreamAgentTarget {
  const sealed = source.execution_type === 'MANAGED_SALES_AGENT' ? source.agent_auth_ciphertext : source.auth_ciphertext
  return {
    storefrontId: source.storefront_id,
    sourceRowId: source.id,
    endpointUrl: source.endpoint_url!,
    protocol: source.protocol as 'MCP' | 'A2A',
    authenticationType: source.authentication_type!,
    auth: sealed ? secrets.openJson<AgentAuth>(sealed) : null,
  }
}

/**
 * Records what an upstream agent answered buyer traffic with, where GET /status and the source
 * read it (lastCheckedAt, lastError). A success only writes when it clears an earlier error, so a
 * healthy agent costs no write per get_products.
 */
export async function recordUpstreamOutcome(db: Queryable, source: InventorySourceRow, at: Date, error: string | null): Promise<void> {
  if (error === null && source.last_error === null) return
  await recordConnectionCheck(db, source.id, { at, error })
}

export interface ForwardedBuyOwner {
  storefrontId: number
  apiKeyId: number
}

export interface NewForwardedBuy {
  storefrontId: number
  apiKeyId: number
  accountRowId: number
  sourceRowId: number
  mediaBuyId: string
  upstreamMediaBuyId: string | null
  upstreamTaskId: string | null
  taskId: string | null
  idempotencyKey: string
  brandDomain: string
  operator: string
  /** The buyer's push_notification_config, sealed: the storefront's task webhook goes there. */
  pushNotificationSealed: string | null
  now: Date
}

/** The new row, or undefined when the key already bought with this idempotency_key (a race the replay cache missed). */
export async function insertForwardedBuy(db: Queryable, input: NewForwardedBuy): Promise<ForwardedMediaBuyRow | undefined> {
  return db
    .insertInto('forwarded_media_buy')
    .values({
      storefront_id: input.storefrontId,
      api_key_id: input.apiKeyId,
      buyer_account_id: input.accountRowId,
      inventory_source_id: input.sourceRowId,
      media_buy_id: input.mediaBuyId,
      upstream_media_buy_id: input.upstreamMediaBuyId,
      upstream_task_id: input.upstreamTaskId,
      task_id: input.taskId,
      idempotency_key: input.idempotencyKey,
      upstream_brand_domain: input.brandDomain,
      upstream_operator: input.operator,
      push_notification_sealed: input.pushNotificationSealed,
      created_at: input.now,
      updated_at: input.now,
    })
    .onConflict((conflict) => conflict.columns(['api_key_id', 'idempotency_key']).doNothing())
    .returningAll()
    .executeTakeFirst()
}

export async function findForwardedBuyByIdempotencyKey(db: Queryable, owner: ForwardedBuyOwner, idempotencyKey: string): Promise<ForwardedMediaBuyRow | undefined> {
  return db
    .selectFrom('forwarded_media_buy')
    .selectAll()
    .where('storefront_id', '=', owner.storefrontId)
    .where('api_key_id', '=', owner.apiKeyId)
    .where('idempotency_key', '=', idempotencyKey)
    .executeTakeFirst()
}

/** The key's forwarded buys with these storefront ids; another key's are as absent as missing ones. */
export async function listOwnForwardedBuys(db: Queryable, owner: ForwardedBuyOwner, mediaBuyIds?: string[]): Promise<ForwardedMediaBuyRow[]> {
  let query = db
    .selectFrom('forwarded_media_buy')
    .selectAll()
    .where('storefront_id', '=', owner.storefrontId)
    .where('api_key_id', '=', owner.apiKeyId)
  if (mediaBuyIds !== undefined) {
    if (mediaBuyIds.length === 0) return []
    query = query.where('media_buy_id', 'in', mediaBuyIds)
  }
  return query.orderBy('id').execute()
}

export async function findForwardedBuyByTask(db: Queryable, taskId: string): Promise<ForwardedMediaBuyRow | undefined> {
  return db.selectFrom('forwarded_media_buy').selectAll().where('task_id', '=', taskId).executeTakeFirst()
}

/**
 * One page of the forwarded buys still waiting on their upstream task, oldest first after the row
 * id `afterRowId`: no upstream media_buy_id yet, and the storefront's own task still open (a task
 * settled failed keeps no upstream id, and is not asked again).
 */
export async function listForwardedBuysAwaitingUpstream(db: Queryable, afterRowId: number, limit: number): Promise<ForwardedMediaBuyRow[]> {
  return db
    .selectFrom('forwarded_media_buy as f')
    .innerJoin('adcp_decisioning_tasks as t', 't.task_id', 'f.task_id')
    .selectAll('f')
    .where('f.upstream_media_buy_id', 'is', null)
    .where('f.upstream_task_id', 'is not', null)
    .where('t.status', 'not in', ['completed', 'failed'])
    .where('f.id', '>', afterRowId)
    .orderBy('f.id')
    .limit(limit)
    .execute()
}

export async function setUpstreamMediaBuyId(db: Queryable, rowId: number, upstreamMediaBuyId: string, now: Date): Promise<void> {
  await db
    .updateTable('forwarded_media_buy')
    .set({ upstream_media_buy_id: upstreamMediaBuyId, updated_at: now })
    .where('id', '=', rowId)
    .where('upstream_media_buy_id', 'is', null)
    .execute()
}

/** A forwarded buy's package mappings, the storefront's package_id next to the upstream's. */
export async function listForwardedPackages(db: Queryable, forwardedRowId: number): Promise<ForwardedPackageRow[]> {
  return db.selectFrom('forwarded_package').selectAll().where('forwarded_media_buy_id', '=', forwardedRowId).orderBy('id').execute()
}

/**
 * Gives each upstream package id of a forwarded buy a storefront package_id, the first time an
 * upstream answer names it; concurrent answers naming the same package agree on one (the unique
 * constraint decides). Answers every mapping of the buy.
 */
export async function ensureForwardedPackages(db: Queryable, forwardedRowId: number, upstreamPackageIds: string[], now: Date): Promise<ForwardedPackageRow[]> {
  const known = await listForwardedPackages(db, forwardedRowId)
  const mapped = new Set(known.map((row) => row.upstream_package_id))
  const fresh = [...new Set(upstreamPackageIds)].filter((id) => !mapped.has(id))
  if (fresh.length === 0) return known
  await db
    .insertInto('forwarded_package')
    .values(fresh.map((upstreamPackageId) => ({
      forwarded_media_buy_id: forwardedRowId,
      package_id: `pkg_${randomBytes(9).toString('base64url')}`,
      upstream_package_id: upstreamPackageId,
      created_at: now,
    })))
    .onConflict((conflict) => conflict.columns(['forwarded_media_buy_id', 'upstream_package_id']).doNothing())
    .execute()
  return listForwardedPackages(db, forwardedRowId)
}

/** Whether any buyer's media buy lives on this source: the storefront's ids for them point there. */
export async function hasForwardedBuys(db: Queryable, sourceRowId: number): Promise<boolean> {
  const row = await db.selectFrom('forwarded_media_buy').select('id').where('inventory_source_id', '=', sourceRowId).limit(1).executeTakeFirst()
  return row !== undefined
}

export async function findSourceByRowId(db: Queryable, sourceRowId: number): Promise<InventorySourceRow | undefined> {
  return db.selectFrom('inventory_source').selectAll().where('id', '=', sourceRowId).executeTakeFirst()
}
