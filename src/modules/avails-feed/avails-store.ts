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

/** Rows per INSERT: 18 parameters a row stays well under PostgreSQL's 65535-parameter limit. */
const BATCH_SIZE = 1000

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
      .forUpdate()
      .execute()
    const existingById = new Map(existingRows.map((row) => [row.avail_id, row]))

    const writes = []
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
      writes.push({
        inventory_source_id: inventorySourceId,
        avail_id: avail.availId,
        collection_id: avail.collectionId,
        collection_name: avail.collectionName,
        collection_description: avail.collectionDescription,
        name: avail.name,
        channel: avail.channel,
        start_time: avail.startTime,
        end_time: avail.endTime,
        impressions_capacity: capacity,
        upstream_booked_impressions: avail.upstreamBookedImpressions,
        cpm: avail.cpm,
        currency: avail.currency,
        targeting: json(avail.targeting),
        source_metadata: json(avail.sourceMetadata),
        status: 'ACTIVE' as const,
        created_at: now,
        updated_at: now,
      })
    }
    if (writes.length === 0) continue

    await trx
      .insertInto('avail')
      .values(writes)
      .onConflict((conflict) =>
        conflict.columns(['inventory_source_id', 'avail_id']).doUpdateSet((eb) => ({
          collection_id: eb.ref('excluded.collection_id'),
          collection_name: eb.ref('excluded.collection_name'),
          collection_description: eb.ref('excluded.collection_description'),
          name: eb.ref('excluded.name'),
          channel: eb.ref('excluded.channel'),
          start_time: eb.ref('excluded.start_time'),
          end_time: eb.ref('excluded.end_time'),
          // Already clamped above from the locked row; GREATEST keeps the floor even if that changes.
          impressions_capacity: sql<number>`greatest(excluded.impressions_capacity, avail.held_impressions + avail.booked_impressions)`,
          upstream_booked_impressions: eb.ref('excluded.upstream_booked_impressions'),
          cpm: eb.ref('excluded.cpm'),
          currency: eb.ref('excluded.currency'),
          targeting: eb.ref('excluded.targeting'),
          source_metadata: eb.ref('excluded.source_metadata'),
          status: 'ACTIVE',
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute()
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
