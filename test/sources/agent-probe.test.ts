import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { AgentProbeResult, AgentProbeTarget } from '../../src/sources/agent-probe.ts'
import { createLiveAgentProbe } from '../../src/sources/mcp-agent-probe.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { COMPLIANT_CAPABILITIES, FULL_SALES_AGENT_TOOLS, startFakeSalesAgent, type FakeSalesAgent } from '../helpers/fake-sales-agent.ts'
import { freePort } from '../helpers/free-port.ts'

const TOKEN = 'tok_probe_secret_4f9a1c'
const WRONG_TOKEN = 'tok_wrong_secret_77d0e2'
const PASSWORD = 'basic_pw_secret_19bb'
const SECRETS = [TOKEN, WRONG_TOKEN, PASSWORD, Buffer.from(`seller:${PASSWORD}`).toString('base64')]

/** Every failure message the probe returned in this file; none may carry a credential. */
const messages: string[] = []

const probe = createLiveAgentProbe({ timeoutMs: 2000 })

async function run(target: Partial<AgentProbeTarget> & { endpointUrl: string }, timeoutMs?: number): Promise<AgentProbeResult> {
  const selected = timeoutMs === undefined ? probe : createLiveAgentProbe({ timeoutMs })
  const result = await selected({ protocol: 'MCP', authenticationType: 'NO_AUTH', auth: null, ...target })
  if (!result.ok) messages.push(result.message)
  return result
}

function bearer(token: string): Pick<AgentProbeTarget, 'authenticationType' | 'auth'> {
  return { authenticationType: 'API_KEY', auth: { type: 'bearer', token } }
}

function failure(result: AgentProbeResult) {
  assert.equal(result.ok, false, 'expected the probe to fail')
  return result as Extract<AgentProbeResult, { ok: false }>
}

