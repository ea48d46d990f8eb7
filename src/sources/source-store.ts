import { isUniqueViolation, type Database, type Queryable } from '../db/database.ts'
import type { InventorySourceRow, InventorySourceUpdate } from '../db/tables.ts'
import { fail } from '../shared/errors.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'
import type { SourceStatus } from './source.schema.ts'
import { assertStatusTransition } from './source-rules.ts'

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

/**
 * The columns a passed live check of a source's connection (AGENT probe, tenant status read)
 * sets: what GET /status and the source show as lastCheckedAt / lastError, and the probe stamp
 * an ACTIVE AGENT source needs.
 */
export function passedConnectionCheck(at: Date): Pick<InventorySourceUpdate, 'probe_passed_at' | 'last_checked_at' | 'last_error'> {
  return { probe_passed_at: at, last_checked_at: at, last_error: null }
}

/**
 * Records the outcome of a live check of a source's connection on its row, apart from any other
 * change (a refused PUT records its failed check and changes nothing else). A passed check also
 * stamps the probe when `stampsProbe` (a connection test does; buyer traffic only clears errors).
 */
export async function recordConnectionCheck(db: Queryable, sourceRowId: number, check: { at: Date; error: string | null; stampsProbe?: boolean }): Promise<void> {
  const changes = check.error === null && check.stampsProbe
    ? passedConnectionCheck(check.at)
    : { last_checked_at: check.at, last_error: check.error }
  await db.updateTable('inventory_source').set(changes).where('id', '=', sourceRowId).execute()
}

export interface SourceUpdateWrite {
  /** The row the update was decided against, read before any upstream call. */
  decidedOn: InventorySourceRow
  /** The status the input asks for; absent, the status is not written. */
  status?: SourceStatus | undefined
  /** Whether what was decided depends on the status seen (a live check, a credential stored unchecked). */
  dependsOnStatus: boolean
  changes: InventorySourceUpdate
}

/**
 * The one write of a PUT that was decided before a slow upstream call (a probe, a tenant read):
 * the row is locked and checked again, so a status another request set meanwhile is neither
 * overwritten nor built on. Gone: 404. Status changed under a decision that depended on it: 409.
 */
export async function writeSourceUpdate(db: Database, { decidedOn, status, dependsOnStatus, changes }: SourceUpdateWrite): Promise<InventorySourceRow> {
  return outcomeTransaction(db, async (trx) => {
    const locked = await trx.selectFrom('inventory_source').selectAll().where('id', '=', decidedOn.id).forUpdate().executeTakeFirst()
    if (!locked) throw fail.notFound(`Inventory source ${decidedOn.source_id}`)
    if (locked.status !== decidedOn.status && (status !== undefined || dependsOnStatus)) {
      throw fail.conflict(
        'SOURCE_CHANGED_CONCURRENTLY',
        `Source ${decidedOn.source_id} moved from ${decidedOn.status} to ${locked.status} while this update was being checked; read it and send the update again`,
      )
    }
    if (status !== undefined) assertStatusTransition(locked.status, status)
    try {
      return await trx
        .updateTable('inventory_source')
        .set(status === undefined ? changes : { ...changes, status })
        .where('id', '=', locked.id)
        .returningAll()
        .executeTakeFirstOrThrow()
    } catch (error) {
      if (isUniqueViolation(error, 'inventory_source_one_active_sandbox_supply')) {
        throw fail.conflict('SANDBOX_SUPPLY_TAKEN', `Another AGENT source of this storefront is its ACTIVE sandbox supply; disable it before activating ${decidedOn.source_id}`)
      }
      throw error
    }
  })
}
