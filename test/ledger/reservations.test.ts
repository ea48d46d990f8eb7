import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { startExpirySweeper } from '../../src/modules/booking-ledger/expiry-sweeper.ts'
import { moduleStatusOf } from '../../src/modules/registry.ts'
import { json } from '../../src/db/database.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { assertLedgerConsistent, insertAvail, seedModularSource, type LedgerFixture } from './ledger-fixtures.ts'

/**
 * The booking ledger over HTTP, scenario by scenario. Each scenario ends by re-reading the
 * database and checking the ledger's invariants (counters == sums of entries == live
 * reservations, never over capacity), so a scenario that answers right but leaves the ledger
 * inconsistent still fails.
 */

const MINUTE = 60_000
const NOW = '2026-11-22T12:00:00.000Z'

let ctx: TestContext
let fixture: LedgerFixture
let sequence = 0

before(async () => {
  ctx = await createTestContext({ now: NOW })
  fixture = await seedModularSource(ctx.db, { sourceId: 'retail-modular', avails: [] })
})
after(async () => {
  await ctx.close()
})
afterEach(async () => {
  await assertLedgerConsistent(ctx.db)
})

const base = '/inventory-sources/retail-modular/modular'

/** A fresh avail per scenario keeps scenarios independent inside one database. */
async function freshAvail(capacity: number, extra: { status?: 'ACTIVE' | 'INACTIVE'; startTime?: string; endTime?: string } = {}): Promise<string> {
  sequence += 1
  const availId = `avail-${sequence}`
  fixture.availRowIds.set(availId, await insertAvail(ctx.db, fixture.sourceRowId, { availId, capacity, ...extra }))
  return availId
}

function reserve(body: Record<string, unknown>, options?: { key?: string | null; headers?: Record<string, string> }) {
  return ctx.api('POST', `${base}/reservations`, body, options)
}

async function availCounters(availId: string) {
  return ctx.db.selectFrom('avail').select(['held_impressions', 'booked_impressions', 'feed_capacity']).where('avail_id', '=', availId).executeTakeFirstOrThrow()
}

/** Media buys of the holds due to expire at the test clock's now, of every scenario so far. */
async function dueHolds(): Promise<string[]> {
  const rows = await ctx.db.selectFrom('reservation').select('media_buy_id')
    .where('status', '=', 'HELD').where('expires_at', '<=', ctx.clock.now()).execute()
  return rows.map((row) => row.media_buy_id)
}

