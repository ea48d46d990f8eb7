import { sql, type RawBuilder } from 'kysely'
import { availFeedColumnsSql, feedColumnsSql, feedParam, sameFeedColumnsSql, setFeedColumnsSql, unnestFeedColumnsSql } from '../../db/avail-columns.ts'
import { committedSql } from '../../db/capacity.ts'
import type { Queryable, Transaction } from '../../db/database.ts'
import type { NormalizedAvail } from './avail.schema.ts'

/**
 * Writes committed avails. A feed is a SQL relation of normalized rows (a stored preview's rows,
 * or an array unnested): what changes, what is new and which figures are below the commitments
 * are each one set-based query over it, so a 100k-row feed is a few statements, not 100k.
 *
 * Capacity: the seller's figure is stored as given (feed_capacity); shown and sellable capacity
 * derive from it at read time (src/db/capacity.ts), so a feed never needs the ledger's counters
 * to write and never locks a row to compute a floor.
 *
 * Locks (docs/booking-ledger.md "Lock order"): only rows that actually change are locked, all of
 * them in one pass in ascending avail id, after everything else the commit does: the same order
 * the sweeper takes avails in, and no row a reservation needs is locked for longer than the
 * update itself. Unchanged rows are never locked, so reservations on them never wait.
 */

export interface UpsertAvailsInput {
  inventorySourceId: number
  avails: readonly NormalizedAvail[]
  now: Date
  /** Deactivate ACTIVE avails of the source that are absent from `avails` (their holds and bookings stay). */
  replaceMissing: boolean
}

export interface FlooredCapacity {
  availId: string
  /** The seller's figure. */
  requested: number
  /** Live held + booked: what is shown as impressionsCapacity while it exceeds the figure. */
  floor: number
}

export interface FeedDiff {
  created: number
  updated: number
  unchanged: number
  deactivated: number
}

export interface UpsertAvailsResult extends FeedDiff {
  /** Rows whose figure is below the live commitments (shown at the commitments, nothing sellable). */
  flooredWarnings: FlooredCapacity[]
}

/**
 * A feed as a relation with the columns of avails_preview_row (position, row_number, avail_id,
 * ..., impressions_capacity, ...): one availId per row.
 */
export type FeedRelation = RawBuilder<unknown>

/** Rows changed per locking statement: bounded arrays, one ascending pass. */
const WRITE_CHUNK = 5000

export function previewFeed(previewRowId: number): FeedRelation {
  return sql`(select * from avails_preview_row where preview_row_id = ${previewRowId})`
}

/** An in-memory feed (the demo avails, tests): the same relation from one array parameter per column. */
export function arrayFeed(avails: readonly NormalizedAvail[]): FeedRelation {
  return sql`(
    select (feed.ordinality - 1)::integer as position, feed.ordinality::integer as row_number, ${feedColumnsSql('feed')}
    from unnest(${unnestFeedColumnsSql((c) => avails.map((a) => feedParam(c, a[c.field])))}) with ordinality as feed (${feedColumnsSql()}, ordinality)
  )`
}

/**
 * The feed row `r` would change nothing on the avail `a`. Every column compared is written only
 * by a feed commit, under the source's lock, so a decision read without row locks stays true
 * until the commit writes. jsonb compares by value, so key order makes no change.
 */
const sameAsFeed = sql<boolean>`(a.status = 'ACTIVE' and ${sameFeedColumnsSql('a', 'r')})`

/** The source's avails a commit writes: changed feed rows, and with replaceMissing the ACTIVE avails absent from the feed. */
function targetsOf(inventorySourceId: number, feed: FeedRelation, replaceMissing: boolean) {
  return sql`
    from avail a
    left join ${feed} r on r.avail_id = a.avail_id
    where a.inventory_source_id = ${inventorySourceId}
      and case when r.avail_id is null then ${replaceMissing} and a.status = 'ACTIVE' else not ${sameAsFeed} end
  `
}

/** What committing `feed` would do, without writing or locking anything (the preview's diff). */
export async function diffFeed(db: Queryable, input: { inventorySourceId: number; feed: FeedRelation; replaceMissing: boolean }): Promise<FeedDiff> {
  const counts = await sql<{ rows: number; created: number; updated: number; deactivated: number }>`
    select
      (select count(*) from ${input.feed} r)::bigint as rows,
      (select count(*) from ${input.feed} r
        where not exists (select 1 from avail a where a.inventory_source_id = ${input.inventorySourceId} and a.avail_id = r.avail_id))::bigint as created,
      t.updated, t.deactivated
    from (
      select count(r.avail_id)::bigint as updated, (count(*) - count(r.avail_id))::bigint as deactivated
      ${targetsOf(input.inventorySourceId, input.feed, input.replaceMissing)}
    ) t
  `.execute(db)
  const row = counts.rows[0]!
  const updated = Number(row.updated)
  const created = Number(row.created)
  return { created, updated, unchanged: Number(row.rows) - created - updated, deactivated: Number(row.deactivated) }
}

/**
 * Feed rows whose figure is below the avail's live commitments at `now` (due holds excluded):
 * the first `limit` in feed order, and the exact count. Read without locks: it is what the
 * operator is told, never what is written.
 */
