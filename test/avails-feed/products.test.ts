import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Product } from '../../src/modules/products/product-projection.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { CADENT_CONFIG, createFeedSource, insertAvail } from '../modular/helpers.ts'
import { errorOf, FEED, feedOk, jsonAvail, PRODUCTS } from './helpers.ts'

interface ProductPage {
  products: Product[]
  nextCursor: string | null
}

describe('GET /inventory-sources/{sourceId}/modular/products', () => {
  let ctx: TestContext
  const page = async (query = ''): Promise<ProductPage> => {
    const response = await ctx.api('GET', `${PRODUCTS}${query}`)
    assert.equal(response.statusCode, 200, response.body)
    return response.json()
  }
  const ids = (result: ProductPage) => result.products.map((product) => product.availId)

  before(async () => {
    ctx = await createTestContext()
    await createFeedSource(ctx)
    const avails = [
      jsonAvail('ctv-1', { collectionId: 'ctv', collectionName: 'CTV', channel: 'CTV', targeting: { market: 'ZA', screen: ['CTV', 'Mobile'] } }),
      jsonAvail('ctv-2', { collectionId: 'ctv', collectionName: 'CTV', channel: 'ctv', impressionsCapacity: 500 }),
      jsonAvail('radio-1', { collectionId: 'audio', collectionName: 'Audio', channel: 'Radio' }),
      jsonAvail('ended', { startTime: '2026-10-01', endTime: '2026-10-31' }),
      jsonAvail('dropped'),
    ]
    feedOk(await ctx.api('POST', FEED, { confirmed: true, avails }))
    feedOk(await ctx.api('POST', FEED, { confirmed: true, replaceMissing: true, avails: avails.filter((avail) => avail.availId !== 'dropped') }))
    // A fully held avail is sellable but not available.
    const hold = await ctx.api('POST', '/inventory-sources/retail-modular/modular/reservations', { availId: 'ctv-2', mediaBuyId: 'mb-full', requestedImpressions: 500 })
    assert.equal(hold.statusCode, 201, hold.body)
  })
  after(async () => {
    await ctx.close()
  })

  it('lists only ACTIVE avails whose endTime is in the future, as avail:<availId> products ordered by availId', async () => {
    const result = await page()
    assert.deepEqual(ids(result), ['ctv-1', 'ctv-2', 'radio-1'])
    assert.equal(result.nextCursor, null)
    const product = result.products[0]!
    assert.equal(product.productId, 'avail:ctv-1')
    assert.equal(product.collectionId, 'ctv')
    assert.equal(product.availableImpressions, 1_000_000)
    assert.equal(product.cadent, null, 'feed-only sources are never implicitly Cadent-backed')
    const full = result.products[1]!
    assert.deepEqual([full.impressionsCapacity, full.heldImpressions, full.bookedImpressions, full.availableImpressions], [500, 500, 0, 0])
  })

  it('filters by collectionId, channel (case-insensitively) and availableOnly', async () => {
    assert.deepEqual(ids(await page('?collectionId=ctv')), ['ctv-1', 'ctv-2'])
    assert.deepEqual(ids(await page('?channel=CTV')), ['ctv-1', 'ctv-2'])
    assert.deepEqual(ids(await page('?channel=radio')), ['radio-1'])
    assert.deepEqual(ids(await page('?availableOnly=true')), ['ctv-1', 'radio-1'])
    assert.deepEqual(ids(await page('?collectionId=ctv&availableOnly=true')), ['ctv-1'])
    assert.deepEqual(ids(await page('?collectionId=nothing')), [])
  })

  it('pages with limit and an opaque cursor, never repeating or skipping a product', async () => {
    const first = await page('?limit=2')
    assert.deepEqual(ids(first), ['ctv-1', 'ctv-2'])
    assert.ok(first.nextCursor)
    // An avail added between pages, before the cursor, does not shift the next page.
    await insertAvail(ctx, { availId: 'aaa-new' })
    const second = await page(`?limit=2&cursor=${first.nextCursor}`)
    assert.deepEqual(ids(second), ['radio-1'])
    assert.equal(second.nextCursor, null)
    await ctx.db.deleteFrom('avail').where('avail_id', '=', 'aaa-new').execute()
  })

  it('bounds the page size and refuses a forged cursor', async () => {
    const tooMany = errorOf(await ctx.api('GET', `${PRODUCTS}?limit=201`), 400)
    assert.equal(tooMany.code, 'VALIDATION_ERROR')
    const forged = errorOf(await ctx.api('GET', `${PRODUCTS}?cursor=not-a-cursor`), 400)
    assert.match(forged.message, /cursor/)
  })

  it('adds the cadent block only while an ACTIVE cadent module is attached, with targets from the targeting', async () => {
    const attached = await ctx.api('POST', '/inventory-sources/retail-modular/modular/modules', { kind: 'TRAFFICKING', provider: 'cadent', moduleInstanceId: 'cadent', config: CADENT_CONFIG })
    assert.equal(attached.statusCode, 201, attached.body)
    try {
      const product = (await page('?limit=1')).products[0]!
      assert.deepEqual(product.cadent, {
        ...CADENT_CONFIG,
        targets: [{ targetType: 'market', values: ['ZA'] }, { targetType: 'screen', values: ['CTV', 'Mobile'] }],
      })
      const disabled = await ctx.api('PATCH', '/inventory-sources/retail-modular/modular/modules/cadent/config', { config: {}, status: 'DISABLED' })
      assert.equal(disabled.statusCode, 200, disabled.body)
      assert.equal((await page('?limit=1')).products[0]!.cadent, null)
    } finally {
      await ctx.api('DELETE', '/inventory-sources/retail-modular/modular/modules/cadent')
    }
  })

  it('answers 404 for a source of another storefront', async () => {
    const foreign = errorOf(await ctx.api('GET', PRODUCTS, undefined, { key: ctx.otherKey }), 404)
    assert.equal(foreign.code, 'NOT_FOUND')
  })
})
