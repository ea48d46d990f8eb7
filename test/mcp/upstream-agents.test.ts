import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { SecretBox } from '../../src/shared/secret-box.ts'
import { createLiveAgentProbe } from '../../src/sources/mcp-agent-probe.ts'
import { createUpstreamAgentClient, type UpstreamAgentClient } from '../../src/sources/upstream-agent-client.ts'
import { createUpstreamSupplyWorkflows } from '../../src/workflows/upstream-supply-workflows.ts'
import { TEST_SECRET_KEY } from '../helpers/context.ts'
import { startRelay } from '../helpers/relay.ts'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

/**
 * The storefront selling the supply of upstream AdCP agents. The healthy upstream is another
 * storefront of this project (its /mcp is the @adcp/sdk agent) with the Cadent demo source, and
 * the storefront talks to it with a buyer key of that upstream, stored as the AGENT source's
 * credential. The faulty upstream is a relay to the same agent that can be told to hang or 500.
 */

const DEMO = 'talpa-cadent-demo'
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }
// Long enough that a healthy local upstream answers on a loaded 2-CPU machine (1 s flaked there), short
// enough that the hanging-agent cases stay quick.
const TIMEOUT_MS = 3_000

let keySeq = 0
function idempotencyKey(): string {
  return `upstream-test-${String(++keySeq).padStart(8, '0')}`
}

function flight(): { start_time: string; end_time: string } {
  const start = new Date(Date.now() + 86_400_000)
  return { start_time: start.toISOString(), end_time: new Date(start.getTime() + 7 * 86_400_000).toISOString() }
}

function errorOf(payload: Record<string, unknown>): { code?: string; field?: string; message?: string } {
  return (payload.adcp_error ?? {}) as { code?: string; field?: string; message?: string }
}

