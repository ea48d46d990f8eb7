import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { moduleOf, stageStatus } from './helpers.ts'

const path = '/inventory-sources/modular/cadent-demo'

describe('POST /inventory-sources/modular/cadent-demo', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
  })
  after(async () => {
    await ctx.close()
  })

  it('creates talpa-cadent-demo with feed, ledger, cadent and report upload, and sellable avails (201)', async () => {
    const response = await ctx.api('POST', path, {})
    assert.equal(response.statusCode, 201, response.body)
    const { sourceId, projection } = response.json()
    assert.equal(sourceId, 'talpa-cadent-demo')
    assert.deepEqual(projection.modules.map((m: { moduleInstanceId: string; status: string }) => [m.moduleInstanceId, m.status]), [
      ['static-avails-feed', 'ACTIVE'],
      ['booking-ledger', 'ACTIVE'],
      ['cadent-trafficking', 'ACTIVE'],
      ['report-upload', 'ACTIVE'],
    ])
    assert.equal(projection.activeAvailCount, 5)
    assert.equal(projection.inventorySource.healthStatus, 'healthy')
    assert.equal(stageStatus(projection, 'TRAFFIC_CAMPAIGN'), 'READY')
    assert.equal(stageStatus(projection, 'EXECUTE_UPSTREAM_BOOKING'), 'UNSUPPORTED')
    const avails = await ctx.db.selectFrom('avail').selectAll().execute()
    assert.ok(avails.every((avail) => new Date(avail.start_time) > ctx.clock.now()), 'every demo flight starts after now')
    assert.ok(avails.every((avail) => avail.currency === 'EUR' && avail.feed_capacity > 0))
  })

  it('returns an existing demo source unchanged with 200 when reset is not asked', async () => {
    await ctx.api('PATCH', '/inventory-sources/talpa-cadent-demo/modular/modules/cadent-trafficking/config', { config: { adClass: 'PROMO' } })
    const response = await ctx.api('POST', path, { cadentEndpointUrl: 'https://cadent.example.com/xml' })
    assert.equal(response.statusCode, 200, response.body)
    const cadent = moduleOf(response.json().projection, 'cadent-trafficking')
    assert.equal(cadent.config.adClass, 'PROMO')
    assert.equal(cadent.config.cadentEndpointUrl, undefined)
  })

  it('rebuilds the demo source with reset true (200), applying cadentEndpointUrl', async () => {
    const before = await ctx.db.selectFrom('inventory_source').select('id').where('source_id', '=', 'talpa-cadent-demo').executeTakeFirstOrThrow()
    const response = await ctx.api('POST', path, { reset: true, cadentEndpointUrl: 'https://cadent.example.com/xml' })
    assert.equal(response.statusCode, 200, response.body)
    const { projection, inventorySourceId } = response.json()
    assert.notEqual(inventorySourceId, String(before.id))
    const cadent = moduleOf(projection, 'cadent-trafficking')
    assert.equal(cadent.config.adClass, 'COMMERCIAL')
    assert.equal(cadent.config.cadentEndpointUrl, 'https://cadent.example.com/xml')
    assert.equal(cadent.lifecycle.find((stage: { stage: string }) => stage.stage === 'TRAFFIC_CAMPAIGN')?.mode, 'AUTOMATED')
    assert.equal(projection.activeAvailCount, 5)
    assert.equal(Number((await ctx.db.selectFrom('avail').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n), 5)
  })

  it('rebuilds even while the demo source holds capacity', async () => {
    const avail = await ctx.db.selectFrom('avail').select('avail_id').orderBy('id').executeTakeFirstOrThrow()
    const hold = await ctx.api('POST', '/inventory-sources/talpa-cadent-demo/modular/reservations', { availId: avail.avail_id, mediaBuyId: 'mb_demo', requestedImpressions: 1000 })
    assert.equal(hold.statusCode, 201, hold.body)
    const response = await ctx.api('POST', path, { reset: true })
    assert.equal(response.statusCode, 200, response.body)
    assert.equal(Number((await ctx.db.selectFrom('avail').select((eb) => eb.fn.sum<number>('held_impressions').as('held')).executeTakeFirstOrThrow()).held), 0)
  })

  it('accepts a demo- id, a name and seedAvails false', async () => {
    const response = await ctx.api('POST', path, { sourceId: 'demo-empty', name: 'Empty demo', seedAvails: false })
    assert.equal(response.statusCode, 201, response.body)
    assert.equal(response.json().projection.inventorySource.name, 'Empty demo')
    assert.equal(response.json().projection.activeAvailCount, 0)
    assert.equal(response.json().projection.inventorySource.healthStatus, 'unhealthy')
  })

  it('refuses other ids with 400 DEMO_SOURCE_ID', async () => {
    const response = await ctx.api('POST', path, { sourceId: 'retail-modular' })
    assert.equal(response.statusCode, 400)
    assert.equal(response.json().error.details.reason, 'DEMO_SOURCE_ID')
    assert.equal((await ctx.api('POST', path, { sourceId: 'Demo Bad' })).statusCode, 400)
    assert.equal((await ctx.api('POST', path, { cadentEndpointUrl: 'not a url' })).statusCode, 400)
    assert.equal((await ctx.api('POST', path, { cadentEndpointUrl: 'https://ops:hunter2@cadent.example.com/xml' })).statusCode, 400)
  })

  it('never touches a non-modular source with the same id (409)', async () => {
    const agent = await ctx.api('POST', '/inventory-sources', {
      name: 'Agent', sourceId: 'demo-agent', type: 'SALES', endpointUrl: 'https://agent.example.com/mcp', protocol: 'MCP', authenticationType: 'API_KEY',
    })
    assert.equal(agent.statusCode, 201, agent.body)
    const response = await ctx.api('POST', path, { sourceId: 'demo-agent', reset: true })
    assert.equal(response.statusCode, 409)
    assert.equal(response.json().error.details.reason, 'DUPLICATE_SOURCE_ID')
    assert.equal((await ctx.api('GET', '/inventory-sources/demo-agent')).json().executionType, 'AGENT')
  })

  it('keeps storefronts apart: another storefront gets its own demo source', async () => {
    const response = await ctx.api('POST', path, {}, { key: ctx.otherKey })
    assert.equal(response.statusCode, 201, response.body)
    assert.equal((await ctx.api('GET', '/inventory-sources/talpa-cadent-demo/modular')).json().activeAvailCount, 5)
  })
})
