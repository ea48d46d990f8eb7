import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { json } from '../../src/db/database.ts'
import { createSourceCallRecorder } from '../../src/sources/source-call-recorder.ts'
import { createLiveAgentProbe } from '../../src/sources/mcp-agent-probe.ts'
import { startRelay } from '../helpers/relay.ts'
import { callTool, createMcpTestContext, type McpTestContext } from '../mcp/helpers.ts'

/**
 * GET /inventory-sources/{sourceId}/diagnostics from the storefront's record of its traffic: an
 * AGENT source backed by a real upstream agent (another storefront's /mcp, directly and through a
 * relay that can hang or answer 500), and the storefront's own modular source, both driven by a
 * buyer through /mcp. Each test moves the storefront's clock on first and reads the last hour,
 * so it reads exactly the calls it made.
 */

const DEMO = 'talpa-cadent-demo'
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }
const TIMEOUT_MS = 2_500
const HOUR = 3_600_000

let keySeq = 0
const idempotencyKey = () => `diag-test-${String(++keySeq).padStart(8, '0')}`

function flight(): { start_time: string; end_time: string } {
  const start = new Date(Date.now() + 86_400_000)
  return { start_time: start.toISOString(), end_time: new Date(start.getTime() + 7 * 86_400_000).toISOString() }
}

/** percentile_cont: linear interpolation between the closest ranks. */
function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = fraction * (sorted.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low)
}

type Diagnostics = {
  source: Record<string, unknown> & { auth: Record<string, unknown>; capabilities: Record<string, unknown>; health: Record<string, unknown> }
  window: { hours: number; from: string; to: string; isDefault: boolean }
  performance: Record<string, unknown> & { latencyMs: Record<string, number | null>; thresholds: Array<{ name: string; limit: number; observed: number | null; breached: boolean }> }
  toolBreakdown: Array<Record<string, unknown> & { tool: string }>
  discoveryParticipation: Record<string, unknown>
  outcomeMix: Array<{ outcome: string; errorCode: string | null; count: number; share: number }>
  demandImpact: { mediaBuysConfirmed: number; mediaBuysSubmitted: number; packages: number; budget: Array<{ currency: string | null; amount: number }> }
  recentActivity: Array<{ callId: string; tool: string; outcome: string; errorCode: string | null; latencyMs: number; products: number | null; packages: number | null; budget: number | null; currency: string | null; mediaBuyId: string | null; at: string }>
  diagnosis: { severity: string; summary: string; likelyCause: string | null; nextSteps: string[]; handoffIds: string[] }
}

