import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

describe('OAuth discovery of the agent (client credentials over buyer keys)', () => {
  let ctx: McpTestContext

  before(async () => {
    ctx = await createMcpTestContext()
  })
  after(async () => {
    await ctx.close()
  })

  function token(body: Record<string, string>, headers: Record<string, string> = {}) {
    return fetch(`${ctx.baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(body).toString(),
    })
  }

  it('names /mcp as the protected resource, exactly as clients call it, and this origin as its authorization server', async () => {
    const response = await fetch(`${ctx.baseUrl}/.well-known/oauth-protected-resource/mcp`)
    assert.equal(response.status, 200)
    const metadata = (await response.json()) as { resource: string; authorization_servers: string[] }
    assert.equal(metadata.resource, ctx.mcpUrl)
    assert.deepEqual(metadata.authorization_servers, [ctx.baseUrl])
  })

  it('publishes RFC 8414 metadata: the issuer, the token endpoint, and only the client-credentials grant', async () => {
    const metadata = (await (await fetch(`${ctx.baseUrl}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>
    assert.equal(metadata.issuer, ctx.baseUrl)
    assert.equal(metadata.token_endpoint, `${ctx.baseUrl}/oauth/token`)
    assert.deepEqual(metadata.grant_types_supported, ['client_credentials'])
  })

  it('exchanges a buyer key (client_secret_basic) for a token that opens /mcp', async () => {
    const basic = Buffer.from(`buyer:${encodeURIComponent(ctx.buyerKey)}`).toString('base64')
    const response = await token({ grant_type: 'client_credentials' }, { authorization: `Basic ${basic}` })
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('cache-control'), 'no-store')
    const issued = (await response.json()) as { access_token: string; token_type: string }
    assert.equal(issued.token_type, 'Bearer')
    const client = await ctx.connect(issued.access_token)
    const { isError } = await callTool(client, 'get_adcp_capabilities', {})
    assert.equal(isError, false)
  })

  it('refuses an operator key, an unknown key and other grants with the RFC 6749 errors', async () => {
    const operator = await token({ grant_type: 'client_credentials', client_id: 'x', client_secret: ctx.key })
    assert.deepEqual([operator.status, ((await operator.json()) as { error: string }).error], [401, 'invalid_client'])
    const unknown = await token({ grant_type: 'client_credentials', client_id: 'x', client_secret: 'sf_nobody_has_this_key_0000' })
    assert.equal(unknown.status, 401)
    assert.match(String(unknown.headers.get('www-authenticate')), /^Basic/)
    const password = await token({ grant_type: 'password', username: 'a', password: 'b' })
    assert.deepEqual([password.status, ((await password.json()) as { error: string }).error], [400, 'unsupported_grant_type'])
  })

  it('answers a bogus JWT at /mcp with 401 invalid_token', async () => {
    const response = await fetch(ctx.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    assert.equal(response.status, 401)
    assert.match(String(response.headers.get('www-authenticate')), /error="invalid_token".*resource_metadata=/)
  })
})
