import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import type { TestContext } from '../helpers/context.ts'
import { clearFeedState, errorOf, FEED, feedOk, jsonAvail, openFeedSourceContext, PRODUCTS } from './helpers.ts'

const RESERVATIONS = '/inventory-sources/retail-modular/modular/reservations'
const RELEASE = '/inventory-sources/retail-modular/modular/bookings/release'
const MINUTE = 60_000

/**
 * The capacity rule (docs/booking-ledger.md "Capacity"): the seller's figure is stored as given;
 * impressionsCapacity = max(feed figure, held + booked), availableImpressions =
 * max(0, feed figure - held - booked), and a hold past its expiry counts for nothing.
 */
describe('capacity is the seller\'s figure: feed commits, products and reservations', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await openFeedSourceContext()
  })
  after(() => ctx.close())
  beforeEach(async () => {
    ctx.clock.set('2026-11-22T12:00:00.000Z')
    await clearFeedState(ctx)
  })

  const commitFeed = async (impressionsCapacity: number) =>
    feedOk(await ctx.api('POST', FEED, { confirmed: true, avails: [jsonAvail('spot', { impressionsCapacity })] }))
  const product = async () => {
    const response = await ctx.api('GET', PRODUCTS)
    assert.equal(response.statusCode, 200, response.body)
    const [only] = response.json().products
    const { impressionsCapacity, heldImpressions, bookedImpressions, availableImpressions } = only
    return { impressionsCapacity, heldImpressions, bookedImpressions, availableImpressions }
  }
  const reserve = (mediaBuyId: string, requestedImpressions: number, holdMinutes = 60) =>
    ctx.api('POST', RESERVATIONS, { availId: 'spot', mediaBuyId, requestedImpressions, holdMinutes })

  it('feed 1,000, hold 600, feed 400, release: 400 are sellable, not 600', async () => {
    await commitFeed(1_000)
    const hold = await reserve('mb-600', 600)
    assert.equal(hold.statusCode, 201, hold.body)

    const lowered = await commitFeed(400)
    assert.deepEqual(lowered.warnings.map(({ availId, code }) => ({ availId, code })), [{ availId: 'spot', code: 'CAPACITY_FLOORED' }])
    assert.match(lowered.warnings[0]!.message, /impressionsCapacity 400 is below the 600 impressions already held or booked/)
    // The commitment is kept and shown; nothing more is sold.
    assert.deepEqual(await product(), { impressionsCapacity: 600, heldImpressions: 600, bookedImpressions: 0, availableImpressions: 0 })
    assert.equal(errorOf(await reserve('mb-more', 1), 409).details?.availableImpressions, 0)

    const released = await ctx.api('POST', RELEASE, { reservationId: hold.json().reservation.reservationId })
    assert.equal(released.statusCode, 200, released.body)
    assert.deepEqual(await product(), { impressionsCapacity: 400, heldImpressions: 0, bookedImpressions: 0, availableImpressions: 400 })
    assert.equal(errorOf(await reserve('mb-401', 401), 409).details?.availableImpressions, 400)
    assert.equal((await reserve('mb-400', 400)).statusCode, 201)

    // The stored figure is the seller's: the same feed again changes nothing and warns nothing.
    const again = feedOk(await ctx.api('POST', FEED, { avails: [jsonAvail('spot', { impressionsCapacity: 400 })] }))
    assert.deepEqual(again.diff, { created: 0, updated: 0, unchanged: 1, deactivated: 0 })
    assert.deepEqual(again.warnings, [])
  })

  it('shows a booked commitment above a lowered feed, and the feed figure again once it is released', async () => {
    await commitFeed(1_000)
    const hold = await reserve('mb-book', 700)
    assert.equal(hold.statusCode, 201, hold.body)
    await ctx.db.transaction().execute((trx) => ctx.services.ledger.book(trx, { sourceRowId: Number(hold.json().reservation.inventorySourceId), reservationId: hold.json().reservation.reservationId }))
    await commitFeed(500)
    assert.deepEqual(await product(), { impressionsCapacity: 700, heldImpressions: 0, bookedImpressions: 700, availableImpressions: 0 })
    await commitFeed(900)
    assert.deepEqual(await product(), { impressionsCapacity: 900, heldImpressions: 0, bookedImpressions: 700, availableImpressions: 200 })
    assert.equal((await ctx.api('POST', RELEASE, { reservationId: hold.json().reservation.reservationId })).statusCode, 200)
    assert.deepEqual(await product(), { impressionsCapacity: 900, heldImpressions: 0, bookedImpressions: 0, availableImpressions: 900 })
  })

  it('a 900 hold that expired a minute ago and a feed of 100: no floor, and 100 sellable before and after the sweep', async () => {
    await commitFeed(1_000)
    const hold = await reserve('mb-900', 900, 1)
    assert.equal(hold.statusCode, 201, hold.body)
    ctx.clock.advance(2 * MINUTE)

    const preview = feedOk(await ctx.api('POST', FEED, { avails: [jsonAvail('spot', { impressionsCapacity: 100 })] }))
    assert.deepEqual(preview.warnings, [])
    const committed = feedOk(await ctx.api('POST', FEED, { confirmed: true, previewId: preview.previewId }))
    assert.deepEqual(committed.warnings, [])

    // Not swept yet: the due hold already counts for nothing.
    const listed = await ctx.api('GET', `${PRODUCTS}?availableOnly=true`)
    assert.equal(listed.json().products.length, 1)
    assert.deepEqual(await product(), { impressionsCapacity: 100, heldImpressions: 0, bookedImpressions: 0, availableImpressions: 100 })

    assert.equal((await ctx.services.ledger.expireDue()).expired, 1)
    assert.deepEqual(await product(), { impressionsCapacity: 100, heldImpressions: 0, bookedImpressions: 0, availableImpressions: 100 })
    assert.equal(errorOf(await reserve('mb-101', 101), 409).details?.availableImpressions, 100)
    assert.equal((await reserve('mb-100', 100)).statusCode, 201)
  })
})
