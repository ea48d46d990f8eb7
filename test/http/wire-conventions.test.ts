import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { claimedMinutesAgo } from '../helpers/idempotency.ts'

const secretToken = 'tok_never_in_any_log_line_7f3a'

const agent = {
  name: 'Idempotent Agent',
  type: 'SALES',
  endpointUrl: 'https://agent.example.com/mcp',
  protocol: 'MCP',
  authenticationType: 'API_KEY',
  auth: { type: 'bearer', token: secretToken },
}

describe('wire conventions', () => {
  let ctx: TestContext
  const logLines: string[] = []

  before(async () => {
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk))
        done()
      },
    })
    ctx = await createTestContext({ logStream })
  })
  after(() => ctx.close())

  describe('Idempotency-Key', () => {
    it('replays the first response for the same key and body, marked Idempotent-Replayed', async () => {
      const headers = { 'idempotency-key': 'create-agent-1' }
      const first = await ctx.api('POST', '/inventory-sources', agent, { headers })
      assert.equal(first.statusCode, 201)
      assert.equal(first.headers['idempotent-replayed'], undefined)
      const second = await ctx.api('POST', '/inventory-sources', agent, { headers })
      assert.equal(second.statusCode, 201)
      assert.equal(second.headers['idempotent-replayed'], 'true')
      assert.deepEqual(second.json(), first.json())
      const list = await ctx.api('GET', '/inventory-sources')
      assert.equal(list.headers['x-total-count'], '1')
    })

    it('answers 409 IDEMPOTENCY_KEY_REUSED for the same key with another body', async () => {
      const res = await ctx.api('POST', '/inventory-sources', { ...agent, name: 'Another' }, { headers: { 'idempotency-key': 'create-agent-1' } })
      assert.equal(res.statusCode, 409)
      assert.equal(res.json().error.details.reason, 'IDEMPOTENCY_KEY_REUSED')
    })

    it('replays client errors too, so a retry sees the same answer', async () => {
      const headers = { 'idempotency-key': 'dup-1' }
      const first = await ctx.api('POST', '/inventory-sources', agent, { headers })
      assert.equal(first.statusCode, 409)
      const again = await ctx.api('POST', '/inventory-sources', agent, { headers })
      assert.equal(again.statusCode, 409)
      assert.equal(again.headers['idempotent-replayed'], 'true')
    })

    it('replays an empty 204 for DELETE', async () => {
      await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'to-delete' })
      const headers = { 'idempotency-key': 'delete-1' }
      assert.equal((await ctx.api('DELETE', '/inventory-sources/to-delete', undefined, { headers })).statusCode, 204)
      const replay = await ctx.api('DELETE', '/inventory-sources/to-delete', undefined, { headers })
      assert.equal(replay.statusCode, 204)
      assert.equal(replay.headers['idempotent-replayed'], 'true')
    })

    it('keeps keys per storefront', async () => {
      const res = await ctx.api('POST', '/inventory-sources', agent, { key: ctx.otherKey, headers: { 'idempotency-key': 'create-agent-1' } })
      assert.equal(res.statusCode, 201)
      assert.equal(res.headers['idempotent-replayed'], undefined)
    })

    it('forgets keys after 24 hours', async () => {
      const recorded = await ctx.db.selectFrom('idempotency_record').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      assert.ok(Number(recorded.n) >= 3, 'the scenarios above recorded keys')
      ctx.clock.advance(24 * 60 * 60 * 1000 + 1)
      // Every key recorded so far is older than the window: all of them go, each once.
      assert.equal(await ctx.services.idempotency.sweep(), Number(recorded.n))
      assert.equal(await ctx.services.idempotency.sweep(), 0)
      const res = await ctx.api('POST', '/inventory-sources', agent, { headers: { 'idempotency-key': 'create-agent-1' } })
      assert.equal(res.statusCode, 409)
      assert.equal(res.json().error.details.reason, 'DUPLICATE_SOURCE_ID')
      assert.equal(res.headers['idempotent-replayed'], undefined)
    })

    it('lets a retry take over a claim abandoned by a dead process, and the late original cannot overwrite it', async () => {
      const store = ctx.services.idempotency
      const storefrontId = (await ctx.services.access.authenticate(ctx.key)).storefrontId
      const first = await store.claim(storefrontId, 'slow-1', 'fingerprint')
      assert.equal(first.kind, 'proceed')
      await assert.rejects(store.claim(storefrontId, 'slow-1', 'fingerprint'), /still in progress/)
      await claimedMinutesAgo(ctx.db, storefrontId, 'slow-1', 3)
      const retry = await store.claim(storefrontId, 'slow-1', 'fingerprint')
      assert.equal(retry.kind, 'proceed')
      if (first.kind !== 'proceed' || retry.kind !== 'proceed') return
      await store.complete(first.claim, 201, '{"from":"late original"}')
      await store.abandon(first.claim)
      await assert.rejects(ctx.db.transaction().execute((trx) => store.record(trx, first.claim, 201, '{"from":"late original"}')), /still in progress/)
      await store.complete(retry.claim, 201, '{"from":"retry"}')
      assert.deepEqual(await store.claim(storefrontId, 'slow-1', 'fingerprint'), { kind: 'replay', statusCode: 201, body: '{"from":"retry"}' })
    })

    it('refuses a key that is not visible ASCII', async () => {
      const res = await ctx.api('POST', '/inventory-sources', agent, { headers: { 'idempotency-key': 'x'.repeat(256) } })
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().error.details.issues[0].path, 'Idempotency-Key')
    })
  })

  describe('errors', () => {
    it('answers unknown routes with the error envelope', async () => {
      const res = await ctx.api('GET', '/api/v2/storefront/nothing-here')
      assert.equal(res.statusCode, 404)
      assert.equal(res.json().error.code, 'NOT_FOUND')
      const open = await ctx.app.inject({ method: 'GET', url: '/nothing-here' })
      assert.equal(open.statusCode, 404)
      assert.equal(open.json().error.code, 'NOT_FOUND')
    })

    it('answers 413 PAYLOAD_TOO_LARGE over the body limit', async () => {
      const res = await ctx.api('POST', '/inventory-sources', { ...agent, description: 'x'.repeat(1024 * 1024 + 10) })
      assert.equal(res.statusCode, 413)
      assert.equal(res.json().error.code, 'PAYLOAD_TOO_LARGE')
    })

    it('never leaks internals in a 500', async (t) => {
      t.mock.method(ctx.services.sources, 'list', async () => {
        throw new Error('relation "inventory_source" does not exist at /srv/app/src/db.ts:42')
      })
      const res = await ctx.api('GET', '/inventory-sources')
      assert.equal(res.statusCode, 500)
      assert.equal(res.json().error.code, 'INTERNAL_ERROR')
      assert.ok(!res.body.includes('relation'))
      assert.ok(!res.body.includes('.ts'))
    })
  })

  describe('secrets', () => {
    it('never writes a credential or API key to a log line', async () => {
      await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'logged-agent' })
      await ctx.api('PUT', '/inventory-sources/logged-agent', { auth: { type: 'bearer', token: secretToken } })
      await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'Bad Id' })
      const logs = logLines.join('')
      assert.ok(logLines.length > 0, 'the app logged nothing, so this test would prove nothing')
      assert.ok(!logs.includes(secretToken))
      assert.ok(!logs.includes(ctx.key))
    })
  })

  describe('operations endpoints', () => {
    it('GET /healthz says the process is up', async () => {
      const res = await ctx.app.inject({ method: 'GET', url: '/healthz' })
      assert.deepEqual(res.json(), { status: 'ok' })
    })

    it('GET /readyz checks the database and migrations', async () => {
      const res = await ctx.app.inject({ method: 'GET', url: '/readyz' })
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().status, 'ready')
    })

    it('GET /readyz answers 503 when migrations are missing', async (t) => {
      t.mock.method(ctx.services, 'checkReady', async () => {
        throw new Error('Migrations not applied: 0099_future.sql')
      })
      const res = await ctx.app.inject({ method: 'GET', url: '/readyz' })
      assert.equal(res.statusCode, 503)
      assert.deepEqual(res.json(), { status: 'unavailable', reason: 'migrations pending' })
    })

    it('GET /openapi.json documents the storefront routes from the same schemas', async () => {
      const res = await ctx.app.inject({ method: 'GET', url: '/openapi.json' })
      assert.equal(res.statusCode, 200)
      const doc = res.json()
      assert.match(doc.openapi, /^3\./)
      assert.ok(doc.paths['/api/v2/storefront/inventory-sources'].post)
      assert.ok(doc.paths['/api/v2/storefront/inventory-sources/{sourceId}'].put)
      assert.equal(doc.paths['/admin/keys'], undefined)
    })

    it('GET /docs serves the browsable API reference', async () => {
      const res = await ctx.app.inject({ method: 'GET', url: '/docs/' })
      assert.equal(res.statusCode, 200)
      assert.match(res.body, /swagger/i)
    })
  })
})

describe('client errors raised by plugins', () => {
  it('answers a malformed multipart upload with 400, not 500', async () => {
    const ctx = await createTestContext()
    try {
      await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Upload target', sourceId: 'upload-target' })
      const res = await ctx.api('POST', '/inventory-sources/upload-target/modular/avails-feed', '--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nAvail ID', {
        headers: { 'content-type': 'multipart/form-data; boundary=x' },
      })
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} ${res.body}`)
      assert.ok(['VALIDATION_ERROR', 'PAYLOAD_TOO_LARGE'].includes(res.json().error.code))
    } finally {
      await ctx.close()
    }
  })
})
