import type { Queryable } from '../db/database.ts'
import type { InventorySourceRow } from '../db/tables.ts'
import { fail } from '../shared/errors.ts'

/**
 * The one lookup of an inventory source by (storefront, sourceId): every narrower find (a
 * modular source, a source with a status) starts here, so the scoping to the storefront cannot
 * drift between copies. Another storefront's row is as absent as a missing one.
 */
export async function lookupSourceRow(
  db: Queryable,
  storefrontId: number,
  sourceId: string,
  options: { forUpdate?: boolean } = {},
): Promise<InventorySourceRow | undefined> {
  let query = db
    .selectFrom('inventory_source')
    .selectAll()
    .where('storefront_id', '=', storefrontId)
    .where('source_id', '=', sourceId)
  if (options.forUpdate) query = query.forUpdate()
  return query.executeTakeFirst()
}

/** The storefront's row for a sourceId, or the same 404 whether it is missing or another storefront's. */
export async function findSourceRow(db: Queryable, storefrontId: number, sourceId: string): Promise<InventorySourceRow> {
  const row = await lookupSourceRow(db, storefrontId, sourceId)
  if (!row) throw fail.notFound(`Inventory source ${sourceId}`)
  return row
}

/**
 * Serialises writers of one source's derived state (previews, commits). NO KEY UPDATE: the
 * KEY SHARE locks that inserting rows referencing the source takes (avails) do not wait on it.
 */
export async function lockSourceRow(trx: Queryable, sourceRowId: number): Promise<void> {
  await trx.selectFrom('inventory_source').select('id').where('id', '=', sourceRowId).forNoKeyUpdate().execute()
}

/** Deletes the row and, by cascade, everything it owns. Callers check cross-module preconditions first. */
export async function deleteSourceRow(trx: Queryable, sourceRowId: number): Promise<void> {
  await trx.deleteFrom('inventory_source').where('id', '=', sourceRowId).execute()
}
