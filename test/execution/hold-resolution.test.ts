import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { availCounters, complete, createDemo, DEMO, errorOf, finalize, itemOfKind, listItems, ok, PRIME, reserve, type Finalized } from './helpers.ts'

/**
 * A hold is resolved exactly once, and whatever hangs on it (its booking, its open work items)
 * follows in the same transaction, whichever path resolves it: the REST release, the sweeper,
 * the lazy expiry inside a reservation, or a release that finds the hold already due.
 */

const REPORT = [{ date: '2026-12-01', impressions: 1000 }]

describe('A hold whose hand-off was cancelled, once it expires', () => {
  let ctx: TestContext
  let finalized: Finalized
  beforeEach(async () => {
    ctx = await createTestContext()
    await createDemo(ctx)
    await reserve(ctx, {})
    finalized = ok<Finalized>(await finalize(ctx))
    assert.deepEqual(finalized.workItems.map((item) => item.kind), ['TRAFFIC_TO_CADENT', 'MAP_CREATIVE_REF', 'UPLOAD_FINAL_REPORT'])
    const traffic = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
    ok(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/work-items/${traffic.id}/cancel`, { reason: 'Buyer went quiet' }))
    ctx.clock.advance(61 * 60_000)
  })
  afterEach(async () => ctx.close())

  async function assertFollowed(): Promise<void> {
    const booking = await ctx.db.selectFrom('booking').select('status').where('id', '=', Number(finalized.booking.bookingId)).executeTakeFirstOrThrow()
    assert.equal(booking.status, 'EXPIRED')
    assert.equal((await listItems(ctx, 'mediaBuyId=mb_123')).total, 0, 'no item of the expired hold stays open')
    const cancelled = await listItems(ctx, 'status=CANCELLED&mediaBuyId=mb_123')
    assert.deepEqual(cancelled.items.map((item) => item.kind).sort(), ['MAP_CREATIVE_REF', 'TRAFFIC_TO_CADENT', 'UPLOAD_FINAL_REPORT'])
    const report = cancelled.items.find((item) => item.kind === 'UPLOAD_FINAL_REPORT')!
    const events = ok<{ events: { eventType: string; actorType: string; notes: string | null }[] }>(
      await ctx.api('GET', `/inventory-sources/${DEMO}/modular/work-items/${report.id}`)).events
    assert.deepEqual([events.at(-1)!.eventType, events.at(-1)!.actorType, events.at(-1)!.notes], ['CANCELLED', 'SYSTEM', 'Reservation expired'])
    const refused = errorOf(await complete(ctx, report.id, { result: { report: REPORT } }), 409)
    assert.equal(refused.details?.reason, 'WORK_ITEM_TERMINAL')
    assert.equal((await ctx.db.selectFrom('delivery_row').select('id').execute()).length, 0)
  }

  it('expired by the sweeper: the booking is EXPIRED and its open items are cancelled', async () => {
    assert.deepEqual(await ctx.services.ledger.expireDue(), { expired: 1 })
    await assertFollowed()
    assert.deepEqual(await availCounters(ctx), { held: 0, booked: 0 })
  })

  it('expired lazily by a new reservation on the avail: the same consequences', async () => {
    await reserve(ctx, { mediaBuyId: 'mb_next', requestedImpressions: 1000 })
    await assertFollowed()
    assert.deepEqual(await availCounters(ctx), { held: 1000, booked: 0 })
  })

  it('expired by a release that finds it due: the same consequences', async () => {
    const released = ok<{ reservation: { status: string } }>(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/bookings/release`, { mediaBuyId: 'mb_123', availId: PRIME }))
    assert.equal(released.reservation.status, 'EXPIRED')
    await assertFollowed()
  })

  it('expired by a read of the reservation: the same consequences', async () => {
    const read = ok<{ status: string }>(await ctx.api('GET', `/inventory-sources/${DEMO}/modular/reservations/${finalized.booking.reservationId}`))
    assert.equal(read.status, 'EXPIRED')
    await assertFollowed()
  })
})

describe('A hold that is booked', () => {
  let ctx: TestContext
  beforeEach(async () => {
    ctx = await createTestContext()
    await createDemo(ctx)
    await reserve(ctx, {})
    ok(await finalize(ctx))
  })
  afterEach(async () => ctx.close())

  it('never expires afterwards: the sweeper leaves the booking and its report item alone', async () => {
    ok(await complete(ctx, (await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')).id, { result: { cadentCampaignId: 'CAD-1' } }))
    ctx.clock.advance(24 * 60 * 60_000)
    assert.deepEqual(await ctx.services.ledger.expireDue(), { expired: 0 })
    const booking = await ctx.db.selectFrom('booking').select('status').executeTakeFirstOrThrow()
    assert.equal(booking.status, 'BOOKED')
    assert.deepEqual((await listItems(ctx)).items.map((item) => item.kind).sort(), ['MAP_CREATIVE_REF', 'UPLOAD_FINAL_REPORT'])
  })
})
