import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { SourceStatus } from '../../src/modules/source-status/modular-status.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { complete, createDemo, DEMO, itemOfKind, listItems, ok, projectionOf, stage, type Finalized } from './helpers.ts'

/**
 * The whole modular lifecycle of the seed (storefront docs "Modular lifecycle", steps 1-7) through
 * the HTTP API only: demo source, avails preview and confirmation, products, hold, hand-off, the
 * human queue, booked capacity, the final report and delivery, with readiness read at every step.
 */

const AVAIL = 'sports-week-2026-12'
const FLIGHT_END = '2026-12-31T23:59:59.000Z'

type Product = { productId: string; availableImpressions: number; heldImpressions: number; bookedImpressions: number; cadent: unknown }

async function product(ctx: TestContext): Promise<Product> {
  const { products } = ok<{ products: Product[] }>(await ctx.api('GET', `/inventory-sources/${DEMO}/modular/products`))
  const found = products.find((candidate) => candidate.productId === `avail:${AVAIL}`)
  assert.ok(found, 'the committed avail is a product')
  return found
}

describe('Modular lifecycle, end to end over HTTP', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
  })
  after(async () => ctx.close())

  it('walks demo source -> avails -> products -> hold -> finalize -> work queue -> BOOKED -> final report -> delivery', async () => {
    // 1. A demo source without seeded avails: nothing to sell yet.
    let projection = await createDemo(ctx, { seedAvails: false })
    assert.equal(stage(projection, 'INGEST_AVAILS'), 'RUNTIME_INPUTS_REQUIRED')
    assert.equal(stage(projection, 'TRAFFIC_CAMPAIGN'), 'READY')
    assert.equal(projection.inventorySource.healthStatus, 'unhealthy')

    // 2. Preview the feed: nothing is committed, a CONFIRM_AVAILS item opens.
    const preview = ok<{ previewOnly: boolean; previewId: string }>(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/avails-feed`, {
      avails: [{
        availId: AVAIL,
        collectionId: 'connected-tv',
        collectionName: 'Connected TV',
        name: 'Sports week CTV impressions',
        startTime: '2026-12-01T00:00:00.000Z',
        endTime: FLIGHT_END,
        impressionsCapacity: 1_500_000,
        cpm: 22,
        currency: 'USD',
        targeting: { market: 'South Africa', screen: 'CTV' },
        sourceMetadata: { publisher: 'Example Network', upstreamBookedImpressions: 300_000 },
      }],
    }))
    assert.equal(preview.previewOnly, true)
    projection = await projectionOf(ctx)
    assert.equal(projection.activeAvailCount, 0)
    assert.equal(stage(projection, 'CONFIRM_AVAILS'), 'HITL_PENDING')

    // 3. The operator confirms by completing the item: exactly the previewed rows are committed.
    const confirm = await itemOfKind(ctx, 'CONFIRM_AVAILS')
    ok(await complete(ctx, confirm.id, { result: {}, notes: 'Capacity is net of upstream bookings' }))
    projection = await projectionOf(ctx)
    assert.equal(projection.activeAvailCount, 1)
    assert.equal(stage(projection, 'INGEST_AVAILS'), 'READY')
    assert.equal(stage(projection, 'CONFIRM_AVAILS'), 'READY')
    assert.equal(projection.inventorySource.healthStatus, 'healthy')

    // 4. The product, Cadent-backed because the cadent module is ACTIVE.
    let listed = await product(ctx)
    assert.equal(listed.availableImpressions, 1_500_000)
    assert.notEqual(listed.cadent, null)

    // 5. Hold capacity.
    ok(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/reservations`, {
      productId: `avail:${AVAIL}`, mediaBuyId: 'mb_123', buyerCustomerId: 42, requestedImpressions: 250_000, holdMinutes: 60,
    }), 201)
    listed = await product(ctx)
    assert.deepEqual([listed.heldImpressions, listed.bookedImpressions, listed.availableImpressions], [250_000, 0, 1_250_000])
    assert.equal(stage(await projectionOf(ctx), 'HOLD_CAPACITY'), 'READY')

    // 6. Finalize: the XML is rendered and the human queue opens.
    const finalized = ok<Finalized>(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/bookings/finalize`, {
      mediaBuyId: 'mb_123',
      availId: AVAIL,
      campaignName: 'July CTV sports',
      advertiserName: 'Example Advertiser',
      creative: { format: 'video', durationSeconds: 30, assetUrl: 'https://assets.example.com/creative.mp4' },
    }))
    assert.equal(finalized.booking.status, 'HELD')
    assert.deepEqual(finalized.workItems.map((item) => item.kind), ['TRAFFIC_TO_CADENT', 'MAP_CREATIVE_REF', 'UPLOAD_FINAL_REPORT'])
    assert.equal(stage(finalized.projection, 'TRAFFIC_CAMPAIGN'), 'HITL_PENDING')
    assert.equal(stage(finalized.projection, 'MAP_CREATIVES'), 'HITL_PENDING')
    assert.equal(stage(finalized.projection, 'IMPORT_FINAL_REPORT'), 'HITL_PENDING')
    assert.equal(finalized.projection.openWorkItemCountsByKind.TRAFFIC_TO_CADENT, 1)
    assert.match(String(finalized.workItems[0]!.payload.cadentCampaignXml), /<Target type="market">\s*<Value>South Africa<\/Value>/)

    // 7. Work the queue: trafficking books the hold, capacity moves from held to booked.
    ok(await complete(ctx, (await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')).id, { result: { cadentCampaignId: 'CAD-2026-0001' } }))
    ok(await complete(ctx, (await itemOfKind(ctx, 'MAP_CREATIVE_REF')).id, { result: { creativeRef: 'CR-7781' } }))
    listed = await product(ctx)
    assert.deepEqual([listed.heldImpressions, listed.bookedImpressions, listed.availableImpressions], [0, 250_000, 1_250_000])
    const reservations = ok<{ reservations: { status: string }[] }>(await ctx.api('GET', `/inventory-sources/${DEMO}/modular/reservations?mediaBuyId=mb_123`))
    assert.deepEqual(reservations.reservations.map((reservation) => reservation.status), ['BOOKED'])
    projection = await projectionOf(ctx)
    assert.equal(stage(projection, 'TRAFFIC_CAMPAIGN'), 'READY')
    assert.equal(stage(projection, 'MAP_CREATIVES'), 'READY')
    assert.equal(stage(projection, 'IMPORT_FINAL_REPORT'), 'HITL_PENDING')
    assert.deepEqual((await listItems(ctx)).items.map((item) => item.kind), ['UPLOAD_FINAL_REPORT'])

    // 8. After the flight the final report arrives as CSV.
    ctx.clock.set('2027-01-01T09:00:00.000Z')
    const report = 'Date,Impressions,Spend,Clicks,Completed Views\n2026-12-01,120000,2640,40,96000\n2026-12-02,130500,2871,35,104400\n'
    ok(await complete(ctx, (await itemOfKind(ctx, 'UPLOAD_FINAL_REPORT')).id, { result: { report } }))
    const delivery = ok<{ totals: Record<string, number> }>(await ctx.api('GET', `/inventory-sources/${DEMO}/modular/delivery?mediaBuyId=mb_123`))
    assert.deepEqual(delivery.totals, { impressions: 250_500, spend: 5511, clicks: 75, completedViews: 200_400, days: 2 })
    projection = await projectionOf(ctx)
    assert.equal(stage(projection, 'IMPORT_FINAL_REPORT'), 'READY')
    assert.equal(projection.openWorkItemCount, 0)

    // The status view agrees: nothing open, the booked package counted.
    const status = ok<SourceStatus>(await ctx.api('GET', `/inventory-sources/${DEMO}/status`))
    assert.equal(status.workflows.openCount, 0)
    assert.equal(status.packages.activeCount, 1)
  })
})
