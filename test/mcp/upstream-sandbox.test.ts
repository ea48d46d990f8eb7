import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { SecretBox } from '../../src/shared/secret-box.ts'
import { createLiveAgentProbe } from '../../src/sources/mcp-agent-probe.ts'
import { createUpstreamAgentClient, type UpstreamAgentClient } from '../../src/sources/upstream-agent-client.ts'
import { createUpstreamSupplyWorkflows } from '../../src/workflows/upstream-supply-workflows.ts'
import { TEST_SECRET_KEY } from '../helpers/context.ts'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

/**
 * A storefront whose sandbox is served by an upstream agent (sandbox supply): the upstream is
 * another storefront of this project, reached with one of its sandbox buyer keys, registered on
 * the front storefront as an AGENT source with `sandbox: true`. The front's sandbox keys buy,
 * seed and simulate there; its live keys never see it.
 */

const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }
const PRODUCT = 'sports_preroll_q2'
const PRICING = 'cpm_guaranteed'

let keySeq = 0
function idempotencyKey(): string {
  return `upstream-sandbox-${String(++keySeq).padStart(8, '0')}`
}

function flight(): { start_time: string; end_time: string } {
  const start = new Date(Date.now() + 86_400_000)
  return { start_time: start.toISOString(), end_time: new Date(start.getTime() + 7 * 86_400_000).toISOString() }
}

function errorOf(payload: Record<string, unknown>): { code?: string; field?: string; message?: string } {
  return (payload.adcp_error ?? {}) as { code?: string; field?: string; message?: string }
}

