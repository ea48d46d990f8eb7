import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createMcpTestContext, type McpTestContext } from './helpers.ts'

const BUDGET = 3

interface AdcpError { code: string; recovery?: string; retry_after?: number; details?: { limit?: number; remaining?: number; window_seconds?: number } }

/** The JSON-RPC answers of both edges: an MCP tool result, an A2A task, or a JSON-RPC error. */
interface Answer {
  result: {
    isError?: boolean
    structuredContent: { adcp_error?: AdcpError; context?: unknown }
    status: { state: string }
    artifacts: Array<{ parts: Array<{ data: { adcp_error?: AdcpError } }> }>
  }
  error: { data: { adcp_error?: AdcpError } }
}

describe('per-key rate limits at the buyer edges (/mcp and /a2a)', () => {
  let ctx: McpTestContext
  let seq = 0

  /** One raw JSON-RPC POST, the way any buyer's agent sends it; returns the HTTP answer as it is. */
  async function post(path: '/mcp' | '/a2a', key: string, body: Record<string, unknown>) {
    const response = await fetch(`${ctx.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${key}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++seq, ...body }),
    })
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() as Answer }
  }

  const capabilitiesCall = { method: 'tools/call', params: { name: 'get_adcp_capabilities', arguments: { context: { trace: 'rl' } } } }
  const a2aCapabilities = () => ({
    method: 'message/send',
    params: { message: { kind: 'message', role: 'user', messageId: `m-${++seq}`, parts: [{ kind: 'data', data: { skill: 'get_adcp_capabilities', input: {} } }] } },
  })

  function assertRateLimited(error: AdcpError | undefined, where: string): void {
    assert.ok(error, `${where}: no adcp_error`)
    assert.equal(error.code, 'RATE_LIMITED', where)
    assert.equal(error.recovery, 'transient', where)
    assert.ok(error.retry_after! >= 1 && error.retry_after! <= 60, `${where}: retry_after ${error.retry_after}`)
    assert.deepEqual(error.details, { limit: BUDGET, remaining: 0, window_seconds: 60 }, where)
  }

  before(async () => { ctx = await createMcpTestContext({ rateLimit: { max: BUDGET, windowMs: 60_000 } }) })
  after(() => ctx.close())

  it('answers a tool call past the budget with the AdCP error RATE_LIMITED (transient, retry_after) and Retry-After, and counts keys apart', async () => {
    for (let i = 0; i < BUDGET; i++) {
      const ok = await post('/mcp', ctx.buyerKey, capabilitiesCall)
      assert.equal(ok.status, 200)
      assert.equal(ok.body.result.isError, undefined, JSON.stringify(ok.body))
    }
    const limited = await post('/mcp', ctx.buyerKey, capabilitiesCall)
    // A tool's failure is a tool result (isError) with the AdCP error, as every other refusal is.
    assert.equal(limited.status, 200)
    assert.equal(limited.body.result.isError, true)
    assertRateLimited(limited.body.result.structuredContent.adcp_error, '/mcp tools/call')
    assert.deepEqual(limited.body.result.structuredContent.context, { trace: 'rl' })
    assert.ok(Number(limited.retryAfter) >= 1, `Retry-After ${limited.retryAfter}`)

    const other = await post('/mcp', ctx.otherBuyerKey, capabilitiesCall)
    assert.equal(other.status, 200)
    assert.equal(other.body.result.isError, undefined)
  })

  it('spends one budget per key across /mcp and /a2a: a key limited at /mcp is limited at /a2a too', async () => {
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', label: 'shared budget', role: 'buyer' })
    for (let i = 0; i < BUDGET; i++) assert.equal((await post('/mcp', key, capabilitiesCall)).body.result.isError, undefined)

    const task = await post('/a2a', key, a2aCapabilities())
    assert.equal(task.status, 200)
    assert.equal(task.body.result.status.state, 'failed')
    assertRateLimited(task.body.result.artifacts[0]!.parts[0]!.data.adcp_error, '/a2a message/send')
    assert.ok(Number(task.retryAfter) >= 1)

    // A request that is not a task (here tasks/get) has no task to fail: HTTP 429 with the JSON-RPC error.
    const notATask = await post('/a2a', key, { method: 'tasks/get', params: { id: 'task-x' } })
    assert.equal(notATask.status, 429)
    assertRateLimited(notATask.body.error.data.adcp_error, '/a2a tasks/get')
  })

  it('lets /a2a spend a fresh key\'s budget and then refuses its next task', async () => {
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', label: 'a2a only', role: 'buyer' })
    for (let i = 0; i < BUDGET; i++) {
      const ok = await post('/a2a', key, a2aCapabilities())
      assert.equal(ok.status, 200)
      assert.equal(ok.body.result.status.state, 'completed', JSON.stringify(ok.body))
    }
    const limited = await post('/a2a', key, a2aCapabilities())
    assert.equal(limited.body.result.status.state, 'failed')
    assertRateLimited(limited.body.result.artifacts[0]!.parts[0]!.data.adcp_error, '/a2a after its own budget')
  })

  it('does not count requests without a valid key: they are refused 401 before any budget', async () => {
    for (let i = 0; i < BUDGET + 2; i++) assert.equal((await post('/mcp', 'sf_not_a_key', capabilitiesCall)).status, 401)
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', label: 'after strangers', role: 'buyer' })
    assert.equal((await post('/mcp', key, capabilitiesCall)).body.result.isError, undefined)
  })
})
