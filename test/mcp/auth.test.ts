import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '0' } },
}

describe('POST /mcp: who may call the AdCP agent', () => {
  let ctx: McpTestContext
  before(async () => {
    ctx = await createMcpTestContext()
  })
  after(async () => {
    await ctx.close()
  })

  function post(key: string | null) {
    return ctx.app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      payload: initialize,
    })
  }

  it('answers 401 with a Bearer challenge pointing at the protected-resource metadata when no key is sent', async () => {
    const response = await post(null)
    assert.equal(response.statusCode, 401)
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="storefront-adcp", resource_metadata="http://localhost:80/.well-known/oauth-protected-resource/mcp"')
    assert.equal(response.json().error.data.adcp_error.code, 'AUTH_REQUIRED')
  })

  it('answers 401 invalid_token for an unknown key', async () => {
    const response = await post('sf_not_a_key_of_anyone_at_all')
    assert.equal(response.statusCode, 401)
    assert.match(String(response.headers['www-authenticate']), /^Bearer realm="storefront-adcp", error="invalid_token"/)
  })

  it('refuses an operator key with 403 PERMISSION_DENIED: operator keys open the REST API only', async () => {
    const response = await post(ctx.key)
    assert.equal(response.statusCode, 403)
    assert.match(String(response.headers['www-authenticate']), /error="insufficient_scope"/)
    assert.equal(response.json().error.data.adcp_error.code, 'PERMISSION_DENIED')
  })

  it('serves a buyer key over plain JSON, even when Accept names only application/json', async () => {
    const response = await post(ctx.buyerKey)
    assert.equal(response.statusCode, 200, response.body)
    assert.match(String(response.headers['content-type']), /^application\/json/)
    assert.equal(response.json().result.serverInfo.name, 'storefront')
  })

  it('refuses a buyer key on the REST API with 403 ACCESS_DENIED', async () => {
    const response = await ctx.api('GET', '/inventory-sources', undefined, { key: ctx.buyerKey })
    assert.equal(response.statusCode, 403)
    assert.equal(response.json().error.code, 'ACCESS_DENIED')
    assert.equal(response.json().error.details.reason, 'WRONG_KEY_ROLE')
    assert.equal((await ctx.api('GET', '/inventory-sources')).statusCode, 200, 'the operator key keeps REST')
  })

  it('answers GET and DELETE /mcp with 405: the agent is stateless', async () => {
    for (const method of ['GET', 'DELETE'] as const) {
      const response = await ctx.app.inject({ method, url: '/mcp', headers: { authorization: `Bearer ${ctx.buyerKey}` } })
      assert.equal(response.statusCode, 405)
      assert.equal(response.headers.allow, 'POST')
    }
  })

  it('lists only the tools the storefront really serves', async () => {
    const client = await ctx.connect(ctx.buyerKey)
    const names = (await client.listTools()).tools.map((tool) => tool.name).sort()
    for (const name of ['get_adcp_capabilities', 'get_products', 'list_creative_formats', 'sync_accounts', 'list_accounts', 'create_media_buy', 'update_media_buy', 'get_media_buys', 'get_media_buy_delivery', 'sync_creatives', 'list_creatives']) {
      assert.ok(names.includes(name), `${name} is listed`)
    }
    // A live key never gets the sandbox's controller.
    for (const name of ['comply_test_controller']) {
      assert.ok(!names.includes(name), `${name} is not offered to a live key`)
    }
  })

  it('claims in get_adcp_capabilities only what it serves: media_buy, CPM pricing, no specialism yet', async () => {
    const client = await ctx.connect(ctx.buyerKey)
    const { isError, payload } = await callTool(client, 'get_adcp_capabilities', { context: { correlation_id: 'caps-1' } })
    assert.equal(isError, false)
    assert.ok((payload.supported_protocols as string[]).includes('media_buy'))
    assert.deepEqual((payload.media_buy as { supported_pricing_models: string[] }).supported_pricing_models, ['cpm', 'flat_rate'])
    assert.equal(payload.status, 'completed')
    assert.equal(payload.specialisms, undefined)
    assert.deepEqual(payload.context, { correlation_id: 'caps-1' })
    assert.deepEqual((payload.adcp as { idempotency: unknown }).idempotency, { supported: true, replay_ttl_seconds: 86_400 })
  })

  it('makes only buyer keys sandbox keys', async () => {
    await assert.rejects(
      ctx.services.access.createKey({ storefront: 'acme', role: 'operator', sandbox: true }),
      (error: Error & { code?: string }) => error.code === 'VALIDATION_ERROR',
    )
    const created = await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'runner' })
    assert.deepEqual([created.role, created.sandbox], ['buyer', true])
  })
})
