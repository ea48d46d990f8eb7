import { sql, type RawBuilder } from 'kysely'
import { json } from './database.ts'

/**
 * The feed columns of an avail, once: the normalized field (camelCase, src/modules/avails-feed),
 * its column in avails_preview_row and in avail (migrations 0002, 0006, 0007), and its SQL type.
 * The row types of avail and avails_preview_row (tables.ts), the normalized field names
 * (avail.schema.ts checks its schema against them), the staging insert, the in-memory feed
 * relation, the commit's compare/insert/update and the read-back all derive from this list. It lives in db/ because
 * two sibling modules (avails-feed, products) and tables.ts read it.
 */
export const AVAIL_FEED_COLUMNS = [
  { field: 'availId', column: 'avail_id', availColumn: 'avail_id', type: 'text' },
  { field: 'collectionId', column: 'collection_id', availColumn: 'collection_id', type: 'text' },
  { field: 'collectionName', column: 'collection_name', availColumn: 'collection_name', type: 'text' },
  { field: 'collectionDescription', column: 'collection_description', availColumn: 'collection_description', type: 'text', nullable: true },
  { field: 'name', column: 'name', availColumn: 'name', type: 'text' },
  { field: 'channel', column: 'channel', availColumn: 'channel', type: 'text', nullable: true },
  { field: 'startTime', column: 'start_time', availColumn: 'start_time', type: 'timestamptz' },
  { field: 'endTime', column: 'end_time', availColumn: 'end_time', type: 'timestamptz' },
  // avail keeps the seller's figure as feed_capacity (migration 0007); shown and sellable capacity
  // derive from it (src/db/capacity.ts).
  { field: 'impressionsCapacity', column: 'impressions_capacity', availColumn: 'feed_capacity', type: 'bigint' },
  // availDefault: the avail column has a default (an insert may leave it out; tables.ts).
  { field: 'upstreamBookedImpressions', column: 'upstream_booked_impressions', availColumn: 'upstream_booked_impressions', type: 'bigint', availDefault: true },
  { field: 'cpm', column: 'cpm', availColumn: 'cpm', type: 'numeric(14, 4)', nullable: true },
  { field: 'currency', column: 'currency', availColumn: 'currency', type: 'text', availDefault: true },
  // TV buying (migration 0024): a flat rate per spot or per package next to (or instead of) the CPM,
  // and the measurement windows the seller reports in (a JSON array of window ids).
  { field: 'flatRate', column: 'flat_rate', availColumn: 'flat_rate', type: 'numeric(14, 4)', nullable: true },
  { field: 'flatRateUnit', column: 'flat_rate_unit', availColumn: 'flat_rate_unit', type: 'text', nullable: true },
  { field: 'spotCount', column: 'spot_count', availColumn: 'spot_count', type: 'bigint', nullable: true },
  { field: 'measurementWindows', column: 'measurement_windows', availColumn: 'measurement_windows', type: 'jsonb', availDefault: true },
  { field: 'targeting', column: 'targeting', availColumn: 'targeting', type: 'jsonb' },
  { field: 'sourceMetadata', column: 'source_metadata', availColumn: 'source_metadata', type: 'jsonb' },
] as const

export type AvailFeedColumn = (typeof AVAIL_FEED_COLUMNS)[number]
export type AvailFeedField = AvailFeedColumn['field']

/** `<alias>.<column>, ...` of avails_preview_row (or a relation shaped like it). */
export function feedColumnsSql(alias?: string): RawBuilder<unknown> {
  return sql.join(AVAIL_FEED_COLUMNS.map((c) => sql.ref(alias ? `${alias}.${c.column}` : c.column)))
}

/** The avail columns the feed writes, in the same order as feedColumnsSql. */
export function availFeedColumnsSql(): RawBuilder<unknown> {
  return sql.join(AVAIL_FEED_COLUMNS.map((c) => sql.ref(c.availColumn)))
}

/**
 * One array parameter per column, unnested: `values(field)` gives the column's array (jsonb values
 * already as JSON text). The arrays are cast to the column types, so a relation built this way
 * compares equal to stored rows (cpm rounded as numeric(14, 4) stores it).
 */
export function unnestFeedColumnsSql(values: (column: AvailFeedColumn) => unknown[]): RawBuilder<unknown> {
  return sql.join(AVAIL_FEED_COLUMNS.map((c) => sql`${values(c)}::${sql.raw(c.type)}[]`))
}

/** A normalized field's value as its array parameter carries it (jsonb is sent as JSON text). */
export function feedParam(column: AvailFeedColumn, value: unknown): unknown {
  return column.type === 'jsonb' ? json(value) : value
}

/** `a.<avail column> = r.<feed column>` for every column but the key: the feed row changes nothing. */
export function sameFeedColumnsSql(avail: string, feed: string): RawBuilder<boolean> {
  return sql<boolean>`${sql.join(AVAIL_FEED_COLUMNS.filter((c) => c.field !== 'availId').map((c) => {
    const left = sql.ref(`${avail}.${c.availColumn}`)
    const right = sql.ref(`${feed}.${c.column}`)
    return 'nullable' in c ? sql`${left} is not distinct from ${right}` : sql`${left} = ${right}`
  }), sql` and `)}`
}

/** `<avail column> = <feed>.<feed column>, ...` for an UPDATE of avail from a feed row. */
export function setFeedColumnsSql(feed: string): RawBuilder<unknown> {
  return sql.join(AVAIL_FEED_COLUMNS.filter((c) => c.field !== 'availId').map((c) => sql`${sql.ref(c.availColumn)} = ${sql.ref(`${feed}.${c.column}`)}`))
}
