import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { AgentProbe } from '../../src/sources/agent-probe.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'

const agent = {
  name: 'Retail Network Agent',
  type: 'SALES',
  endpointUrl: 'https://agent.retail-network.example.com/mcp',
  protocol: 'MCP',
  authenticationType: 'API_KEY',
  auth: { type: 'bearer', token: 'tok_live_super_secret_value' },
  description: 'On-site display and CTV inventory',
}

/** A probe that passes only for endpoints the test declares compliant, like a real agent would. */
function scriptedProbe(compliant: Set<string>, unreachable: Set<string> = new Set()): AgentProbe {
  return async (target) => {
    const checkedAt = new Date()
    if (unreachable.has(target.endpointUrl)) return { ok: false, checkedAt, reason: 'AGENT_UNREACHABLE', message: `connect ECONNREFUSED ${target.endpointUrl}` }
    if (!compliant.has(target.endpointUrl)) return { ok: false, checkedAt, reason: 'AGENT_NOT_COMPLIANT', message: 'get_adcp_capabilities did not list media_buy' }
    return { ok: true, checkedAt }
  }
}

describe('inventory sources API', () => {
  let ctx: TestContext
  const compliant = new Set(['https://agent.retail-network.example.com/mcp', 'https://open.example.com/mcp'])
  const unreachable = new Set(['https://down.example.com/mcp'])

  before(async () => {
    ctx = await createTestContext({ probeAgent: scriptedProbe(compliant, unreachable) })
  })
  after(() => ctx.close())

  describe('authentication', () => {
    it('answers 401 UNAUTHORIZED without a key', async () => {
      const res = await ctx.api('GET', '/inventory-sources', undefined, { key: null })
      assert.equal(res.statusCode, 401)
      assert.deepEqual(res.json(), { data: null, error: { code: 'UNAUTHORIZED', message: 'Missing or invalid API key' } })
    })

    it('answers 401 for an unknown key and for a malformed header', async () => {
      assert.equal((await ctx.api('GET', '/inventory-sources', undefined, { key: 'sf_not_a_real_key_at_all' })).statusCode, 401)
      const res = await ctx.app.inject({ method: 'GET', url: '/api/v2/storefront/inventory-sources', headers: { authorization: `Basic ${ctx.key}` } })
      assert.equal(res.statusCode, 401)
    })

    it('revokes a key by the prefix shown in lists, and answers 404 for an unknown one', async () => {
      const created = await ctx.services.access.createKey({ storefront: 'acme', label: 'by prefix' })
      const revoked = await ctx.services.access.revokeKey(created.prefix)
      assert.equal(revoked.id, created.id)
      assert.ok(revoked.revokedAt)
      assert.equal((await ctx.api('GET', '/inventory-sources', undefined, { key: created.key })).statusCode, 401)
      await assert.rejects(ctx.services.access.revokeKey('sf_nothing'), { code: 'NOT_FOUND' })
    })

    it('refuses a revoked key', async () => {
      const created = await ctx.services.access.createKey({ storefront: 'acme', label: 'to revoke' })
      assert.equal((await ctx.api('GET', '/inventory-sources', undefined, { key: created.key })).statusCode, 200)
      await ctx.services.access.revokeKey(created.id)
      assert.equal((await ctx.api('GET', '/inventory-sources', undefined, { key: created.key })).statusCode, 401)
    })
  })

  describe('POST /inventory-sources', () => {
    it('creates an AGENT source as PENDING with a slugified sourceId and never echoes the credential', async () => {
      const res = await ctx.api('POST', '/inventory-sources', agent)
      assert.equal(res.statusCode, 201)
      const body = res.json()
      assert.equal(body.sourceId, 'retail-network-agent')
      assert.equal(body.executionType, 'AGENT')
      assert.equal(body.status, 'PENDING')
      assert.equal(body.type, 'SALES')
      assert.equal(body.protocol, 'MCP')
      assert.equal(body.authenticationType, 'API_KEY')
      assert.equal(body.authConfigured, true)
      assert.equal(body.isAdapterSource, false)
      assert.equal(body.sandbox, false, 'not sandbox supply unless created with sandbox: true')
      assert.equal(body.managedSa, null)
      assert.equal(body.linkedStorefront, null)
      assert.match(body.id, /^\d+$/)
      assert.match(body.createdAt, /Z$/)
      assert.ok(!res.body.includes('tok_live_super_secret_value'))
      assert.ok(!('auth' in body))
    })

    it('stores the credential encrypted at rest', async () => {
      const row = await ctx.db.selectFrom('inventory_source').select('auth_ciphertext').where('source_id', '=', 'retail-network-agent').executeTakeFirstOrThrow()
      assert.ok(row.auth_ciphertext?.startsWith('v1.'))
      assert.ok(!row.auth_ciphertext!.includes('tok_live'))
    })

    it('accepts enums in any letter case and emits them upper case', async () => {
      const res = await ctx.api('POST', '/inventory-sources', {
        ...agent, sourceId: 'lower-case', executionType: 'agent', type: 'signal', protocol: 'a2a', authenticationType: 'basic_auth',
        auth: { type: 'basic', username: 'u', password: 'p' },
      })
      assert.equal(res.statusCode, 201)
      assert.equal(res.json().type, 'SIGNAL')
      assert.equal(res.json().protocol, 'A2A')
      assert.equal(res.json().authenticationType, 'BASIC_AUTH')
    })

    it('lets API_KEY and BASIC_AUTH sources start without a credential', async () => {
      const res = await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'no-secret-yet', auth: undefined })
      assert.equal(res.statusCode, 201)
      assert.equal(res.json().authConfigured, false)
      assert.equal(res.json().status, 'PENDING')
    })

    it('refuses a duplicate sourceId with 409 CONFLICT', async () => {
      const res = await ctx.api('POST', '/inventory-sources', agent)
      assert.equal(res.statusCode, 409)
      assert.equal(res.json().error.code, 'CONFLICT')
      assert.equal(res.json().error.details.reason, 'DUPLICATE_SOURCE_ID')
    })

    it('lets another storefront use the same sourceId', async () => {
      const res = await ctx.api('POST', '/inventory-sources', agent, { key: ctx.otherKey })
      assert.equal(res.statusCode, 201)
    })

    it('lists every missing and invalid field with its path', async () => {
      const res = await ctx.api('POST', '/inventory-sources', { name: '', type: 'BROKER', endpointUrl: 'ftp://x', auth: { type: 'bearer' } })
      assert.equal(res.statusCode, 400)
      const { error } = res.json()
      assert.equal(error.code, 'VALIDATION_ERROR')
      const paths = error.details.issues.map((i: { path: string }) => i.path)
      for (const path of ['name', 'type', 'endpointUrl', 'protocol', 'authenticationType', 'auth.token']) assert.ok(paths.includes(path), `missing ${path} in ${paths}`)
    })

    it('refuses an invalid explicit sourceId', async () => {
      const res = await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'Has Spaces' })
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().error.details.issues[0].path, 'sourceId')
    })

    it('refuses a name that cannot become a sourceId', async () => {
      const res = await ctx.api('POST', '/inventory-sources', { ...agent, name: '???' })
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().error.details.issues[0].path, 'sourceId')
    })

    it('refuses executionType other than AGENT', async () => {
      const res = await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'x1', executionType: 'MODULAR_SOURCE' })
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().error.details.issues[0].path, 'executionType')
    })

    it('refuses auth for NO_AUTH and OAUTH, requires it for JWT, and checks its type', async () => {
      for (const [authenticationType, auth, path] of [
        ['NO_AUTH', { type: 'bearer', token: 't' }, 'auth'],
        ['OAUTH', { type: 'bearer', token: 't' }, 'auth'],
        ['JWT', undefined, 'auth'],
        ['API_KEY', { type: 'basic', username: 'u', password: 'p' }, 'auth.type'],
      ] as const) {
        const res = await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'auth-rules', authenticationType, auth })
        assert.equal(res.statusCode, 400, `${authenticationType}: ${res.body}`)
        assert.equal(res.json().error.details.issues[0].path, path)
      }
    })

    it('activates a NO_AUTH agent that passes the live probe', async () => {
      const res = await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'open-agent', endpointUrl: 'https://open.example.com/mcp', authenticationType: 'NO_AUTH', auth: undefined })
      assert.equal(res.statusCode, 201)
      assert.equal(res.json().status, 'ACTIVE')
      assert.equal(res.json().authConfigured, false)
      assert.ok(res.json().lastCheckedAt)
    })

    it('refuses a NO_AUTH agent whose probe fails, and writes nothing', async () => {
      const res = await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'down-agent', endpointUrl: 'https://down.example.com/mcp', authenticationType: 'NO_AUTH', auth: undefined })
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().error.details.reason, 'AGENT_UNREACHABLE')
      assert.equal((await ctx.api('GET', '/inventory-sources/down-agent')).statusCode, 404)
    })

    it('refuses unknown fields instead of ignoring them', async () => {
      const res = await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'extra', colour: 'blue' })
      assert.equal(res.statusCode, 400)
    })

    it('answers 400 for a body that is not JSON', async () => {
      const res = await ctx.api('POST', '/inventory-sources', '{"name":', { headers: { 'content-type': 'application/json' } })
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().error.code, 'VALIDATION_ERROR')
    })
  })

  describe('GET /inventory-sources', () => {
    it('pages with take and skip and reports the total in X-Total-Count', async () => {
      const all = await ctx.api('GET', '/inventory-sources')
      assert.equal(all.statusCode, 200)
      const total = Number(all.headers['x-total-count'])
      assert.equal(all.json().length, total)
      assert.ok(total >= 4)
      const page = await ctx.api('GET', '/inventory-sources?take=2&skip=1')
      assert.deepEqual(page.json().map((s: { sourceId: string }) => s.sourceId), all.json().slice(1, 3).map((s: { sourceId: string }) => s.sourceId))
      assert.equal(page.headers['x-total-count'], String(total))
    })

    it('bounds take at 200', async () => {
      const res = await ctx.api('GET', '/inventory-sources?take=201')
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().error.details.issues[0].path, 'take')
    })

    it('shows only the caller storefront sources', async () => {
      const other = await ctx.api('GET', '/inventory-sources', undefined, { key: ctx.otherKey })
      assert.deepEqual(other.json().map((s: { sourceId: string }) => s.sourceId), ['retail-network-agent'])
    })
  })

  describe('GET /inventory-sources/{sourceId}', () => {
    it('reads one source', async () => {
      const res = await ctx.api('GET', '/inventory-sources/retail-network-agent')
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().name, 'Retail Network Agent')
    })

    it('answers another storefront source with the same 404 as a missing one', async () => {
      await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'globex-only' }, { key: ctx.otherKey })
      const foreign = await ctx.api('GET', '/inventory-sources/globex-only')
      const missing = await ctx.api('GET', '/inventory-sources/never-existed')
      assert.equal(foreign.statusCode, 404)
      assert.deepEqual(foreign.json(), { data: null, error: { code: 'NOT_FOUND', message: 'Inventory source globex-only not found' } })
      assert.deepEqual(missing.json(), { data: null, error: { code: 'NOT_FOUND', message: 'Inventory source never-existed not found' } })
      assert.equal(Object.keys(foreign.json().error).sort().join(), Object.keys(missing.json().error).sort().join())
    })
  })

  describe('PUT /inventory-sources/{sourceId}', () => {
    it('updates a subset of fields', async () => {
      const res = await ctx.api('PUT', '/inventory-sources/retail-network-agent', { name: 'Retail Network Agent (Primary)', description: 'Display and CTV' })
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().name, 'Retail Network Agent (Primary)')
      assert.equal(res.json().description, 'Display and CTV')
      assert.equal(res.json().endpointUrl, agent.endpointUrl)
    })

    it('refuses an empty body', async () => {
      const res = await ctx.api('PUT', '/inventory-sources/retail-network-agent', {})
      assert.equal(res.statusCode, 400)
    })

    it('activates after a passing live probe', async () => {
      const res = await ctx.api('PUT', '/inventory-sources/retail-network-agent', { status: 'active' })
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.json().status, 'ACTIVE')
      assert.equal(res.json().lastCheckedAt, ctx.clock.now().toISOString())
      assert.equal(res.json().lastError, null)
    })

    it('refuses activation when the probe fails, keeps the status and stores the probe result', async () => {
      await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'bad-agent', endpointUrl: 'https://not-compliant.example.com/mcp' })
      const res = await ctx.api('PUT', '/inventory-sources/bad-agent', { status: 'ACTIVE' })
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().error.details.reason, 'AGENT_NOT_COMPLIANT')
      const after = (await ctx.api('GET', '/inventory-sources/bad-agent')).json()
      assert.equal(after.status, 'PENDING')
      assert.match(after.lastError, /media_buy/)
      assert.ok(after.lastCheckedAt)
    })

    it('allows ACTIVE -> DISABLED -> ACTIVE and refuses any move back to PENDING', async () => {
      assert.equal((await ctx.api('PUT', '/inventory-sources/retail-network-agent', { status: 'DISABLED' })).json().status, 'DISABLED')
      const back = await ctx.api('PUT', '/inventory-sources/retail-network-agent', { status: 'PENDING' })
      assert.equal(back.statusCode, 400)
      assert.equal(back.json().error.details.reason, 'INVALID_STATUS_TRANSITION')
      assert.equal((await ctx.api('PUT', '/inventory-sources/retail-network-agent', { status: 'ACTIVE' })).json().status, 'ACTIVE')
    })

    it('allows PENDING -> DISABLED without a probe', async () => {
      const res = await ctx.api('PUT', '/inventory-sources/no-secret-yet', { status: 'DISABLED' })
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().status, 'DISABLED')
    })

    it('rotates the credential without echoing it', async () => {
      const before = await ctx.db.selectFrom('inventory_source').select('auth_ciphertext').where('source_id', '=', 'no-secret-yet').executeTakeFirstOrThrow()
      const res = await ctx.api('PUT', '/inventory-sources/no-secret-yet', { auth: { type: 'api_key', token: 'rotated_secret_token' } })
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().authConfigured, true)
      assert.ok(!res.body.includes('rotated_secret_token'))
      const after = await ctx.db.selectFrom('inventory_source').select('auth_ciphertext').where('source_id', '=', 'no-secret-yet').executeTakeFirstOrThrow()
      assert.notEqual(after.auth_ciphertext, before.auth_ciphertext)
    })

    it('re-probes an ACTIVE source whose endpoint changes and refuses a failing one', async () => {
      const res = await ctx.api('PUT', '/inventory-sources/retail-network-agent', { endpointUrl: 'https://down.example.com/mcp' })
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().error.details.reason, 'AGENT_UNREACHABLE')
      assert.equal((await ctx.api('GET', '/inventory-sources/retail-network-agent')).json().endpointUrl, agent.endpointUrl)
    })

    it('drops a stored credential that no longer fits a new authenticationType', async () => {
      const res = await ctx.api('PUT', '/inventory-sources/lower-case', { authenticationType: 'OAUTH' })
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().authConfigured, false)
      assert.equal(res.json().authenticationType, 'OAUTH')
    })

    it('answers 404 for another storefront source', async () => {
      const res = await ctx.api('PUT', '/inventory-sources/globex-only', { name: 'mine now' })
      assert.equal(res.statusCode, 404)
    })
  })

  describe('DELETE /inventory-sources/{sourceId}', () => {
    it('deletes with 204 and an empty body', async () => {
      const res = await ctx.api('DELETE', '/inventory-sources/bad-agent')
      assert.equal(res.statusCode, 204)
      assert.equal(res.body, '')
      assert.equal((await ctx.api('GET', '/inventory-sources/bad-agent')).statusCode, 404)
    })

    it('answers 404 for a missing or foreign source', async () => {
      assert.equal((await ctx.api('DELETE', '/inventory-sources/bad-agent')).statusCode, 404)
      assert.equal((await ctx.api('DELETE', '/inventory-sources/globex-only')).statusCode, 404)
      assert.equal((await ctx.api('GET', '/inventory-sources/globex-only', undefined, { key: ctx.otherKey })).statusCode, 200)
    })
  })
})
