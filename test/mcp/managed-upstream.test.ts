import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { createLiveAgentProbe } from '../../src/sources/mcp-agent-probe.ts'
import { resolveMcpUrl } from '../../src/sources/source-rules.ts'
import { startFakeTenantAgent, type FakeTenantAgent } from '../helpers/fake-tenant-agent.ts'
import { freePort } from '../helpers/free-port.ts'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

/**
 * A managed tenant sold through /mcp like an AGENT source. The tenant's sales agent is the fake
 * tenant agent (its tenant-management API answers the status) serving, on the same origin at
 * /mcp, a real AdCP agent: another storefront of this project with the Cadent demo source, whose
 * buyer key plays the tenant principal's access token.
 */

const DEMO = 'talpa-cadent-demo'
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }
const API_KEY = 'tm_key_managed_upstream_1a2b3c'
const WRONG_TOKEN = 'sf_wrong_principal_token_00000000'

let keySeq = 0
function idempotencyKey(): string {
  return `managed-upstream-${String(++keySeq).padStart(8, '0')}`
}

function flight(): { start_time: string; end_time: string } {
  const start = new Date(Date.now() + 86_400_000)
  return { start_time: start.toISOString(), end_time: new Date(start.getTime() + 7 * 86_400_000).toISOString() }
}

