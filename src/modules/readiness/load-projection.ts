import { sql } from 'kysely'
import type { Queryable } from '../../db/database.ts'
import type { InventorySourceRow } from '../../db/tables.ts'
import type { WorkItemKind } from '../contract.ts'
import { OPEN_WORK_ITEM_STATUSES } from '../work-queue/index.ts'
import { countBuysOfSource } from '../media-buys/index.ts'
import { findContract } from '../registry.ts'
import { computeProjection, type ProjectionInput } from './compute-projection.ts'
import type { RuntimeProjection } from './projection.schema.ts'


/**
 * Reads what the projection needs: one query per table, whatever the number of modules.
 * Pass the transaction handle when called inside one (PGlite has one connection).
 */
export async function loadProjectionInput(db: Queryable, source: InventorySourceRow, now: Date): Promise<ProjectionInput> {
  // The reads are independent: on PostgreSQL they run side by side on the pool's connections
  // (inside a transaction, or on PGlite's one connection, Kysely sends them one after another).
  const [modules, avails, workItems, owed, mediaBuyCountsByStatus] = await Promise.all([
    readModules(db, source),
    readAvailSummary(db, source, now),
    readOpenWorkItems(db, source),
    countEndedBookingsWithoutReport(db, source, now),
    countBuysOfSource(db, source.id),
  ])
  return {
    source,
    modules,
    mediaBuyCountsByStatus,
    contractFor: findContract,
    activeAvailCount: Number(avails.active),
    archivedAvailCount: Number(avails.archived),
    lastFeedAt: avails.last_feed_at ? new Date(avails.last_feed_at as Date | string) : null,
    endedBookingsWithoutReport: Number(owed.count),
    openWorkItems: workItems.map((item) => ({
      kind: item.kind as WorkItemKind,
      moduleRowId: item.module_row_id === null ? null : Number(item.module_row_id),
      count: Number(item.count),
      oldestOpenedAt: new Date(item.oldest as Date | string),
    })),
  }
}

function readModules(db: Queryable, source: InventorySourceRow) {
  return db
    .selectFrom('module_instance')
    .selectAll()
    .where('inventory_source_id', '=', source.id)
    .orderBy('id')
    .execute()
}

/** One pass over the source's avails gives the sellable count and what /status shows beside it. */
function readAvailSummary(db: Queryable, source: InventorySourceRow, now: Date) {
  return db
    .selectFrom('avail')
    .select((eb) => [
      sql<number>`count(*) FILTER (WHERE status = 'ACTIVE' AND end_time > ${now})`.as('active'),
      sql<number>`count(*) FILTER (WHERE status <> 'ACTIVE' OR end_time <= ${now})`.as('archived'),
      eb.fn.max('updated_at').as('last_feed_at'),
    ])
    .where('inventory_source_id', '=', source.id)
    .executeTakeFirstOrThrow()
}

function readOpenWorkItems(db: Queryable, source: InventorySourceRow) {
  return db
    .selectFrom('work_item')
    .select((eb) => ['kind', 'module_row_id', eb.fn.countAll<number>().as('count'), eb.fn.min('created_at').as('oldest')])
    .where('inventory_source_id', '=', source.id)
    .where('status', 'in', OPEN_WORK_ITEM_STATUSES)
    .groupBy(['kind', 'module_row_id'])
    .execute()
}

/**
 * Final reports owed: BOOKED lines whose flight ended and that have no delivery imported. A
 * booking names its avail (source, avail id) as its reservation does, so the join skips the
 * source's reservations.
 */
function countEndedBookingsWithoutReport(db: Queryable, source: InventorySourceRow, now: Date) {
  return db
    .selectFrom('booking')
    .innerJoin('avail', (join) => join.onRef('avail.inventory_source_id', '=', 'booking.inventory_source_id').onRef('avail.avail_id', '=', 'booking.avail_id'))
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('booking.inventory_source_id', '=', source.id)
    .where('booking.status', '=', 'BOOKED')
    .where('avail.end_time', '<=', now)
    .where(({ not, exists, selectFrom }) => not(exists(
      selectFrom('delivery_row').select('delivery_row.id').whereRef('delivery_row.reservation_id', '=', 'booking.reservation_id'),
    )))
    .executeTakeFirstOrThrow()
}

/** The readiness projection of a MODULAR_SOURCE row, read through `db` (or an open transaction). */
export async function loadProjection(db: Queryable, source: InventorySourceRow, now: Date): Promise<RuntimeProjection> {
  return computeProjection(await loadProjectionInput(db, source, now))
}
