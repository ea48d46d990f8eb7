import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { CreateFeedSourceSchema } from '../../src/modules/modular-sources/modular.schema.ts'
import { moduleCatalog } from '../../src/modules/registry.ts'
import type { AgentProbe } from '../../src/sources/agent-probe.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { createFeedSource } from './helpers.ts'

/** Module config, setup answers and endpoint URLs are shown in clear: credentials are refused everywhere. */

const base = '/inventory-sources/retail-modular/modular/modules'
const passingProbe: AgentProbe = async () => ({ ok: true, checkedAt: new Date() })

const issuePaths = (body: { error: { details: { issues: Array<{ path: string }> } } }) => body.error.details.issues.map((issue) => issue.path)

describe('credentials are refused wherever values are stored in clear', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext({ probeAgent: passingProbe })
  })
  after(() => ctx.close())
  beforeEach(async () => {
    await ctx.db.deleteFrom('inventory_source').execute()
    await createFeedSource(ctx)
  })

  const patchConfig = (moduleInstanceId: string, config: Record<string, unknown>) =>
    ctx.api('PATCH', `${base}/${moduleInstanceId}/config`, { config })

  describe('secret-looking keys in module config and setup answers', () => {
    for (const key of ['auth', 'authorization', 'bearer', 'pass', 'pwd', 'passphrase', 'key', 'accessKey', 'cookie', 'jwt', 'signingKey', 'X-Auth-Key', 'session_cookie']) {
      it(`refuses ${key} with 400 SECRET_NOT_ALLOWED`, async () => {
        const response = await patchConfig('static-avails-feed', { [key]: 'value' })
        assert.equal(response.statusCode, 400, response.body)
        assert.equal(response.json().error.details.reason, 'SECRET_NOT_ALLOWED')
        assert.deepEqual(issuePaths(response.json()), [`config.${key}`])
      })
    }

    it('sees through look-alikes: fullwidth and mathematical letters, zero-width characters, case, separators, Cyrillic letters', async () => {
      const keys = ['ｔｏｋｅｎ', '𝐩𝐚𝐬𝐬𝐰𝐨𝐫𝐝', 'to\u200Bken', 'pass\u2060word', '\uFEFFsecret', 'PASSWORD', 'api.key', 'Api Key', 's-e-c-r-e-t', 'k_e_y', 'tоken']
      const response = await patchConfig('static-avails-feed', Object.fromEntries(keys.map((key) => [key, 'x'])))
      assert.equal(response.statusCode, 400, response.body)
      assert.deepEqual(issuePaths(response.json()), keys.map((key) => `config.${key}`))
    })

    it('refuses them in the feed questionnaire too, and stores nothing', async () => {
      const response = await ctx.api('POST', '/inventory-sources/modular/feed', {
        name: 'Leaky', sourceId: 'leaky', booking: { mode: 'upstream_oms', systemName: 'OMS', bearer: 'b' },
      })
      assert.equal(response.statusCode, 400)
      assert.deepEqual(issuePaths(response.json()), ['booking.bearer'])
      assert.equal((await ctx.api('GET', '/inventory-sources/leaky')).statusCode, 404)
    })

    it('accepts every setup field of the module catalog and every questionnaire field', async () => {
      const catalogKeys = moduleCatalog.flatMap((contract) => contract.setupFields.map((field) => field.key))
      const questionnaireKeys = Object.entries(CreateFeedSourceSchema.shape).flatMap(([key, schema]) => {
        const inner = (schema as { unwrap?: () => { shape?: Record<string, unknown> } }).unwrap?.()
        return [key, ...Object.keys(inner?.shape ?? {})]
      })
      assert.ok(catalogKeys.includes('campaignDeliveryType') && catalogKeys.includes('feedUrl') && catalogKeys.includes('systemName'))
      assert.ok(questionnaireKeys.includes('sampleAvailable'))
      const { findSecretLikeKeys } = await import('../../src/shared/secret-names.ts')
      assert.deepEqual(findSecretLikeKeys(Object.fromEntries([...catalogKeys, ...questionnaireKeys].map((key) => [key, 'x']))), [])
      const accepted = await patchConfig('static-avails-feed', { feedUrl: 'https://seller.example.com/avails.csv?format=csv&page=2', refreshCron: '0 6 1 * *', author: 'ops', keyword: 'ctv' })
      assert.equal(accepted.statusCode, 200, accepted.body)
    })

    it('scans a config nested 100,000 levels deep without overflowing', async () => {
      const { findSecretLikeKeys } = await import('../../src/shared/secret-names.ts')
      let deep: Record<string, unknown> = { token: 'x' }
      for (let level = 0; level < 100_000; level++) deep = { inner: deep }
      assert.equal(findSecretLikeKeys(deep).length, 1)
    })
  })

  describe('credentials in URLs', () => {
    const leakyUrls = [
      'https://ops:hunter2@seller.example.com/avails.csv',
      'https://seller.example.com/avails.csv?api_key=hunter2',
      'https://seller.example.com/avails.csv?format=csv&access_token=hunter2',
      'https://seller.example.com/avails.csv?apikey=hunter2',
      'https://seller.example.com/avails.csv?key=hunter2',
      'https://seller.example.com/avails.csv?sig=hunter2',
      'https://seller.example.com/avails.csv?X-Amz-Signature=hunter2',
      'https://seller.example.com/avails.csv?pass%77ord=hunter2',
    ]

    it('refuses them in feedUrl naming the field, pointing to the credential flow, never echoing the value', async () => {
      for (const feedUrl of leakyUrls) {
        const response = await patchConfig('static-avails-feed', { feedUrl })
        assert.equal(response.statusCode, 400, feedUrl)
        assert.equal(response.json().error.details.reason, 'SECRET_NOT_ALLOWED')
        assert.deepEqual(issuePaths(response.json()), ['config.feedUrl'])
        assert.match(response.json().error.message, /credential/)
        assert.doesNotMatch(response.body, /hunter2/)
      }
    })

    it('refuses them in cadentEndpointUrl when attaching or configuring the cadent module', async () => {
      const attached = await ctx.api('POST', base, { kind: 'TRAFFICKING', provider: 'cadent', config: { cadentEndpointUrl: leakyUrls[1] } })
      assert.equal(attached.statusCode, 400)
      assert.deepEqual(issuePaths(attached.json()), ['config.cadentEndpointUrl'])
      assert.equal((await ctx.api('POST', base, { kind: 'TRAFFICKING', provider: 'cadent' })).statusCode, 201)
      const patched = await patchConfig('cadent-trafficking', { cadentEndpointUrl: 'https://cadent.example.com/xml?token=hunter2' })
      assert.equal(patched.statusCode, 400)
      assert.equal(patched.json().error.details.reason, 'SECRET_NOT_ALLOWED')
    })

    it('refuses them in a URL given in the feed questionnaire', async () => {
      const response = await ctx.api('POST', '/inventory-sources/modular/feed', {
        name: 'Leaky', sourceId: 'leaky', availsSource: { type: 'api', feedUrl: 'https://seller.example.com/feed?token=hunter2' },
      })
      assert.equal(response.statusCode, 400)
      assert.deepEqual(issuePaths(response.json()), ['availsSource.feedUrl'])
    })

    it('refuses them in the cadent demo\'s cadentEndpointUrl', async () => {
      const response = await ctx.api('POST', '/inventory-sources/modular/cadent-demo', { cadentEndpointUrl: 'https://cadent.example.com/xml?signature=hunter2' })
      assert.equal(response.statusCode, 400)
      assert.equal(response.json().error.details.reason, 'SECRET_NOT_ALLOWED')
      assert.deepEqual(issuePaths(response.json()), ['cadentEndpointUrl'])
      assert.doesNotMatch(response.body, /hunter2/)
    })

    it('refuses them in an AGENT endpointUrl on create and update, pointing to auth', async () => {
      const agent = { name: 'Agent', sourceId: 'agent', type: 'SALES', protocol: 'MCP', authenticationType: 'NO_AUTH' }
      for (const endpointUrl of ['https://agent.example.com/mcp?api_key=hunter2', 'https://bot:hunter2@agent.example.com/mcp']) {
        const created = await ctx.api('POST', '/inventory-sources', { ...agent, endpointUrl })
        assert.equal(created.statusCode, 400, created.body)
        assert.equal(created.json().error.details.reason, 'SECRET_NOT_ALLOWED')
        assert.deepEqual(issuePaths(created.json()), ['endpointUrl'])
        assert.match(created.json().error.message, /auth/)
        assert.doesNotMatch(created.body, /hunter2/)
      }
      assert.equal((await ctx.api('GET', '/inventory-sources/agent')).statusCode, 404)
      const ok = await ctx.api('POST', '/inventory-sources', { ...agent, endpointUrl: 'https://agent.example.com/mcp?tenant=acme' })
      assert.equal(ok.statusCode, 201, ok.body)
      const updated = await ctx.api('PUT', '/inventory-sources/agent', { endpointUrl: 'https://agent.example.com/mcp?token=hunter2' })
      assert.equal(updated.statusCode, 400)
      assert.equal(updated.json().error.details.reason, 'SECRET_NOT_ALLOWED')
      assert.equal((await ctx.api('GET', '/inventory-sources/agent')).json().endpointUrl, 'https://agent.example.com/mcp?tenant=acme')
    })
  })
})
