import { sql } from 'kysely'
import type { Queryable } from '../../db/database.ts'
import { json } from '../../db/database.ts'
import type { AvailRow } from '../../db/tables.ts'
import type { NormalizedAvail } from './avail.schema.ts'

/**
 * Writes committed avails. Upserts by availId in batches (two statements per batch whatever
 * its size), so a 100k-row feed is a few hundred round trips, not 100k.
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
  requested: number
  floor: number
}

export interface UpsertAvailsResult {
  created: number
  updated: number
  unchanged: number
  deactivated: number
  /** Rows whose requested capacity was below held + booked and was raised to it. */
  flooredWarnings: FlooredCapacity[]
}

/** Rows per batch: big enough to amortize round trips, small enough to keep locks and arrays modest. */
const BATCH_SIZE = 5000

type ExistingAvail = Pick<
  AvailRow,
  | 'avail_id'
  | 'collection_id'
  | 'collection_name'
  | 'collection_description'
  | 'name'
  | 'channel'
  | 'start_time'
  | 'end_time'
  | 'impressions_capacity'
  | 'held_impressions'
  | 'booked_impressions'
  | 'upstream_booked_impressions'
  | 'cpm'
  | 'currency'
  | 'targeting'
  | 'source_metadata'
  | 'status'
>

/** JSON with object keys sorted: jsonb does not keep key order, so compare canonically. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  )
}

/** cpm is numeric(14,4): compare at the stored precision. */
function sameCpm(stored: number | null, incoming: number | null): boolean {
  if (stored === null || incoming === null) return stored === incoming
  return Math.round(stored * 10_000) === Math.round(incoming * 10_000)
}

function isUnchanged(existing: ExistingAvail, avail: NormalizedAvail, capacity: number): boolean {
  return (
    existing.status === 'ACTIVE' &&
    existing.collection_id === avail.collectionId &&
    existing.collection_name === avail.collectionName &&
    existing.collection_description === avail.collectionDescription &&
    existing.name === avail.name &&
    existing.channel === avail.channel &&
    new Date(existing.start_time).getTime() === Date.parse(avail.startTime) &&
    new Date(existing.end_time).getTime() === Date.parse(avail.endTime) &&
    existing.impressions_capacity === capacity &&
    existing.upstream_booked_impressions === avail.upstreamBookedImpressions &&
    sameCpm(existing.cpm, avail.cpm) &&
    existing.currency === avail.currency &&
    canonical(existing.targeting) === canonical(avail.targeting) &&
    canonical(existing.source_metadata) === canonical(avail.sourceMetadata)
  )
}

/**
 * One INSERT ... ON CONFLICT per batch with one array parameter per column: a few parameters
 * instead of 18 a row, which keeps statement preparation cheap on both engines.
 */
async function writeBatch(trx: Queryable, inventorySourceId: number, writes: { avail: NormalizedAvail; capacity: number }[], now: Date) {
  const column = <T>(pick: (write: { avail: NormalizedAvail; capacity: number }) => T) => writes.map(pick)
  await sql`
    insert into avail (
      inventory_source_id, avail_id, collection_id, collection_name, collection_description, name, channel,
      start_time, end_time, impressions_capacity, upstream_booked_impressions, cpm, currency, targeting,
      source_metadata, status, created_at, updated_at
    )
    select ${inventorySourceId}, feed.*, 'ACTIVE', ${now}, ${now}
    from unnest(
      ${column((w) => w.avail.availId)}::text[],
      ${column((w) => w.avail.collectionId)}::text[],
      ${column((w) => w.avail.collectionName)}::text[],
      ${column((w) => w.avail.collectionDescription)}::text[],
      ${column((w) => w.avail.name)}::text[],
      ${column((w) => w.avail.channel)}::text[],
      ${column((w) => w.avail.startTime)}::timestamptz[],
      ${column((w) => w.avail.endTime)}::timestamptz[],
      ${column((w) => w.capacity)}::bigint[],
      ${column((w) => w.avail.upstreamBookedImpressions)}::bigint[],
      ${column((w) => w.avail.cpm)}::numeric[],
      ${column((w) => w.avail.currency)}::text[],
      ${column((w) => json(w.avail.targeting))}::jsonb[],
      ${column((w) => json(w.avail.sourceMetadata))}::jsonb[]
    ) as feed
    on conflict (inventory_source_id, avail_id) do update set
      collection_id = excluded.collection_id,
      collection_name = excluded.collection_name,
      collection_description = excluded.collection_description,
      name = excluded.name,
      channel = excluded.channel,
      start_time = excluded.start_time,
      end_time = excluded.end_time,
      -- Already clamped from the locked row; GREATEST keeps the floor whatever happens.
      impressions_capacity = greatest(excluded.impressions_capacity, avail.held_impressions + avail.booked_impressions),
      upstream_booked_impressions = excluded.upstream_booked_impressions,
      cpm = excluded.cpm,
      currency = excluded.currency,
      targeting = excluded.targeting,
      source_metadata = excluded.source_metadata,
      status = 'ACTIVE',
      updated_at = excluded.updated_at
  `.execute(trx)
}

