import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { skipOnPglite } from '../helpers/database.ts'
import { availCounters, createDemo, CREATIVE, DEMO, errorOf, finalize, ok, PRIME, reserve, type Finalized } from './helpers.ts'

describe('POST /inventory-sources/{sourceId}/modular/bookings/finalize', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
    await createDemo(ctx)
  })
  after(async () => ctx.close())

  it('refuses with 409 NO_HELD_RESERVATION when nothing is held', async () => {
    const error = errorOf(await finalize(ctx, { mediaBuyId: 'mb_none' }), 409)
    assert.equal(error.details?.reason, 'NO_HELD_RESERVATION')
  })

  it('renders the Cadent XML, opens the hand-off items and stops the hold from expiring', async () => {
    const reservation = await reserve(ctx, {})
    assert.ok(reservation.expiresAt)
    const body = ok<Finalized>(await finalize(ctx))
    assert.equal(body.booking.status, 'HELD')
    assert.equal(body.booking.reservationId, reservation.reservationId)
    assert.equal(body.booking.requestedImpressions, 250_000)
    assert.equal(body.booking.traffickingMode, 'HITL')
    assert.deepEqual(body.workItems.map((item) => item.kind), ['TRAFFIC_TO_CADENT', 'MAP_CREATIVE_REF', 'UPLOAD_FINAL_REPORT'])
    const traffic = body.workItems[0]!
    assert.deepEqual(traffic.requiredResultFields, ['cadentCampaignId'])
    assert.equal(traffic.resourceType, 'reservation')
    assert.equal(traffic.resourceId, reservation.reservationId)
    assert.equal(traffic.mediaBuyId, 'mb_123')
    assert.equal(traffic.buyerCustomerId, 42)
    const xml = String(traffic.payload.cadentCampaignXml)
    assert.match(xml, /<ExternalId>mb_123<\/ExternalId>/)
    assert.match(xml, /<ReservationId>\d+<\/ReservationId>/)
    assert.match(xml, /<AdId>EXAD1234000H<\/AdId>/)
    assert.match(xml, /<Target type="daypart">\s*<Value>PRIME<\/Value>/)
    assert.deepEqual(body.workItems[1]!.requiredResultFields, ['creativeRef'])
    assert.deepEqual(body.workItems[1]!.payload.creative, CREATIVE)
    assert.deepEqual(body.workItems[2]!.requiredResultFields, ['report'])
    assert.equal(body.workItems[2]!.dueAt, '2027-01-01T23:59:59.000Z')

    const stored = ok<{ expiresAt: string | null; status: string }>(await ctx.api('GET', `/inventory-sources/${DEMO}/modular/reservations/${reservation.reservationId}`))
    assert.equal(stored.expiresAt, null)
    // Far past the hold's 60 minutes, the hand-off keeps it HELD.
    ctx.clock.advance(3 * 60 * 60 * 1000)
    await ctx.services.ledger.expireDue()
    assert.equal(ok<{ status: string }>(await ctx.api('GET', `/inventory-sources/${DEMO}/modular/reservations/${reservation.reservationId}`)).status, 'HELD')
    assert.deepEqual(await availCounters(ctx), { held: 250_000, booked: 0 })
  })

  it('is idempotent: finalizing again returns the same booking and work items', async () => {
    const first = ok<Finalized>(await finalize(ctx))
    const again = ok<Finalized>(await finalize(ctx, { campaignName: 'Another name' }))
    assert.equal(again.booking.bookingId, first.booking.bookingId)
    assert.deepEqual(again.workItems.map((item) => item.id), first.workItems.map((item) => item.id))
    const count = await ctx.db.selectFrom('work_item').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    assert.equal(Number(count.n), 3)
  })

  it('answers concurrent finalizes of one hold with one booking', { skip: skipOnPglite }, async () => {
    await reserve(ctx, { mediaBuyId: 'mb_race' })
    const answers = await Promise.all([1, 2, 3, 4].map(() => finalize(ctx, { mediaBuyId: 'mb_race' })))
    const bodies = answers.map((answer) => ok<Finalized>(answer))
    assert.equal(new Set(bodies.map((body) => body.booking.bookingId)).size, 1)
    const items = await ctx.db.selectFrom('work_item').select('id').where('media_buy_id', '=', 'mb_race').execute()
    assert.equal(items.length, 3)
  })

  it('refuses an ambiguous media buy and avail held in several packages with 400 naming packageId', async () => {
    await reserve(ctx, { mediaBuyId: 'mb_packages', packageId: 'pkg_a', requestedImpressions: 1000 })
    await reserve(ctx, { mediaBuyId: 'mb_packages', packageId: 'pkg_b', requestedImpressions: 1000 })
    const error = errorOf(await finalize(ctx, { mediaBuyId: 'mb_packages' }), 400)
    assert.match(error.message, /packageId/)
    const body = ok<Finalized>(await finalize(ctx, { mediaBuyId: 'mb_packages', packageId: 'pkg_b' }))
    assert.equal(body.booking.requestedImpressions, 1000)
  })

  it('accepts productId instead of availId', async () => {
    const first = ok<Finalized>(await finalize(ctx, { availId: undefined, productId: `avail:${PRIME}` }))
    assert.equal(first.booking.availId, PRIME)
  })

  it('refuses a buyerCustomerId other than the one the hold was made for', async () => {
    await reserve(ctx, { mediaBuyId: 'mb_buyer' })
    const error = errorOf(await finalize(ctx, { mediaBuyId: 'mb_buyer', buyerCustomerId: 7 }), 409)
    assert.equal(error.details?.reason, 'NO_HELD_RESERVATION')
  })

  it('refuses an invalid creative with 400 naming the field', async () => {
    await reserve(ctx, { mediaBuyId: 'mb_bad_creative' })
    const error = errorOf(await finalize(ctx, { mediaBuyId: 'mb_bad_creative', creative: { ...CREATIVE, adId: 'not-an-ad-id' } }), 400)
    assert.match(error.message, /adId/)
    // Nothing was written: the hold still expires and no booking exists.
    const bookings = await ctx.db.selectFrom('booking').select('id').where('media_buy_id', '=', 'mb_bad_creative').execute()
    assert.equal(bookings.length, 0)
  })

  it('refuses with 409 NO_EXECUTION_MODULE without an ACTIVE trafficking module', async () => {
    await reserve(ctx, { mediaBuyId: 'mb_no_module' })
    ok(await ctx.api('PATCH', `/inventory-sources/${DEMO}/modular/modules/cadent-trafficking/config`, { config: {}, status: 'DISABLED' }))
    const error = errorOf(await finalize(ctx, { mediaBuyId: 'mb_no_module' }), 409)
    assert.equal(error.details?.reason, 'NO_EXECUTION_MODULE')
    ok(await ctx.api('PATCH', `/inventory-sources/${DEMO}/modular/modules/cadent-trafficking/config`, { config: {}, status: 'CONFIGURING' }))
  })

  it('refuses an expired hold with 409 NO_HELD_RESERVATION', async () => {
    await reserve(ctx, { mediaBuyId: 'mb_expiring', holdMinutes: 1 })
    ctx.clock.advance(2 * 60 * 1000)
    const error = errorOf(await finalize(ctx, { mediaBuyId: 'mb_expiring' }), 409)
    assert.equal(error.details?.reason, 'NO_HELD_RESERVATION')
  })

  it('answers 404 for another storefront', async () => {
    const response = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/bookings/finalize`, {
      mediaBuyId: 'mb_123', availId: PRIME, campaignName: 'x', advertiserName: 'y',
    }, { key: ctx.otherKey })
    errorOf(response, 404)
  })
})