describe('GET /inventory-sources/{sourceId}/diagnostics', () => {
  let upstream: McpTestContext
  let storefront: McpTestContext
  let relay: Awaited<ReturnType<typeof startRelay>>
  let buyer: Client
  let upstreamProductCount: number
  /** The modular buy the modular-source test placed. */
  let modularBuyId: string | undefined

  async function registerAgent(sourceId: string, endpointUrl: string): Promise<void> {
    const created = await storefront.api('POST', '/inventory-sources', {
      sourceId, name: `Upstream ${sourceId}`, type: 'SALES', endpointUrl, protocol: 'MCP', authenticationType: 'API_KEY',
      auth: { type: 'bearer', token: upstream.buyerKey },
    })
    assert.equal(created.statusCode, 201, created.body)
    const activated = await storefront.api('PUT', `/inventory-sources/${sourceId}`, { status: 'ACTIVE' })
    assert.equal(activated.statusCode, 200, activated.body)
  }

  async function getProducts(args: Record<string, unknown> = {}) {
    const { isError, payload } = await callTool(buyer, 'get_products', { buying_mode: 'wholesale', pagination: { max_results: 100 }, ...args })
    assert.equal(isError, false, JSON.stringify(payload))
    return payload.products as Array<{ product_id: string; pricing_options: Array<{ pricing_option_id: string; fixed_price: number; currency: string }> }>
  }

  /** The last hour's diagnostics unless `query` says otherwise. */
  async function diagnostics(sourceId: string, query = '?windowHours=1'): Promise<Diagnostics> {
    const res = await storefront.api('GET', `/inventory-sources/${sourceId}/diagnostics${query}`)
    assert.equal(res.statusCode, 200, res.body)
    return res.json() as Diagnostics
  }

  /** A fresh window: every call recorded so far is older than `hours` (a test reads the last hour by default). */
  function freshWindow(hours = 2): void {
    storefront.clock.advance(hours * HOUR)
  }

  before(async () => {
    upstream = await createMcpTestContext()
    assert.equal((await upstream.api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
    storefront = await createMcpTestContext({ probeAgent: createLiveAgentProbe({ timeoutMs: 10_000 }), upstreamAgentTimeoutMs: TIMEOUT_MS })
    assert.equal((await storefront.api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
    await registerAgent('agent-healthy', upstream.mcpUrl)
    relay = await startRelay(upstream.mcpUrl)
    await registerAgent('agent-faulty', relay.url)
    buyer = await storefront.connect(storefront.buyerKey)
    const synced = await callTool(buyer, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: idempotencyKey() })
    assert.equal(synced.isError, false, JSON.stringify(synced.payload))
    const upstreamBuyer = await upstream.connect(upstream.buyerKey)
    const { payload } = await callTool(upstreamBuyer, 'get_products', { buying_mode: 'wholesale', pagination: { max_results: 100 } })
    upstreamProductCount = (payload.products as unknown[]).length
    assert.ok(upstreamProductCount >= 2)
  })
  after(async () => {
    await storefront?.close()
    await relay?.close()
    await upstream?.close()
  })

  describe('an AGENT source', () => {
    it('counts the calls buyer get_products made to it: outcomes, rates, latency percentiles and the per-tool breakdown', async () => {
      freshWindow()
      relay.mode = 'pass'
      await getProducts()
      await getProducts()
      relay.mode = 'fail'
      await getProducts()
      relay.mode = 'hang'
      await getProducts()
      relay.mode = 'pass'

      const faulty = await diagnostics('agent-faulty')
      const { performance } = faulty
      assert.equal(performance.requestCount, 4)
      assert.equal(performance.responseCount, 2, 'the 500 and the hang got no AdCP answer')
      assert.equal(performance.completedCount, 2)
      assert.equal(performance.failedCount, 1)
      assert.equal(performance.timeoutCount, 1)
      assert.equal(performance.inputRequiredCount, 0)
      assert.equal(performance.completionRate, 0.5)
      assert.equal(performance.failureRate, 0.25)
      assert.equal(performance.timeoutRate, 0.25)
      assert.equal(performance.inputRequiredRate, 0)

      // The percentiles are those of the recorded latencies, and the timeout took the whole bound.
      assert.equal(faulty.recentActivity.length, 4)
      const latencies = faulty.recentActivity.map((call) => call.latencyMs)
      for (const [key, fraction] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
        assert.ok(Math.abs(performance.latencyMs[key]! - percentile(latencies, fraction)) <= 0.1, `${key} ${performance.latencyMs[key]} of ${latencies.join(', ')}`)
      }
      assert.equal(performance.latencyMs.max, Math.max(...latencies))
      assert.ok(performance.latencyMs.max! >= TIMEOUT_MS - 50, `the hung call waited the bound: ${performance.latencyMs.max} ms`)
      const latencyThreshold = performance.thresholds.find((threshold) => threshold.name === 'latencyP95Ms')!
      assert.equal(latencyThreshold.limit, TIMEOUT_MS * 0.8)
      assert.equal(latencyThreshold.breached, performance.latencyMs.p95! > TIMEOUT_MS * 0.8)
      assert.deepEqual(performance.thresholds.find((threshold) => threshold.name === 'errorRate'), { name: 'errorRate', limit: 0.1, observed: 0.5, breached: true })
      assert.equal(performance.thresholdBreached, true)

      assert.deepEqual(faulty.toolBreakdown.map((row) => [row.tool, row.requestCount, row.completedCount, row.failedCount, row.timeoutCount]), [['get_products', 4, 2, 1, 1]])
      assert.deepEqual(faulty.discoveryParticipation, {
        getProductsCalls: 4, contributedCalls: 2, productsContributed: 2 * upstreamProductCount, contributionRate: 0.5,
      })
      assert.deepEqual(faulty.outcomeMix.map((row) => [row.outcome, row.errorCode, row.count, row.share]), [
        ['completed', null, 2, 0.5],
        ['failed', 'UPSTREAM_AGENT_UNAVAILABLE', 1, 0.25],
        ['timeout', 'UPSTREAM_TIMEOUT', 1, 0.25],
      ])
      assert.deepEqual(faulty.recentActivity.map((call) => [call.tool, call.outcome, call.errorCode, call.products]), [
        ['get_products', 'timeout', 'UPSTREAM_TIMEOUT', null],
        ['get_products', 'failed', 'UPSTREAM_AGENT_UNAVAILABLE', null],
        ['get_products', 'completed', null, upstreamProductCount],
        ['get_products', 'completed', null, upstreamProductCount],
      ])
      assert.equal(faulty.diagnosis.severity, 'critical')
      assert.match(faulty.diagnosis.likelyCause!, /2500 ms bound|HTTP error/)
      assert.deepEqual(faulty.diagnosis.handoffIds, faulty.recentActivity.slice(0, 2).map((call) => call.callId))
      assert.ok(faulty.diagnosis.nextSteps.some((step) => step.includes('/inventory-sources/agent-faulty/test-connection')))

      assert.deepEqual(faulty.source.auth, { type: 'API_KEY', required: true, configured: true })
      assert.equal(faulty.source.capabilities.products, 'supported')
      assert.equal(faulty.source.capabilities.signals, 'unknown')
      assert.ok((faulty.source.capabilities.tools as string[]).includes('create_media_buy'))
      assert.equal(faulty.source.endpoint, relay.url)
      assert.equal(faulty.source.health.status, 'unhealthy', 'the last call left an error on the source')
      assert.ok(!JSON.stringify(faulty).includes(upstream.buyerKey), 'no credential in the answer')

      const healthy = await diagnostics('agent-healthy')
      assert.equal(healthy.performance.requestCount, 4)
      assert.equal(healthy.performance.completedCount, 4)
      assert.equal(healthy.performance.failureRate, 0)
      assert.equal(healthy.discoveryParticipation.productsContributed, 4 * upstreamProductCount)
      assert.equal(healthy.diagnosis.severity === 'ok' || healthy.performance.thresholdBreached, true)
    })

    it('feeds the AGENT source\'s /status with the failures of the last 24 h', async () => {
      freshWindow(25)
      relay.mode = 'fail'
      await getProducts()
      relay.mode = 'pass'
      await getProducts()
      const status = (await storefront.api('GET', '/inventory-sources/agent-faulty/status')).json()
      assert.equal(status.operational.discoveryDegraded, true)
      assert.equal(status.operational.deliveryDegraded, false)
      assert.deepEqual(status.operational.issues, [{
        code: 'UPSTREAM_CALLS_FAILING', severity: 'critical', message: 'get_products: 1 of 2 calls in the last 24 h failed (0 timed out).', affects: ['discovery'],
      }])
      storefront.clock.advance(25 * HOUR)
      const later = (await storefront.api('GET', '/inventory-sources/agent-faulty/status')).json()
      assert.deepEqual(later.operational.issues, [])
      assert.equal(later.operational.isLive, true)
    })

    it('reads only the calls inside windowHours, on the storefront clock', async () => {
      freshWindow(25)
      await getProducts()
      storefront.clock.advance(2 * HOUR)
      await getProducts()
      await getProducts()
      assert.equal((await diagnostics('agent-healthy', '?windowHours=1')).performance.requestCount, 2)
      const three = await diagnostics('agent-healthy', '?windowHours=3')
      assert.equal(three.performance.requestCount, 3)
      assert.deepEqual(three.window, {
        hours: 3, isDefault: false, to: storefront.clock.now().toISOString(), from: new Date(storefront.clock.now().getTime() - 3 * HOUR).toISOString(),
      })
      const byDefault = await diagnostics('agent-healthy', '')
      assert.equal(byDefault.window.hours, 24)
      assert.equal(byDefault.window.isDefault, true)
      assert.equal(byDefault.performance.requestCount, 3)
      storefront.clock.advance(23 * HOUR)
      assert.equal((await diagnostics('agent-healthy', '')).performance.requestCount, 2, 'the first call left the default window')
    })

    it('counts a forwarded create_media_buy as demand: the account sync and the submitted buy', async () => {
      freshWindow()
      const product = (await getProducts()).find((candidate) => candidate.product_id.startsWith('agent-healthy:'))!
      const budget = product.pricing_options[0]!.fixed_price * 2
      const created = await callTool(buyer, 'create_media_buy', {
        account: ACCOUNT, brand: ACCOUNT.brand, idempotency_key: idempotencyKey(), ...flight(),
        packages: [{ product_id: product.product_id, pricing_option_id: product.pricing_options[0]!.pricing_option_id, budget }],
      })
      assert.equal(created.isError, false, JSON.stringify(created.payload))
      assert.equal(created.payload.status, 'submitted')
      const result = await diagnostics('agent-healthy')
      assert.deepEqual(result.toolBreakdown.map((row) => [row.tool, row.requestCount, row.completedCount, row.inputRequiredCount]), [
        ['create_media_buy', 1, 0, 1],
        ['get_products', 1, 1, 0],
        ['sync_accounts', 1, 1, 0],
      ])
      assert.deepEqual(result.demandImpact, { mediaBuysConfirmed: 0, mediaBuysSubmitted: 1, packages: 1, budget: [{ currency: null, amount: budget }] })
      assert.equal(result.performance.inputRequiredRate, 0.3333)
      assert.equal(result.diagnosis.severity, 'ok')
      // The modular source sold nothing of this buy: it was the agent's.
      assert.equal((await diagnostics(DEMO)).demandImpact.packages, 0)
    })
  })

  describe('a modular source', () => {
    it('counts the get_products that read its catalog, the buys it took and refused, and the reads of its buys', async () => {
      freshWindow()
      const products = await getProducts()
      const own = products.filter((product) => product.product_id.startsWith(`${DEMO}:`))
      assert.ok(own.length > 0)
      const [product] = own
      const option = product!.pricing_options[0]!
      const created = await callTool(buyer, 'create_media_buy', {
        account: ACCOUNT, brand: ACCOUNT.brand, idempotency_key: idempotencyKey(), ...flight(),
        packages: [{ product_id: product!.product_id, pricing_option_id: option.pricing_option_id, budget: option.fixed_price * 3 }],
      })
      assert.equal(created.isError, false, JSON.stringify(created.payload))
      const refused = await callTool(buyer, 'create_media_buy', {
        account: ACCOUNT, brand: ACCOUNT.brand, idempotency_key: idempotencyKey(), ...flight(),
        packages: [{ product_id: product!.product_id, pricing_option_id: option.pricing_option_id, budget: option.fixed_price / 10_000 }],
      })
      assert.equal(refused.isError, true)
      const refusedCode = (refused.payload.adcp_error as { code: string }).code
      const buy = await storefront.db.selectFrom('media_buy').select(['media_buy_id', 'status']).orderBy('id', 'desc').executeTakeFirstOrThrow()
      modularBuyId = buy.media_buy_id
      const listed = await callTool(buyer, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [buy.media_buy_id] })
      assert.equal(listed.isError, false, JSON.stringify(listed.payload))

      const result = await diagnostics(DEMO)
      const submitted = created.payload.status === 'submitted'
      assert.deepEqual(result.toolBreakdown.map((row) => [row.tool, row.requestCount, row.completedCount, row.failedCount, row.inputRequiredCount]), [
        ['create_media_buy', 2, submitted ? 0 : 1, 1, submitted ? 1 : 0],
        ['get_media_buys', 1, 1, 0, 0],
        ['get_products', 1, 1, 0, 0],
      ])
      assert.deepEqual(result.discoveryParticipation, { getProductsCalls: 1, contributedCalls: 1, productsContributed: own.length, contributionRate: 1 })
      assert.deepEqual(result.demandImpact, {
        mediaBuysConfirmed: submitted ? 0 : 1, mediaBuysSubmitted: submitted ? 1 : 0, packages: 1, budget: [{ currency: option.currency, amount: option.fixed_price * 3 }],
      })
      assert.equal(result.performance.requestCount, 4)
      assert.equal(result.performance.timeoutCount, 0)
      assert.deepEqual(result.outcomeMix.find((row) => row.outcome === 'failed'), { outcome: 'failed', errorCode: refusedCode, count: 1, share: 0.25, lastAt: result.recentActivity[1]!.at })
      const [read, failed, placed] = result.recentActivity
      assert.deepEqual([read!.tool, read!.mediaBuyId], ['get_media_buys', buy.media_buy_id])
      assert.deepEqual([failed!.tool, failed!.outcome, failed!.errorCode, failed!.mediaBuyId], ['create_media_buy', 'failed', refusedCode, null])
      assert.deepEqual([placed!.tool, placed!.mediaBuyId, placed!.packages, placed!.currency], ['create_media_buy', buy.media_buy_id, 1, option.currency])
      assert.deepEqual(result.diagnosis.handoffIds, [failed!.callId])
      assert.equal(result.source.executionType, 'MODULAR_SOURCE')
      assert.equal(result.source.capabilities.createMediaBuy, 'supported')
      assert.equal(result.source.capabilities.signals, 'unsupported')
      // The agents were asked in the same get_products, but none of this is theirs.
      assert.equal((await diagnostics('agent-healthy')).demandImpact.packages, 0)
    })

    it('counts update_media_buy and get_media_buy_delivery of a buy against the source holding its capacity', async () => {
      assert.ok(modularBuyId, 'the previous test placed a buy')
      freshWindow()
      await callTool(buyer, 'get_media_buy_delivery', { account: ACCOUNT, media_buy_ids: [modularBuyId] })
      await callTool(buyer, 'update_media_buy', { account: ACCOUNT, media_buy_id: modularBuyId, paused: true, idempotency_key: idempotencyKey() })
      const result = await diagnostics(DEMO)
      assert.deepEqual(result.toolBreakdown.map((row) => [row.tool, row.requestCount]), [['get_media_buy_delivery', 1], ['update_media_buy', 1]])
      assert.deepEqual(result.recentActivity.map((call) => call.mediaBuyId), [modularBuyId, modularBuyId])
      assert.equal(result.discoveryParticipation.getProductsCalls, 0)
      assert.equal((await diagnostics('agent-healthy')).performance.requestCount, 0, 'no upstream was asked about a modular buy')
    })

    it('answers an idle window with zeros and nulls, not invented figures', async () => {
      freshWindow()
      const result = await diagnostics(DEMO)
      assert.equal(result.performance.requestCount, 0)
      assert.equal(result.performance.completionRate, null)
      assert.deepEqual(result.performance.latencyMs, { p50: null, p95: null, p99: null, max: null })
      assert.deepEqual(result.toolBreakdown, [])
      assert.deepEqual(result.recentActivity, [])
      assert.equal(result.performance.thresholdBreached, false)
      assert.equal(result.diagnosis.severity, 'info')
    })
  })

  describe('input and scope', () => {
    for (const value of ['0', '721', 'abc', '1.5', '-3']) {
      it(`refuses windowHours=${value} with 400 naming the field`, async () => {
        const res = await storefront.api('GET', `/inventory-sources/agent-healthy/diagnostics?windowHours=${value}`)
        assert.equal(res.statusCode, 400, res.body)
        assert.equal(res.json().error.code, 'VALIDATION_ERROR')
        assert.equal(res.json().error.details.issues[0].path, 'windowHours')
      })
    }

    it('accepts the bounds 1 and 720', async () => {
      assert.equal((await diagnostics('agent-healthy', '?windowHours=1')).window.hours, 1)
      assert.equal((await diagnostics('agent-healthy', '?windowHours=720')).window.hours, 720)
    })

    it('answers 404 for an unknown source, another storefront\'s, and a managed or linked one', async () => {
      assert.equal((await storefront.api('GET', '/inventory-sources/nope/diagnostics')).statusCode, 404)
      assert.equal((await storefront.api('GET', '/inventory-sources/agent-healthy/diagnostics', undefined, { key: storefront.otherKey })).statusCode, 404)
      const acme = await storefront.db.selectFrom('storefront').select('id').where('name', '=', 'acme').executeTakeFirstOrThrow()
      const now = storefront.clock.now()
      for (const [sourceId, kind] of [['linked-one', 'LINKED_STOREFRONT'], ['managed-one', 'MANAGED_SALES_AGENT']] as const) {
        await storefront.db.insertInto('inventory_source').values({
          storefront_id: acme.id, source_id: sourceId, name: sourceId, execution_type: kind, status: 'PENDING', setup_metadata: json({}), created_at: now, updated_at: now,
        }).execute()
        const res = await storefront.api('GET', `/inventory-sources/${sourceId}/diagnostics`)
        assert.equal(res.statusCode, 404, res.body)
        assert.match(res.json().error.message, new RegExp(kind))
      }
    })
  })

  describe('the record', () => {
    it('is deleted by the sweeper\'s retention rule once older than 720 h', async () => {
      freshWindow(721)
      await getProducts()
      await storefront.services.sourceDiagnostics.flush()
      const count = async () => Number((await storefront.db.selectFrom('source_call').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)
      const before = await count()
      const recent = (await storefront.db.selectFrom('source_call').select('id').where('at', '>=', storefront.clock.now()).execute()).length
      assert.ok(recent >= 3 && before > recent, `${recent} recent of ${before}`)
      assert.equal(await storefront.services.sourceDiagnostics.deleteExpired(), before - recent)
      assert.equal(await count(), recent)
      storefront.clock.advance(720 * HOUR + 1)
      assert.equal(await storefront.services.sourceDiagnostics.deleteExpired(), recent)
      assert.equal(await count(), 0)
    })

    it('reports a write that fails and goes on: the caller never waits on or sees it', async () => {
      const failures: string[] = []
      const recorder = createSourceCallRecorder({ db: storefront.db, onError: (_error, message) => failures.push(message) })
      const call = { storefrontId: 1, sourceRowId: 987_654_321, tool: 'get_products', outcome: 'completed' as const, errorCode: null, latencyMs: 3, at: storefront.clock.now() }
      recorder.record([call])
      recorder.record(async () => {
        throw new Error('lookup failed')
      })
      await recorder.flush()
      assert.equal(failures.length, 2, failures.join('; '))
      assert.match(failures.join('; '), /resolving the sources/)
      assert.match(failures.join('; '), /writing 1 source call records failed/)
    })
  })
})