/**
 * Upserts `avails` by availId on one source. Atomic only as part of the caller's transaction:
 * pass the transaction handle. Existing rows of each batch are locked first, so the held + booked
 * floor read here is the one the update is checked against (the CHECK constraint is the backstop).
 */
export async function upsertAvails(trx: Queryable, input: UpsertAvailsInput): Promise<UpsertAvailsResult> {
  const { inventorySourceId, now } = input
  const result: UpsertAvailsResult = { created: 0, updated: 0, unchanged: 0, deactivated: 0, flooredWarnings: [] }

  for (let offset = 0; offset < input.avails.length; offset += BATCH_SIZE) {
    const batch = input.avails.slice(offset, offset + BATCH_SIZE)
    const existingRows = await trx
      .selectFrom('avail')
      .select([
        'avail_id',
        'collection_id',
        'collection_name',
        'collection_description',
        'name',
        'channel',
        'start_time',
        'end_time',
        'impressions_capacity',
        'held_impressions',
        'booked_impressions',
        'upstream_booked_impressions',
        'cpm',
        'currency',
        'targeting',
        'source_metadata',
        'status',
      ])
      .where('inventory_source_id', '=', inventorySourceId)
      .where('avail_id', '=', sql<string>`any(${batch.map((avail) => avail.availId)}::text[])`)
      // Row locks in id order, as the ledger takes them, so a commit and a sweep cannot deadlock;
      // NO KEY UPDATE does not block reservations being inserted against these avails.
      .orderBy('id')
      .forNoKeyUpdate()
      .execute()
    const existingById = new Map(existingRows.map((row) => [row.avail_id, row]))

    const writes: { avail: NormalizedAvail; capacity: number }[] = []
    for (const avail of batch) {
      const existing = existingById.get(avail.availId)
      let capacity = avail.impressionsCapacity
      if (existing) {
        const floor = existing.held_impressions + existing.booked_impressions
        if (capacity < floor) {
          result.flooredWarnings.push({ availId: avail.availId, requested: capacity, floor })
          capacity = floor
        }
        if (isUnchanged(existing, avail, capacity)) {
          result.unchanged += 1
          continue
        }
        result.updated += 1
      } else {
        result.created += 1
      }
      writes.push({ avail, capacity })
    }
    if (writes.length > 0) await writeBatch(trx, inventorySourceId, writes, now)
  }

  if (input.replaceMissing) {
    const ids = input.avails.map((avail) => avail.availId)
    // An anti-join against the unnested ids is hashed; `<> ALL(array)` would compare row by row.
    const deactivated = await trx
      .updateTable('avail')
      .set({ status: 'INACTIVE', updated_at: now })
      .where('inventory_source_id', '=', inventorySourceId)
      .where('status', '=', 'ACTIVE')
      .where(sql<boolean>`not exists (select 1 from unnest(${ids}::text[]) as feed(id) where feed.id = avail.avail_id)`)
      .executeTakeFirst()
    result.deactivated = Number(deactivated.numUpdatedRows)
  }

  return result
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