/** A buyer's webhook receiver on loopback (a sandbox key may name one): collects each POST body. */
async function startReceiver(): Promise<{ url: string; received: Array<Record<string, unknown>>; close(): Promise<void> }> {
  const received: Array<Record<string, unknown>> = []
  const server: Server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      received.push(JSON.parse(body) as Record<string, unknown>)
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('receiver not listening')
  return { url: `http://127.0.0.1:${address.port}/hooks`, received, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

describe('sandbox supply: a storefront sandbox served by an upstream agent', () => {
  let upstream: McpTestContext
  let front: McpTestContext
  let upstreamSandboxKey: string
  let sandbox: Client
  let live: Client
  let productFormat: { agent_url: string; id: string }

  async function controller(scenario: string, params: Record<string, unknown>) {
    return (await callTool(sandbox, 'comply_test_controller', { scenario, params })).payload
  }

  async function createBuy(packages: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) {
    return callTool(sandbox, 'create_media_buy', { account: ACCOUNT, brand: ACCOUNT.brand, idempotency_key: idempotencyKey(), ...flight(), packages, ...extra })
  }

  /** Every id the upstream holds for buys, packages and tasks: none may reach the front's buyer. */
  async function upstreamIds(): Promise<string[]> {
    const buys = (await upstream.db.selectFrom('media_buy').select(['media_buy_id', 'task_id']).execute()).flatMap((row) => [row.media_buy_id, ...(row.task_id ? [row.task_id] : [])])
    const packages = (await upstream.db.selectFrom('media_buy_package').select('package_id').execute()).map((row) => row.package_id)
    return [...buys, ...packages]
  }

  before(async () => {
    upstream = await createMcpTestContext()
    upstreamSandboxKey = (await upstream.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'front storefront' })).key
    front = await createMcpTestContext({ probeAgent: createLiveAgentProbe({ timeoutMs: 5_000 }) })
    const created = await front.api('POST', '/inventory-sources', {
      sourceId: 'upstream-sandbox',
      name: 'Upstream sandbox',
      type: 'SALES',
      endpointUrl: upstream.mcpUrl,
      protocol: 'MCP',
      authenticationType: 'API_KEY',
      auth: { type: 'bearer', token: upstreamSandboxKey },
      sandbox: true,
    })
    assert.equal(created.statusCode, 201, created.body)
    assert.equal(created.json().sandbox, true)
    const activated = await front.api('PUT', '/inventory-sources/upstream-sandbox', { status: 'ACTIVE' })
    assert.equal(activated.statusCode, 200, activated.body)
    sandbox = await front.connect((await front.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'front sandbox' })).key)
    live = await front.connect(front.buyerKey)
    const synced = await callTool(sandbox, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: idempotencyKey() })
    assert.equal(synced.isError, false, JSON.stringify(synced.payload))
  })
  after(async () => {
    await front?.close()
    await upstream?.close()
  })

  describe('the source', () => {
    it('shows sandbox: true, and a second ACTIVE sandbox supply is refused with 409', async () => {
      const second = await front.api('POST', '/inventory-sources', {
        sourceId: 'second-sandbox', name: 'Second', type: 'SALES', endpointUrl: upstream.mcpUrl, protocol: 'MCP',
        authenticationType: 'API_KEY', auth: { type: 'bearer', token: upstreamSandboxKey }, sandbox: true,
      })
      assert.equal(second.statusCode, 201, second.body)
      const activated = await front.api('PUT', '/inventory-sources/second-sandbox', { status: 'ACTIVE' })
      assert.equal(activated.statusCode, 409, activated.body)
      assert.equal(activated.json().error.details.reason, 'SANDBOX_SUPPLY_TAKEN')
      assert.equal((await front.api('GET', '/inventory-sources/upstream-sandbox')).json().sandbox, true)
      assert.equal((await front.api('DELETE', '/inventory-sources/second-sandbox')).statusCode, 204)
    })
  })

  describe('comply_test_controller', () => {
    it('seeds products and prices onto the upstream\'s sandbox; the front\'s sandbox keys see them bare, its live keys never', async () => {
      const seeded = await controller('seed_product', { product_id: PRODUCT, fixture: { delivery_type: 'guaranteed', channels: ['video'], format_ids: [{ id: 'video_30s' }] } })
      assert.equal(seeded.success, true, JSON.stringify(seeded))
      const priced = await controller('seed_pricing_option', { product_id: PRODUCT, pricing_option_id: PRICING, fixture: { pricing_model: 'cpm', currency: 'USD', fixed_price: 22 } })
      assert.equal(priced.success, true, JSON.stringify(priced))
      // The fixture lives upstream, in the upstream storefront's own sandbox source.
      const upstreamAvail = await upstream.db.selectFrom('avail').select(['avail_id', 'cpm']).where('avail_id', '=', PRODUCT).executeTakeFirst()
      assert.equal(Number(upstreamAvail?.cpm), 22)
      assert.equal(await front.db.selectFrom('avail').select('avail_id').where('avail_id', '=', PRODUCT).executeTakeFirst(), undefined, 'nothing is seeded on the front')

      const { payload } = await callTool(sandbox, 'get_products', { buying_mode: 'wholesale' })
      const products = payload.products as Array<{ product_id: string; format_ids: Array<{ agent_url: string; id: string }>; pricing_options: Array<{ pricing_option_id: string }> }>
      // Only the upstream's products: the front's own sandbox catalog (demo avails) is not listed.
      assert.deepEqual(products.map((product) => product.product_id), [PRODUCT])
      assert.equal(products[0]!.pricing_options[0]!.pricing_option_id, PRICING)
      productFormat = products[0]!.format_ids[0]!
      const formats = await callTool(sandbox, 'list_creative_formats', { format_ids: [productFormat] })
      assert.deepEqual((formats.payload.formats as Array<{ format_id: unknown }>).map((format) => format.format_id), [productFormat], 'the product\'s format is described')

      const liveProducts = (await callTool(live, 'get_products', { buying_mode: 'wholesale' })).payload.products as Array<{ product_id: string }>
      assert.ok(!liveProducts.some((product) => product.product_id === PRODUCT || product.product_id.startsWith('upstream-sandbox:')))
      const liveBuy = await callTool(live, 'create_media_buy', { account: ACCOUNT, brand: ACCOUNT.brand, idempotency_key: idempotencyKey(), ...flight(), packages: [{ product_id: `upstream-sandbox:${PRODUCT}`, pricing_option_id: PRICING, budget: 5000 }] })
      assert.equal(liveBuy.isError, true, 'a live key cannot buy sandbox supply')
    })

    it('answers a forced submitted arm with the buyer\'s exact task id, and the upstream never shows its own', async () => {
      const forced = await controller('force_create_media_buy_arm', { arm: 'submitted', task_id: 'task_async_signed_io_q2', message: 'Awaiting IO signature' })
      assert.equal(forced.success, true, JSON.stringify(forced))
      assert.deepEqual(forced.forced, { arm: 'submitted', task_id: 'task_async_signed_io_q2' })
      const receiver = await startReceiver()
      after(() => receiver.close())
      const created = await createBuy([{ product_id: PRODUCT, pricing_option_id: PRICING, budget: 5000 }], { push_notification_config: { url: receiver.url } })
      assert.equal(created.isError, false, JSON.stringify(created.payload))
      assert.equal(created.payload.status, 'submitted')
      assert.equal(created.payload.task_id, 'task_async_signed_io_q2')
      assert.equal(created.payload.media_buy_id, undefined)
      const upstreamTask = await upstream.db.selectFrom('sandbox_create_arm').select('task_id').execute()
      assert.deepEqual(upstreamTask, [], 'the upstream took its own arm')
      const polled = await callTool(sandbox, 'tasks_get', { task_id: 'task_async_signed_io_q2', account: ACCOUNT })
      assert.equal(polled.payload.status, 'submitted', JSON.stringify(polled.payload))

      // The upstream's people book its forced buy; the front's task follows, and its webhook names the front's ids.
      const open = (await upstream.api('GET', '/inventory-sources/adcp-sandbox/modular/work-items?status=OPEN')).json().items as Array<{ id: string; kind: string }>
      const traffic = open.filter((item) => item.kind === 'TRAFFIC_TO_CADENT')
      assert.ok(traffic.length > 0, JSON.stringify(open))
      for (const [index, item] of traffic.entries()) {
        const done = await upstream.api('POST', `/inventory-sources/adcp-sandbox/modular/work-items/${item.id}/complete`, { result: { cadentCampaignId: `CAD-SBX-${index}` } })
        assert.equal(done.statusCode, 200, done.body)
      }
      const completed = await callTool(sandbox, 'tasks_get', { task_id: 'task_async_signed_io_q2', account: ACCOUNT, include_result: true })
      assert.equal(completed.payload.status, 'completed', JSON.stringify(completed.payload))
      const mediaBuyId = (completed.payload.result as { media_buy_id: string }).media_buy_id
      assert.match(mediaBuyId, /^mb_/)
      // Settling the task wrote its webhook to the front's outbox; the front's sender sends it.
      assert.equal((await front.services.webhookOutbox.deliverDue()).delivered, 1)
      assert.equal(receiver.received.length, 1, 'one completion webhook')
      const hook = receiver.received[0]!
      assert.equal(hook.task_id, 'task_async_signed_io_q2')
      assert.equal(hook.status, 'completed')
      assert.equal((hook.result as { media_buy_id: string }).media_buy_id, mediaBuyId)
      for (const id of await upstreamIds()) assert.ok(!JSON.stringify([hook, completed.payload]).includes(id), `names upstream id ${id}`)
      // The next create is an ordinary one again.
      const next = await createBuy([{ product_id: PRODUCT, pricing_option_id: PRICING, budget: 5000 }])
      assert.equal(next.isError, false, JSON.stringify(next.payload))
      assert.notEqual(next.payload.status, 'submitted')
    })
  })

  describe('a buy of sandbox supply', () => {
    it('lives upstream under the front\'s ids: creatives synced at the front reach the upstream with the assignment, delivery is simulated there', async () => {
      const created = await createBuy([{ product_id: PRODUCT, pricing_option_id: PRICING, budget: 5000 }])
      assert.equal(created.isError, false, JSON.stringify(created.payload))
      assert.equal(created.payload.status, 'pending_creatives')
      const mediaBuyId = String(created.payload.media_buy_id)
      const packageId = (created.payload.packages as Array<{ package_id: string; product_id: string }>)[0]!.package_id
      assert.equal((created.payload.packages as Array<{ product_id: string }>)[0]!.product_id, PRODUCT)

      const creative = { creative_id: 'trail_pro_30s', name: 'Trail Pro 30s', format_id: productFormat, assets: { video: { asset_type: 'video', url: 'https://cdn.example.com/trail.mp4', width: 1920, height: 1080, duration_ms: 30000 } } }
      const synced = await callTool(sandbox, 'sync_creatives', { account: ACCOUNT, idempotency_key: idempotencyKey(), creatives: [creative] })
      assert.equal(synced.isError, false, JSON.stringify(synced.payload))
      const updated = await callTool(sandbox, 'update_media_buy', { account: ACCOUNT, media_buy_id: mediaBuyId, idempotency_key: idempotencyKey(), packages: [{ package_id: packageId, creative_assignments: [{ creative_id: 'trail_pro_30s' }] }] })
      assert.equal(updated.isError, false, JSON.stringify(updated.payload))
      assert.ok(['pending_start', 'active'].includes(String(updated.payload.status)), JSON.stringify(updated.payload))
      const upstreamCreative = await upstream.db.selectFrom('creative').select(['creative_id']).where('creative_id', '=', 'trail_pro_30s').execute()
      assert.equal(upstreamCreative.length, 1, 'the creative reached the upstream')
      const listed = await callTool(sandbox, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
      assert.ok(['pending_start', 'active'].includes(String((listed.payload.media_buys as Array<{ status: string }>)[0]?.status)), JSON.stringify(listed.payload))

      const simulated = await controller('simulate_delivery', { media_buy_id: mediaBuyId, impressions: 5000, clicks: 150, reported_spend: { amount: 110, currency: 'USD' } })
      assert.equal(simulated.success, true, JSON.stringify(simulated))
      assert.equal((simulated.simulated as { media_buy_id: string }).media_buy_id, mediaBuyId)
      const delivery = await callTool(sandbox, 'get_media_buy_delivery', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
      assert.equal(delivery.isError, false, JSON.stringify(delivery.payload))
      assert.deepEqual((delivery.payload.media_buy_deliveries as Array<{ media_buy_id: string; totals: { impressions: number } }>).map((d) => [d.media_buy_id, d.totals.impressions]), [[mediaBuyId, 5000]])

      const paused = await controller('force_media_buy_status', { media_buy_id: mediaBuyId, status: 'canceled' })
      assert.equal(paused.success, true, JSON.stringify(paused))
      const unknown = await controller('simulate_delivery', { media_buy_id: 'mb_not_a_buy', impressions: 1 })
      assert.equal(unknown.success, false)
      assert.equal(unknown.error, 'NOT_FOUND')

      const ids = await upstreamIds()
      assert.ok(ids.length > 0)
      for (const [tool, answer] of Object.entries({ created, updated, listed, simulated, delivery, paused })) {
        for (const id of ids) assert.ok(!JSON.stringify(answer).includes(id), `${tool} names upstream id ${id}`)
      }
    })

    it('strips the namespace of a forwarded update\'s new_packages product ids, and refuses another source\'s product', async () => {
      const created = await createBuy([{ product_id: PRODUCT, pricing_option_id: PRICING, budget: 5000 }])
      assert.equal(created.isError, false, JSON.stringify(created.payload))
      const principal = await front.db
        .selectFrom('api_key')
        .select(['id as apiKeyId', 'storefront_id as storefrontId'])
        .where('label', '=', 'front sandbox')
        .executeTakeFirstOrThrow()
      const row = await front.db.selectFrom('forwarded_media_buy').selectAll().where('media_buy_id', '=', String(created.payload.media_buy_id)).executeTakeFirstOrThrow()
      const sent: Array<{ tool: string; args: Record<string, unknown> }> = []
      const client = createUpstreamAgentClient({ timeoutMs: 5_000 })
      const recording: UpstreamAgentClient = async (target, tool, args) => {
        sent.push({ tool, args })
        return client(target, tool, args)
      }
      const workflows = createUpstreamSupplyWorkflows({ db: front.db, clock: front.clock, secrets: new SecretBox(TEST_SECRET_KEY), call: recording })
      const who = { ...principal, sandbox: true }
      await workflows.updateForwarded(who, row, { new_packages: [{ product_id: `upstream-sandbox:${PRODUCT}`, pricing_option_id: PRICING, budget: 1000 }] }).catch(() => undefined)
      const update = sent.find((call) => call.tool === 'update_media_buy')
      assert.ok(update, 'the update was forwarded')
      assert.deepEqual((update.args.new_packages as Array<{ product_id: string }>).map((pkg) => pkg.product_id), [PRODUCT])

      sent.length = 0
      await assert.rejects(
        workflows.updateForwarded(who, row, { new_packages: [{ product_id: 'talpa-cadent-demo:some-avail', pricing_option_id: PRICING, budget: 1000 }] }),
        (error: { details?: { issues?: Array<{ path: string }> } }) => error.details?.issues?.[0]?.path === 'new_packages[0].product_id',
      )
      assert.deepEqual(sent, [], 'nothing is sent for a product of another source')

      const refused = await callTool(sandbox, 'update_media_buy', { account: ACCOUNT, media_buy_id: String(created.payload.media_buy_id), idempotency_key: idempotencyKey(), new_packages: [{ product_id: 'talpa-cadent-demo:some-avail', pricing_option_id: PRICING, budget: 1000 }] })
      assert.equal(refused.isError, true)
      assert.equal(errorOf(refused.payload).field, 'new_packages[0].product_id')
    })
  })
})