describe('POST /inventory-sources/{sourceId}/modular/reservations', () => {
  it('holds capacity and answers 201 with the reservation and the product', async () => {
    const availId = await freshAvail(1_500_000)
    const response = await reserve({ productId: `avail:${availId}`, mediaBuyId: 'mb_123', buyerCustomerId: 42, requestedImpressions: 250_000, holdMinutes: 60 })
    assert.equal(response.statusCode, 201, response.body)
    const { reservation, product } = response.json()
    assert.match(reservation.reservationId, /^\d+$/)
    assert.equal(reservation.status, 'HELD')
    assert.equal(reservation.availId, availId)
    assert.equal(reservation.productId, `avail:${availId}`)
    assert.equal(reservation.mediaBuyId, 'mb_123')
    assert.equal(reservation.packageId, null)
    assert.equal(reservation.buyerCustomerId, 42)
    assert.equal(reservation.requestedImpressions, 250_000)
    assert.equal(reservation.expiresAt, '2026-11-22T13:00:00.000Z')
    assert.equal(reservation.createdAt, NOW)
    assert.equal(reservation.bookedAt, null)
    assert.equal(product.productId, `avail:${availId}`)
    assert.equal(product.impressionsCapacity, 1_500_000)
    assert.equal(product.heldImpressions, 250_000)
    assert.equal(product.bookedImpressions, 0)
    assert.equal(product.availableImpressions, 1_250_000)
    assert.equal(product.cadent, null)
    assert.deepEqual(product.targeting, { market: 'South Africa', screen: 'CTV' })
  })

  it('defaults holdMinutes to 60 and refuses 0 and 10081 with 400', async () => {
    const availId = await freshAvail(100)
    const ok = await reserve({ availId, mediaBuyId: 'mb-default', requestedImpressions: 1 })
    assert.equal(ok.statusCode, 201)
    assert.equal(ok.json().reservation.expiresAt, '2026-11-22T13:00:00.000Z')
    for (const holdMinutes of [0, 10_081, 1.5]) {
      const bad = await reserve({ availId, mediaBuyId: `mb-hold-${holdMinutes}`, requestedImpressions: 1, holdMinutes })
      assert.equal(bad.statusCode, 400)
      assert.equal(bad.json().error.details.issues[0].path, 'holdMinutes')
    }
    const longest = await reserve({ availId, mediaBuyId: 'mb-week', requestedImpressions: 1, holdMinutes: 10_080 })
    assert.equal(longest.statusCode, 201)
  })

  it('refuses a body without availId or productId, a non-positive amount, and a productId that disagrees with availId', async () => {
    const availId = await freshAvail(100)
    assert.equal((await reserve({ mediaBuyId: 'mb', requestedImpressions: 1 })).statusCode, 400)
    assert.equal((await reserve({ availId, mediaBuyId: 'mb', requestedImpressions: 0 })).statusCode, 400)
    assert.equal((await reserve({ availId, productId: 'avail:other', mediaBuyId: 'mb', requestedImpressions: 1 })).statusCode, 400)
    assert.equal((await reserve({ productId: availId, mediaBuyId: 'mb', requestedImpressions: 1 })).statusCode, 400)
  })

  it('takes exactly the remaining capacity, then refuses one more impression with INSUFFICIENT_CAPACITY', async () => {
    const availId = await freshAvail(1_000)
    assert.equal((await reserve({ availId, mediaBuyId: 'mb-a', requestedImpressions: 400 })).statusCode, 201)
    const exact = await reserve({ availId, mediaBuyId: 'mb-b', requestedImpressions: 600 })
    assert.equal(exact.statusCode, 201, exact.body)
    assert.equal(exact.json().product.availableImpressions, 0)
    const one = await reserve({ availId, mediaBuyId: 'mb-c', requestedImpressions: 1 })
    assert.equal(one.statusCode, 409)
    assert.equal(one.json().error.code, 'CONFLICT')
    assert.equal(one.json().error.details.reason, 'INSUFFICIENT_CAPACITY')
    assert.equal(one.json().error.details.availableImpressions, 0)
    assert.deepEqual(await availCounters(availId), { held_impressions: 1_000, booked_impressions: 0, feed_capacity: 1_000 })
  })

  it('refuses an over-capacity request with 409 and the available impressions, and holds nothing', async () => {
    const availId = await freshAvail(1_000)
    await reserve({ availId, mediaBuyId: 'mb-over-a', requestedImpressions: 300 })
    const over = await reserve({ availId, mediaBuyId: 'mb-over-b', requestedImpressions: 701 })
    assert.equal(over.statusCode, 409)
    assert.equal(over.json().error.details.reason, 'INSUFFICIENT_CAPACITY')
    assert.equal(over.json().error.details.availableImpressions, 700)
    assert.equal((await availCounters(availId)).held_impressions, 300)
    const count = await ctx.db.selectFrom('reservation').select((eb) => eb.fn.countAll<number>().as('n')).where('media_buy_id', '=', 'mb-over-b').executeTakeFirstOrThrow()
    assert.equal(Number(count.n), 0)
  })

  it('replays an equal live reservation with 200, even when the avail is full, and refuses another amount with RESERVATION_EXISTS', async () => {
    const availId = await freshAvail(500)
    const body = { availId, mediaBuyId: 'mb-replay', packageId: 'pkg-1', requestedImpressions: 500 }
    const first = await reserve(body)
    assert.equal(first.statusCode, 201)
    const again = await reserve(body)
    assert.equal(again.statusCode, 200)
    assert.deepEqual(again.json().reservation, first.json().reservation)
    const viaProduct = await reserve({ ...body, availId: undefined, productId: `avail:${availId}` })
    assert.equal(viaProduct.statusCode, 200)
    assert.equal(viaProduct.json().reservation.reservationId, first.json().reservation.reservationId)
    const other = await reserve({ ...body, requestedImpressions: 400 })
    assert.equal(other.statusCode, 409)
    assert.equal(other.json().error.details.reason, 'RESERVATION_EXISTS')
    assert.equal(other.json().error.details.reservationId, first.json().reservation.reservationId)
    // Another package of the same media buy is another reservation.
    const otherPackage = await reserve({ ...body, packageId: 'pkg-2', requestedImpressions: 1 })
    assert.equal(otherPackage.json().error.details.reason, 'INSUFFICIENT_CAPACITY')
    assert.equal((await availCounters(availId)).held_impressions, 500)
  })

  it('replays the stored response for a repeated Idempotency-Key', async () => {
    const availId = await freshAvail(100)
    const headers = { 'idempotency-key': `reserve-${availId}` }
    const body = { availId, mediaBuyId: 'mb-key', requestedImpressions: 10 }
    const first = await reserve(body, { headers })
    assert.equal(first.statusCode, 201)
    const second = await reserve(body, { headers })
    assert.equal(second.statusCode, 201)
    assert.equal(second.headers['idempotent-replayed'], 'true')
    assert.deepEqual(second.json(), first.json())
    const reused = await reserve({ ...body, requestedImpressions: 11 }, { headers })
    assert.equal(reused.statusCode, 409)
    assert.equal(reused.json().error.details.reason, 'IDEMPOTENCY_KEY_REUSED')
    assert.equal((await availCounters(availId)).held_impressions, 10)
  })

  it('answers 409 NO_BOOKING_LEDGER without a ledger module or with a DISABLED one', async () => {
    const none = await seedModularSource(ctx.db, { sourceId: 'no-ledger', ledger: 'NONE', avails: [{ availId: 'x', capacity: 10 }] })
    const disabled = await seedModularSource(ctx.db, { sourceId: 'disabled-ledger', ledger: 'DISABLED', avails: [{ availId: 'x', capacity: 10 }] })
    for (const source of [none, disabled]) {
      const response = await ctx.api('POST', `/inventory-sources/${source.sourceId}/modular/reservations`, { availId: 'x', mediaBuyId: 'mb', requestedImpressions: 1 })
      assert.equal(response.statusCode, 409)
      assert.equal(response.json().error.details.reason, 'NO_BOOKING_LEDGER')
    }
  })

  it('answers 409 NO_BOOKING_LEDGER when the ledger module is not ACTIVE by the modules rule (an ERROR override, a provider the catalog no longer has)', async () => {
    const errored = await seedModularSource(ctx.db, { sourceId: 'errored-ledger', avails: [{ availId: 'x', capacity: 10 }] })
    await ctx.db.updateTable('module_instance').set({ status_override: 'ERROR' }).where('inventory_source_id', '=', errored.sourceRowId).execute()
    const retired = await seedModularSource(ctx.db, { sourceId: 'retired-ledger', avails: [{ availId: 'x', capacity: 10 }] })
    await ctx.db.updateTable('module_instance').set({ provider: 'retired' }).where('inventory_source_id', '=', retired.sourceRowId).execute()
    for (const source of [errored, retired]) {
      const module = await ctx.db.selectFrom('module_instance').selectAll().where('inventory_source_id', '=', source.sourceRowId).executeTakeFirstOrThrow()
      assert.notEqual(moduleStatusOf(module), 'ACTIVE')
      const response = await ctx.api('POST', `/inventory-sources/${source.sourceId}/modular/reservations`, { availId: 'x', mediaBuyId: 'mb', requestedImpressions: 1 })
      assert.equal(response.statusCode, 409, response.body)
      assert.equal(response.json().error.details.reason, 'NO_BOOKING_LEDGER')
    }
  })

  it('answers 404 for an unknown avail, and 409 AVAIL_NOT_SELLABLE for an inactive or ended one', async () => {
    const unknown = await reserve({ availId: 'does-not-exist', mediaBuyId: 'mb', requestedImpressions: 1 })
    assert.equal(unknown.statusCode, 404)
    assert.equal(unknown.json().error.code, 'NOT_FOUND')
    const inactive = await freshAvail(100, { status: 'INACTIVE' })
    const ended = await freshAvail(100, { startTime: '2026-11-01T00:00:00.000Z', endTime: '2026-11-22T11:59:59.000Z' })
    for (const availId of [inactive, ended]) {
      const response = await reserve({ availId, mediaBuyId: 'mb', requestedImpressions: 1 })
      assert.equal(response.statusCode, 409)
      assert.equal(response.json().error.details.reason, 'AVAIL_NOT_SELLABLE')
    }
  })

  it('answers 404 for an unknown source and for another storefront\'s source, and 401 without a key', async () => {
    const availId = await freshAvail(10)
    const missing = await ctx.api('POST', '/inventory-sources/nope/modular/reservations', { availId, mediaBuyId: 'mb', requestedImpressions: 1 })
    assert.equal(missing.statusCode, 404)
    const foreign = await reserve({ availId, mediaBuyId: 'mb', requestedImpressions: 1 }, { key: ctx.otherKey })
    assert.equal(foreign.statusCode, 404)
    assert.deepEqual(foreign.json().error.code, missing.json().error.code)
    assert.equal((await reserve({ availId, mediaBuyId: 'mb', requestedImpressions: 1 }, { key: null })).statusCode, 401)
  })

  it('lets a new reservation use an expired hold\'s capacity without the sweeper (lazy expiry)', async () => {
    const availId = await freshAvail(1_000)
    const held = await reserve({ availId, mediaBuyId: 'mb-old', requestedImpressions: 1_000, holdMinutes: 5 })
    assert.equal(held.statusCode, 201)
    ctx.clock.advance(5 * MINUTE - 1)
    assert.equal((await reserve({ availId, mediaBuyId: 'mb-new', requestedImpressions: 1 })).json().error.details.reason, 'INSUFFICIENT_CAPACITY')
    ctx.clock.advance(1)
    const fresh = await reserve({ availId, mediaBuyId: 'mb-new', requestedImpressions: 1_000 })
    assert.equal(fresh.statusCode, 201, fresh.body)
    const old = await ctx.db.selectFrom('reservation').selectAll().where('id', '=', Number(held.json().reservation.reservationId)).executeTakeFirstOrThrow()
    assert.equal(old.status, 'EXPIRED')
    assert.equal(old.expired_at?.toISOString(), '2026-11-22T12:05:00.000Z')
    ctx.clock.set(NOW)
  })

  it('treats an expired hold of the same media buy, avail and package as gone: a new amount gets a new reservation', async () => {
    const availId = await freshAvail(100)
    const body = { availId, mediaBuyId: 'mb-again', requestedImpressions: 60, holdMinutes: 1 }
    const first = await reserve(body)
    ctx.clock.advance(MINUTE)
    const second = await reserve({ ...body, requestedImpressions: 70 })
    assert.equal(second.statusCode, 201, second.body)
    assert.notEqual(second.json().reservation.reservationId, first.json().reservation.reservationId)
    ctx.clock.set(NOW)
  })

  it('expires due holds with the sweeper, each exactly once, and frees their capacity', async () => {
    const availA = await freshAvail(100)
    const availB = await freshAvail(100)
    await reserve({ availId: availA, mediaBuyId: 'mb-s1', requestedImpressions: 40, holdMinutes: 10 })
    await reserve({ availId: availA, mediaBuyId: 'mb-s2', requestedImpressions: 50, holdMinutes: 30 })
    await reserve({ availId: availB, mediaBuyId: 'mb-s3', requestedImpressions: 100, holdMinutes: 10 })
    ctx.clock.advance(10 * MINUTE)
    // Earlier scenarios may leave short holds behind; they expire too, each exactly once.
    const due = await dueHolds()
    assert.deepEqual(due.filter((id) => id.startsWith('mb-s')).sort(), ['mb-s1', 'mb-s3'])
    const swept = await ctx.services.ledger.expireDue({ batchSize: 1 })
    assert.equal(swept.expired, due.length)
    assert.equal((await ctx.services.ledger.expireDue()).expired, 0)
    assert.equal((await availCounters(availA)).held_impressions, 50)
    assert.equal((await availCounters(availB)).held_impressions, 0)
    const list = await ctx.api('GET', `${base}/reservations?status=EXPIRED&availId=${availA}`)
    assert.equal(list.json().reservations.length, 1)
    assert.equal(list.json().reservations[0].mediaBuyId, 'mb-s1')
    ctx.clock.set(NOW)
  })

  it('runs its reconcilers after each sweep, logging what each mended; one that fails does not stop the next', async () => {
    const logged: Array<[string, object]> = []
    const ran: string[] = []
    const sweeper = startExpirySweeper({
      ledger: ctx.services.ledger,
      intervalMs: 10,
      logger: { info: (object, message) => logged.push([message, object]), error: (object, message) => logged.push([message, object]) },
      reconcilers: [
        { name: 'first', run: async () => { ran.push('first'); throw new Error('boom') } },
        { name: 'second mended', run: async () => { ran.push('second'); return 2 } },
        { name: 'third mended', run: async () => { ran.push('third'); return 0 } },
      ],
    })
    const deadline = Date.now() + 5_000
    while (ran.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    await sweeper.stop()
    assert.deepEqual(ran.slice(0, 3), ['first', 'second', 'third'])
    assert.ok(logged.some(([message]) => message === 'reconciler failed: first'))
    assert.ok(logged.some(([message, object]) => message === 'second mended' && (object as { mended: number }).mended === 2))
    assert.ok(!logged.some(([message]) => message === 'third mended'))
  })

  it('runs the periodic sweeper until stopped', async () => {
    const availId = await freshAvail(100)
    const held = await reserve({ availId, mediaBuyId: 'mb-timer', requestedImpressions: 100, holdMinutes: 1 })
    ctx.clock.advance(MINUTE)
    const logged: object[] = []
    const sweeper = startExpirySweeper({
      ledger: ctx.services.ledger,
      intervalMs: 10,
      logger: { info: (object) => logged.push(object), error: (object) => logged.push(object) },
    })
    const due = await dueHolds()
    assert.ok(due.includes('mb-timer'))
    // The sweeper runs on real timers (it takes no clock): poll for its first log line.
    const deadline = Date.now() + 5_000
    while (logged.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    await sweeper.stop()
    assert.deepEqual(logged[0], { expired: due.length })
    const row = await ctx.db.selectFrom('reservation').select('status').where('id', '=', Number(held.json().reservation.reservationId)).executeTakeFirstOrThrow()
    assert.equal(row.status, 'EXPIRED')
    ctx.clock.set(NOW)
  })
})

describe('GET /inventory-sources/{sourceId}/modular/reservations', () => {
  it('lists newest first with filters, a bounded page and X-Total-Count', async () => {
    const availId = await freshAvail(100)
    for (const mediaBuyId of ['mb-l1', 'mb-l2', 'mb-l3']) await reserve({ availId, mediaBuyId, requestedImpressions: 1 })
    const page = await ctx.api('GET', `${base}/reservations?availId=${availId}&take=2`)
    assert.equal(page.statusCode, 200)
    assert.equal(page.headers['x-total-count'], '3')
    assert.deepEqual(page.json().reservations.map((r: { mediaBuyId: string }) => r.mediaBuyId), ['mb-l3', 'mb-l2'])
    assert.equal(page.json().total, 3)
    const one = await ctx.api('GET', `${base}/reservations?mediaBuyId=mb-l2&status=held`)
    assert.equal(one.json().reservations.length, 1)
    assert.equal((await ctx.api('GET', `${base}/reservations?take=201`)).statusCode, 400)
    assert.equal((await ctx.api('GET', `${base}/reservations?status=LOST`)).statusCode, 400)
  })

  it('shows a hold past its expiry as EXPIRED, and 404 for another source\'s or an unknown reservation', async () => {
    const availId = await freshAvail(100)
    const held = (await reserve({ availId, mediaBuyId: 'mb-get', requestedImpressions: 5, holdMinutes: 1 })).json().reservation
    const read = await ctx.api('GET', `${base}/reservations/${held.reservationId}`)
    assert.deepEqual(read.json(), held)
    ctx.clock.advance(MINUTE)
    const later = await ctx.api('GET', `${base}/reservations/${held.reservationId}`)
    assert.equal(later.json().status, 'EXPIRED')
    ctx.clock.set(NOW)
    assert.equal((await ctx.api('GET', `${base}/reservations/999999`)).statusCode, 404)
    assert.equal((await ctx.api('GET', `${base}/reservations/abc`)).statusCode, 404)
    assert.equal((await ctx.api('GET', `${base}/reservations/${held.reservationId}`, undefined, { key: ctx.otherKey })).statusCode, 404)
  })
})

describe('POST /inventory-sources/{sourceId}/modular/bookings/release', () => {
  it('releases a HELD reservation, returns its capacity and answers with the projection', async () => {
    const availId = await freshAvail(1_000)
    await reserve({ productId: `avail:${availId}`, mediaBuyId: 'mb_123', requestedImpressions: 250 })
    const response = await ctx.api('POST', `${base}/bookings/release`, { mediaBuyId: 'mb_123', availId, reason: 'buyer cancelled' })
    assert.equal(response.statusCode, 200, response.body)
    const { reservation, projection } = response.json()
    assert.equal(reservation.status, 'RELEASED')
    assert.equal(reservation.releasedAt, NOW)
    assert.equal(reservation.releaseReason, 'buyer cancelled')
    assert.ok(projection && typeof projection === 'object')
    assert.equal((await availCounters(availId)).held_impressions, 0)
    // The capacity is sellable again.
    assert.equal((await reserve({ availId, mediaBuyId: 'mb-next', requestedImpressions: 1_000 })).statusCode, 201)
  })

  it('is a 200 no-op for an already released reservation and for an expired one', async () => {
    const availId = await freshAvail(100)
    const held = (await reserve({ availId, mediaBuyId: 'mb-twice', requestedImpressions: 10 })).json().reservation
    const first = await ctx.api('POST', `${base}/bookings/release`, { reservationId: held.reservationId })
    assert.equal(first.json().reservation.status, 'RELEASED')
    ctx.clock.advance(MINUTE)
    const second = await ctx.api('POST', `${base}/bookings/release`, { mediaBuyId: 'mb-twice', productId: `avail:${availId}` })
    assert.equal(second.statusCode, 200)
    assert.deepEqual(second.json().reservation, first.json().reservation)
    ctx.clock.set(NOW)

    const expiring = (await reserve({ availId, mediaBuyId: 'mb-expiring', requestedImpressions: 10, holdMinutes: 1 })).json().reservation
    ctx.clock.advance(2 * MINUTE)
    const late = await ctx.api('POST', `${base}/bookings/release`, { reservationId: expiring.reservationId })
    assert.equal(late.statusCode, 200)
    assert.equal(late.json().reservation.status, 'EXPIRED')
    assert.equal(late.json().reservation.releasedAt, null)
    ctx.clock.set(NOW)
    assert.equal((await availCounters(availId)).held_impressions, 0)
  })

  it('releases a BOOKED reservation and returns its booked impressions', async () => {
    const availId = await freshAvail(1_000)
    const held = (await reserve({ availId, mediaBuyId: 'mb-booked', requestedImpressions: 300 })).json().reservation
    const booked = await ctx.db.transaction().execute((trx) => ctx.services.ledger.book(trx, { sourceRowId: fixture.sourceRowId, reservationId: held.reservationId }))
    assert.equal(booked.booked, true)
    assert.equal(booked.reservation.status, 'BOOKED')
    assert.equal(booked.reservation.expiresAt, null)
    assert.deepEqual(await availCounters(availId), { held_impressions: 0, booked_impressions: 300, feed_capacity: 1_000 })
    const again = await ctx.db.transaction().execute((trx) => ctx.services.ledger.book(trx, { sourceRowId: fixture.sourceRowId, mediaBuyId: 'mb-booked', availId }))
    assert.equal(again.booked, false)
    const response = await ctx.api('POST', `${base}/bookings/release`, { mediaBuyId: 'mb-booked', availId })
    assert.equal(response.json().reservation.status, 'RELEASED')
    assert.equal(response.json().reservation.bookedAt, NOW)
    assert.deepEqual(await availCounters(availId), { held_impressions: 0, booked_impressions: 0, feed_capacity: 1_000 })
    await assert.rejects(
      ctx.db.transaction().execute((trx) => ctx.services.ledger.book(trx, { sourceRowId: fixture.sourceRowId, reservationId: held.reservationId })),
      (error: { details?: { reason?: string } }) => error.details?.reason === 'NO_HELD_RESERVATION',
    )
  })

  it('books, suspends and resumes expiry only inside the caller\'s transaction, and writes nothing outside one', async () => {
    const availId = await freshAvail(100)
    const held = (await reserve({ availId, mediaBuyId: 'mb-outside', requestedImpressions: 10 })).json().reservation
    const target = { sourceRowId: fixture.sourceRowId, reservationId: held.reservationId }
    const { ledger } = ctx.services
    // @ts-expect-error: book takes the caller's Transaction; the database does not compile
    await assert.rejects(ledger.book(ctx.db, target), /must run inside the caller's transaction/)
    // @ts-expect-error: the same for suspendExpiry
    await assert.rejects(ledger.suspendExpiry(ctx.db, target), /must run inside the caller's transaction/)
    // @ts-expect-error: and for resumeExpiry
    await assert.rejects(ledger.resumeExpiry(ctx.db, Number(held.reservationId), ctx.clock.now()), /must run inside the caller's transaction/)
    const row = await ctx.db.selectFrom('reservation').select(['status', 'expires_at']).where('id', '=', Number(held.reservationId)).executeTakeFirstOrThrow()
    assert.deepEqual(row, { status: 'HELD', expires_at: new Date(Date.parse(NOW) + 60 * MINUTE) })
    assert.deepEqual(await availCounters(availId), { held_impressions: 10, booked_impressions: 0, feed_capacity: 100 })
  })

  it('refuses to book a hold past its expiry, and a hand-off suspends expiry', async () => {
    const availId = await freshAvail(100)
    const late = (await reserve({ availId, mediaBuyId: 'mb-late', requestedImpressions: 10, holdMinutes: 1 })).json().reservation
    const kept = (await reserve({ availId, mediaBuyId: 'mb-kept', requestedImpressions: 10, holdMinutes: 1 })).json().reservation
    const suspended = await ctx.db.transaction().execute((trx) => ctx.services.ledger.suspendExpiry(trx, { sourceRowId: fixture.sourceRowId, reservationId: kept.reservationId }))
    assert.equal(suspended.expiresAt, null)
    ctx.clock.advance(MINUTE)
    await assert.rejects(ctx.db.transaction().execute((trx) => ctx.services.ledger.book(trx, { sourceRowId: fixture.sourceRowId, reservationId: late.reservationId })))
    assert.equal((await ctx.services.ledger.expireDue()).expired, 1)
    const booked = await ctx.db.transaction().execute((trx) => ctx.services.ledger.book(trx, { sourceRowId: fixture.sourceRowId, reservationId: kept.reservationId }))
    assert.equal(booked.reservation.status, 'BOOKED')
    ctx.clock.set(NOW)
  })

  it('needs packageId or reservationId when several packages are live, and answers 404 for nothing to release', async () => {
    const availId = await freshAvail(100)
    await reserve({ availId, mediaBuyId: 'mb-pk', packageId: 'p1', requestedImpressions: 1 })
    await reserve({ availId, mediaBuyId: 'mb-pk', packageId: 'p2', requestedImpressions: 2 })
    const ambiguous = await ctx.api('POST', `${base}/bookings/release`, { mediaBuyId: 'mb-pk', availId })
    assert.equal(ambiguous.statusCode, 400)
    assert.equal(ambiguous.json().error.details.issues[0].path, 'packageId')
    const one = await ctx.api('POST', `${base}/bookings/release`, { mediaBuyId: 'mb-pk', availId, packageId: 'p2' })
    assert.equal(one.json().reservation.requestedImpressions, 2)
    assert.equal((await ctx.api('POST', `${base}/bookings/release`, { mediaBuyId: 'nobody', availId })).statusCode, 404)
    assert.equal((await ctx.api('POST', `${base}/bookings/release`, { availId })).statusCode, 400)
    await ctx.api('POST', `${base}/bookings/release`, { mediaBuyId: 'mb-pk', availId, packageId: 'p1' })
  })
})

describe('DELETE /inventory-sources/{sourceId} with reservations', () => {
  it('is refused with 400 SOURCE_HAS_LIVE_RESERVATIONS until they are released', async () => {
    const source = await seedModularSource(ctx.db, { sourceId: 'to-delete', avails: [{ availId: 'd1', capacity: 10 }] })
    const path = `/inventory-sources/${source.sourceId}`
    await ctx.api('POST', `${path}/modular/reservations`, { availId: 'd1', mediaBuyId: 'mb-del', requestedImpressions: 5 })
    const refused = await ctx.api('DELETE', path)
    assert.equal(refused.statusCode, 400)
    assert.equal(refused.json().error.details.reason, 'SOURCE_HAS_LIVE_RESERVATIONS')
    await ctx.api('POST', `${path}/modular/bookings/release`, { mediaBuyId: 'mb-del', availId: 'd1' })
    assert.equal((await ctx.api('DELETE', path)).statusCode, 204)
    const left = await ctx.db.selectFrom('reservation').select('id').where('inventory_source_id', '=', source.sourceRowId).execute()
    assert.equal(left.length, 0)
  })
})

describe('ledger_entry', () => {
  it('refuses UPDATE: entries are immutable', async () => {
    const availId = await freshAvail(10)
    await reserve({ availId, mediaBuyId: 'mb-immutable', requestedImpressions: 1 })
    await assert.rejects(sql`UPDATE ledger_entry SET impressions = impressions + 1`.execute(ctx.db), /immutable/)
  })
})

describe('POST /inventory-sources/{sourceId}/modular/reservations with what another process changed', () => {
  it('answers with the trafficking module as it is now, though this process answered before it changed', async () => {
    const availId = await freshAvail(1_000)
    assert.equal((await reserve({ availId, mediaBuyId: 'mb-facts-1', requestedImpressions: 1 })).json().product.cadent, null)
    // Another process attaches a Cadent trafficking module, then edits it: straight to the database.
    const now = ctx.clock.now()
    const module = await ctx.db.insertInto('module_instance').values({
      inventory_source_id: fixture.sourceRowId,
      module_instance_id: 'facts-cadent',
      kind: 'TRAFFICKING',
      provider: 'cadent',
      name: 'Cadent',
      config: json({ campaignDeliveryType: 'GUARANTEED', lineDeliveryType: 'NON_GUARANTEED', adType: 'VIDEO', adClass: 'COMMERCIAL' }),
      status_override: null,
      created_at: now,
      updated_at: now,
    }).returning('id').executeTakeFirstOrThrow()
    try {
      const attached = await reserve({ availId, mediaBuyId: 'mb-facts-2', requestedImpressions: 1 })
      assert.equal(attached.statusCode, 201, attached.body)
      assert.equal(attached.json().product.cadent?.adType, 'VIDEO', attached.body)
      await ctx.db.updateTable('module_instance').set({ config: json({ campaignDeliveryType: 'GUARANTEED', lineDeliveryType: 'NON_GUARANTEED', adType: 'DISPLAY', adClass: 'COMMERCIAL' }) }).where('id', '=', module.id).execute()
      assert.equal((await reserve({ availId, mediaBuyId: 'mb-facts-3', requestedImpressions: 1 })).json().product.cadent?.adType, 'DISPLAY')
    } finally {
      await ctx.db.deleteFrom('module_instance').where('id', '=', module.id).execute()
    }
    assert.equal((await reserve({ availId, mediaBuyId: 'mb-facts-4', requestedImpressions: 1 })).json().product.cadent, null)
  })

  it('finds a source another process deleted and created again under the same sourceId', async () => {
    const first = await seedModularSource(ctx.db, { sourceId: 'facts-again', avails: [{ availId: 'again', capacity: 10 }] })
    const path = '/inventory-sources/facts-again/modular/reservations'
    assert.equal((await ctx.api('POST', path, { availId: 'again', mediaBuyId: 'mb-again-1', requestedImpressions: 1 })).statusCode, 201)
    await ctx.db.deleteFrom('ledger_entry').where('avail_row_id', '=', first.availRowIds.get('again')!).execute()
    await ctx.db.deleteFrom('reservation').where('inventory_source_id', '=', first.sourceRowId).execute()
    await ctx.db.deleteFrom('avail').where('inventory_source_id', '=', first.sourceRowId).execute()
    await ctx.db.deleteFrom('module_instance').where('inventory_source_id', '=', first.sourceRowId).execute()
    await ctx.db.deleteFrom('inventory_source').where('id', '=', first.sourceRowId).execute()
    const second = await seedModularSource(ctx.db, { sourceId: 'facts-again', avails: [{ availId: 'again', capacity: 10 }] })
    assert.notEqual(second.sourceRowId, first.sourceRowId)
    const answer = await ctx.api('POST', path, { availId: 'again', mediaBuyId: 'mb-again-2', requestedImpressions: 1 })
    assert.equal(answer.statusCode, 201, answer.body)
    assert.equal(answer.json().reservation.inventorySourceId, String(second.sourceRowId))
  })
})
