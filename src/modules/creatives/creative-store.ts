import type { Queryable, Transaction } from '../../db/database.ts'
import { json } from '../../db/database.ts'
import type { CreativeRow, CreativeStatus } from '../../db/tables.ts'

/** SQL of the creative library (migrations/0014_creatives.sql). */

export const CREATIVES_MAX_LIMIT = 100

/** Whose library: a buyer key of one storefront. */
export interface CreativeOwner {
  storefrontId: number
  apiKeyId: number
  sandbox: boolean
}

/** What a sync writes: the creative as the buyer sent it, in the library's columns. */
export interface CreativeContent {
  name: string
  format: Record<string, unknown>
  formatKey: string
  formatAgentUrl: string
  assets: Record<string, unknown>
  industryIdentifiers: Array<{ type: string; value: string }>
  adId: string | null
  tags: string[]
}

/** The key's creatives among `creativeIds`, locked: a sync decides created/updated/unchanged on them. */
export async function lockCreatives(trx: Transaction, owner: CreativeOwner, creativeIds: readonly string[]): Promise<CreativeRow[]> {
  if (creativeIds.length === 0) return []
  return trx
    .selectFrom('creative')
    .selectAll()
    .where('api_key_id', '=', owner.apiKeyId)
    .where('creative_id', 'in', [...creativeIds])
    .orderBy('id')
    .forUpdate()
    .execute()
}

/** The columns a creative's content is stored in: one mapping for the insert and the update. */
function contentColumns(content: CreativeContent) {
  return {
    name: content.name,
    format: json(content.format),
    format_key: content.formatKey,
    format_agent_url: content.formatAgentUrl,
    assets: json(content.assets),
    industry_identifiers: json(content.industryIdentifiers),
    ad_id: content.adId,
    tags: json(content.tags),
  }
}

/**
 * Adds a creative to the key's library; undefined when a concurrent sync of the same key added
 * that creative_id first (its row is then committed and can be locked and compared).
 */
export async function insertCreative(
  trx: Transaction,
  owner: CreativeOwner,
  input: { creativeId: string; buyerAccountId: number; content: CreativeContent; status: CreativeStatus },
  now: Date,
): Promise<CreativeRow | undefined> {
  return trx
    .insertInto('creative')
    .values({
      storefront_id: owner.storefrontId,
      api_key_id: owner.apiKeyId,
      buyer_account_id: input.buyerAccountId,
      creative_id: input.creativeId,
      ...contentColumns(input.content),
      status: input.status,
      sandbox: owner.sandbox,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.columns(['api_key_id', 'creative_id']).doNothing())
    .returningAll()
    .executeTakeFirst()
}

export async function updateCreative(
  trx: Transaction,
  rowId: number,
  input: { buyerAccountId: number; content: CreativeContent; status: CreativeStatus },
  now: Date,
): Promise<CreativeRow> {
  return trx
    .updateTable('creative')
    .set({
      buyer_account_id: input.buyerAccountId,
      ...contentColumns(input.content),
      status: input.status,
      updated_at: now,
    })
    .where('id', '=', rowId)
    .returningAll()
    .executeTakeFirstOrThrow()
}

export async function setCreativeStatus(trx: Transaction, rowId: number, status: CreativeStatus, now: Date): Promise<CreativeRow> {
  return trx.updateTable('creative').set({ status, updated_at: now }).where('id', '=', rowId).returningAll().executeTakeFirstOrThrow()
}

/**
 * Puts a creative in rotation on a package (or changes its weight). Returns whether it is new
 * there: only a new assignment asks the source to map the creative.
 */
export async function upsertAssignment(
  trx: Transaction,
  input: { creativeRowId: number; packageRowId: number; weight: number | null },
  now: Date,
): Promise<{ created: boolean }> {
  const existing = await trx
    .selectFrom('creative_assignment')
    .select(['id', 'weight'])
    .where('creative_row_id', '=', input.creativeRowId)
    .where('package_row_id', '=', input.packageRowId)
    .forUpdate()
    .executeTakeFirst()
  if (existing) {
    if (existing.weight !== input.weight) {
      await trx.updateTable('creative_assignment').set({ weight: input.weight, updated_at: now }).where('id', '=', existing.id).execute()
    }
    return { created: false }
  }
  await trx
    .insertInto('creative_assignment')
    .values({ creative_row_id: input.creativeRowId, package_row_id: input.packageRowId, weight: input.weight, created_at: now, updated_at: now })
    .execute()
  return { created: true }
}

/**
 * The packages among `packageRowIds` that have a creative in rotation: one assigned, not rejected
 * or archived (a creative that cannot serve does not make a package ready).
 */
export async function packagesWithServableCreative(db: Queryable, packageRowIds: readonly number[]): Promise<Set<number>> {
  if (packageRowIds.length === 0) return new Set()
  const rows = await db
    .selectFrom('creative_assignment')
    .innerJoin('creative', 'creative.id', 'creative_assignment.creative_row_id')
    .select('creative_assignment.package_row_id')
    .distinct()
    .where('creative_assignment.package_row_id', 'in', [...packageRowIds])
    .where('creative.status', 'not in', ['rejected', 'archived'])
    .execute()
  return new Set(rows.map((row) => row.package_row_id))
}

export interface CreativeListFilter {
  creativeIds?: readonly string[] | undefined
  statuses?: readonly CreativeStatus[] | undefined
  formats?: ReadonlyArray<{ agentUrl: string; id: string }> | undefined
  /** Keyset: rows after this creative row id. */
  afterId?: number | undefined
  limit: number
}

/** One keyset page of the key's library, oldest first, and the count of every match. */
export async function listCreatives(
  db: Queryable,
  owner: CreativeOwner,
  filter: CreativeListFilter,
): Promise<{ rows: CreativeRow[]; hasMore: boolean; totalMatching: number }> {
  let base = db.selectFrom('creative').where('api_key_id', '=', owner.apiKeyId)
  // An empty list filters nothing out (the wire's arrays are optional refinements).
  if (filter.creativeIds?.length) base = base.where('creative_id', 'in', [...filter.creativeIds])
  if (filter.statuses?.length) base = base.where('status', 'in', [...filter.statuses])
  const formats = filter.formats
  if (formats?.length) {
    base = base.where((eb) => eb.or(formats.map((format) => eb.and([eb('format_key', '=', format.id), eb('format_agent_url', '=', format.agentUrl)]))))
  }
  const counted = await base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow()
  let page = base.selectAll()
  if (filter.afterId !== undefined) page = page.where('id', '>', filter.afterId)
  const rows = await page.orderBy('id').limit(filter.limit + 1).execute()
  return { rows: rows.slice(0, filter.limit), hasMore: rows.length > filter.limit, totalMatching: Number(counted.total) }
}

/** Takes every creative off a package but these (update_media_buy's replacement semantics). */
export async function removeAssignmentsExcept(trx: Transaction, packageRowId: number, keepCreativeRowIds: readonly number[]): Promise<number> {
  let query = trx.deleteFrom('creative_assignment').where('package_row_id', '=', packageRowId)
  if (keepCreativeRowIds.length > 0) query = query.where('creative_row_id', 'not in', keepCreativeRowIds)
  const result = await query.executeTakeFirst()
  return Number(result.numDeletedRows)
}
