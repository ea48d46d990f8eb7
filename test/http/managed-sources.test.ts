import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { Writable } from 'node:stream'
import { after, before, beforeEach, describe, it } from 'node:test'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { json } from '../../src/db/database.ts'
import { createLiveAgentProbe } from '../../src/sources/mcp-agent-probe.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { startFakeSalesAgent, type FakeSalesAgent } from '../helpers/fake-sales-agent.ts'
import { startFakeTenantAgent, UPSTREAM_BODY_MARKER, type FakeTenantAgent, type FakeTenantMode } from '../helpers/fake-tenant-agent.ts'
import { freePort } from '../helpers/free-port.ts'

const GOLDEN = JSON.parse(readFileSync(new URL('../fixtures/managed/tenant-status.storefront.json', import.meta.url), 'utf8')) as Record<string, unknown>

const API_KEY = 'tm_key_0f9e8d7c6b5a4f3e2d1c'
const ROTATED_KEY = 'tm_key_rotated_55aa66bb77cc'
const WRONG_KEY = 'tm_key_wrong_99zz88yy77xx'
const AGENT_TOKEN = 'agent_token_secret_3c4d5e'
const SECRETS = [API_KEY, ROTATED_KEY, WRONG_KEY, AGENT_TOKEN]

describe('managed sales-agent sources', () => {
  let ctx: TestContext
  let tenant: FakeTenantAgent
  let agent: FakeSalesAgent
  const bodies: string[] = []
  const logLines: string[] = []

  /** Every answer of this file goes through here, so none can carry a secret unnoticed. */
  async function api(method: InjectOptions['method'], path: string, body?: unknown): Promise<LightMyRequestResponse> {
    const res = await ctx.api(method, path, body)
    bodies.push(res.body)
    return res
  }

  function ok<T = Record<string, unknown>>(res: LightMyRequestResponse, status = 200): T {
    assert.equal(res.statusCode, status, res.body)
    return res.json() as T
  }

  function error(res: LightMyRequestResponse, status: number): { code: string; message: string; details?: Record<string, unknown> } {
    assert.equal(res.statusCode, status, res.body)
    return res.json().error
  }

  function create(body: Record<string, unknown> = {}) {
    return api('POST', '/inventory-sources/managed', { name: 'Retail GAM', upstreamUrl: tenant.url, tenantId: tenant.tenantId, apiKey: API_KEY, ...body })
  }

  before(async () => {
    tenant = await startFakeTenantAgent({ apiKey: API_KEY })
    agent = await startFakeSalesAgent({ bearerToken: AGENT_TOKEN })
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk))
        done()
      },
    })
    ctx = await createTestContext({ logStream, managedAgentTimeoutMs: 2500, probeAgent: createLiveAgentProbe({ timeoutMs: 2000 }) })
    ok(await create(), 201)
  })
  after(async () => {
    await ctx.close()
    await tenant.close()
    await agent.close()
  })
  beforeEach(async () => {
    tenant.mode = 'ok'
    tenant.apiKey = API_KEY
    await tenant.comeBack().catch(() => undefined)
  })

  describe('POST /inventory-sources/managed', () => {
    it('validates with one live read of the tenant status and creates an ACTIVE source that shows no key', async () => {
      const reads = tenant.statusReads()
      const body = ok<Record<string, unknown>>(await create({ name: 'Second Tenant', description: 'Display on GAM' }), 201)
      assert.equal(tenant.statusReads(), reads + 1)
      const request = tenant.requests.at(-1)!
      assert.equal(request.path, `/api/v1/tenant-management/tenants/${tenant.tenantId}/status`)
      assert.equal(request.headers['x-tenant-management-api-key'], API_KEY)
      assert.equal(body.sourceId, 'second-tenant')
      assert.equal(body.executionType, 'MANAGED_SALES_AGENT')
      assert.equal(body.status, 'ACTIVE')
      assert.equal(body.authConfigured, true)
      assert.equal(body.authenticationType, 'API_KEY')
      assert.equal(body.description, 'Display on GAM')
      assert.deepEqual(body.managedSa, { upstreamUrl: tenant.url, tenantId: tenant.tenantId, mcpUrl: null, agentAuthConfigured: false, lastError: null, lastTestedAt: '2026-11-22T12:00:00.000Z' })
      assert.ok(!JSON.stringify(body).includes(API_KEY))
      const row = await ctx.db.selectFrom('inventory_source').select('auth_ciphertext').where('source_id', '=', 'second-tenant').executeTakeFirstOrThrow()
      assert.ok(row.auth_ciphertext?.startsWith('v1.'), 'the key is sealed at rest')
      assert.ok(!row.auth_ciphertext!.includes(API_KEY))
    })

    it('is listed, read and deleted through the common routes', async () => {
      ok(await create({ sourceId: 'to-delete' }), 201)
      const listed = ok<{ sourceId: string; executionType: string }[]>(await api('GET', '/inventory-sources'))
      assert.ok(listed.some((source) => source.sourceId === 'to-delete' && source.executionType === 'MANAGED_SALES_AGENT'))
      assert.equal(ok<{ sourceId: string }>(await api('GET', '/inventory-sources/to-delete')).sourceId, 'to-delete')
      assert.equal((await api('DELETE', '/inventory-sources/to-delete')).statusCode, 204)
      error(await api('GET', '/inventory-sources/to-delete'), 404)
      error(await api('GET', '/inventory-sources/to-delete/status'), 404)
    })

    it('answers 400 with the reason and stores nothing when the tenant cannot be validated', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ apiKey: WRONG_KEY }, 'UPSTREAM_CREDENTIAL_REJECTED'],
        [{ tenantId: 'tnt_nobody' }, 'TENANT_NOT_FOUND'],
        [{ upstreamUrl: `http://127.0.0.1:${await freePort()}` }, 'UPSTREAM_UNREACHABLE'],
      ]
      for (const [body, reason] of cases) {
        const failure = error(await create({ sourceId: 'never-stored', ...body }), 400)
        assert.equal(failure.code, 'VALIDATION_ERROR')
        assert.equal(failure.details?.reason, reason, failure.message)
        assert.match(failure.message, /^Tenant validation failed: /)
        error(await api('GET', '/inventory-sources/never-stored'), 404)
      }
      tenant.mode = 'http500'
      assert.equal(error(await create({ sourceId: 'never-stored' }), 400).details?.reason, 'UPSTREAM_HTTP_ERROR')
      tenant.mode = 'not-a-status'
      assert.equal(error(await create({ sourceId: 'never-stored' }), 400).details?.reason, 'UPSTREAM_MALFORMED')
    })

    it('refuses bad input naming the field, before any upstream call', async () => {
      const reads = tenant.statusReads()
      const paths = async (body: Record<string, unknown>) =>
        ((error(await create(body), 400).details?.issues ?? []) as { path: string }[]).map((issue) => issue.path)
      assert.deepEqual(await paths({ apiKey: undefined }), ['apiKey'])
      assert.deepEqual(await paths({ apiKey: 'has a space' }), ['apiKey'])
      assert.deepEqual(await paths({ tenantId: 'a/b' }), ['tenantId'])
      assert.deepEqual(await paths({ upstreamUrl: 'ftp://example.com' }), ['upstreamUrl'])
      assert.deepEqual(await paths({ upstreamUrl: `${tenant.url}?page=1` }), ['upstreamUrl'])
      const unknown = error(await create({ endpointUrl: 'https://example.com/mcp' }), 400)
      assert.match(unknown.message, /endpointUrl/)
      const secretInUrl = error(await create({ upstreamUrl: tenant.url.replace('http://', 'http://admin:pw@') }), 400)
      assert.equal(secretInUrl.details?.reason, 'SECRET_NOT_ALLOWED')
      assert.equal(tenant.statusReads(), reads)
    })

    it('answers 409 for a taken sourceId without calling the tenant', async () => {
      const reads = tenant.statusReads()
      assert.equal(error(await create(), 409).details?.reason, 'DUPLICATE_SOURCE_ID')
      assert.equal(tenant.statusReads(), reads)
    })
  })

  describe('GET /inventory-sources/{sourceId}/status', () => {
    beforeEach(async () => {
      ok(await api('POST', '/inventory-sources/retail-gam/refresh'))
    })

    it('converts the tenant status field for field, stamps fetchedAt and merges the storefront setup tasks', async () => {
      assert.deepEqual(ok(await api('GET', '/inventory-sources/retail-gam/status')), GOLDEN)
    })

    it('keeps the blocks an older agent leaves out absent, and the storefront tasks alone in setupTasks', async () => {
      tenant.mode = 'missing-optional'
      const status = ok<Record<string, unknown>>(await api('GET', '/inventory-sources/retail-gam/status'))
      for (const block of ['mediaBuys', 'products', 'webhooks', 'inventoryProfiles']) assert.ok(!(block in status), `${block} is absent`)
      assert.deepEqual(status.packages, { activeCount: 7, pausedCount: 1 })
      const tasks = status.setupTasks as { blockerCount: number; items: { id: string }[] }
      assert.deepEqual(tasks.items.map((task) => task.id), ['source:active'])
      assert.equal(tasks.blockerCount, 0)
    })

    it('keeps webhooks null when the agent reports none yet', async () => {
      tenant.status = { ...tenant.status, webhooks: null }
      try {
        assert.equal(ok<Record<string, unknown>>(await api('GET', '/inventory-sources/retail-gam/status')).webhooks, null)
      } finally {
        tenant.status = { ...tenant.status, webhooks: GOLDEN_WIRE_WEBHOOKS }
      }
    })

    it('makes one upstream call for 100 concurrent reads, and reads again 5 s later by the clock', async () => {
      const reads = tenant.statusReads()
      const answers = await Promise.all(Array.from({ length: 100 }, () => api('GET', '/inventory-sources/retail-gam/status')))
      assert.ok(answers.every((res) => res.statusCode === 200), answers.find((res) => res.statusCode !== 200)?.body)
      assert.equal(new Set(answers.map((res) => res.body)).size, 1)
      assert.equal(tenant.statusReads(), reads + 1)
      ctx.clock.advance(4999)
      ok(await api('GET', '/inventory-sources/retail-gam/status'))
      assert.equal(tenant.statusReads(), reads + 1)
      ctx.clock.advance(1)
      const fresh = ok<{ fetchedAt: string }>(await api('GET', '/inventory-sources/retail-gam/status'))
      assert.equal(tenant.statusReads(), reads + 2)
      assert.equal(fresh.fetchedAt, ctx.clock.now().toISOString())
    })

    it('POST /refresh drops the cached status: the next read calls the tenant', async () => {
      ok(await api('GET', '/inventory-sources/retail-gam/status'))
      const reads = tenant.statusReads()
      const dropped = ok(await api('POST', '/inventory-sources/retail-gam/refresh'))
      assert.deepEqual(dropped, {
        status: 'started', syncRunIds: {}, sourceId: 'retail-gam', cachedStatusDropped: true, refreshedAt: ctx.clock.now().toISOString(),
      })
      assert.equal(ok<{ cachedStatusDropped: boolean }>(await api('POST', '/inventory-sources/retail-gam/refresh')).cachedStatusDropped, false)
      ok(await api('GET', '/inventory-sources/retail-gam/status'))
      assert.equal(tenant.statusReads(), reads + 1)
    })

    it('POST /refresh answers already_running while a read of the tenant is in flight, and the read after it calls again', async () => {
      const hold = tenant.holdAnswers()
      const reading = api('GET', '/inventory-sources/retail-gam/status')
      await hold.arrived
      const refreshed = ok<{ status: string; syncRunIds: unknown }>(await api('POST', '/inventory-sources/retail-gam/refresh'))
      assert.deepEqual([refreshed.status, refreshed.syncRunIds], ['already_running', {}])
      hold.release()
      ok(await reading)
      const reads = tenant.statusReads()
      ok(await api('GET', '/inventory-sources/retail-gam/status'))
      assert.equal(tenant.statusReads(), reads + 1, 'the read in flight at the refresh was not kept')
      assert.equal(ok<{ status: string }>(await api('POST', '/inventory-sources/retail-gam/refresh')).status, 'started')
    })

    const faults: [string, FakeTenantMode | 'down' | 'rotated', string][] = [
      ['down', 'down', 'UPSTREAM_UNREACHABLE'],
      ['slow', 'slow', 'UPSTREAM_TIMEOUT'],
      ['stalled mid-body', 'stalled-body', 'UPSTREAM_TIMEOUT'],
      ['HTTP 500', 'http500', 'UPSTREAM_HTTP_ERROR'],
      ['malformed JSON', 'malformed', 'UPSTREAM_MALFORMED'],
      ['JSON that is not a tenant status', 'not-a-status', 'UPSTREAM_MALFORMED'],
      ['answering more than 1 MiB', 'oversized', 'UPSTREAM_MALFORMED'],
      ['refusing the key', 'rotated', 'UPSTREAM_CREDENTIAL_REJECTED'],
    ]
    for (const [name, mode, reason] of faults) {
      it(`answers 502 UPSTREAM_ERROR ${reason} without the upstream body or the key when the tenant is ${name}`, async () => {
        if (mode === 'down') await tenant.goDown()
        else if (mode === 'rotated') tenant.apiKey = ROTATED_KEY
        else tenant.mode = mode
        const res = await api('GET', '/inventory-sources/retail-gam/status')
        const failure = error(res, 502)
        assert.equal(failure.code, 'UPSTREAM_ERROR')
        assert.equal(failure.details?.reason, reason)
        assert.match(failure.message, /^The tenant status could not be read: The (sales agent|tenant-management API) at 127\.0\.0\.1:\d+ /)
        assert.ok(!res.body.includes(UPSTREAM_BODY_MARKER), res.body)
        for (const secret of SECRETS) assert.ok(!res.body.includes(secret))
      })
    }

    it('answers 502 UPSTREAM_MALFORMED naming the field, not a 500, for a setup task severity outside the reference enum', async () => {
      const tasks = WIRE.setup_tasks as { items: Record<string, unknown>[] }
      tenant.status = { ...tenant.status, setup_tasks: { ...tasks, items: [{ ...tasks.items[0], severity: 'critical' }] } }
      try {
        const failure = error(await api('GET', '/inventory-sources/retail-gam/status'), 502)
        assert.equal(failure.details?.reason, 'UPSTREAM_MALFORMED')
        assert.match(failure.message, /setup_tasks\.items\.0\.severity/)
      } finally {
        tenant.status = { ...tenant.status, setup_tasks: tasks }
      }
    })

    const unshowable: [string, (wire: Record<string, unknown>) => Record<string, unknown>, RegExp][] = [
      ['an operational block without the fields the reference gives it', (wire) => ({ ...wire, operational: { is_live: true, summary: 'x', issues: [] } }), /operational\.discovery_degraded/],
      ['media_buys that is not a block', (wire) => ({ ...wire, media_buys: 'x' }), /media_buys/],
      ['adapter.last_tested_at that is not a time', (wire) => ({ ...wire, adapter: { ...(wire.adapter as object), last_tested_at: 5 } }), /adapter\.last_tested_at/],
    ]
    for (const [name, change, path] of unshowable) {
      it(`answers 502 UPSTREAM_MALFORMED naming the path, not a 500, and caches nothing, for ${name}`, async () => {
        const original = tenant.status
        tenant.status = change(original)
        try {
          const failure = error(await api('GET', '/inventory-sources/retail-gam/status'), 502)
          assert.equal(failure.code, 'UPSTREAM_ERROR')
          assert.equal(failure.details?.reason, 'UPSTREAM_MALFORMED')
          assert.match(failure.message, path)
          const reads = tenant.statusReads()
          error(await api('GET', '/inventory-sources/retail-gam/status'), 502)
          assert.equal(tenant.statusReads(), reads + 1, 'the malformed status was not cached')
        } finally {
          tenant.status = original
        }
      })
    }

    it('passes a well-formed operational block through camelCased', async () => {
      const original = tenant.status
      const operational = {
        is_live: false, discovery_degraded: true, delivery_degraded: false, summary: 'Inventory sync failing',
        issues: [{ code: 'INVENTORY_SYNC_FAILED', severity: 'critical', message: 'The last sync failed.', affects: ['discovery'] }],
      }
      tenant.status = { ...original, operational }
      try {
        const status = ok<Record<string, unknown>>(await api('GET', '/inventory-sources/retail-gam/status'))
        assert.deepEqual(status.operational, {
          isLive: false, discoveryDegraded: true, deliveryDegraded: false, summary: 'Inventory sync failing',
          issues: [{ code: 'INVENTORY_SYNC_FAILED', severity: 'critical', message: 'The last sync failed.', affects: ['discovery'] }],
        })
      } finally {
        tenant.status = original
      }
    })

    it('drops a camelCase key that shadows a known field, whichever comes first and with no snake_case twin', async () => {
      const original = tenant.status
      const { last_tested_at: _lastTestedAt, ...adapter } = original.adapter as Record<string, unknown>
      tenant.status = { ...original, fetchedAt: 'garbage', adapter: { lastTestError: 7, ...adapter, lastTestedAt: 5 } }
      try {
        const status = ok<{ adapter: Record<string, unknown> }>(await api('GET', '/inventory-sources/retail-gam/status'))
        const { lastTestedAt: _dropped, ...expected } = (GOLDEN as { adapter: Record<string, unknown> }).adapter
        assert.deepEqual(status.adapter, expected)
      } finally {
        tenant.status = original
      }
    })

    it('keeps no failure: once the tenant recovers the next read answers', async () => {
      tenant.mode = 'http500'
      error(await api('GET', '/inventory-sources/retail-gam/status'), 502)
      tenant.mode = 'ok'
      ok(await api('GET', '/inventory-sources/retail-gam/status'))
    })
  })

  describe('PUT /inventory-sources/{sourceId}', () => {
    it('rotates the key only after one live read accepts it, and the status reads with the new key at once', async () => {
      ok(await create({ sourceId: 'rotating' }), 201)
      ok(await api('GET', '/inventory-sources/rotating/status'))
      tenant.apiKey = ROTATED_KEY
      const refused = error(await api('PUT', '/inventory-sources/rotating', { apiKey: WRONG_KEY }), 400)
      assert.equal(refused.details?.reason, 'UPSTREAM_CREDENTIAL_REJECTED')
      const kept = ok<{ status: string; managedSa: { lastError: string } }>(await api('GET', '/inventory-sources/rotating'))
      assert.equal(kept.status, 'ACTIVE')
      assert.match(kept.managedSa.lastError, /refused the apiKey \(HTTP 401\)/)
      const reads = tenant.statusReads()
      const rotated = ok<{ status: string; authConfigured: boolean; managedSa: { lastError: null } }>(await api('PUT', '/inventory-sources/rotating', { apiKey: ROTATED_KEY }))
      assert.equal(tenant.statusReads(), reads + 1)
      assert.equal(tenant.requests.at(-1)!.headers['x-tenant-management-api-key'], ROTATED_KEY)
      assert.equal(rotated.status, 'ACTIVE')
      assert.equal(rotated.managedSa.lastError, null)
      // The cached status (read with the old key) was dropped: this read goes upstream with the new one.
      ok(await api('GET', '/inventory-sources/rotating/status'))
      assert.equal(tenant.statusReads(), reads + 2)
      assert.equal(tenant.requests.at(-1)!.headers['x-tenant-management-api-key'], ROTATED_KEY)
    })

    it('changes name and description and moves ACTIVE -> DISABLED without a call, DISABLED -> ACTIVE with one', async () => {
      ok(await create({ sourceId: 'lifecycle' }), 201)
      const reads = tenant.statusReads()
      const disabled = ok<{ name: string; description: string; status: string }>(
        await api('PUT', '/inventory-sources/lifecycle', { name: 'Renamed', description: 'Now off', status: 'disabled' }),
      )
      assert.deepEqual([disabled.name, disabled.description, disabled.status], ['Renamed', 'Now off', 'DISABLED'])
      assert.equal(tenant.statusReads(), reads)
      const status = ok<{ setupTasks: { blockerCount: number; items: { id: string; isComplete: boolean }[] } }>(await api('GET', '/inventory-sources/lifecycle/status'))
      assert.deepEqual(status.setupTasks.items[0], {
        id: 'source:active', name: 'Activate the source', severity: 'blocker', scope: 'platform',
        description: 'The source is DISABLED; set status ACTIVE with PUT.', isComplete: false, configurePath: '/inventory-sources/lifecycle',
      })
      assert.equal(status.setupTasks.blockerCount, 2, 'the storefront blocker plus the tenant one, recounted')
      assert.equal(error(await api('PUT', '/inventory-sources/lifecycle', { status: 'PENDING' }), 400).details?.reason, 'INVALID_STATUS_TRANSITION')
      tenant.mode = 'http500'
      assert.equal(error(await api('PUT', '/inventory-sources/lifecycle', { status: 'ACTIVE' }), 400).details?.reason, 'UPSTREAM_HTTP_ERROR')
      assert.equal(ok<{ status: string }>(await api('GET', '/inventory-sources/lifecycle')).status, 'DISABLED')
      tenant.mode = 'ok'
      assert.equal(ok<{ status: string }>(await api('PUT', '/inventory-sources/lifecycle', { status: 'ACTIVE' })).status, 'ACTIVE')
    })

    it('stores a key rotated on a DISABLED source unchecked, and checks it on activation', async () => {
      ok(await create({ sourceId: 'dormant' }), 201)
      ok(await api('PUT', '/inventory-sources/dormant', { status: 'DISABLED' }))
      const reads = tenant.statusReads()
      ok(await api('PUT', '/inventory-sources/dormant', { apiKey: WRONG_KEY }))
      assert.equal(tenant.statusReads(), reads)
      assert.equal(error(await api('PUT', '/inventory-sources/dormant', { status: 'ACTIVE' }), 400).details?.reason, 'UPSTREAM_CREDENTIAL_REJECTED')
      ok(await api('PUT', '/inventory-sources/dormant', { apiKey: API_KEY, status: 'ACTIVE' }))
    })

    it('answers 409 and keeps DISABLED when the source is disabled while a key rotation is being checked', async () => {
      ok(await create({ sourceId: 'race-disable' }), 201)
      tenant.apiKey = ROTATED_KEY
      const hold = tenant.holdAnswers()
      const rotation = api('PUT', '/inventory-sources/race-disable', { apiKey: ROTATED_KEY })
      await hold.arrived
      assert.equal(ok<{ status: string }>(await api('PUT', '/inventory-sources/race-disable', { status: 'DISABLED' })).status, 'DISABLED')
      hold.release()
      const conflict = error(await rotation, 409)
      assert.equal(conflict.details?.reason, 'SOURCE_CHANGED_CONCURRENTLY')
      assert.equal(ok<{ status: string }>(await api('GET', '/inventory-sources/race-disable')).status, 'DISABLED')
      // The rotated key was not stored: re-activating with the old one reads the tenant with it.
      tenant.apiKey = API_KEY
      assert.equal(ok<{ status: string }>(await api('PUT', '/inventory-sources/race-disable', { status: 'ACTIVE' })).status, 'ACTIVE')
    })

    it('answers 404, not a 500, when the source is deleted while a key rotation is being checked', async () => {
      ok(await create({ sourceId: 'race-delete' }), 201)
      tenant.apiKey = ROTATED_KEY
      const hold = tenant.holdAnswers()
      const rotation = api('PUT', '/inventory-sources/race-delete', { apiKey: ROTATED_KEY })
      await hold.arrived
      assert.equal((await api('DELETE', '/inventory-sources/race-delete')).statusCode, 204)
      hold.release()
      assert.equal(error(await rotation, 404).code, 'NOT_FOUND')
    })

    it('refuses the fields of AGENT sources, naming them, and apiKey on an AGENT source', async () => {
      for (const body of [{ endpointUrl: 'https://example.com/mcp' }, { auth: { type: 'bearer', token: AGENT_TOKEN } }, { protocol: 'MCP' }]) {
        const failure = error(await api('PUT', '/inventory-sources/retail-gam', body), 400)
        assert.deepEqual(failure.details?.issues, [{ path: Object.keys(body)[0], message: 'is not a field of MANAGED_SALES_AGENT sources; PUT takes name, description, status, apiKey, mcpUrl and agentAccessToken' }])
      }
      ok(await api('POST', '/inventory-sources', {
        name: 'Probed Agent', type: 'SALES', endpointUrl: agent.url, protocol: 'MCP', authenticationType: 'API_KEY', auth: { type: 'bearer', token: AGENT_TOKEN },
      }), 201)
      const failure = error(await api('PUT', '/inventory-sources/probed-agent', { apiKey: API_KEY }), 400)
      assert.equal((failure.details?.issues as { path: string }[])[0]!.path, 'apiKey')
    })
  })

  describe('POST /inventory-sources/{sourceId}/test-connection', () => {
    it('reads the tenant status and reports the tenant and its ad server as passed', async () => {
      const result = ok(await api('POST', '/inventory-sources/retail-gam/test-connection'))
      assert.deepEqual(result, {
        success: true, error: null, errorCode: null, remediation: null,
        capabilityChecks: [
          { capability: 'tenant_status', status: 'passed' },
          { capability: 'ad_server', status: 'passed', message: 'The tenant\'s ad server (google_ad_manager) is connected.' },
        ],
        testedAt: ctx.clock.now().toISOString(),
      })
    })

    it('answers 200 success false naming the check, the reference code and a remediation when it fails', async () => {
      tenant.apiKey = ROTATED_KEY
      const refused = ok<Record<string, unknown>>(await api('POST', '/inventory-sources/retail-gam/test-connection'))
      assert.equal(refused.success, false)
      assert.equal(refused.errorCode, 'ADAPTER_INVALID_CREDENTIALS')
      assert.deepEqual(refused.details, { reason: 'UPSTREAM_CREDENTIAL_REJECTED' })
      assert.match(String(refused.remediation), /apiKey/)
      assert.deepEqual((refused.capabilityChecks as { status: string }[]).map((check) => check.status), ['failed', 'not_checked'])
      assert.match(ok<{ managedSa: { lastError: string } }>(await api('GET', '/inventory-sources/retail-gam')).managedSa.lastError, /refused the apiKey/)

      tenant.apiKey = API_KEY
      await tenant.goDown()
      const down = ok<Record<string, unknown>>(await api('POST', '/inventory-sources/retail-gam/test-connection'))
      assert.equal(down.errorCode, 'ADAPTER_CONNECTION_FAILED')
      assert.deepEqual(down.details, { reason: 'UPSTREAM_UNREACHABLE' })
      await tenant.comeBack()

      tenant.status = { ...tenant.status, adapter: { type: 'google_ad_manager', connected: false, last_tested_at: null, last_test_error: 'Network 1234 not found' } }
      try {
        const adServer = ok<Record<string, unknown>>(await api('POST', '/inventory-sources/retail-gam/test-connection'))
        assert.equal(adServer.success, false)
        assert.equal(adServer.error, 'The tenant\'s ad server (google_ad_manager) is not connected: Network 1234 not found.')
        assert.equal(adServer.errorCode, 'ADAPTER_CONNECTION_FAILED')
        assert.deepEqual((adServer.capabilityChecks as { status: string }[]).map((check) => check.status), ['passed', 'failed'])
      } finally {
        tenant.status = { ...tenant.status, adapter: GOLDEN_WIRE_ADAPTER }
      }
      assert.equal(ok<{ success: boolean }>(await api('POST', '/inventory-sources/retail-gam/test-connection')).success, true)
      assert.equal(ok<{ managedSa: { lastError: null } }>(await api('GET', '/inventory-sources/retail-gam')).managedSa.lastError, null)
    })

    it('probes an AGENT source live, records the outcome, and GET /status reports it', async () => {
      ok(await api('POST', '/inventory-sources', {
        name: 'Tested Agent', type: 'SALES', endpointUrl: agent.url, protocol: 'MCP', authenticationType: 'API_KEY', auth: { type: 'bearer', token: AGENT_TOKEN },
      }), 201)
      const passed = ok<Record<string, unknown>>(await api('POST', '/inventory-sources/tested-agent/test-connection'))
      assert.equal(passed.success, true)
      assert.deepEqual(passed.capabilityChecks, [
        { capability: 'reachability', status: 'passed' },
        { capability: 'authentication', status: 'passed' },
        { capability: 'adcp_compliance', status: 'passed' },
      ])
      const status = ok<Record<string, unknown>>(await api('GET', '/inventory-sources/tested-agent/status'))
      assert.deepEqual(status.adapter, { type: 'adcp_mcp', connected: true, lastTestedAt: ctx.clock.now().toISOString(), lastTestError: null })
      for (const block of ['syncs', 'workflows', 'packages', 'creatives', 'products', 'webhooks']) assert.ok(!(block in status), `${block}: no traffic is routed yet`)
      const tasks = status.setupTasks as { blockerCount: number; items: { id: string; isComplete: boolean; description: string }[] }
      assert.deepEqual(tasks.items.map((task) => [task.id, task.isComplete, task.description]), [
        ['source:credential', true, 'The credential is stored (write-only).'],
        ['source:probe', true, 'The last probe passed.'],
        ['source:active', false, 'The source is PENDING; set status ACTIVE with PUT.'],
      ])
      assert.equal(tasks.blockerCount, 1)
    })

    it('reports a refused agent credential as failed authentication, and an unreachable agent as failed reachability', async () => {
      ok(await api('POST', '/inventory-sources', {
        name: 'Wrong Token Agent', type: 'SALES', endpointUrl: agent.url, protocol: 'MCP', authenticationType: 'API_KEY', auth: { type: 'bearer', token: 'not-the-token' },
      }), 201)
      const refused = ok<Record<string, unknown>>(await api('POST', '/inventory-sources/wrong-token-agent/test-connection'))
      assert.equal(refused.success, false)
      assert.equal(refused.errorCode, 'ADAPTER_INVALID_CREDENTIALS')
      assert.deepEqual((refused.capabilityChecks as { capability: string; status: string }[]).map((check) => [check.capability, check.status]), [
        ['reachability', 'passed'], ['authentication', 'failed'], ['adcp_compliance', 'not_checked'],
      ])
      const status = ok<{ adapter: { connected: boolean; lastTestError: string } }>(await api('GET', '/inventory-sources/wrong-token-agent/status'))
      assert.equal(status.adapter.connected, false)
      assert.match(status.adapter.lastTestError, /rejected the credential \(HTTP 401\)/)

      ok(await api('POST', '/inventory-sources', {
        name: 'Gone Agent', type: 'SALES', endpointUrl: `http://127.0.0.1:${await freePort()}/mcp`, protocol: 'MCP', authenticationType: 'API_KEY', auth: { type: 'bearer', token: AGENT_TOKEN },
      }), 201)
      const gone = ok<Record<string, unknown>>(await api('POST', '/inventory-sources/gone-agent/test-connection'))
      assert.equal(gone.success, false)
      assert.equal(gone.errorCode, 'ADAPTER_CONNECTION_FAILED')
      assert.deepEqual(gone.details, { reason: 'AGENT_UNREACHABLE' })
      assert.deepEqual((gone.capabilityChecks as { status: string }[]).map((check) => check.status), ['failed', 'not_checked', 'not_checked'])
    })

    it('reports an agent it cannot probe (no stored credential) as not checked, success false', async () => {
      ok(await api('POST', '/inventory-sources', {
        name: 'Keyless Agent', type: 'SALES', endpointUrl: agent.url, protocol: 'MCP', authenticationType: 'API_KEY',
      }), 201)
      const unprobed = ok<Record<string, unknown>>(await api('POST', '/inventory-sources/keyless-agent/test-connection'))
      assert.equal(unprobed.success, false)
      assert.equal(unprobed.errorCode, 'ADAPTER_INVALID_CONFIG')
      assert.deepEqual(unprobed.details, { reason: 'AGENT_NOT_PROBED' })
      assert.deepEqual((unprobed.capabilityChecks as { status: string }[]).map((check) => check.status), ['not_checked', 'not_checked', 'not_checked'])
    })

    it('answers 404 for a modular source, which has no connection to test', async () => {
      ok(await api('POST', '/inventory-sources/modular/cadent-demo', {}), 201)
      error(await api('POST', '/inventory-sources/talpa-cadent-demo/test-connection'), 404)
      error(await api('POST', '/inventory-sources/talpa-cadent-demo/refresh'), 404)
    })
  })

  describe('AGENT and LINKED_STOREFRONT status', () => {
    it('answers the same shape for a linked storefront from what the storefront knows', async () => {
      const storefront = await ctx.db.selectFrom('storefront').select('id').where('name', '=', 'acme').executeTakeFirstOrThrow()
      const now = ctx.clock.now()
      await ctx.db.insertInto('inventory_source').values({
        storefront_id: storefront.id, source_id: 'linked-wholesale', name: 'Wholesale', execution_type: 'LINKED_STOREFRONT', status: 'ACTIVE',
        setup_metadata: json({}), created_at: now, updated_at: now,
      }).execute()
      assert.deepEqual(ok(await api('GET', '/inventory-sources/linked-wholesale/status')), {
        adapter: { type: 'linked_storefront', connected: false, lastTestedAt: null, lastTestError: null },
        fetchedAt: now.toISOString(),
        setupTasks: {
          blockerCount: 0,
          warningCount: 0,
          items: [{
            id: 'source:active', name: 'Activate the source', severity: 'blocker', scope: 'platform',
            description: 'The source is ACTIVE.', isComplete: true, configurePath: '/inventory-sources/linked-wholesale',
          }],
        },
      })
    })
  })

  describe('secrets', () => {
    it('never echoes a key or an upstream body: no response of this file and no log line carries one', () => {
      assert.ok(bodies.length > 50 && logLines.length > 0, 'nothing was captured, so this test would prove nothing')
      const everything = [...bodies, ...logLines]
      for (const secret of SECRETS) assert.ok(!everything.some((text) => text.includes(secret)), `${secret.slice(0, 8)}… leaked`)
      assert.ok(!everything.some((text) => text.includes(UPSTREAM_BODY_MARKER)), 'an upstream body leaked')
    })
  })
})

const WIRE = JSON.parse(readFileSync(new URL('../fixtures/managed/tenant-status.wire.json', import.meta.url), 'utf8')) as Record<string, unknown>
const GOLDEN_WIRE_WEBHOOKS = WIRE.webhooks
const GOLDEN_WIRE_ADAPTER = WIRE.adapter