describe('managed sources sold through /mcp', () => {
  let upstream: McpTestContext
  let storefront: McpTestContext
  let tenant: FakeTenantAgent
  let buyer: Client
  let token: string
  let tokenId: string
  let rotatedToken: string
  let upstreamProductIds: string[]
  const bodies: string[] = []
  const logLines: string[] = []

  /** Every REST answer of this file goes through here, so none can carry a secret unnoticed. */
  async function api(method: InjectOptions['method'], path: string, body?: unknown): Promise<LightMyRequestResponse> {
    const res = await storefront.api(method, path, body)
    bodies.push(res.body)
    return res
  }

  function refusal(res: LightMyRequestResponse): { message: string; details: { reason?: string; issues: Array<{ path: string }> } } {
    assert.equal(res.statusCode, 400, res.body)
    return res.json().error
  }

  function createManaged(body: Record<string, unknown>) {
    return api('POST', '/inventory-sources/managed', { upstreamUrl: tenant.url, tenantId: tenant.tenantId, apiKey: API_KEY, ...body })
  }

  async function productIds(): Promise<string[]> {
    const { isError, payload } = await callTool(buyer, 'get_products', { buying_mode: 'wholesale', pagination: { max_results: 100 } })
    assert.equal(isError, false, JSON.stringify(payload))
    bodies.push(JSON.stringify(payload))
    return (payload.products as Array<{ product_id: string }>).map((product) => product.product_id)
  }

  /** The MCP requests the tenant's origin relayed to its agent since `from`. */
  function mcpRequests(from = 0) {
    return tenant.requests.slice(from).filter((request) => request.path.startsWith('/mcp'))
  }

  before(async () => {
    upstream = await createMcpTestContext()
    assert.equal((await upstream.api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
    const principal = await upstream.services.access.createKey({ storefront: 'acme', label: 'tenant principal', role: 'buyer' })
    token = principal.key
    tokenId = principal.id
    rotatedToken = (await upstream.services.access.createKey({ storefront: 'acme', label: 'tenant principal, rotated', role: 'buyer' })).key
    tenant = await startFakeTenantAgent({ apiKey: API_KEY, mcpTarget: upstream.mcpUrl })
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk))
        done()
      },
    })
    storefront = await createMcpTestContext({ logStream, probeAgent: createLiveAgentProbe({ timeoutMs: 5_000 }), managedAgentTimeoutMs: 2_500 })
    assert.equal((await api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
    buyer = await storefront.connect(storefront.buyerKey)
    const synced = await callTool(buyer, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: idempotencyKey() })
    assert.equal(synced.isError, false, JSON.stringify(synced.payload))
    const upstreamBuyer = await upstream.connect(token)
    const listed = await callTool(upstreamBuyer, 'get_products', { buying_mode: 'wholesale' })
    upstreamProductIds = (listed.payload.products as Array<{ product_id: string }>).map((product) => product.product_id)
    assert.ok(upstreamProductIds.length >= 2, 'the tenant\'s agent sells the demo products')
  })
  after(async () => {
    await storefront?.close()
    await tenant?.close()
    await upstream?.close()
  })

  describe('resolveMcpUrl', () => {
    it('resolves mcpUrl absolute, or relative to upstreamUrl as a link on the page at upstreamUrl/', () => {
      assert.equal(resolveMcpUrl('https://sales.example.com', '/mcp/'), 'https://sales.example.com/mcp/')
      assert.equal(resolveMcpUrl('https://sales.example.com/sa', 'mcp/'), 'https://sales.example.com/sa/mcp/')
      assert.equal(resolveMcpUrl('https://sales.example.com/sa/', '/mcp'), 'https://sales.example.com/mcp')
      assert.equal(resolveMcpUrl('https://sales.example.com', 'https://agent.example.net/mcp'), 'https://agent.example.net/mcp')
    })

    it('refuses what is not an http(s) URL without a fragment or credential, naming mcpUrl', () => {
      for (const bad of ['ftp://sales.example.com/mcp', 'javascript:alert(1)', '/mcp#top', 'https://user:pw@sales.example.com/mcp', '/mcp?token=abc']) {
        assert.throws(() => resolveMcpUrl('https://sales.example.com', bad), (error: { details?: { issues?: Array<{ path: string }> } }) => {
          assert.equal(error.details?.issues?.[0]?.path, 'mcpUrl', bad)
          return true
        })
      }
    })
  })

  describe('POST /inventory-sources/managed with mcpUrl and agentAccessToken', () => {
    it('probes the endpoint live with the token and answers it resolved, the token never shown', async () => {
      const seen = tenant.requests.length
      const res = await createManaged({ sourceId: 'retail-tenant', name: 'Retail tenant', mcpUrl: '/mcp', agentAccessToken: token })
      assert.equal(res.statusCode, 201, res.body)
      const body = res.json()
      assert.equal(body.status, 'ACTIVE')
      assert.equal(body.endpointUrl, `${tenant.url}/mcp`)
      assert.equal(body.protocol, 'MCP')
      assert.equal(body.authConfigured, true)
      assert.deepEqual({ mcpUrl: body.managedSa.mcpUrl, agentAuthConfigured: body.managedSa.agentAuthConfigured }, { mcpUrl: '/mcp', agentAuthConfigured: true })
      const probe = mcpRequests(seen)
      assert.ok(probe.length > 0, 'the endpoint was probed')
      for (const request of probe) {
        assert.equal(request.headers.authorization, `Bearer ${token}`)
        assert.equal(request.headers['x-tenant-management-api-key'], undefined, 'the tenant-management key never goes to the MCP endpoint')
      }
      const statusRead = tenant.requests.slice(seen).find((request) => request.path.startsWith('/api/'))!
      assert.equal(statusRead.headers.authorization, undefined, 'the token never goes to the tenant-management API')
    })

    it('creates a source without them as before: watched, not sold, agentAuthConfigured false', async () => {
      const res = await createManaged({ sourceId: 'watched-tenant', name: 'Watched tenant' })
      assert.equal(res.statusCode, 201, res.body)
      assert.deepEqual({ mcpUrl: res.json().managedSa.mcpUrl, agentAuthConfigured: res.json().managedSa.agentAuthConfigured, endpointUrl: res.json().endpointUrl }, { mcpUrl: null, agentAuthConfigured: false, endpointUrl: null })
    })

    it('refuses an mcpUrl that is not a URL, naming mcpUrl, before any upstream call', async () => {
      const reads = tenant.statusReads()
      const error = refusal(await createManaged({ sourceId: 'bad-scheme', name: 'Bad scheme', mcpUrl: 'ftp://127.0.0.1/mcp', agentAccessToken: token }))
      assert.equal(error.details.issues[0]!.path, 'mcpUrl')
      assert.equal(tenant.statusReads(), reads)
      assert.equal((await api('GET', '/inventory-sources/bad-scheme')).statusCode, 404)
    })

    it('refuses an mcpUrl where no agent answers with 400 naming mcpUrl and the reason, and stores nothing', async () => {
      const nothing = `http://127.0.0.1:${await freePort()}/mcp`
      const down = refusal(await createManaged({ sourceId: 'nothing-there', name: 'Nothing there', mcpUrl: nothing, agentAccessToken: token }))
      assert.equal(down.details.issues[0]!.path, 'mcpUrl')
      assert.equal(down.details.reason, 'AGENT_UNREACHABLE')
      assert.match(down.message, /^mcpUrl: Agent probe failed: Nothing is listening at 127\.0\.0\.1:\d+ \(connection refused\)\.$/)
      const notMcp = refusal(await createManaged({ sourceId: 'not-mcp', name: 'Not MCP', mcpUrl: '/api/v1/tenant-management/health', agentAccessToken: token }))
      assert.equal(notMcp.details.issues[0]!.path, 'mcpUrl')
      assert.equal(notMcp.details.reason, 'AGENT_UNREACHABLE')
      assert.match(notMcp.message, /HTTP 404/)
      for (const sourceId of ['nothing-there', 'not-mcp']) assert.equal((await api('GET', `/inventory-sources/${sourceId}`)).statusCode, 404)
    })

    it('refuses a token the endpoint rejects with 400 naming agentAccessToken', async () => {
      const error = refusal(await createManaged({ sourceId: 'wrong-token', name: 'Wrong token', mcpUrl: '/mcp', agentAccessToken: WRONG_TOKEN }))
      assert.equal(error.details.issues[0]!.path, 'agentAccessToken')
      assert.equal(error.details.reason, 'AGENT_UNREACHABLE')
      assert.equal((await api('GET', '/inventory-sources/wrong-token')).statusCode, 404)
    })

    it('refuses one half of the endpoint without the other, naming the missing field', async () => {
      assert.equal(refusal(await createManaged({ sourceId: 'half-a', name: 'Half', mcpUrl: '/mcp' })).details.issues[0]!.path, 'agentAccessToken')
      assert.equal(refusal(await createManaged({ sourceId: 'half-b', name: 'Half', agentAccessToken: token })).details.issues[0]!.path, 'mcpUrl')
    })
  })

  describe('at /mcp', () => {
    it('lists the tenant\'s products in a buyer get_products, namespaced by the source, next to the modular ones', async () => {
      const ids = await productIds()
      for (const id of upstreamProductIds) assert.ok(ids.includes(`retail-tenant:${id}`), `lists retail-tenant:${id}`)
      assert.ok(ids.some((id) => id.startsWith(`${DEMO}:`)), 'and the storefront\'s own modular products')
      assert.ok(!ids.some((id) => id.startsWith('watched-tenant:')), 'a tenant without its endpoint is not sold')
    })

    it('forwards a create_media_buy of its product to the tenant\'s agent and follows the buy there', async () => {
      const { payload } = await callTool(buyer, 'get_products', { buying_mode: 'wholesale', pagination: { max_results: 100 } })
      const productId = `retail-tenant:${upstreamProductIds[0]}`
      const product = (payload.products as Array<{ product_id: string; pricing_options: Array<{ pricing_option_id: string; fixed_price: number }> }>).find((candidate) => candidate.product_id === productId)!
      const seen = tenant.requests.length
      const created = await callTool(buyer, 'create_media_buy', {
        account: ACCOUNT, brand: ACCOUNT.brand, idempotency_key: idempotencyKey(), ...flight(),
        packages: [{ product_id: productId, pricing_option_id: product.pricing_options[0]!.pricing_option_id, budget: product.pricing_options[0]!.fixed_price }],
      })
      assert.equal(created.isError, false, JSON.stringify(created.payload))
      assert.equal(created.payload.status, 'submitted')
      assert.ok(mcpRequests(seen).every((request) => request.headers.authorization === `Bearer ${token}`), 'placed with the principal\'s token')

      // The buy lives on the tenant's agent, placed as the tenant principal.
      const upstreamBuys = await upstream.db.selectFrom('media_buy').selectAll().execute()
      assert.equal(upstreamBuys.length, 1)
      const upstreamId = upstreamBuys[0]!.media_buy_id
      const open = (await upstream.api('GET', `/inventory-sources/${DEMO}/modular/work-items?status=OPEN`)).json().items as Array<{ id: string; kind: string }>
      for (const [index, item] of open.filter((candidate) => candidate.kind === 'TRAFFIC_TO_CADENT').entries()) {
        assert.equal((await upstream.api('POST', `/inventory-sources/${DEMO}/modular/work-items/${item.id}/complete`, { result: { cadentCampaignId: `CAD-MG-${index}` } })).statusCode, 200)
      }
      const done = await callTool(buyer, 'tasks_get', { task_id: String(created.payload.task_id), account: ACCOUNT, include_result: true })
      assert.equal(done.payload.status, 'completed', JSON.stringify(done.payload))
      const mediaBuyId = (done.payload.result as { media_buy_id: string }).media_buy_id
      assert.match(mediaBuyId, /^mb_/)
      const listed = await callTool(buyer, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
      const buys = listed.payload.media_buys as Array<{ media_buy_id: string; packages: Array<{ product_id: string }> }>
      assert.deepEqual(buys.map((buy) => [buy.media_buy_id, buy.packages[0]!.product_id]), [[mediaBuyId, productId]])
      for (const answer of [created.payload, done.payload, listed.payload]) {
        bodies.push(JSON.stringify(answer))
        assert.ok(!JSON.stringify(answer).includes(upstreamId), 'the buyer never sees the upstream id')
      }
      assert.equal((await api('DELETE', '/inventory-sources/retail-tenant')).json().error.details.reason, 'SOURCE_HAS_FORWARDED_BUYS')
    })

    it('is no longer sold once DISABLED, and again once re-activated (both checks live)', async () => {
      assert.equal((await createManaged({ sourceId: 'second-tenant', name: 'Second tenant', mcpUrl: `${tenant.url}/mcp/`, agentAccessToken: token })).statusCode, 201)
      assert.ok((await productIds()).some((id) => id.startsWith('second-tenant:')))
      assert.equal((await api('PUT', '/inventory-sources/second-tenant', { status: 'DISABLED' })).statusCode, 200)
      assert.ok(!(await productIds()).some((id) => id.startsWith('second-tenant:')))
      const seen = tenant.requests.length
      assert.equal((await api('PUT', '/inventory-sources/second-tenant', { status: 'ACTIVE' })).statusCode, 200)
      assert.ok(mcpRequests(seen).length > 0, 'activation probes the endpoint')
      assert.ok((await productIds()).some((id) => id.startsWith('second-tenant:')))
    })
  })

  describe('PUT /inventory-sources/{sourceId}', () => {
    it('rotates the token only after a probe accepts it; a refused one changes nothing but lastError', async () => {
      const refused = refusal(await api('PUT', '/inventory-sources/retail-tenant', { agentAccessToken: WRONG_TOKEN }))
      assert.equal(refused.details.issues[0]!.path, 'agentAccessToken')
      const kept = (await api('GET', '/inventory-sources/retail-tenant')).json()
      assert.match(kept.lastError, /^Agent probe failed: The agent rejected the credential/)
      assert.ok((await productIds()).some((id) => id.startsWith('retail-tenant:')), 'still sold with the old token')

      const rotated = await api('PUT', '/inventory-sources/retail-tenant', { agentAccessToken: rotatedToken })
      assert.equal(rotated.statusCode, 200, rotated.body)
      assert.equal(rotated.json().managedSa.agentAuthConfigured, true)
      const seen = tenant.requests.length
      assert.ok((await productIds()).some((id) => id.startsWith('retail-tenant:')))
      // retail-tenant's endpoint is /mcp; second-tenant's, still on the first token, is /mcp/.
      const asked = mcpRequests(seen).filter((request) => request.path === '/mcp')
      assert.ok(asked.length > 0 && asked.every((request) => request.headers.authorization === `Bearer ${rotatedToken}`), 'buyer traffic uses the rotated token')
    })

    it('refuses a bad mcpUrl with 400 naming mcpUrl and keeps the endpoint', async () => {
      const nothing = `http://127.0.0.1:${await freePort()}/mcp`
      const error = refusal(await api('PUT', '/inventory-sources/retail-tenant', { mcpUrl: nothing }))
      assert.equal(error.details.issues[0]!.path, 'mcpUrl')
      assert.equal(error.details.reason, 'AGENT_UNREACHABLE')
      assert.equal(refusal(await api('PUT', '/inventory-sources/retail-tenant', { mcpUrl: 'mailto:ops@example.com' })).details.issues[0]!.path, 'mcpUrl')
      const kept = (await api('GET', '/inventory-sources/retail-tenant')).json()
      assert.deepEqual([kept.endpointUrl, kept.managedSa.mcpUrl], [`${tenant.url}/mcp`, '/mcp'])
    })

    it('moves the endpoint to a new mcpUrl after a probe, keeping the token', async () => {
      const moved = await api('PUT', '/inventory-sources/retail-tenant', { mcpUrl: 'mcp/' })
      assert.equal(moved.statusCode, 200, moved.body)
      assert.deepEqual([moved.json().endpointUrl, moved.json().managedSa.mcpUrl], [`${tenant.url}/mcp/`, 'mcp/'])
      assert.ok((await productIds()).some((id) => id.startsWith('retail-tenant:')))
    })

    it('refuses one half of an endpoint on a source without one, and the fields on an AGENT source', async () => {
      assert.equal(refusal(await api('PUT', '/inventory-sources/watched-tenant', { mcpUrl: '/mcp' })).details.issues[0]!.path, 'agentAccessToken')
      const agent = await api('POST', '/inventory-sources', { sourceId: 'plain-agent', name: 'Plain agent', type: 'SALES', endpointUrl: upstream.mcpUrl, protocol: 'MCP', authenticationType: 'API_KEY', auth: { type: 'bearer', token } })
      assert.equal(agent.statusCode, 201, agent.body)
      for (const field of ['mcpUrl', 'agentAccessToken']) {
        assert.equal(refusal(await api('PUT', '/inventory-sources/plain-agent', { [field]: field === 'mcpUrl' ? '/mcp' : token })).details.issues[0]!.path, field)
      }
    })
  })

  describe('POST /inventory-sources/{sourceId}/test-connection', () => {
    it('probes the tenant\'s MCP endpoint after its status, as the mcp_endpoint check', async () => {
      const res = await api('POST', '/inventory-sources/retail-tenant/test-connection')
      assert.equal(res.statusCode, 200, res.body)
      const body = res.json()
      assert.equal(body.success, true, res.body)
      assert.deepEqual(body.capabilityChecks.map((check: { capability: string; status: string }) => [check.capability, check.status]), [['tenant_status', 'passed'], ['ad_server', 'passed'], ['mcp_endpoint', 'passed']])
      const watched = (await api('POST', '/inventory-sources/watched-tenant/test-connection')).json()
      assert.ok(!watched.capabilityChecks.some((check: { capability: string }) => check.capability === 'mcp_endpoint'), 'a tenant without an endpoint has no such check')
    })

    it('reports a token the endpoint no longer accepts as a failed mcp_endpoint check, success false, and records it', async () => {
      // second-tenant still holds the first principal token; the tenant's agent revokes it.
      await upstream.services.access.revokeKey(tokenId)
      const res = await api('POST', '/inventory-sources/second-tenant/test-connection')
      assert.equal(res.statusCode, 200, res.body)
      const body = res.json()
      assert.equal(body.success, false)
      assert.equal(body.errorCode, 'ADAPTER_INVALID_CREDENTIALS')
      assert.equal(body.details.reason, 'AGENT_UNREACHABLE')
      assert.match(body.remediation, /agentAccessToken/)
      assert.deepEqual(body.capabilityChecks.map((check: { capability: string; status: string }) => [check.capability, check.status]), [['tenant_status', 'passed'], ['ad_server', 'passed'], ['mcp_endpoint', 'failed']])
      assert.match((await api('GET', '/inventory-sources/second-tenant')).json().lastError, /rejected the credential/)
    })
  })

  describe('secrets', () => {
    it('never shows a token or the tenant key: no REST answer, no buyer answer and no log line carries one', async () => {
      bodies.push((await api('GET', '/inventory-sources')).body)
      assert.ok(bodies.length > 20 && logLines.length > 0, 'answers and log lines were recorded')
      for (const secret of [token, rotatedToken, WRONG_TOKEN, API_KEY]) {
        assert.ok(!bodies.some((body) => body.includes(secret)), `an answer carries ${secret.slice(0, 8)}…`)
        assert.ok(!logLines.some((line) => line.includes(secret)), `a log line carries ${secret.slice(0, 8)}…`)
      }
      const row = await storefront.db.selectFrom('inventory_source').select(['agent_auth_ciphertext', 'setup_metadata']).where('source_id', '=', 'retail-tenant').executeTakeFirstOrThrow()
      assert.ok(row.agent_auth_ciphertext !== null && !row.agent_auth_ciphertext.includes(rotatedToken), 'sealed at rest')
      assert.ok(!JSON.stringify(row.setup_metadata).includes(rotatedToken))
    })
  })
})
