import assert from 'node:assert/strict'
import { sql } from 'kysely'
import type { Database } from '../../src/db/database.ts'
import { json } from '../../src/db/database.ts'

/**
 * Modular sources, ledger modules and avails written straight into the database, so the ledger
 * tests do not depend on the feed and module APIs being built alongside.
 */

export interface LedgerFixture {
  sourceRowId: number
  sourceId: string
  /** avail_id -> avail.id */
  availRowIds: Map<string, number>
}

export interface AvailSeed {
  availId: string
  capacity: number
  status?: 'ACTIVE' | 'INACTIVE'
  startTime?: string
  endTime?: string
}

export async function seedModularSource(
  db: Database,
  options: { storefront?: string; sourceId?: string; ledger?: 'ACTIVE' | 'DISABLED' | 'NONE'; avails?: AvailSeed[]; now?: Date },
): Promise<LedgerFixture> {
  const now = options.now ?? new Date('2026-11-22T12:00:00.000Z')
  const storefront = await db.selectFrom('storefront').select('id').where('name', '=', options.storefront ?? 'acme').executeTakeFirstOrThrow()
  const sourceId = options.sourceId ?? 'retail-modular'
  const source = await db
    .insertInto('inventory_source')
    .values({
      storefront_id: storefront.id,
      source_id: sourceId,
      name: 'Retail modular',
      execution_type: 'MODULAR_SOURCE',
      status: 'ACTIVE',
      setup_metadata: json({}),
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  const ledger = options.ledger ?? 'ACTIVE'
  if (ledger !== 'NONE') {
    await db
      .insertInto('module_instance')
      .values({
        inventory_source_id: source.id,
        module_instance_id: 'booking-ledger',
        kind: 'BOOKING_LEDGER',
        provider: 'agentic',
        name: 'Booking ledger',
        config: json({}),
        status_override: ledger === 'DISABLED' ? 'DISABLED' : null,
        created_at: now,
        updated_at: now,
      })
      .execute()
  }
  const availRowIds = new Map<string, number>()
  for (const seed of options.avails ?? []) {
    availRowIds.set(seed.availId, await insertAvail(db, source.id, seed, now))
  }
  return { sourceRowId: source.id, sourceId, availRowIds }
}

export async function insertAvail(db: Database, sourceRowId: number, seed: AvailSeed, now = new Date('2026-11-22T12:00:00.000Z')): Promise<number> {
  const row = await db
    .insertInto('avail')
    .values({
      inventory_source_id: sourceRowId,
      avail_id: seed.availId,
      collection_id: 'connected-tv',
      collection_name: 'Connected TV',
      name: `Avail ${seed.availId}`,
      channel: 'CTV',
      start_time: seed.startTime ?? '2026-12-01T00:00:00.000Z',
      end_time: seed.endTime ?? '2026-12-31T23:59:59.000Z',
      feed_capacity: seed.capacity,
      cpm: 22,
      targeting: json({ market: 'South Africa', screen: 'CTV' }),
      source_metadata: json({ publisher: 'Example Network' }),
      status: seed.status ?? 'ACTIVE',
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}

/**
 * The ledger's invariants, checked from the database after a scenario: on every avail,
 * held + booked <= the feed figure (no scenario here lowers a feed below its commitments), the counters equal the sums of the ledger entries, and they equal
 * the sums of the live reservations; every reservation has exactly the entries its status implies.
 */
export async function assertLedgerConsistent(db: Database): Promise<void> {
  const avails = await sql<{ id: number; avail_id: string; capacity: number; held: number; booked: number; entry_held: number; entry_booked: number; live_held: number; live_booked: number }>`
    SELECT a.id, a.avail_id, a.feed_capacity AS capacity, a.held_impressions AS held, a.booked_impressions AS booked,
      coalesce((SELECT sum(held_delta) FROM ledger_entry e WHERE e.avail_row_id = a.id), 0)::bigint AS entry_held,
      coalesce((SELECT sum(booked_delta) FROM ledger_entry e WHERE e.avail_row_id = a.id), 0)::bigint AS entry_booked,
      coalesce((SELECT sum(requested_impressions) FROM reservation r WHERE r.avail_row_id = a.id AND r.status = 'HELD'), 0)::bigint AS live_held,
      coalesce((SELECT sum(requested_impressions) FROM reservation r WHERE r.avail_row_id = a.id AND r.status = 'BOOKED'), 0)::bigint AS live_booked
    FROM avail a
  `.execute(db)
  for (const a of avails.rows) {
    assert.ok(a.held + a.booked <= a.capacity, `avail ${a.avail_id} overbooked: ${a.held} + ${a.booked} > ${a.capacity}`)
    assert.equal(a.held, Number(a.entry_held), `avail ${a.avail_id}: held counter equals the sum of entries`)
    assert.equal(a.booked, Number(a.entry_booked), `avail ${a.avail_id}: booked counter equals the sum of entries`)
    assert.equal(a.held, Number(a.live_held), `avail ${a.avail_id}: held counter equals HELD reservations`)
    assert.equal(a.booked, Number(a.live_booked), `avail ${a.avail_id}: booked counter equals BOOKED reservations`)
  }
  const expected: Record<string, string> = { HELD: 'HOLD', BOOKED: 'BOOK,HOLD', RELEASED: 'HOLD,RELEASE', EXPIRED: 'EXPIRE,HOLD' }
  const wrong = await sql<{ id: number; status: string; kinds: string }>`
    SELECT r.id, r.status, coalesce(string_agg(e.kind, ',' ORDER BY e.kind), '') AS kinds
    FROM reservation r LEFT JOIN ledger_entry e ON e.reservation_id = r.id
    GROUP BY r.id, r.status
  `.execute(db)
  for (const r of wrong.rows) {
    if (r.status === 'RELEASED' && r.kinds === 'BOOK,HOLD,RELEASE') continue
    assert.equal(r.kinds, expected[r.status], `reservation ${r.id} (${r.status}) has entries ${r.kinds}`)
  }
}
