/**
 * What the per-key rate limit costs (src/http/plugins/rate-limit.ts), next to its limits in the same
 * run: an empty Fastify route (the floor of an HTTP answer here), and the same storefront route with
 * the limit off (RATE_LIMIT_MAX=0) and on (a budget no run spends, so every request is counted and
 * none refused). Two measurements:
 *
 * 1. HTTP: autocannon against `storefront serve` processes on fresh PGlite data dirs, the route
 *    GET /api/v2/storefront/inventory-sources?take=1 with the bootstrap key (auth, one count, one page).
 *    The off and on servers run one after another, twice each (off, on, off, on), so drift shows.
 * 2. In process: the limiter's own check (the app.limitKeyRate decoration the REST hook, /mcp and
 *    /a2a call) timed over many calls on one app, off against on: its CPU per request.
 *
 *   npm run bench:rate-limit            BENCH_SECONDS=10 (default) per HTTP row, BENCH_CONNECTIONS=16
 */
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { keyRateLimit } from '../src/http/plugins/rate-limit.ts'
import { startServerProcess } from '../test/helpers/processes.ts'
import { benchServerEnv } from './server-env.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16)
const CHECKS = Number(process.env.BENCH_CHECKS ?? 200_000)
const KEY = 'sf_bench_rate_limit_key_0000000001'
const ROUTE = '/api/v2/storefront/inventory-sources?take=1'
// The configuration allows at most 1,000,000 a window; no row here sends that many in 60 s.
const UNSPENDABLE = 1_000_000

interface HttpRow { row: string; requestsPerSecond: number; p50: number; p99: number; failures: number }
const httpRows: HttpRow[] = []

async function measure(row: string, url: string, headers: Record<string, string> = {}): Promise<void> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers })
  httpRows.push({
    row,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
  })
}

async function measureStorefront(limit: 'off' | 'on'): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sf-bench-rate-limit-'))
  const server = await startServerProcess(benchServerEnv({ dataDir }, KEY, { RATE_LIMIT_MAX: limit === 'off' ? '0' : String(UNSPENDABLE) }))
  try {
    // Warm-up: the first requests compile the route's schemas and fill the key cache.
    await autocannon({ url: `${server.url}${ROUTE}`, connections: 2, amount: 200, headers: { authorization: `Bearer ${KEY}` } })
    await measure(`storefront ${ROUTE.split('?')[0]}, limit ${limit}`, `${server.url}${ROUTE}`, { authorization: `Bearer ${KEY}` })
  } finally {
    await server.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

/** Microseconds per limitKeyRate call on an app with the limit `max` (0 = off). */
async function checkCost(max: number): Promise<number> {
  const app = Fastify({ logger: false })
  await app.register(keyRateLimit, { max, windowMs: 60_000 })
  await app.ready()
  const request = { apiKeyId: 1, headers: {}, ip: '127.0.0.1', routeOptions: { url: ROUTE }, raw: {} } as unknown as FastifyRequest
  const reply = { header: () => reply } as unknown as FastifyReply
  for (let i = 0; i < 10_000; i++) await app.limitKeyRate(request, reply, 'rest')
  const start = performance.now()
  for (let i = 0; i < CHECKS; i++) await app.limitKeyRate(request, reply, 'rest')
  const micros = ((performance.now() - start) * 1000) / CHECKS
  await app.close()
  return micros
}

console.log(`# rate-limit benchmark: ${CONNECTIONS} connections, ${SECONDS} s per HTTP row, node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((n) => n.toFixed(2)).join(' ')}`)

const empty = Fastify({ logger: false })
empty.get('/empty', async () => [])
const emptyUrl = await empty.listen({ host: '127.0.0.1', port: 0 })
await measure('empty Fastify route (limit)', `${emptyUrl}/empty`)
await empty.close()
for (const limit of ['off', 'on', 'off', 'on'] as const) await measureStorefront(limit)

const offMicros = await checkCost(0)
const onMicros = await checkCost(UNSPENDABLE)

console.log('| row | requests/s | p50 ms | p99 ms | failures |')
console.log('|---|---|---|---|---|')
for (const row of httpRows) console.log(`| ${row.row} | ${row.requestsPerSecond.toFixed(0)} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} | ${row.failures} |`)
console.log()
console.log('| in process | µs per check |')
console.log('|---|---|')
console.log(`| limitKeyRate, limit off | ${offMicros.toFixed(2)} |`)
console.log(`| limitKeyRate, limit on (counted, never refused) | ${onMicros.toFixed(2)} |`)
console.log(`# load average after the run: ${os.loadavg().map((n) => n.toFixed(2)).join(' ')}`)
