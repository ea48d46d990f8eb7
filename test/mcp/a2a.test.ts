import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

const SANDBOX = 'adcp-sandbox'
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example', sandbox: true }

interface A2ATask {
  kind: string
  id: string
  status: { state: string }
  artifacts?: Array<{ name: string; parts: Array<{ kind: string; data: Record<string, unknown> }>; metadata?: Record<string, unknown> }>
}

let seq = 0
function idempotencyKey(): string {
  return `a2a-test-${String(++seq).padStart(8, '0')}`
}

function flight(): { start_time: string; end_time: string } {
  const start = new Date(Date.now() + 86_400_000)
  return { start_time: start.toISOString(), end_time: new Date(start.getTime() + 7 * 86_400_000).toISOString() }
}

describe('the AdCP agent over A2A (POST /a2a)', () => {
  let ctx: McpTestContext
  let sandboxKey: string
  let sandboxMcp: Client
  let operatorKey: string

  async function rpc(key: string | null, method: string, params: unknown) {
    const response = await fetch(`${ctx.baseUrl}/a2a`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++seq, method, params }),
    })
    return { status: response.status, headers: response.headers, body: (await response.json()) as { result?: A2ATask; error?: { code: number; message: string; data?: { adcp_error?: { code: string } } } } }
  }

  /** message/send of one AdCP task; the task's AdCP payload is its artifact's DataPart. */
  async function send(key: string, skill: string, input: Record<string, unknown>) {
    const { status, body } = await rpc(key, 'message/send', {
      message: { kind: 'message', role: 'user', messageId: `m-${++seq}`, parts: [{ kind: 'data', data: { skill, input } }] },
    })
    assert.equal(status, 200, JSON.stringify(body))
    assert.ok(body.result, JSON.stringify(body))
    const task = body.result
    return { task, payload: task.artifacts?.[0]?.parts[0]?.data ?? {} }
  }

  before(async () => {
    ctx = await createMcpTestContext()
    sandboxKey = (await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'sandbox' })).key
    operatorKey = (await ctx.services.access.createKey({ storefront: 'acme', label: 'operator' })).key
    sandboxMcp = await ctx.connect(sandboxKey)
  })
  after(async () => {
    await ctx.close()
  })

  it('publishes an agent card naming the /a2a endpoint at the host the client used, with a skill per tool', async () => {
    const response = await fetch(`${ctx.baseUrl}/.well-known/agent-card.json`)
    assert.equal(response.status, 200)
    const card = (await response.json()) as { url: string; name: string; protocolVersion: string; skills: Array<{ id: string }>; securitySchemes: Record<string, unknown> }
    assert.equal(card.url, `${ctx.baseUrl}/a2a`)
    assert.equal(card.protocolVersion, '0.3.0')
    const skills = card.skills.map((skill) => skill.id)
    // get_adcp_capabilities too: an AdCP client that finds no such skill takes the agent for AdCP v2.
    for (const tool of ['get_adcp_capabilities', 'get_products', 'create_media_buy', 'get_media_buys', 'sync_accounts']) assert.ok(skills.includes(tool), `${tool} in ${skills.join(', ')}`)
    // Anonymous discovery lists a live key's tools; the sandbox controller is not among them.
    assert.equal(skills.includes('comply_test_controller'), false)
    assert.deepEqual(Object.keys(card.securitySchemes), ['bearer'])

    const proxied = await ctx.app.inject({ method: 'GET', url: '/a2a/.well-known/agent-card.json', headers: { host: 'storefront.example:8443' } })
    assert.equal(proxied.statusCode, 200)
    assert.equal(proxied.json().url, 'http://storefront.example:8443/a2a')
  })

  it("lists a sandbox key's comply_test_controller on the card it asks with its key, and refuses a card asked with an unknown key", async () => {
    const card = (await (await fetch(`${ctx.baseUrl}/.well-known/agent-card.json`, { headers: { authorization: `Bearer ${sandboxKey}` } })).json()) as { skills: Array<{ id: string }> }
    assert.ok(card.skills.some((skill) => skill.id === 'comply_test_controller'))
    const unknown = await fetch(`${ctx.baseUrl}/.well-known/agent-card.json`, { headers: { authorization: 'Bearer sf_not_a_key' } })
    assert.equal(unknown.status, 401)
  })

  it('answers an authenticated message/send of get_products with a completed task carrying the products', async () => {
    const { task, payload } = await send(ctx.buyerKey, 'get_products', { buying_mode: 'wholesale' })
    assert.equal(task.kind, 'task')
    assert.equal(task.status.state, 'completed', JSON.stringify(task))
    assert.ok(Array.isArray(payload.products), JSON.stringify(payload))
  })

  it('refuses a call without a key (401 with a Bearer challenge), with an unknown key (401) and with an operator key (403)', async () => {
    const none = await rpc(null, 'message/send', { message: { kind: 'message', role: 'user', messageId: 'x', parts: [{ kind: 'data', data: { skill: 'get_products', input: {} } }] } })
    assert.equal(none.status, 401)
    assert.match(String(none.headers.get('www-authenticate')), /^Bearer realm="storefront-adcp"/)
    assert.equal(none.body.error?.data?.adcp_error?.code, 'AUTH_REQUIRED')
    const unknown = await rpc('sf_not_a_key', 'message/send', {})
    assert.equal(unknown.status, 401)
    assert.match(String(unknown.headers.get('www-authenticate')), /error="invalid_token"/)
    const operator = await rpc(operatorKey, 'message/send', {})
    assert.equal(operator.status, 403)
    assert.equal(operator.body.error?.data?.adcp_error?.code, 'PERMISSION_DENIED')
  })

  it('answers an AdCP error as a failed task whose artifact carries adcp_error', async () => {
    const { task, payload } = await send(ctx.buyerKey, 'get_media_buys', { account: { account_id: 'acct_missing' } })
    assert.equal(task.status.state, 'failed', JSON.stringify(task))
    assert.equal((payload.adcp_error as { code?: string }).code, 'ACCOUNT_NOT_FOUND', JSON.stringify(payload))
  })

  it('refuses a live key an http:// push_notification_config.url, as /mcp does', async () => {
    const { task, payload } = await send(ctx.buyerKey, 'get_products', { buying_mode: 'wholesale', push_notification_config: { url: 'http://buyer.example/hook', authentication: { schemes: ['Bearer'], credentials: 'x'.repeat(32) } } })
    assert.equal(task.status.state, 'failed')
    assert.deepEqual((payload.adcp_error as { code: string; field: string }).code, 'INVALID_REQUEST')
    assert.equal((payload.adcp_error as { field: string }).field, 'push_notification_config.url')
    // create_media_buy's reporting_webhook is held to the same rule over A2A as over /mcp.
    const reporting = await send(ctx.buyerKey, 'create_media_buy', { reporting_webhook: { url: 'http://buyer.example/delivery', reporting_frequency: 'daily' } })
    assert.equal(reporting.task.status.state, 'failed')
    assert.deepEqual(reporting.payload.adcp_error, { ...(reporting.payload.adcp_error as object), code: 'INVALID_REQUEST', field: 'reporting_webhook.url' })
  })

  it('shares state with /mcp: a buy created over A2A is read over MCP, and one created over MCP is read over A2A', async () => {
    // The sandbox source is built on the key's first discovery call.
    const discovered = await send(sandboxKey, 'get_products', { buying_mode: 'wholesale' })
    assert.equal(discovered.task.status.state, 'completed', JSON.stringify(discovered.payload))
    const products = (await ctx.api('GET', `/inventory-sources/${SANDBOX}/modular/products`)).json().products as Array<{ availId: string; cpm: number }>
    const synced = await send(sandboxKey, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: idempotencyKey() })
    assert.equal(synced.task.status.state, 'completed', JSON.stringify(synced.payload))

    const pkg = { product_id: products[0]!.availId, pricing_option_id: 'cpm_fixed', budget: products[0]!.cpm * 5 }
    const overA2A = await send(sandboxKey, 'create_media_buy', { account: ACCOUNT, brand: ACCOUNT.brand, ...flight(), packages: [pkg], idempotency_key: idempotencyKey() })
    assert.equal(overA2A.task.status.state, 'completed', JSON.stringify(overA2A.payload))
    const a2aBuyId = String(overA2A.payload.media_buy_id)
    assert.match(a2aBuyId, /^mb_/)

    const readOverMcp = await callTool(sandboxMcp, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [a2aBuyId] })
    assert.equal(readOverMcp.isError, false, JSON.stringify(readOverMcp.payload))
    assert.deepEqual((readOverMcp.payload.media_buys as Array<{ media_buy_id: string }>).map((buy) => buy.media_buy_id), [a2aBuyId])

    const mcpKey = idempotencyKey()
    const overMcp = await callTool(sandboxMcp, 'create_media_buy', { account: ACCOUNT, brand: ACCOUNT.brand, ...flight(), packages: [pkg], idempotency_key: mcpKey })
    assert.equal(overMcp.isError, false, JSON.stringify(overMcp.payload))
    const mcpBuyId = String(overMcp.payload.media_buy_id)
    const readOverA2A = await send(sandboxKey, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [mcpBuyId, a2aBuyId] })
    assert.equal(readOverA2A.task.status.state, 'completed', JSON.stringify(readOverA2A.payload))
    assert.deepEqual((readOverA2A.payload.media_buys as Array<{ media_buy_id: string }>).map((buy) => buy.media_buy_id).sort(), [a2aBuyId, mcpBuyId].sort())

    // One idempotency scope per key across transports: the MCP create's key reused over A2A with another payload conflicts.
    const replay = await send(sandboxKey, 'create_media_buy', { account: ACCOUNT, brand: ACCOUNT.brand, packages: [{ ...pkg, budget: pkg.budget * 2 }], idempotency_key: mcpKey, ...flight() })
    assert.equal(replay.task.status.state, 'failed', JSON.stringify(replay.payload))
    assert.equal((replay.payload.adcp_error as { code: string }).code, 'IDEMPOTENCY_CONFLICT', JSON.stringify(replay.payload))
  })

  it("reads back an A2A task with tasks/get for the key that made it, and answers another key's task id as not found", async () => {
    const { task } = await send(ctx.buyerKey, 'get_products', { buying_mode: 'wholesale' })
    const own = await rpc(ctx.buyerKey, 'tasks/get', { id: task.id })
    assert.equal(own.body.result?.id, task.id, JSON.stringify(own.body))
    assert.equal(own.body.result?.status.state, 'completed')
    const other = await rpc(ctx.otherBuyerKey, 'tasks/get', { id: task.id })
    assert.equal(other.body.result, undefined)
    const missing = await rpc(ctx.otherBuyerKey, 'tasks/get', { id: crypto.randomUUID() })
    assert.equal(other.body.error?.code, missing.body.error?.code, JSON.stringify(other.body))
    assert.equal(other.body.error?.message, `Task not found: ${task.id}`)
  })
})