describe('upstream AdCP agents sold through /mcp', () => {
  let upstream: McpTestContext
  let storefront: McpTestContext
  let relay: Awaited<ReturnType<typeof startRelay>>
  let buyer: Client
  let otherBuyer: Client
  let upstreamProductIds: string[]

  async function registerAgent(sourceId: string, endpointUrl: string): Promise<void> {
    const created = await storefront.api('POST', '/inventory-sources', {
      sourceId,
      name: `Upstream ${sourceId}`,
      type: 'SALES',
      endpointUrl,
      protocol: 'MCP',
      authenticationType: 'API_KEY',
      auth: { type: 'bearer', token: upstream.buyerKey },
    })
    assert.equal(created.statusCode, 201, created.body)
    const activated = await storefront.api('PUT', `/inventory-sources/${sourceId}`, { status: 'ACTIVE' })
    assert.equal(activated.statusCode, 200, activated.body)
  }

  async function getProducts(client: Client, args: Record<string, unknown> = {}) {
    const { isError, payload } = await callTool(client, 'get_products', { buying_mode: 'wholesale', ...args })
    assert.equal(isError, false, JSON.stringify(payload))
    return payload as { products: Array<{ product_id: string; pricing_options: Array<{ pricing_option_id: string; fixed_price: number }> }>; pagination: { has_more: boolean; cursor?: string } }
  }

  async function buy(client: Client, productIds: string[], key = idempotencyKey()) {
    const { products } = await getProducts(client)
    const packages = productIds.map((productId) => {
      const product = products.find((candidate) => candidate.product_id === productId)
      assert.ok(product, `get_products lists ${productId}`)
      return { product_id: productId, pricing_option_id: product.pricing_options[0]!.pricing_option_id, budget: product.pricing_options[0]!.fixed_price }
    })
    return callTool(client, 'create_media_buy', { account: ACCOUNT, brand: ACCOUNT.brand, idempotency_key: key, ...flight(), packages })
  }

  /** The upstream seller books every open traffic item (its people's work), so its task completes. */
  async function upstreamBooksEverything(): Promise<void> {
    const open = (await upstream.api('GET', `/inventory-sources/${DEMO}/modular/work-items?status=OPEN`)).json().items as Array<{ id: string; kind: string }>
    const items = open.filter((item) => item.kind === 'TRAFFIC_TO_CADENT')
    assert.ok(items.length > 0, 'the forwarded buy opened work upstream')
    for (const [index, item] of items.entries()) {
      const done = await upstream.api('POST', `/inventory-sources/${DEMO}/modular/work-items/${item.id}/complete`, { result: { cadentCampaignId: `CAD-UP-${index}` } })
      assert.equal(done.statusCode, 200, done.body)
    }
  }

  before(async () => {
    upstream = await createMcpTestContext()
    assert.equal((await upstream.api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
    storefront = await createMcpTestContext({ probeAgent: createLiveAgentProbe({ timeoutMs: 5_000 }), upstreamAgentTimeoutMs: TIMEOUT_MS })
    assert.equal((await storefront.api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
    await registerAgent('upstream-healthy', upstream.mcpUrl)
    relay = await startRelay(upstream.mcpUrl)
    // Registered while the relay passes (activation probes it), then made faulty per test.
    await registerAgent('upstream-faulty', relay.url)
    buyer = await storefront.connect(storefront.buyerKey)
    otherBuyer = await storefront.connect(storefront.otherBuyerKey)
    for (const client of [buyer, otherBuyer]) {
      const synced = await callTool(client, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: idempotencyKey() })
      assert.equal(synced.isError, false, JSON.stringify(synced.payload))
    }
    const upstreamBuyer = await upstream.connect(upstream.buyerKey)
    upstreamProductIds = (await getProducts(upstreamBuyer)).products.map((product) => product.product_id)
    assert.ok(upstreamProductIds.length >= 2, 'the upstream sells the demo products')
  })
  after(async () => {
    await storefront?.close()
    await relay?.close()
    await upstream?.close()
  })

  describe('get_products', () => {
    it('merges every ACTIVE agent\'s products, namespaced by its source, with the modular ones', async () => {
      relay.mode = 'pass'
      const { products } = await getProducts(buyer, { pagination: { max_results: 100 } })
      const ids = products.map((product) => product.product_id)
      for (const id of upstreamProductIds) {
        assert.ok(ids.includes(`upstream-healthy:${id}`), `lists upstream-healthy:${id}`)
        assert.ok(ids.includes(`upstream-faulty:${id}`), `lists upstream-faulty:${id}`)
      }
      assert.ok(ids.some((id) => id.startsWith(`${DEMO}:`)), 'and its own modular products')
      assert.ok(!JSON.stringify(products).includes(upstream.buyerKey), 'no upstream credential in the answer')
    })

    it('leaves out an agent that hangs, within the time bound, and records it on the source', async () => {
      relay.mode = 'hang'
      const started = Date.now()
      const { products } = await getProducts(buyer, { pagination: { max_results: 100 } })
      const elapsed = Date.now() - started
      assert.ok(elapsed < TIMEOUT_MS + 2_500, `answered in ${elapsed} ms`)
      const ids = products.map((product) => product.product_id)
      assert.ok(ids.some((id) => id.startsWith('upstream-healthy:')))
      assert.ok(!ids.some((id) => id.startsWith('upstream-faulty:')))
      const source = (await storefront.api('GET', '/inventory-sources/upstream-faulty')).json()
      assert.match(source.lastError, /get_products: .*did not answer get_products within 3 s/)
      assert.equal(source.status, 'ACTIVE')
    })

    it('leaves out an agent that answers HTTP 500 and records it; its next good answer clears the error', async () => {
      relay.mode = 'fail'
      const { products } = await getProducts(buyer, { pagination: { max_results: 100 } })
      assert.ok(!products.some((product) => product.product_id.startsWith('upstream-faulty:')))
      const failed = (await storefront.api('GET', '/inventory-sources/upstream-faulty')).json()
      assert.match(failed.lastError, /HTTP 500/)
      assert.ok(!failed.lastError.includes('exploded'), 'the upstream body is not repeated')
      relay.mode = 'pass'
      await getProducts(buyer, { pagination: { max_results: 100 } })
      assert.equal((await storefront.api('GET', '/inventory-sources/upstream-faulty')).json().lastError, null)
    })

    it('pages past a first page the upstream products filled, into the modular catalog', async () => {
      relay.mode = 'pass'
      const upstreamCount = upstreamProductIds.length * 2
      const first = await getProducts(buyer, { pagination: { max_results: upstreamCount } })
      assert.equal(first.products.length, upstreamCount)
      assert.ok(first.products.every((product) => product.product_id.startsWith('upstream-')))
      assert.equal(first.pagination.has_more, true)
      const next = await getProducts(buyer, { pagination: { max_results: 100, cursor: first.pagination.cursor } })
      assert.ok(next.products.length > 0)
      assert.ok(next.products.every((product) => !product.product_id.startsWith('upstream-')), 'upstream products are on the first page only')
    })

    it('shows a sandbox key only the sandbox source, never an upstream', async () => {
      const { key } = await storefront.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'sandbox' })
      const sandbox = await storefront.connect(key)
      const { products } = await getProducts(sandbox)
      assert.ok(products.length > 0)
      assert.ok(products.every((product) => !product.product_id.includes(':')), JSON.stringify(products.map((p) => p.product_id)))
    })
  })

  describe('create_media_buy of an upstream product', () => {
    it('refuses packages spanning an upstream agent and another source, naming the field', async () => {
      relay.mode = 'pass'
      const own = (await getProducts(buyer, { pagination: { max_results: 100 } })).products.find((product) => product.product_id.startsWith(`${DEMO}:`))!
      const mixed = await buy(buyer, [`upstream-healthy:${upstreamProductIds[0]}`, own.product_id])
      assert.equal(mixed.isError, true)
      assert.equal(errorOf(mixed.payload).code, 'INVALID_REQUEST')
      assert.equal(errorOf(mixed.payload).field, 'packages[1].product_id')
      const twoAgents = await buy(buyer, [`upstream-healthy:${upstreamProductIds[0]}`, `upstream-faulty:${upstreamProductIds[1]}`])
      assert.equal(twoAgents.isError, true)
      assert.equal(errorOf(twoAgents.payload).field, 'packages[1].product_id')
    })

    it('is forwarded to the agent, polled through tasks_get, listed, cancelled and its delivery read there under the storefront\'s own id', async () => {
      relay.mode = 'pass'
      const created = await buy(buyer, [`upstream-healthy:${upstreamProductIds[0]}`])
      assert.equal(created.isError, false, JSON.stringify(created.payload))
      // The upstream storefront's people book a live buy: the answer is its submitted task, as ours.
      assert.equal(created.payload.status, 'submitted')
      const taskId = String(created.payload.task_id)
      const pending = await callTool(buyer, 'tasks_get', { task_id: taskId, account: ACCOUNT, include_result: true })
      assert.equal(pending.payload.status, 'submitted', JSON.stringify(pending.payload))

      // The buy lives upstream: placed under the buyer's brand and operator, with the storefront's key.
      const upstreamBuys = await upstream.db.selectFrom('media_buy').selectAll().execute()
      assert.equal(upstreamBuys.length, 1)
      const upstreamId = upstreamBuys[0]!.media_buy_id

      await upstreamBooksEverything()
      const done = await callTool(buyer, 'tasks_get', { task_id: taskId, account: ACCOUNT, include_result: true })
      assert.equal(done.payload.status, 'completed', JSON.stringify(done.payload))
      const result = done.payload.result as { media_buy_id: string; packages: Array<{ product_id: string }> }
      assert.match(result.media_buy_id, /^mb_/)
      assert.notEqual(result.media_buy_id, upstreamId, 'the buyer never sees the upstream id')
      assert.equal(result.packages[0]!.product_id, `upstream-healthy:${upstreamProductIds[0]}`)
      const mediaBuyId = result.media_buy_id

      const listed = await callTool(buyer, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
      assert.equal(listed.isError, false, JSON.stringify(listed.payload))
      const buys = listed.payload.media_buys as Array<{ media_buy_id: string; status: string; packages: Array<{ product_id: string }> }>
      assert.equal(buys.length, 1)
      assert.equal(buys[0]!.media_buy_id, mediaBuyId)
      assert.equal(buys[0]!.packages[0]!.product_id, `upstream-healthy:${upstreamProductIds[0]}`)
      assert.ok(!JSON.stringify(listed.payload).includes(upstreamId))

      // Another buyer of the storefront sees nothing of it, and cannot change it.
      const foreign = await callTool(otherBuyer, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
      assert.deepEqual(foreign.payload.media_buys, [])
      // Its packages carry the storefront's package ids, mapped both ways.
      const upstreamPackageIds = (await upstream.db.selectFrom('media_buy_package').select('package_id').where('media_buy_row_id', '=', upstreamBuys[0]!.id).execute()).map((pkg) => pkg.package_id)
      assert.ok(upstreamPackageIds.length > 0)
      const packageId = (buys[0]!.packages[0] as unknown as { package_id: string }).package_id
      assert.equal((result.packages[0] as unknown as { package_id: string }).package_id, packageId, 'tasks_get and get_media_buys name the package alike')
      assert.ok(!upstreamPackageIds.includes(packageId))
      const paused = await callTool(buyer, 'update_media_buy', { account: ACCOUNT, media_buy_id: mediaBuyId, packages: [{ package_id: packageId, paused: true }], idempotency_key: idempotencyKey() })
      assert.equal(paused.isError, false, JSON.stringify(paused.payload))
      assert.deepEqual((paused.payload.affected_packages as Array<{ package_id: string }>).map((pkg) => pkg.package_id), [packageId])
      const upstreamPackage = await upstream.db.selectFrom('media_buy_package').select('paused').where('package_id', '=', upstreamPackageIds[0]!).executeTakeFirstOrThrow()
      assert.equal(upstreamPackage.paused, true, 'the package update reached the upstream package')
      const byUpstreamId = await callTool(buyer, 'update_media_buy', { account: ACCOUNT, media_buy_id: mediaBuyId, packages: [{ package_id: upstreamPackageIds[0], paused: false }], idempotency_key: idempotencyKey() })
      assert.equal(byUpstreamId.isError, true, 'the upstream\'s package id is not one of the buyer\'s')
      assert.equal(errorOf(byUpstreamId.payload).code, 'PACKAGE_NOT_FOUND')
      assert.equal(errorOf(byUpstreamId.payload).field, 'packages[0].package_id')

      const foreignCancel = await callTool(otherBuyer, 'update_media_buy', { account: ACCOUNT, media_buy_id: mediaBuyId, canceled: true, idempotency_key: idempotencyKey() })
      assert.equal(foreignCancel.isError, true)
      assert.equal(errorOf(foreignCancel.payload).code, 'MEDIA_BUY_NOT_FOUND')

      const canceled = await callTool(buyer, 'update_media_buy', { account: ACCOUNT, media_buy_id: mediaBuyId, canceled: true, cancellation_reason: 'plan changed', idempotency_key: idempotencyKey() })
      assert.equal(canceled.isError, false, JSON.stringify(canceled.payload))
      assert.equal(canceled.payload.media_buy_id, mediaBuyId)
      assert.equal(canceled.payload.status, 'canceled')
      const upstreamRow = await upstream.db.selectFrom('media_buy').select(['status']).where('media_buy_id', '=', upstreamId).executeTakeFirstOrThrow()
      assert.equal(upstreamRow.status, 'canceled', 'the cancel reached the upstream')

      const removal = await storefront.api('DELETE', '/inventory-sources/upstream-healthy')
      assert.equal(removal.statusCode, 409, removal.body)
      assert.equal(removal.json().error.details.reason, 'SOURCE_HAS_FORWARDED_BUYS')

      const delivery = await callTool(buyer, 'get_media_buy_delivery', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
      assert.equal(delivery.isError, false, JSON.stringify(delivery.payload))
      const deliveries = delivery.payload.media_buy_deliveries as Array<{ media_buy_id: string; totals: { impressions: number } }>
      assert.deepEqual(deliveries.map((d) => [d.media_buy_id, d.totals.impressions]), [[mediaBuyId, 0]])
      assert.ok(!JSON.stringify(delivery.payload).includes(upstreamId))
      const answers = { created: created.payload, pending: pending.payload, done: done.payload, listed: listed.payload, paused: paused.payload, canceled: canceled.payload, delivery: delivery.payload }
      for (const [tool, answer] of Object.entries(answers)) {
        for (const id of [upstreamId, ...upstreamPackageIds]) assert.ok(!JSON.stringify(answer).includes(id), `${tool} names upstream id ${id}: ${JSON.stringify(answer)}`)
      }
      const foreignDelivery = await callTool(otherBuyer, 'get_media_buy_delivery', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
      assert.equal(errorOf(foreignDelivery.payload).code, 'MEDIA_BUY_NOT_FOUND')
    })

    it('settles a forwarded task in the sweep once the upstream decides, with nobody polling tasks_get', async () => {
      relay.mode = 'pass'
      const created = await buy(buyer, [`upstream-healthy:${upstreamProductIds[0]}`])
      assert.equal(created.payload.status, 'submitted', JSON.stringify(created.payload))
      const taskId = String(created.payload.task_id)
      const taskStatus = async () => (await storefront.db.selectFrom('adcp_decisioning_tasks').select('status').where('task_id', '=', taskId).executeTakeFirstOrThrow()).status
      // Still open upstream: the sweep asks and leaves it.
      assert.deepEqual(await storefront.services.upstreamSupply.followOpenTasks(), { settled: 0, failed: 0 })
      assert.equal(await taskStatus(), 'submitted')
      await upstreamBooksEverything()
      assert.deepEqual(await storefront.services.upstreamSupply.followOpenTasks(), { settled: 1, failed: 0 })
      assert.equal(await taskStatus(), 'completed')
      const forwarded = await storefront.db.selectFrom('forwarded_media_buy').selectAll().where('task_id', '=', taskId).executeTakeFirstOrThrow()
      assert.notEqual(forwarded.upstream_media_buy_id, null)
      // Settled once: the next sweep has nothing to ask.
      assert.deepEqual(await storefront.services.upstreamSupply.followOpenTasks(), { settled: 0, failed: 0 })
    })

    it('asks an unreachable agent once per sweep, however many of its buys wait', async () => {
      relay.mode = 'pass'
      const taskIds: string[] = []
      for (let n = 0; n < 2; n++) {
        const created = await buy(buyer, [`upstream-faulty:${upstreamProductIds[0]}`])
        assert.equal(created.payload.status, 'submitted', JSON.stringify(created.payload))
        taskIds.push(String(created.payload.task_id))
      }
      relay.mode = 'hang'
      const started = Date.now()
      try {
        assert.deepEqual(await storefront.services.upstreamSupply.followOpenTasks(), { settled: 0, failed: 0 })
      } finally {
        relay.mode = 'pass'
      }
      const elapsed = Date.now() - started
      assert.ok(elapsed < 2 * TIMEOUT_MS, `one time bound, not one per buy: ${elapsed} ms`)
    })

    it('answers two simultaneous creates with one idempotency_key, past the replay cache, like a replay', async () => {
      relay.mode = 'pass'
      const principalRow = await storefront.db
        .selectFrom('buyer_account as a')
        .innerJoin('api_key as k', 'k.id', 'a.api_key_id')
        .select(['a.id as accountRowId', 'a.account_id as accountId', 'k.id as apiKeyId', 'k.storefront_id as storefrontId'])
        .where('k.label', '=', 'buyer a')
        .where('a.brand_domain', '=', ACCOUNT.brand.domain)
        .executeTakeFirstOrThrow()
      const principal = { ...principalRow, sandbox: false }
      const source = await storefront.db.selectFrom('inventory_source').selectAll().where('source_id', '=', 'upstream-healthy').executeTakeFirstOrThrow()
      const product = (await getProducts(buyer, { pagination: { max_results: 100 } })).products.find((candidate) => candidate.product_id === `upstream-healthy:${upstreamProductIds[1]}`)!
      const key = idempotencyKey()
      const input = {
        idempotencyKey: key,
        brandDomain: ACCOUNT.brand.domain,
        operator: ACCOUNT.operator,
        request: {
          account: ACCOUNT, brand: ACCOUNT.brand, idempotency_key: key, ...flight(),
          packages: [{ product_id: product.product_id, pricing_option_id: product.pricing_options[0]!.pricing_option_id, budget: product.pricing_options[0]!.fixed_price }],
        },
      }
      // Straight to the workflow, past the SDK's replay cache. The upstream answers both (each call
      // asked once the one before was answered, so the second is a replay there, not in flight),
      // and both create answers are held until each has one: both then write the buy at once.
      const client = createUpstreamAgentClient({ timeoutMs: 5_000 })
      let upstreamTurn: Promise<unknown> = Promise.resolve()
      let answered = 0
      let bothAnswered!: () => void
      const together = new Promise<void>((resolve) => (bothAnswered = resolve))
      const gated: UpstreamAgentClient = async (target, tool, args) => {
        const turn = upstreamTurn.then(() => client(target, tool, args))
        upstreamTurn = turn.catch(() => undefined)
        const result = await turn
        if (tool !== 'create_media_buy') return result
        if (++answered === 2) bothAnswered()
        await together
        return result
      }
      const workflows = createUpstreamSupplyWorkflows({ db: storefront.db, clock: storefront.clock, secrets: new SecretBox(TEST_SECRET_KEY), call: gated })
      const answers = await Promise.allSettled([
        workflows.createForwarded(principal, source, input),
        workflows.createForwarded(principal, source, input),
      ])
      const rows = await storefront.db.selectFrom('forwarded_media_buy').selectAll().where('idempotency_key', '=', key).execute()
      assert.equal(rows.length, 1, 'one forwarded buy for the key')
      for (const answer of answers) {
        assert.equal(answer.status, 'fulfilled', answer.status === 'rejected' ? String(answer.reason) : '')
        assert.deepEqual(answer.value, { kind: 'submitted', taskId: rows[0]!.task_id })
      }
      const tasks = await storefront.db.selectFrom('adcp_decisioning_tasks').select('task_id').where('task_id', '=', rows[0]!.task_id!).execute()
      assert.equal(tasks.length, 1)
    })

    it('answers SERVICE_UNAVAILABLE when the agent holding the product hangs, and places nothing', async () => {
      relay.mode = 'hang'
      const before = await storefront.db.selectFrom('forwarded_media_buy').select('id').execute()
      relay.mode = 'pass'
      const { products } = await getProducts(buyer, { pagination: { max_results: 100 } })
      const product = products.find((candidate) => candidate.product_id === `upstream-faulty:${upstreamProductIds[1]}`)!
      relay.mode = 'hang'
      const attempt = await callTool(buyer, 'create_media_buy', {
        account: ACCOUNT, brand: ACCOUNT.brand, idempotency_key: idempotencyKey(), ...flight(),
        packages: [{ product_id: product.product_id, pricing_option_id: product.pricing_options[0]!.pricing_option_id, budget: product.pricing_options[0]!.fixed_price }],
      })
      relay.mode = 'pass'
      assert.equal(attempt.isError, true)
      assert.equal(errorOf(attempt.payload).code, 'SERVICE_UNAVAILABLE')
      assert.ok(!JSON.stringify(attempt.payload).includes(upstream.buyerKey))
      assert.equal((await storefront.db.selectFrom('forwarded_media_buy').select('id').execute()).length, before.length)
    })
  })
})
