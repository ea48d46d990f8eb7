import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

interface RestProduct {
  availId: string
  cpm: number
  currency: string
  availableImpressions: number
  channel: string
}

interface AdcpProduct {
  product_id: string
  delivery_type: string
  channels?: string[]
  format_ids: Array<{ agent_url: string; id: string; duration_ms?: number }>
  pricing_options: Array<{ pricing_option_id: string; pricing_model: string; currency: string; fixed_price: number }>
  forecast: { points: Array<{ metrics: { impressions: { mid: number } } }>; forecast_range_unit: string; method: string }
  publisher_properties: Array<{ publisher_domain: string; selection_type: string }>
}

describe('get_products over MCP', () => {
  let ctx: McpTestContext
  let client: Client
  let demo: RestProduct[]

  before(async () => {
    ctx = await createMcpTestContext()
    assert.equal((await ctx.api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
    demo = (await ctx.api('GET', '/inventory-sources/talpa-cadent-demo/modular/products')).json().products
    client = await ctx.connect(ctx.buyerKey)
  })
  after(async () => {
    await ctx.close()
  })

  async function allProducts(maxResults = 50): Promise<AdcpProduct[]> {
    const products: AdcpProduct[] = []
    let cursor: string | undefined
    for (let page = 0; page < 20; page++) {
      const { isError, payload } = await callTool(client, 'get_products', {
        buying_mode: 'brief',
        brief: 'Addressable TV and CTV in the Netherlands',
        pagination: { max_results: maxResults, ...(cursor ? { cursor } : {}) },
      })
      assert.equal(isError, false, JSON.stringify(payload))
      products.push(...(payload.products as AdcpProduct[]))
      const pagination = payload.pagination as { has_more: boolean; cursor?: string }
      if (!pagination.has_more) return products
      cursor = pagination.cursor
    }
    throw new Error('more than 20 pages')
  }

  it('offers one guaranteed product per sellable avail of the demo source, with the avail\'s CPM and ledger availability', async () => {
    assert.equal(demo.length, 5)
    const products = await allProducts()
    assert.deepEqual(products.map((product) => product.product_id).sort(), demo.map((avail) => `talpa-cadent-demo:${avail.availId}`).sort())
    for (const avail of demo) {
      const product = products.find((candidate) => candidate.product_id === `talpa-cadent-demo:${avail.availId}`)!
      assert.equal(product.delivery_type, 'guaranteed')
      assert.deepEqual(product.pricing_options, [{ pricing_option_id: 'cpm_fixed', pricing_model: 'cpm', currency: 'EUR', fixed_price: avail.cpm }])
      assert.equal(product.forecast.forecast_range_unit, 'availability')
      assert.equal(product.forecast.points[0]!.metrics.impressions.mid, avail.availableImpressions)
      assert.deepEqual(product.channels, [avail.channel === 'CTV' ? 'ctv' : 'linear_tv'])
      assert.deepEqual(product.format_ids, [
        { agent_url: ctx.mcpUrl, id: 'video_spot_15s', duration_ms: 15_000 },
        { agent_url: ctx.mcpUrl, id: 'video_spot_30s', duration_ms: 30_000 },
      ])
      assert.deepEqual(product.publisher_properties, [{ publisher_domain: '127.0.0.1', selection_type: 'all' }])
    }
  })

  it('reads availability from the ledger: a hold taken over REST shows at once', async () => {
    const avail = demo[0]!
    const hold = await ctx.api('POST', '/inventory-sources/talpa-cadent-demo/modular/reservations', {
      availId: avail.availId,
      mediaBuyId: 'mb_products_test',
      requestedImpressions: 1000,
    })
    assert.equal(hold.statusCode, 201, hold.body)
    const product = (await allProducts()).find((candidate) => candidate.product_id === `talpa-cadent-demo:${avail.availId}`)!
    assert.equal(product.forecast.points[0]!.metrics.impressions.mid, avail.availableImpressions - 1000)
  })

  it('pages with the AdCP cursor without repeating or skipping a product', async () => {
    const whole = (await allProducts()).map((product) => product.product_id)
    const paged = (await allProducts(2)).map((product) => product.product_id)
    assert.deepEqual(paged, whole)
  })

  it('keeps product ids unique across sources with the same avail ids, and leaves out a disabled source', async () => {
    assert.equal((await ctx.api('POST', '/inventory-sources/modular/cadent-demo', { sourceId: 'demo-second' })).statusCode, 201)
    let ids = (await allProducts()).map((product) => product.product_id)
    assert.equal(ids.length, 10)
    assert.equal(new Set(ids).size, 10)
    // No REST verb disables a modular source yet; the row is what get_products reads.
    await ctx.db.updateTable('inventory_source').set({ status: 'DISABLED' }).where('source_id', '=', 'demo-second').execute()
    ids = (await allProducts()).map((product) => product.product_id)
    assert.equal(ids.length, 5)
    assert.ok(ids.every((id) => id.startsWith('talpa-cadent-demo:')))
  })

  it('offers nothing to a buyer asking for non-guaranteed delivery', async () => {
    const { payload } = await callTool(client, 'get_products', { buying_mode: 'wholesale', filters: { delivery_type: 'non_guaranteed' } })
    assert.deepEqual(payload.products, [])
  })

  it('shows another storefront\'s buyers none of these products', async () => {
    const { key } = await ctx.services.access.createKey({ storefront: 'globex', role: 'buyer', label: 'globex buyer' })
    const other = await ctx.connect(key)
    const { payload } = await callTool(other, 'get_products', { buying_mode: 'brief', brief: 'anything' })
    assert.deepEqual(payload.products, [])
  })
})

describe('list_creative_formats over MCP', () => {
  let ctx: McpTestContext
  before(async () => {
    ctx = await createMcpTestContext()
    assert.equal((await ctx.api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
  })
  after(async () => {
    await ctx.close()
  })

  it('lists the 15 s and 30 s video spots the Cadent module traffics, and resolves a product\'s format_id verbatim', async () => {
    const client = await ctx.connect(ctx.buyerKey)
    const { payload } = await callTool(client, 'list_creative_formats', {})
    const formats = payload.formats as Array<{ format_id: { id: string }; assets: Array<{ asset_type: string; requirements: { max_duration_ms: number } }> }>
    assert.deepEqual(formats.map((format) => format.format_id.id), ['video_spot_15s', 'video_spot_30s'])
    assert.deepEqual(formats.map((format) => [format.assets[0]!.asset_type, format.assets[0]!.requirements.max_duration_ms]), [['video', 15_000], ['video', 30_000]])

    const wanted = { agent_url: ctx.mcpUrl, id: 'video_spot_30s', duration_ms: 30_000 }
    const filtered = await callTool(client, 'list_creative_formats', { format_ids: [wanted] })
    assert.deepEqual((filtered.payload.formats as Array<{ format_id: unknown }>).map((format) => format.format_id), [wanted])
  })

  it('lists no formats for a source whose Cadent module traffics DISPLAY, which the campaign XML cannot size', async () => {
    const patch = await ctx.api('PATCH', '/inventory-sources/talpa-cadent-demo/modular/modules/cadent-trafficking/config', { config: { adType: 'DISPLAY' } })
    assert.equal(patch.statusCode, 200, patch.body)
    const client = await ctx.connect(ctx.buyerKey)
    const { payload } = await callTool(client, 'list_creative_formats', {})
    assert.deepEqual(payload.formats, [])
  })
})