describe('live agent probe (MCP)', () => {
  const agents: FakeSalesAgent[] = []
  async function agent(...args: Parameters<typeof startFakeSalesAgent>): Promise<FakeSalesAgent> {
    const started = await startFakeSalesAgent(...args)
    agents.push(started)
    return started
  }
  after(async () => {
    await Promise.all(agents.map((a) => a.close()))
  })

  describe('a compliant sales agent', () => {
    it('passes with an API key sent as Authorization: Bearer and x-adcp-auth', async () => {
      const fake = await agent({ bearerToken: TOKEN })
      const result = await run({ endpointUrl: fake.url, ...bearer(TOKEN) })
      assert.equal(result.ok, true, JSON.stringify(result))
      assert.ok(result.checkedAt instanceof Date)
      const posts = fake.requests.filter((r) => r.method === 'POST')
      assert.ok(posts.length >= 3, 'initialize, tools/list and tools/call go over POST')
      for (const request of posts) {
        assert.equal(request.headers.authorization, `Bearer ${TOKEN}`)
        assert.equal(request.headers['x-adcp-auth'], TOKEN)
      }
    })

    it('passes with HTTP Basic credentials', async () => {
      const fake = await agent({ basicAuth: { username: 'seller', password: PASSWORD } })
      const result = await run({ endpointUrl: fake.url, authenticationType: 'BASIC_AUTH', auth: { type: 'basic', username: 'seller', password: PASSWORD } })
      assert.equal(result.ok, true, JSON.stringify(result))
    })

    it('passes with no credential when the agent is open', async () => {
      const fake = await agent()
      assert.equal((await run({ endpointUrl: fake.url })).ok, true)
    })

    it('reads capabilities sent as JSON text content instead of structuredContent', async () => {
      const fake = await agent({ capabilitiesAs: 'text' })
      assert.equal((await run({ endpointUrl: fake.url })).ok, true)
    })
  })

  describe('credentials', () => {
    it('answers AGENT_UNREACHABLE saying the credential was rejected for a wrong token', async () => {
      const fake = await agent({ bearerToken: TOKEN })
      const result = failure(await run({ endpointUrl: fake.url, ...bearer(WRONG_TOKEN) }))
      assert.equal(result.reason, 'AGENT_UNREACHABLE')
      assert.match(result.message, /rejected the credential \(HTTP 401\)/)
    })

    it('answers AGENT_UNREACHABLE saying a credential is needed when none is sent', async () => {
      const fake = await agent({ bearerToken: TOKEN })
      const result = failure(await run({ endpointUrl: fake.url }))
      assert.equal(result.reason, 'AGENT_UNREACHABLE')
      assert.match(result.message, /requires a credential \(HTTP 401\)/)
    })

    it('answers AGENT_UNREACHABLE for wrong Basic credentials', async () => {
      const fake = await agent({ basicAuth: { username: 'seller', password: 'another' } })
      const result = failure(await run({ endpointUrl: fake.url, authenticationType: 'BASIC_AUTH', auth: { type: 'basic', username: 'seller', password: PASSWORD } }))
      assert.equal(result.reason, 'AGENT_UNREACHABLE')
      assert.match(result.message, /credential/)
    })

    it('treats an AdCP AUTH_INVALID answer to get_adcp_capabilities as a rejected credential', async () => {
      const fake = await agent({ capabilitiesError: { code: 'AUTH_INVALID', message: `token ${TOKEN} is not valid` } })
      const result = failure(await run({ endpointUrl: fake.url, ...bearer(TOKEN) }))
      assert.equal(result.reason, 'AGENT_UNREACHABLE')
      assert.match(result.message, /rejected the credential: get_adcp_capabilities answered AUTH_INVALID/)
    })
  })

  describe('compliance', () => {
    it('answers AGENT_NOT_COMPLIANT naming media_buy when it is not a supported protocol', async () => {
      const fake = await agent({ capabilities: { ...COMPLIANT_CAPABILITIES, supported_protocols: ['signals'] } })
      const result = failure(await run({ endpointUrl: fake.url }))
      assert.equal(result.reason, 'AGENT_NOT_COMPLIANT')
      assert.match(result.message, /supported_protocols does not include media_buy \(declared: signals\)/)
    })

    it('names every missing required tool, and the accounts tools as one of', async () => {
      const tools = FULL_SALES_AGENT_TOOLS.filter((t) => !['get_media_buys', 'update_media_buy', 'list_accounts', 'sync_accounts'].includes(t))
      const fake = await agent({ tools })
      const result = failure(await run({ endpointUrl: fake.url }))
      assert.equal(result.reason, 'AGENT_NOT_COMPLIANT')
      assert.match(result.message, /tools\/list is missing update_media_buy, get_media_buys, one of list_accounts or sync_accounts/)
    })

    it('reports protocol and tool problems together', async () => {
      const fake = await agent({ tools: ['get_adcp_capabilities', 'get_products'], capabilities: { adcp: { major_versions: [3] }, supported_protocols: [] } })
      const result = failure(await run({ endpointUrl: fake.url }))
      assert.equal(result.reason, 'AGENT_NOT_COMPLIANT')
      assert.match(result.message, /does not include media_buy/)
      assert.match(result.message, /missing create_media_buy, update_media_buy, get_media_buys, get_media_buy_delivery/)
    })

    it('answers AGENT_NOT_COMPLIANT for an MCP server without get_adcp_capabilities', async () => {
      const fake = await agent({ tools: ['search_docs'] })
      const result = failure(await run({ endpointUrl: fake.url }))
      assert.equal(result.reason, 'AGENT_NOT_COMPLIANT')
      assert.match(result.message, /not an AdCP sales agent: tools\/list is missing get_adcp_capabilities, get_products/)
    })

    it('answers AGENT_NOT_COMPLIANT when capabilities lack adcp.major_versions', async () => {
      const fake = await agent({ capabilities: { supported_protocols: ['media_buy'] } })
      const result = failure(await run({ endpointUrl: fake.url }))
      assert.equal(result.reason, 'AGENT_NOT_COMPLIANT')
      assert.match(result.message, /adcp\.major_versions/)
    })

    it('answers AGENT_NOT_COMPLIANT when get_adcp_capabilities returns a non-auth error', async () => {
      const fake = await agent({ capabilitiesError: { code: 'SERVICE_UNAVAILABLE', message: 'down for maintenance' } })
      const result = failure(await run({ endpointUrl: fake.url }))
      assert.equal(result.reason, 'AGENT_NOT_COMPLIANT')
      assert.match(result.message, /get_adcp_capabilities returned an error \(SERVICE_UNAVAILABLE\)/)
    })
  })

  describe('reachability', () => {
    it('answers AGENT_UNREACHABLE when nothing is listening', async () => {
      const port = await freePort()
      const result = failure(await run({ endpointUrl: `http://127.0.0.1:${port}/mcp` }))
      assert.equal(result.reason, 'AGENT_UNREACHABLE')
      assert.match(result.message, /connection refused/)
    })

    it('answers AGENT_UNREACHABLE within the timeout when the agent hangs', async () => {
      const fake = await agent({ hang: true })
      const started = Date.now()
      const result = failure(await run({ endpointUrl: fake.url }, 300))
      const elapsed = Date.now() - started
      assert.equal(result.reason, 'AGENT_UNREACHABLE')
      assert.match(result.message, /did not answer MCP initialize within 0\.3 s/)
      // The agent never answers: ending at all proves the timeout. The bound is loose on purpose
      // (a loaded CI machine stalls for seconds); what it catches is a probe that waits for ever.
      assert.ok(elapsed < 10_000, `took ${elapsed} ms`)
    })

    it('answers AGENT_UNREACHABLE naming the status when the URL is not an MCP endpoint', async () => {
      const fake = await agent()
      const result = failure(await run({ endpointUrl: fake.url.replace(/\/mcp$/, '/nothing-here') }))
      assert.equal(result.reason, 'AGENT_UNREACHABLE')
      assert.match(result.message, /answered HTTP 404 on MCP initialize/)
    })
  })

  describe('what it does not probe yet', () => {
    it('answers AGENT_NOT_PROBED for A2A agents without contacting them', async () => {
      const fake = await agent()
      const result = failure(await run({ endpointUrl: fake.url, protocol: 'A2A' }))
      assert.equal(result.reason, 'AGENT_NOT_PROBED')
      assert.match(result.message, /A2A probing is not supported yet/)
      assert.equal(fake.requests.length, 0)
    })

    it('answers AGENT_NOT_PROBED for JWT credentials', async () => {
      const result = failure(await run({
        endpointUrl: 'http://127.0.0.1:9/mcp',
        authenticationType: 'JWT',
        auth: {
          type: 'jwt', privateKey: '-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----', issuer: 'iss', subject: 'sub', keyId: 'kid',
          scope: 'adcp', tokenEndpointUrl: 'https://auth.example.com/token', audienceUrl: 'https://agent.example.com',
        },
      }))
      assert.equal(result.reason, 'AGENT_NOT_PROBED')
      assert.match(result.message, /JWT probing is not supported yet/)
    })

    it('answers AGENT_NOT_PROBED for OAUTH sources and for API_KEY sources with no stored key', async () => {
      assert.equal(failure(await run({ endpointUrl: 'http://127.0.0.1:9/mcp', authenticationType: 'OAUTH' })).reason, 'AGENT_NOT_PROBED')
      const result = failure(await run({ endpointUrl: 'http://127.0.0.1:9/mcp', authenticationType: 'API_KEY' }))
      assert.equal(result.reason, 'AGENT_NOT_PROBED')
      assert.match(result.message, /No credential is stored/)
    })
  })

  it('never puts a credential in any message it returned', () => {
    assert.ok(messages.length >= 10, `only ${messages.length} messages collected`)
    for (const message of messages) {
      for (const secret of SECRETS) assert.ok(!message.includes(secret), `credential leaked in: ${message}`)
    }
  })
})