export async function findFlooredRows(
  db: Queryable,
  input: { inventorySourceId: number; feed: FeedRelation; now: Date; limit: number },
): Promise<{ rows: (FlooredCapacity & { row: number })[]; count: number }> {
  const committed = committedSql('a', input.now)
  const floored = await sql<{ row_number: number; avail_id: string; requested: number; floor: number; total: number }>`
    select r.row_number, r.avail_id, r.impressions_capacity as requested, ${committed} as floor, count(*) over () as total
    from ${input.feed} r
    join avail a on a.inventory_source_id = ${input.inventorySourceId} and a.avail_id = r.avail_id
    -- The cheap test first: only rows below the swept counters can be below the live ones.
    where r.impressions_capacity < a.held_impressions + a.booked_impressions
      and r.impressions_capacity < ${committed}
    order by r.position
    limit ${input.limit}
  `.execute(db)
  return {
    rows: floored.rows.map((hit) => ({ row: hit.row_number, availId: hit.avail_id, requested: Number(hit.requested), floor: Number(hit.floor) })),
    count: Number(floored.rows[0]?.total ?? 0),
  }
}

/**
 * Writes `feed` to the source's avails inside the caller's transaction: new rows inserted, changed
 * rows updated, and with replaceMissing absent ACTIVE rows deactivated (their holds and bookings
 * stay). The caller serialises commits of one source (it holds the source row's lock).
 */
export async function writeFeed(trx: Transaction, input: { inventorySourceId: number; feed: FeedRelation; replaceMissing: boolean; now: Date }): Promise<FeedDiff> {
  const { inventorySourceId, feed, now } = input
  // Decided before anything is written or locked; see sameAsFeed for why no lock is needed.
  const targets = await sql<{ id: number; position: number | null }>`
    select a.id, r.position ${targetsOf(inventorySourceId, feed, input.replaceMissing)}
    order by a.id
  `.execute(trx)
  const total = await sql<{ rows: number }>`select count(*)::bigint as rows from ${feed} r`.execute(trx)

  // New rows first: nobody else can see, let alone lock, them before the commit.
  const inserted = await sql`
    insert into avail (inventory_source_id, ${availFeedColumnsSql()}, status, created_at, updated_at)
    select ${inventorySourceId}, ${feedColumnsSql('r')}, 'ACTIVE', ${now}::timestamptz, ${now}::timestamptz
    from ${feed} r
    where not exists (select 1 from avail a where a.inventory_source_id = ${inventorySourceId} and a.avail_id = r.avail_id)
    order by r.position
  `.execute(trx)

  // One ascending pass over the rows that change: each chunk locks its rows in id order, then
  // writes them, so every avail lock this transaction holds has a lower id than the next one.
  let updated = 0
  let deactivated = 0
  for (let offset = 0; offset < targets.rows.length; offset += WRITE_CHUNK) {
    const chunk = targets.rows.slice(offset, offset + WRITE_CHUNK)
    const changed = chunk.filter((target) => target.position !== null)
    const missing = chunk.filter((target) => target.position === null).map((target) => Number(target.id))
    await sql`select id from avail where id = any(${chunk.map((target) => Number(target.id))}::bigint[]) order by id for no key update`.execute(trx)
    if (changed.length > 0) {
      await sql`
        update avail set ${setFeedColumnsSql('r')}, status = 'ACTIVE', updated_at = ${now}
        from unnest(${changed.map((target) => Number(target.id))}::bigint[], ${changed.map((target) => target.position!)}::integer[]) as t(id, position)
        join ${feed} r on r.position = t.position
        where avail.id = t.id
      `.execute(trx)
      updated += changed.length
    }
    if (missing.length > 0) {
      await trx.updateTable('avail').set({ status: 'INACTIVE', updated_at: now }).where('id', '=', sql<number>`any(${missing}::bigint[])`).execute()
      deactivated += missing.length
    }
  }
  const created = Number(inserted.numAffectedRows ?? 0)
  return { created, updated, unchanged: Number(total.rows[0]!.rows) - created - updated, deactivated }
}

/**
 * Upserts an in-memory list of avails by availId on one source, inside the caller's transaction
 * (the demo avails; feeds go through their stored preview rows with writeFeed).
 */
export async function upsertAvails(trx: Transaction, input: UpsertAvailsInput): Promise<UpsertAvailsResult> {
  if (input.avails.length === 0 && !input.replaceMissing) return { created: 0, updated: 0, unchanged: 0, deactivated: 0, flooredWarnings: [] }
  const feed = arrayFeed(input.avails)
  const floored = await findFlooredRows(trx, { inventorySourceId: input.inventorySourceId, feed, now: input.now, limit: input.avails.length })
  const diff = await writeFeed(trx, { inventorySourceId: input.inventorySourceId, feed, replaceMissing: input.replaceMissing, now: input.now })
  return { ...diff, flooredWarnings: floored.rows.map(({ availId, requested, floor }) => ({ availId, requested, floor })) }
}

/** ACTIVE avails of the source whose flight has not ended at `now`: what the source can sell. */
export async function countActiveAvails(db: Queryable, inventorySourceId: number, now: Date): Promise<number> {
  const row = await db
    .selectFrom('avail')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('inventory_source_id', '=', inventorySourceId)
    .where('status', '=', 'ACTIVE')
    .where('end_time', '>', now)
    .executeTakeFirstOrThrow()
  return Number(row.count)
}
