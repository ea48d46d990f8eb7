import { sql, type RawBuilder } from 'kysely'

/**
 * The capacity rule, in one place, for every reader and writer of avail capacity (the ledger's
 * reserve statement, the products projection, the feed commit and its preview diff):
 *
 *   committed            = held + booked, counting only holds that are not due
 *   impressionsCapacity  = max(feed figure, committed)       never shown below the commitments
 *   availableImpressions = max(0, feed figure - committed)   what can still be sold
 *
 * The feed figure (`avail.feed_capacity`) is stored exactly as the seller's latest feed gave it,
 * so once commitments are released or expire the seller's figure rules again. A feed below the
 * commitments never cuts them; it only stops new sales (CAPACITY_FLOORED). A hold whose
 * expires_at has passed counts for nothing, whether or not the sweeper has expired it yet.
 * It lives beside the row types because the ledger, the feed and the products all read it and
 * sibling modules never import each other.
 */

export interface CapacityCounters {
  feed_capacity: number
  held_impressions: number
  booked_impressions: number
}

export interface Capacity {
  impressionsCapacity: number
  availableImpressions: number
}

/** Counters whose held_impressions already excludes due holds (see liveHeldSql). */
export function capacityOf(avail: CapacityCounters): Capacity {
  const committed = avail.held_impressions + avail.booked_impressions
  return {
    impressionsCapacity: Math.max(avail.feed_capacity, committed),
    availableImpressions: Math.max(0, avail.feed_capacity - committed),
  }
}

/** A feed figure below the live commitments: the commitments stay and nothing more is sold. */
export function isFloored(feedCapacity: number, committed: number): boolean {
  return feedCapacity < committed
}

/**
 * Impressions of the avail's holds that are due at `now` but still counted in held_impressions
 * because nothing has expired them yet. Uses the reservation_due_by_avail index.
 */
export function dueHeldSql(availAlias: string, now: Date): RawBuilder<number> {
  return sql<number>`coalesce((
    select sum(due.requested_impressions) from reservation due
    where due.avail_row_id = ${sql.ref(`${availAlias}.id`)} and due.status = 'HELD' and due.expires_at <= ${now}
  ), 0)::bigint`
}

/** held_impressions without the due holds: what the avail really holds at `now`. */
export function liveHeldSql(availAlias: string, now: Date): RawBuilder<number> {
  return sql<number>`(${sql.ref(`${availAlias}.held_impressions`)} - ${dueHeldSql(availAlias, now)})`
}

/** held + booked at `now` (due holds excluded). */
export function committedSql(availAlias: string, now: Date): RawBuilder<number> {
  return sql<number>`(${liveHeldSql(availAlias, now)} + ${sql.ref(`${availAlias}.booked_impressions`)})`
}

/** availableImpressions at `now`, as a SQL expression. */
export function availableSql(availAlias: string, now: Date): RawBuilder<number> {
  return sql<number>`greatest(0, ${sql.ref(`${availAlias}.feed_capacity`)} - ${committedSql(availAlias, now)})`
}

/**
 * What the seller's figure leaves on counters from which the lazy expiry has already removed the
 * avail's due holds (the reserve statements' side of the rule; may be negative after a lowered feed).
 */
export function freeSql(availAlias: string): RawBuilder<number> {
  return sql<number>`(${sql.ref(`${availAlias}.feed_capacity`)} - ${sql.ref(`${availAlias}.held_impressions`)} - ${sql.ref(`${availAlias}.booked_impressions`)})`
}

/** The reserve statement's condition: the request fits what freeSql leaves. */
export function fitsSql(availAlias: string, requested: number | RawBuilder<number>): RawBuilder<boolean> {
  return sql<boolean>`${freeSql(availAlias)} >= ${requested}::bigint`
}