describe('agent activation through the HTTP API with the live probe', () => {
  let ctx: TestContext
  let compliant: FakeSalesAgent
  let signalsOnly: FakeSalesAgent

  before(async () => {
    compliant = await startFakeSalesAgent({ bearerToken: TOKEN })
    signalsOnly = await startFakeSalesAgent({ capabilities: { ...COMPLIANT_CAPABILITIES, supported_protocols: ['signals'] } })
    ctx = await createTestContext({ probeAgent: createLiveAgentProbe({ timeoutMs: 2000 }) })
  })
  after(async () => {
    await ctx.close()
    await compliant.close()
    await signalsOnly.close()
  })

  const source = (endpointUrl: string, overrides: Record<string, unknown> = {}) => ({
    name: 'Live Agent', type: 'SALES', endpointUrl, protocol: 'MCP', authenticationType: 'API_KEY', auth: { type: 'bearer', token: TOKEN }, ...overrides,
  })

  it('activates an API_KEY source with PUT status ACTIVE after a passing probe', async () => {
    const created = await ctx.api('POST', '/inventory-sources', source(compliant.url, { sourceId: 'live-agent' }))
    assert.equal(created.statusCode, 201, created.body)
    assert.equal(created.json().status, 'PENDING')

    const res = await ctx.api('PUT', '/inventory-sources/live-agent', { status: 'ACTIVE' })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().status, 'ACTIVE')
    assert.equal(res.json().lastError, null)
    assert.ok(res.json().lastCheckedAt)
  })

  it('refuses activation with a wrong key, keeps the source PENDING and stores the probe result', async () => {
    const created = await ctx.api('POST', '/inventory-sources', source(compliant.url, { sourceId: 'wrong-key', auth: { type: 'bearer', token: WRONG_TOKEN } }))
    assert.equal(created.statusCode, 201)
    const res = await ctx.api('PUT', '/inventory-sources/wrong-key', { status: 'ACTIVE' })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().error.code, 'VALIDATION_ERROR')
    assert.equal(res.json().error.details.reason, 'AGENT_UNREACHABLE')
    assert.ok(!res.body.includes(WRONG_TOKEN))

    const after = (await ctx.api('GET', '/inventory-sources/wrong-key')).json()
    assert.equal(after.status, 'PENDING')
    assert.match(after.lastError, /rejected the credential/)
    assert.ok(after.lastCheckedAt)
  })

  it('refuses a NO_AUTH create against a non-compliant agent with 400 AGENT_NOT_COMPLIANT', async () => {
    const res = await ctx.api('POST', '/inventory-sources', source(signalsOnly.url, { sourceId: 'signals-only', authenticationType: 'NO_AUTH', auth: undefined }))
    assert.equal(res.statusCode, 400, res.body)
    assert.equal(res.json().error.code, 'VALIDATION_ERROR')
    assert.equal(res.json().error.details.reason, 'AGENT_NOT_COMPLIANT')
    assert.match(res.json().error.message, /media_buy/)
    assert.equal((await ctx.api('GET', '/inventory-sources/signals-only')).statusCode, 404)
  })
})
