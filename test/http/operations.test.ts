import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { seedModularSource } from '../ledger/ledger-fixtures.ts'

const base = '/api/v2/storefront/inventory-sources/retail-modular/modular'

/** The value of one series in a Prometheus exposition, 0 when it is absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line ? Number(line.slice(series.length + 1)) : 0
}

describe('GET /metrics', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
    await seedModularSource(ctx.db, { avails: [{ availId: 'a1', capacity: 100 }] })
  })
  after(() => ctx.close())

  const scrape = async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/metrics' })
    assert.equal(res.statusCode, 200)
    assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/)
    return res.body
  }

  it('counts holds and releases once committed, and never a refused hold', async () => {
    const before = await scrape()
    const held = await ctx.api('POST', `${base}/reservations`, { availId: 'a1', mediaBuyId: 'mb-1', requestedImpressions: 10 })
    assert.equal(held.statusCode, 201)
    const refused = await ctx.api('POST', `${base}/reservations`, { availId: 'a1', mediaBuyId: 'mb-2', requestedImpressions: 1000 })
    assert.equal(refused.statusCode, 409)
    const released = await ctx.api('POST', `${base}/bookings/release`, { reservationId: held.json().reservation.reservationId })
    assert.equal(released.statusCode, 200)
    const after = await scrape()
    assert.equal(sample(after, 'storefront_ledger_entries_total{kind="HOLD"}') - sample(before, 'storefront_ledger_entries_total{kind="HOLD"}'), 1)
    assert.equal(sample(after, 'storefront_ledger_entries_total{kind="RELEASE"}') - sample(before, 'storefront_ledger_entries_total{kind="RELEASE"}'), 1)
  })

  it('counts requests by route template and status, with their latency', async () => {
    const series = `storefront_http_requests_total{method="GET",route="${base.replace('/retail-modular/', '/:sourceId/')}/reservations",status="200"}`
    const before = sample(await scrape(), series)
    assert.equal((await ctx.api('GET', `${base}/reservations`)).statusCode, 200)
    const text = await scrape()
    assert.equal(sample(text, series) - before, 1)
    assert.match(text, /storefront_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/v2\/storefront\/inventory-sources\/:sourceId\/modular\/reservations",status="200"\}/)
    assert.match(text, /storefront_db_pool_connections\{state="max"\} \d+/)
    assert.match(text, /^# TYPE storefront_sweeper_runs_total counter$/m)
  })

  it('refuses a request relayed by a proxy, or from another host, with 403 METRICS_NOT_LOCAL', async () => {
    const relayed = await ctx.app.inject({ method: 'GET', url: '/metrics', headers: { 'x-forwarded-for': '203.0.113.9' } })
    assert.equal(relayed.statusCode, 403)
    assert.equal(relayed.json().error.details.reason, 'METRICS_NOT_LOCAL')
    const remote = await ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.9' })
    assert.equal(remote.statusCode, 403)
  })

  it('is not in the OpenAPI document', async () => {
    const doc = (await ctx.app.inject({ method: 'GET', url: '/openapi.json' })).json()
    assert.equal(doc.paths['/metrics'], undefined)
  })
})

describe('GET /metrics with METRICS_TOKEN', () => {
  let ctx: TestContext
  before(async () => { ctx = await createTestContext({ metricsToken: 'scrape-token-0123456789' }) })
  after(() => ctx.close())

  it('answers the token from anywhere and refuses a missing or wrong one with 401', async () => {
    const ok = await ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.9', headers: { authorization: 'Bearer scrape-token-0123456789' } })
    assert.equal(ok.statusCode, 200)
    const missing = await ctx.app.inject({ method: 'GET', url: '/metrics' })
    assert.equal(missing.statusCode, 401)
    assert.equal(missing.json().error.code, 'UNAUTHORIZED')
    const wrong = await ctx.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer scrape-token-0123456780' } })
    assert.equal(wrong.statusCode, 401)
  })
})

describe('per-key rate limits', () => {
  let ctx: TestContext
  before(async () => { ctx = await createTestContext({ rateLimit: { max: 3, windowMs: 60_000 } }) })
  after(() => ctx.close())

  it('answers 429 RATE_LIMITED in the envelope with Retry-After once a key spent its budget, and counts keys apart', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await ctx.api('GET', '/inventory-sources')
      assert.equal(res.statusCode, 200)
      assert.equal(res.headers['ratelimit-limit'], '3')
      assert.equal(res.headers['ratelimit-remaining'], String(2 - i))
    }
    const limited = await ctx.api('GET', '/inventory-sources')
    assert.equal(limited.statusCode, 429)
    const retryAfter = Number(limited.headers['retry-after'])
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers['retry-after']}`)
    const body = limited.json()
    assert.equal(body.data, null)
    assert.equal(body.error.code, 'RATE_LIMITED')
    assert.equal(body.error.details.reason, 'RATE_LIMIT_EXCEEDED')
    assert.equal(body.error.details.limit, 3)
    assert.equal((await ctx.api('GET', '/inventory-sources', undefined, { key: ctx.otherKey })).statusCode, 200)
    // Health stays outside any key's budget.
    assert.equal((await ctx.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  })
})

describe('access log', () => {
  const lines: Record<string, unknown>[] = []
  let ctx: TestContext
  before(async () => {
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        for (const text of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(text) as Record<string, unknown>)
        done()
      },
    })
    ctx = await createTestContext({ logStream })
  })
  after(() => ctx.close())

  it('writes one line per request with its id, key id, route, status and time, and never the key', async () => {
    const res = await ctx.api('GET', '/inventory-sources?take=5', undefined, { headers: { 'x-request-id': 'trace-abc.1' } })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['x-request-id'], 'trace-abc.1')
    const mine = lines.filter((line) => line.reqId === 'trace-abc.1')
    assert.equal(mine.length, 1, JSON.stringify(mine))
    const line = mine[0]!
    assert.equal(line.msg, 'request completed')
    assert.equal(line.route, '/api/v2/storefront/inventory-sources')
    assert.equal(line.path, '/api/v2/storefront/inventory-sources')
    assert.equal(line.status, 200)
    assert.equal(typeof line.responseTimeMs, 'number')
    assert.equal(typeof line.keyId, 'number')
    assert.ok(!JSON.stringify(lines).includes(ctx.key), 'the key appears in the log')
  })

  it('names an unknown path "unmatched" and gives a request without a usable X-Request-Id a fresh one', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/nowhere', headers: { 'x-request-id': 'bad id with spaces' } })
    assert.equal(res.statusCode, 404)
    const id = res.headers['x-request-id'] as string
    assert.match(id, /^[0-9a-f-]{36}$/)
    const line = lines.find((l) => l.reqId === id)!
    assert.equal(line.route, 'unmatched')
  })
})

describe('GET /readyz while draining', () => {
  let draining = false
  let ctx: TestContext
  before(async () => { ctx = await createTestContext({ isDraining: () => draining }) })
  after(() => ctx.close())

  it('answers 503 draining once the process is shutting down, and closes the connection of every answer', async () => {
    assert.equal((await ctx.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
    draining = true
    const res = await ctx.app.inject({ method: 'GET', url: '/readyz' })
    assert.equal(res.statusCode, 503)
    assert.deepEqual(res.json(), { status: 'unavailable', reason: 'draining' })
    assert.equal(res.headers.connection, 'close')
  })
})
