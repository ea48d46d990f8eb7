import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { createFeedSource, insertAvail } from '../modular/helpers.ts'
import { availCounters, complete, errorOf, finalize, itemOfKind, ok, projectionOf, reserve, stage, type Finalized } from './helpers.ts'

const SOURCE = 'retail-modular'

describe('Manual execution: finalize opens EXECUTE_UPSTREAM_BOOKING', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
    await createFeedSource(ctx)
    await insertAvail(ctx, { availId: 'sports-week', capacity: 1_000_000 })
  })
  after(async () => ctx.close())

  it('refuses to finalize before a trafficking module is attached (409 NO_EXECUTION_MODULE)', async () => {
    await reserve(ctx, { availId: 'sports-week', requestedImpressions: 300_000 }, SOURCE)
    const error = errorOf(await finalize(ctx, { availId: 'sports-week' }, SOURCE), 409)
    assert.equal(error.details?.reason, 'NO_EXECUTION_MODULE')
  })

  it('opens one EXECUTE_UPSTREAM_BOOKING item (no creative mapping, no report upload without a reporting module)', async () => {
    ok(await ctx.api('POST', `/inventory-sources/${SOURCE}/modular/modules`, { kind: 'TRAFFICKING', provider: 'manual', config: { systemName: 'Operative.One' } }), 201)
    const body = ok<Finalized>(await finalize(ctx, { availId: 'sports-week' }, SOURCE))
    assert.equal(body.booking.status, 'HELD')
    assert.equal(body.booking.traffickingMode, 'HITL')
    assert.deepEqual(body.workItems.map((item) => item.kind), ['EXECUTE_UPSTREAM_BOOKING'])
    const item = body.workItems[0]!
    assert.deepEqual(item.requiredResultFields, ['upstreamOrderId'])
    assert.match(item.title, /in Operative\.One/)
    assert.equal(item.payload.requestedImpressions, 300_000)
    assert.equal(item.payload.systemName, 'Operative.One')
    assert.equal(stage(body.projection, 'EXECUTE_UPSTREAM_BOOKING'), 'HITL_PENDING')
    assert.equal(stage(body.projection, 'TRAFFIC_CAMPAIGN'), 'UNSUPPORTED')
  })

  it('books the reservation when the operator completes it with the upstream order id', async () => {
    const item = await itemOfKind(ctx, 'EXECUTE_UPSTREAM_BOOKING', SOURCE)
    errorOf(await complete(ctx, item.id, { result: { orderId: 'wrong key' } }, SOURCE), 400)
    ok(await complete(ctx, item.id, { result: { upstreamOrderId: 'OMS-2026-0042' } }, SOURCE))
    assert.deepEqual(await availCounters(ctx, 'sports-week', SOURCE), { held: 0, booked: 300_000 })
    const again = ok<Finalized>(await finalize(ctx, { availId: 'sports-week' }, SOURCE))
    assert.equal(again.booking.status, 'BOOKED')
    assert.deepEqual(again.booking.externalRefs, { upstreamOrderId: 'OMS-2026-0042' })
    assert.equal(stage(await projectionOf(ctx, SOURCE), 'EXECUTE_UPSTREAM_BOOKING'), 'READY')
  })
})

describe('Cancelling a hand-off', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
    await createFeedSource(ctx)
    await insertAvail(ctx, { availId: 'news-week', capacity: 500_000 })
    ok(await ctx.api('POST', `/inventory-sources/${SOURCE}/modular/modules`, { kind: 'TRAFFICKING', provider: 'manual' }), 201)
  })
  after(async () => ctx.close())

  it('lets the hold expire again once its last execution item is cancelled, so capacity cannot stay held forever', async () => {
    await reserve(ctx, { availId: 'news-week', requestedImpressions: 200_000 }, SOURCE)
    const finalized = ok<Finalized>(await finalize(ctx, { availId: 'news-week' }, SOURCE))
    const reservationId = finalized.booking.reservationId
    const held = ok<{ expiresAt: string | null }>(await ctx.api('GET', `/inventory-sources/${SOURCE}/modular/reservations/${reservationId}`))
    assert.equal(held.expiresAt, null, 'an open hand-off stops the hold from expiring')

    const item = await itemOfKind(ctx, 'EXECUTE_UPSTREAM_BOOKING', SOURCE)
    ok(await ctx.api('POST', `/inventory-sources/${SOURCE}/modular/work-items/${item.id}/cancel`, { reason: 'Buyer withdrew' }))
    const resumed = ok<{ status: string; expiresAt: string | null }>(await ctx.api('GET', `/inventory-sources/${SOURCE}/modular/reservations/${reservationId}`))
    assert.equal(resumed.status, 'HELD')
    assert.equal(resumed.expiresAt, new Date(ctx.clock.now().getTime() + 60 * 60_000).toISOString())

    ctx.clock.advance(61 * 60_000)
    const expired = ok<{ status: string }>(await ctx.api('GET', `/inventory-sources/${SOURCE}/modular/reservations/${reservationId}`))
    assert.equal(expired.status, 'EXPIRED')
    assert.deepEqual(await availCounters(ctx, 'news-week', SOURCE), { held: 0, booked: 0 })
  })
})
