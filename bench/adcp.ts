/**
 * The buyer surface under load: get_products and create_media_buy over MCP (POST /mcp of a real
 * `storefront serve` process on PostgreSQL) from 32 concurrent buyer agents, each with its own
 * live buyer key and MCP client; next to what a buy is made of, cheapest last:
 *
 *   MCP tools/list                     the protocol floor: auth, a stateless AdCP server per request, JSON-RPC
 *   MCP get_products                   discovery: the products projection of the ledger
 *   MCP create_media_buy               one package: the buy, its hold, hand-off work item and task, one transaction
 *   workflow create, in process        the same create_media_buy workflow called directly: no HTTP, MCP or SDK
 *   REST reservation                   POST .../modular/reservations: the same hold alone, over HTTP
 *   SQL direct                         the ledger's own reserve statements (lookup + conditional write), no HTTP
 *
 *   BENCH_DATABASE_URL | TEST_DATABASE_URL | DATABASE_URL=postgres://... npm run bench:adcp
 *   BENCH_SECONDS=5 (default) per row
 *
 * BENCH_RATE=50 switches to the fixed-rate workload instead (see benchFixedRate below): 10,000
 * avails across 20 sources, requests offered at BENCH_RATE per second whatever the answers do.
 * BENCH_ONLY=<text> runs only the fixed-rate rows whose path and operation contain it. Each
 * fixed-rate row runs BENCH_WARMUP_SECONDS (3) at its rate before it measures, and reports the CPU
 * each party spent per call: this process, the server process and (when it runs on this machine)
 * PostgreSQL. BENCH_SERVER_ROOT=<checkout> runs that checkout's server (before/after a change).
 * BENCH_SERVER_PROCESSES=2 runs the fixed-rate rows' server as that many processes on the one
 * database, the way a seller scales out, each call sent to the next process in turn. Beside the
 * fixed-rate buy through the MCP SDK's client, the same buy as a plain JSON-RPC POST over node:http:
 * the server's work is the same, and the bench column says what the SDK client costs this machine.
 *
 * A scratch database is created on that server (the role needs CREATEDB) and dropped afterwards.
 * Every hold is 10 impressions on an avail picked at random, so capacity never runs out: first
 * among the demo source's five (every hold contends for five row locks), then among 1,000 more
 * like them (the locks hardly meet). One closed-loop client per buyer, all in this process, so
 * the load generator shares the machine with the server and the database. The in-process rows
 * also count the SQL statements they send: what one call costs the database.
 */
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import Fastify from 'fastify'
import { sql } from 'kysely'
import pg from 'pg'
import { openDatabase, type DatabaseHandle } from '../src/db/database.ts'
import { listSellableAvails } from '../src/modules/products/index.ts'
import { createServices } from '../src/services.ts'
import { systemClock } from '../src/shared/clock.ts'
import { SecretBox } from '../src/shared/secret-box.ts'
import { refuseUnprobedAgents } from '../src/sources/agent-probe.ts'
import type { BuyPrincipal } from '../src/workflows/media-buy-workflows.ts'
import { withScratchDatabase } from '../test/helpers/database.ts'
import { startServerProcess, startServerProcesses } from '../test/helpers/processes.ts'
import { BENCH_SECRET, benchServerEnv } from './server-env.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
/**
 * BENCH_SERVER_ROOT: another checkout whose `storefront serve` the fixed-rate rows' server runs (the code
 * before a change); the in-process and SQL rows run this checkout's code either way.
 */
const SERVER_ROOT = process.env.BENCH_SERVER_ROOT ? path.resolve(process.env.BENCH_SERVER_ROOT) : undefined
/** Seconds each fixed-rate row runs at its rate before the measured ones (BENCH_WARMUP_SECONDS). */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3)
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32)
/** Server processes of the fixed-rate rows (BENCH_SERVER_PROCESSES), on one database, each with its own pool. */
const SERVER_PROCESSES = Number(process.env.BENCH_SERVER_PROCESSES ?? 1)
const POOL_SIZE = 20
const IMPRESSIONS = 10
const SPREAD_AVAILS = 1_000
const CAPACITY = 1_000_000_000_000
const DEMO = 'talpa-cadent-demo'
const KEY = `sf_bench_${randomBytes(12).toString('hex')}`
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }
const RATE = process.env.BENCH_RATE === undefined ? null : Number(process.env.BENCH_RATE)
/** Fixed-rate rows whose "<path> <operation>" contains this text run; the others are skipped (e.g. for a profile of one). */
const ONLY = process.env.BENCH_ONLY
const RATE_SOURCES = 20
const RATE_AVAILS_PER_SOURCE = 500
const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL

interface Row {
  path: string
  operation: string
  workload: string
  callsPerSecond: number
  p50Ms: number
  p99Ms: number
  /** SQL statements this process sent per call; '-' for the rows whose SQL runs in the server. */
  statementsPerCall: string
  failures: string
}

interface DemoAvail {
  availId: string
  cpm: number
}

const rows: Row[] = []

/**
 * Statements this process sends to PostgreSQL (BEGIN and COMMIT included): per call, it is what
 * an in-process row costs the database. The rows over HTTP send theirs from the server process.
 */
let statements = 0
const query = pg.Client.prototype.query as (...args: unknown[]) => unknown
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  statements += 1
  return query.apply(this, args)
} as typeof pg.Client.prototype.query
let sequence = 0

function uniqueId(prefix: string): string {
  sequence += 1
  return `${prefix}-${process.pid}-${String(sequence).padStart(8, '0')}`
}

function flight(): { start_time: string; end_time: string } {
  const start = new Date(Date.now() + 86_400_000)
  return { start_time: start.toISOString(), end_time: new Date(start.getTime() + 7 * 86_400_000).toISOString() }
}

/**
 * `CLIENTS` closed loops calling `once(client)` for SECONDS after a short warm-up. A call fails if
 * it throws or resolves false; its latency counts only when it succeeded.
 */
async function measure(path: string, operation: string, workload: string, once: (client: number) => Promise<boolean>): Promise<void> {
  for (let i = 0; i < CLIENTS; i++) await once(i)
  const latencies: number[] = []
  const failures: string[] = []
  const statementsBefore = statements
  const started = performance.now()
  const deadline = started + SECONDS * 1000
  await Promise.all(Array.from({ length: CLIENTS }, async (_, client) => {
    while (performance.now() < deadline) {
      const begun = performance.now()
      try {
        if (await once(client)) latencies.push(performance.now() - begun)
        else failures.push('refused')
      } catch (error) {
        failures.push(String(error))
      }
    }
  }))
  const elapsed = (performance.now() - started) / 1000
  const calls = latencies.length + failures.length
  latencies.sort((a, b) => a - b)
  rows.push({
    path,
    operation,
    workload,
    callsPerSecond: latencies.length / elapsed,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    statementsPerCall: statements === statementsBefore ? '-' : ((statements - statementsBefore) / calls).toFixed(1),
    failures: failures.length === 0 ? '0' : `${failures.length} (${[...new Set(failures)].slice(0, 2).join('; ')})`,
  })
  console.log(`# ${path}, ${operation}, ${workload}: done`)
}

/** A bench server on `url` with a pool of POOL_SIZE, and BENCH_SERVER_NODE_OPTIONS (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof) for it only. */
function serverEnv(url: string): Record<string, string> {
  const options = process.env.BENCH_SERVER_NODE_OPTIONS
  return benchServerEnv({ databaseUrl: url }, KEY, { DATABASE_POOL_SIZE: String(POOL_SIZE), ...(options ? { NODE_OPTIONS: options } : {}) })
}

async function rest(serverUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${serverUrl}/api/v2/storefront${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: response.status, json: (await response.json()) as Record<string, unknown> }
}

async function tool(client: Client, name: string, args: Record<string, unknown>): Promise<{ isError: boolean; payload: Record<string, unknown> }> {
  const result = await client.callTool({ name, arguments: args })
  return { isError: result.isError === true, payload: (result.structuredContent ?? {}) as Record<string, unknown> }
}

/**
 * A tools/call as one JSON-RPC POST over a keep-alive node:http agent: what a buyer's agent sends,
 * without the MCP SDK client and fetch, so the load generator spends less of the CPUs the server
 * shares with it here (its row beside the SDK client's says how much).
 */
const plainAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })
let plainCallId = 0
function plainTool(serverUrl: string, key: string, name: string, args: Record<string, unknown>): Promise<{ isError: boolean; payload: Record<string, unknown> }> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: ++plainCallId, method: 'tools/call', params: { name, arguments: args } })
  return new Promise((resolve, reject) => {
    const request = http.request(`${serverUrl}/mcp`, {
      method: 'POST',
      agent: plainAgent,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(body) },
    }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        try {
          const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result?: { isError?: boolean; structuredContent?: Record<string, unknown> }; error?: unknown }
          if (!answer.result) return reject(new Error(`${name}: HTTP ${response.statusCode} ${JSON.stringify(answer.error ?? answer).slice(0, 300)}`))
          resolve({ isError: answer.result.isError === true, payload: answer.result.structuredContent ?? {} })
        } catch (error) {
          reject(error as Error)
        }
      })
      response.on('error', reject)
    })
    request.on('error', reject)
    request.end(body)
  })
}

async function bench(url: string): Promise<void> {
  const server = await startServerProcess(serverEnv(url))
  // The server migrated; this process's pool is the one the in-process and SQL rows use.
  const handle: DatabaseHandle = await openDatabase({ databaseUrl: url, poolSize: CLIENTS })
  const clients: Client[] = []
  try {
    const demo = await rest(server.url, 'POST', '/inventory-sources/modular/cadent-demo', {})
    if (demo.status !== 201) throw new Error(`cadent-demo: ${demo.status} ${JSON.stringify(demo.json)}`)
    const avails = ((await rest(server.url, 'GET', `/inventory-sources/${DEMO}/modular/products`)).json.products as DemoAvail[])

    const services = createServices({ db: handle.db, engine: handle.engine, notifications: handle.notifications, clock: systemClock, secrets: new SecretBox(BENCH_SECRET), probeAgent: refuseUnprobedAgents })
    const principals: BuyPrincipal[] = []
    const keys: string[] = []
    for (let i = 0; i < CLIENTS; i++) {
      const key = await services.access.createKey({ storefront: 'acme', role: 'buyer', label: `bench buyer ${i}` })
      keys.push(key.key)
      const client = new Client({ name: `bench-buyer-${i}`, version: '0.0.0' })
      await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key.key}` } } }))
      clients.push(client)
      const synced = await tool(client, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: uniqueId('bench-sync') })
      if (synced.isError) throw new Error(`sync_accounts: ${JSON.stringify(synced.payload)}`)
      const account = await handle.db.selectFrom('buyer_account').select(['id', 'account_id', 'storefront_id']).where('api_key_id', '=', Number(key.id)).executeTakeFirstOrThrow()
      principals.push({ storefrontId: account.storefront_id, apiKeyId: Number(key.id), sandbox: false, accountRowId: account.id, accountId: account.account_id })
    }

    // Clients of their own: listTools makes a client cache the tools' output schemas and check
    // every later result against them, which the buyers' clients below are spared.
    const listers: Client[] = []
    for (const key of keys) {
      const client = new Client({ name: 'bench-lister', version: '0.0.0' })
      await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }))
      listers.push(client)
    }
    clients.push(...listers)
    await measure('MCP', 'tools/list (protocol floor)', '-', async (i) => (await listers[i]!.listTools()).tools.length > 0)
    await measure('MCP', 'get_products', `${avails.length} demo avails`, async (i) => {
      const { isError, payload } = await tool(clients[i]!, 'get_products', { buying_mode: 'brief', brief: 'Connected and addressable TV in the Netherlands' })
      return !isError && (payload.products as unknown[]).length === avails.length
    })
    // The same four ways to a hold, on the demo's five avails (every hold contends for five row
    // locks) and then on 1,000 more avails like them (the locks hardly ever meet).
    const source = await handle.db.selectFrom('inventory_source').select('id').where('source_id', '=', DEMO).executeTakeFirstOrThrow()
    const template = avails[0]!
    await sql`
      INSERT INTO avail (inventory_source_id, avail_id, collection_id, collection_name, collection_description, name, channel,
        start_time, end_time, feed_capacity, cpm, currency, targeting, source_metadata, created_at, updated_at)
      SELECT inventory_source_id, 'bench-' || n, collection_id, collection_name, collection_description, name || ' ' || n, channel,
        start_time, end_time, ${CAPACITY}::bigint, cpm, currency, targeting, source_metadata, created_at, updated_at
      FROM avail, generate_series(1, ${SPREAD_AVAILS}) AS n
      WHERE inventory_source_id = ${source.id} AND avail_id = ${template.availId}
    `.execute(handle.db)
    const spread = Array.from({ length: SPREAD_AVAILS }, (_, n) => ({ availId: `bench-${n + 1}`, cpm: template.cpm }))
    for (const [workload, pool] of [[`${avails.length} demo avails`, avails], [`${SPREAD_AVAILS} avails`, spread]] as const) {
      const pick = () => pool[Math.floor(Math.random() * pool.length)]!
      await measure('MCP', 'create_media_buy (1 package)', workload, async (i) => {
        const avail = pick()
        const { isError, payload } = await tool(clients[i]!, 'create_media_buy', {
          account: ACCOUNT,
          brand: ACCOUNT.brand,
          ...flight(),
          packages: [{ product_id: `${DEMO}:${avail.availId}`, pricing_option_id: 'cpm_fixed', budget: (IMPRESSIONS * avail.cpm) / 1000, impressions: IMPRESSIONS }],
          idempotency_key: uniqueId('bench-buy'),
        })
        return !isError && payload.status === 'submitted'
      })
      await measure('workflow, in process', 'create_media_buy (1 package)', workload, async (i) => {
        const avail = pick()
        const { start_time, end_time } = flight()
        const outcome = await services.mediaBuys.create(principals[i]!, {
          idempotencyKey: uniqueId('bench-workflow'),
          brandDomain: ACCOUNT.brand.domain,
          startTime: start_time,
          endTime: end_time,
          packages: [{ productId: `${DEMO}:${avail.availId}`, pricingOptionId: 'cpm_fixed', budget: (IMPRESSIONS * avail.cpm) / 1000, impressions: IMPRESSIONS }],
        })
        return outcome.kind === 'submitted'
      })
      await measure('REST', 'POST .../modular/reservations', workload, async () => {
        const { status } = await rest(server.url, 'POST', `/inventory-sources/${DEMO}/modular/reservations`, {
          availId: pick().availId, mediaBuyId: uniqueId('bench-rest'), requestedImpressions: IMPRESSIONS,
        })
        return status === 201
      })
      await measure(`SQL direct, ${CLIENTS} clients`, 'ledger reserve (the same hold)', workload, async () => {
        const { created } = await services.ledger.reserve({
          sourceRowId: source.id, availId: pick().availId, mediaBuyId: uniqueId('bench-sql'), packageId: null, buyerCustomerId: null, requestedImpressions: IMPRESSIONS, holdMinutes: 60,
        })
        return created
      })
    }
  } finally {
    for (const client of clients) await client.close().catch(() => {})
    await handle.close()
    await server.stop()
  }
}

interface RateRow {
  path: string
  operation: string
  workload: string
  offeredPerSecond: number
  answeredPerSecond: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** p99 of the warm-up seconds before the measured ones. */
  warmUpP99Ms: number
  statementsPerCall: string
  /** CPU milliseconds per call offered: this process (the load generator, and the in-process rows' own work), the server process, PostgreSQL. */
  cpuMsPerCall: { bench: number; server: number | null; postgres: number | null }
  failures: string
}

const rateRows: RateRow[] = []

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const USER_HZ = 100

/** CPU seconds (user + system) a process has used so far, from /proc; null off Linux or once it is gone. */
function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ
  } catch {
    return null
  }
}

/**
 * CPU seconds used so far by each of this machine's PostgreSQL processes (backends, WAL writer,
 * checkpointer), by pid: what the database spends when it runs here, as the bench's test cluster
 * does. Null when none runs here (a remote server) or off Linux.
 */
function postgresCpuSeconds(): Map<number, number> | null {
  const byPid = new Map<number, number>()
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return null
  }
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue
    } catch {
      continue
    }
    const seconds = processCpuSeconds(Number(pid))
    if (seconds !== null) byPid.set(Number(pid), seconds)
  }
  return byPid.size === 0 ? null : byPid
}

/** What PostgreSQL's processes used between two readings; a process that exited in between is not counted. */
function postgresCpuSince(before: Map<number, number> | null): number | null {
  const now = postgresCpuSeconds()
  if (before === null || now === null) return null
  let total = 0
  for (const [pid, seconds] of now) total += seconds - (before.get(pid) ?? 0)
  return total
}

/** CPU seconds the server processes have used so far, together; null if any cannot be read. */
function serversCpuSeconds(serverPids: readonly number[]): number | null {
  let total = 0
  for (const pid of serverPids) {
    const seconds = processCpuSeconds(pid)
    if (seconds === null) return null
    total += seconds
  }
  return total
}

/** The CPU each party spends over a row: this process (the load generator), the server processes together and PostgreSQL. */
function cpuMeter(serverPids: readonly number[]): () => { bench: number; server: number | null; postgres: number | null } {
  const bench = process.cpuUsage()
  const server = serversCpuSeconds(serverPids)
  const postgres = postgresCpuSeconds()
  return () => {
    const used = process.cpuUsage(bench)
    const serverNow = serversCpuSeconds(serverPids)
    return {
      bench: (used.user + used.system) / 1e6,
      server: server === null || serverNow === null ? null : serverNow - server,
      postgres: postgresCpuSince(postgres),
    }
  }
}

interface OpenLoopResult {
  /** Latencies of the calls that succeeded, in ms from each call's scheduled instant, sorted. */
  latencies: number[]
  failures: string[]
  /** Seconds from the first scheduled call to the last answer. */
  elapsedSeconds: number
}

/**
 * An open loop: seconds x RATE calls, each started at its own scheduled instant (start + k / RATE)
 * whether or not the earlier ones have answered, so a slow answer cannot hold back the next
 * request (closed loops hide queueing that way). A call's latency runs from its scheduled
 * instant, so a late timer on a busy event loop counts against it too.
 */
async function offerAtRate(seconds: number, once: (call: number) => Promise<boolean>): Promise<OpenLoopResult> {
  const rate = RATE!
  const total = Math.round(seconds * rate)
  const latencies: number[] = []
  const failures: string[] = []
  const start = performance.now() + 50
  let lastAnswer = start
  await Promise.all(Array.from({ length: total }, (_, k) => new Promise<void>((done) => {
    const scheduled = start + (k * 1000) / rate
    setTimeout(() => {
      once(k).then(
        (ok) => {
          if (ok) latencies.push(performance.now() - scheduled)
          else failures.push('refused')
        },
        (error: unknown) => { failures.push(String(error)) },
      ).finally(() => {
        lastAnswer = Math.max(lastAnswer, performance.now())
        done()
      })
    }, Math.max(0, scheduled - performance.now()))
  })))
  latencies.sort((a, b) => a - b)
  return { latencies, failures, elapsedSeconds: (lastAnswer - start) / 1000 }
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.floor(sorted.length * p)] ?? 0

/**
 * One row: WARMUP_SECONDS at the offered rate first, then SECONDS measured. The warm-up is what a
 * server that has been taking this traffic has behind it (its pool's connections open, with their
 * PostgreSQL backends' caches filled, its code optimized); its p99 is reported beside the row,
 * since a server that has just started answers its first seconds slower.
 */
async function measureAtRate(serverPids: readonly number[], path: string, operation: string, workload: string, once: (call: number) => Promise<boolean>): Promise<void> {
  if (ONLY !== undefined && !`${path} ${operation}`.includes(ONLY)) return
  const warmUp = await offerAtRate(WARMUP_SECONDS, once)
  const statementsBefore = statements
  const cpu = cpuMeter(serverPids)
  const { latencies, failures, elapsedSeconds } = await offerAtRate(SECONDS, once)
  const used = cpu()
  const total = latencies.length + failures.length
  const perCall = (seconds: number | null) => (seconds === null ? null : (seconds * 1000) / total)
  const failed = [...warmUp.failures, ...failures]
  rateRows.push({
    path,
    operation,
    workload,
    offeredPerSecond: RATE!,
    answeredPerSecond: latencies.length / elapsedSeconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies.at(-1) ?? 0,
    warmUpP99Ms: percentile(warmUp.latencies, 0.99),
    statementsPerCall: statements === statementsBefore ? '-' : ((statements - statementsBefore) / total).toFixed(1),
    cpuMsPerCall: { bench: perCall(used.bench)!, server: perCall(used.server), postgres: perCall(used.postgres) },
    failures: failed.length === 0 ? '0' : `${failed.length} (${[...new Set(failed)].slice(0, 2).join('; ')})`,
  })
  console.log(`# ${path}, ${operation}, ${workload}: done`)
}

/**
 * The buyer answers at a fixed rate (issue 15, target 3): 20 demo sources of 500 avails each
 * (10,000 avails), buyers' get_products with a brief (the first page of 50 products) and
 * create_media_buy with 2 packages on avails picked at random across all sources, offered at
 * BENCH_RATE per second. Beside them, in the same run and at the same rate: the floor of an HTTP
 * answer (an empty Fastify route in this process), the MCP protocol floor (tools/list), the same
 * workflows called in process and the same SQL sent straight to the database.
 */
async function benchFixedRate(url: string): Promise<void> {
  const buyers = Math.min(CLIENTS, 8)
  const servers = await startServerProcesses(SERVER_PROCESSES, serverEnv(url), undefined, SERVER_ROOT)
  const server = servers[0]!
  const serverPids = servers.map((each) => each.child.pid!)
  const row = (path: string, operation: string, workload: string, once: (call: number) => Promise<boolean>) =>
    measureAtRate(serverPids, path, operation, workload, once)
  const handle: DatabaseHandle = await openDatabase({ databaseUrl: url, poolSize: POOL_SIZE })
  const empty = Fastify({ logger: false })
  empty.post('/empty', async () => ({}))
  const emptyUrl = await empty.listen({ host: '127.0.0.1', port: 0 })
  const clients: Client[] = []
  try {
    const sourceIds = Array.from({ length: RATE_SOURCES }, (_, n) => `demo-${String(n + 1).padStart(2, '0')}`)
    for (const sourceId of sourceIds) {
      const demo = await rest(server.url, 'POST', '/inventory-sources/modular/cadent-demo', { sourceId })
      if (demo.status !== 201) throw new Error(`cadent-demo ${sourceId}: ${demo.status} ${JSON.stringify(demo.json)}`)
    }
    // Each source's five demo avails plus 495 copies of its first: 500 per source, 10,000 in all.
    await sql`
      INSERT INTO avail (inventory_source_id, avail_id, collection_id, collection_name, collection_description, name, channel,
        start_time, end_time, feed_capacity, cpm, currency, targeting, source_metadata, created_at, updated_at)
      SELECT a.inventory_source_id, 'bench-' || lpad(n::text, 4, '0'), a.collection_id, a.collection_name, a.collection_description, a.name || ' ' || n, a.channel,
        a.start_time, a.end_time, ${CAPACITY}::bigint, a.cpm, a.currency, a.targeting, a.source_metadata, a.created_at, a.updated_at
      FROM avail a
      JOIN inventory_source s ON s.id = a.inventory_source_id
      CROSS JOIN generate_series(1, ${RATE_AVAILS_PER_SOURCE - 5}) AS n
      WHERE s.source_id LIKE 'demo-%'
        AND a.avail_id = (SELECT min(f.avail_id) FROM avail f WHERE f.inventory_source_id = a.inventory_source_id)
    `.execute(handle.db)
    await sql`UPDATE avail SET feed_capacity = ${CAPACITY}::bigint`.execute(handle.db)
    await sql`ANALYZE`.execute(handle.db)
    const avails = (await handle.db
      .selectFrom('avail')
      .innerJoin('inventory_source', 'inventory_source.id', 'avail.inventory_source_id')
      .select(['inventory_source.source_id', 'inventory_source.id as source_row_id', 'avail.avail_id', 'avail.cpm'])
      .where('inventory_source.source_id', 'like', 'demo-%')
      .execute()).map((row) => ({ sourceId: row.source_id, sourceRowId: row.source_row_id, availId: row.avail_id, cpm: Number(row.cpm) }))
    if (avails.length !== RATE_SOURCES * RATE_AVAILS_PER_SOURCE) throw new Error(`expected ${RATE_SOURCES * RATE_AVAILS_PER_SOURCE} avails, found ${avails.length}`)
    const workload = `${avails.length} avails, ${RATE_SOURCES} sources`

    const services = createServices({ db: handle.db, engine: handle.engine, notifications: handle.notifications, clock: systemClock, secrets: new SecretBox(BENCH_SECRET), probeAgent: refuseUnprobedAgents })
    const principals: BuyPrincipal[] = []
    // Per buyer, one MCP client to each server process (buyersOf[process][buyer]). Call k goes to
    // process k % SERVER_PROCESSES, as a balancer spreading requests round robin would send it,
    // and the buyers take turns within each process.
    const buyersOf: Client[][] = servers.map(() => [])
    const buyerKeys: string[] = []
    const listersOf: Client[][] = servers.map(() => [])
    const connect = async (serverUrl: string, key: string, name: string) => {
      const client = new Client({ name, version: '0.0.0' })
      await client.connect(new StreamableHTTPClientTransport(new URL(`${serverUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }))
      clients.push(client)
      return client
    }
    for (let i = 0; i < buyers; i++) {
      const key = await services.access.createKey({ storefront: 'acme', role: 'buyer', label: `bench buyer ${i}` })
      buyerKeys.push(key.key)
      for (const [n, each] of servers.entries()) {
        buyersOf[n]!.push(await connect(each.url, key.key, `bench-buyer-${i}`))
        listersOf[n]!.push(await connect(each.url, key.key, 'bench-lister'))
      }
      const synced = await tool(buyersOf[0]![i]!, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: uniqueId('bench-sync') })
      if (synced.isError) throw new Error(`sync_accounts: ${JSON.stringify(synced.payload)}`)
      const account = await handle.db.selectFrom('buyer_account').select(['id', 'account_id', 'storefront_id']).where('api_key_id', '=', Number(key.id)).executeTakeFirstOrThrow()
      principals.push({ storefrontId: account.storefront_id, apiKeyId: Number(key.id), sandbox: false, accountRowId: account.id, accountId: account.account_id })
    }
    const buyerFor = (k: number) => buyersOf[k % SERVER_PROCESSES]![Math.floor(k / SERVER_PROCESSES) % buyers]!
    const listerFor = (k: number) => listersOf[k % SERVER_PROCESSES]![Math.floor(k / SERVER_PROCESSES) % buyers]!
    const brief = { buying_mode: 'brief', brief: 'Connected and addressable TV in the Netherlands' }
    const pageSize = 50

    await row('HTTP floor', 'empty Fastify route (POST, in the bench process)', '-', async () => {
      const response = await fetch(`${emptyUrl}/empty`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      await response.arrayBuffer()
      return response.status === 200
    })
    await row('MCP', 'tools/list (protocol floor)', '-', async (k) => (await listerFor(k).listTools()).tools.length > 0)
    await row('MCP', 'get_products (brief, first page of 50)', workload, async (k) => {
      const { isError, payload } = await tool(buyerFor(k), 'get_products', brief)
      if (isError) throw new Error(JSON.stringify(payload).slice(0, 300))
      return (payload.products as unknown[]).length === pageSize
    })
    await row('workflow, in process', 'buyer.listCatalog (the page get_products reads)', workload, async (k) => {
      const page = await services.buyer.listCatalog(principals[k % buyers]!, { limit: pageSize })
      return page.entries.length === pageSize
    })
    const firstSource = avails[0]!.sourceRowId
    await row('SQL direct', 'the products page query (50 rows of one source)', workload, async () => {
      const { rows } = await listSellableAvails(handle.db, { inventorySourceId: firstSource, now: new Date(), query: { limit: pageSize } })
      return rows.length === pageSize
    })
    const pickTwo = () => {
      const a = avails[Math.floor(Math.random() * avails.length)]!
      let b = a
      while (b === a) b = avails[Math.floor(Math.random() * avails.length)]!
      return [a, b]
    }
    const buyArguments = () => ({
      account: ACCOUNT,
      brand: ACCOUNT.brand,
      ...flight(),
      packages: pickTwo().map((avail) => ({ product_id: `${avail.sourceId}:${avail.availId}`, pricing_option_id: 'cpm_fixed', budget: (IMPRESSIONS * avail.cpm) / 1000, impressions: IMPRESSIONS })),
      idempotency_key: uniqueId('bench-buy'),
    })
    await row('MCP', 'create_media_buy (2 packages)', workload, async (k) => {
      const { isError, payload } = await tool(buyerFor(k), 'create_media_buy', buyArguments())
      if (isError) throw new Error(JSON.stringify(payload).slice(0, 300))
      return payload.status === 'submitted'
    })
    await row('MCP, plain HTTP client', 'create_media_buy (2 packages)', workload, async (k) => {
      const server = servers[k % SERVER_PROCESSES]!
      const { isError, payload } = await plainTool(server.url, buyerKeys[Math.floor(k / SERVER_PROCESSES) % buyers]!, 'create_media_buy', buyArguments())
      if (isError) throw new Error(JSON.stringify(payload).slice(0, 300))
      return payload.status === 'submitted'
    })
    await row('workflow, in process', 'create_media_buy (2 packages)', workload, async (k) => {
      const { start_time, end_time } = flight()
      const outcome = await services.mediaBuys.create(principals[k % buyers]!, {
        idempotencyKey: uniqueId('bench-workflow'),
        brandDomain: ACCOUNT.brand.domain,
        startTime: start_time,
        endTime: end_time,
        packages: pickTwo().map((avail) => ({ productId: `${avail.sourceId}:${avail.availId}`, pricingOptionId: 'cpm_fixed', budget: (IMPRESSIONS * avail.cpm) / 1000, impressions: IMPRESSIONS })),
      })
      return outcome.kind === 'submitted'
    })
    await row('SQL direct', 'ledger reserve x2 in one transaction (the buy\'s holds)', workload, async () => {
      const mediaBuyId = uniqueId('bench-sql')
      await handle.db.transaction().execute(async (trx) => {
        for (const avail of pickTwo().sort((a, b) => a.availId.localeCompare(b.availId))) {
          await services.ledger.reserve({ sourceRowId: avail.sourceRowId, availId: avail.availId, mediaBuyId, packageId: null, buyerCustomerId: null, requestedImpressions: IMPRESSIONS, holdMinutes: 60 }, trx)
        }
      })
      return true
    })
  } finally {
    // What the server said about failed calls (its log level is warn).
    if (rateRows.some((each) => each.failures !== '0')) for (const each of servers) console.error(each.output().slice(-4000))
    for (const client of clients) await client.close().catch(() => {})
    plainAgent.destroy()
    await empty.close()
    await handle.close()
    for (const each of servers) await each.stop()
  }
}

function printRateTable(): void {
  const header = ['path', 'operation', 'workload', 'offered/s', 'answered/s', 'p50 ms', 'p99 ms', 'max ms', 'warm-up p99 ms', 'SQL statements/call', 'CPU ms/call: bench', 'server', 'PostgreSQL', 'failures']
  const ms = (value: number | null) => (value === null ? '-' : value.toFixed(1))
  console.log(`| ${header.join(' | ')} |`)
  console.log(`|${header.map(() => '---').join('|')}|`)
  for (const r of rateRows) console.log(`| ${[r.path, r.operation, r.workload, r.offeredPerSecond, r.answeredPerSecond.toFixed(0), r.p50Ms.toFixed(1), r.p99Ms.toFixed(1), r.maxMs.toFixed(1), r.warmUpP99Ms.toFixed(1), r.statementsPerCall, ms(r.cpuMsPerCall.bench), ms(r.cpuMsPerCall.server), ms(r.cpuMsPerCall.postgres), r.failures].join(' | ')} |`)
}

function printTable(): void {
  const header = ['path', 'operation', 'workload', 'calls/s', 'p50 ms', 'p99 ms', 'SQL statements/call', 'failures']
  console.log(`| ${header.join(' | ')} |`)
  console.log(`|${header.map(() => '---').join('|')}|`)
  for (const r of rows) console.log(`| ${[r.path, r.operation, r.workload, r.callsPerSecond.toFixed(0), r.p50Ms.toFixed(1), r.p99Ms.toFixed(1), r.statementsPerCall, r.failures].join(' | ')} |`)
}

if (!adminUrl) {
  console.error('bench:adcp needs PostgreSQL: set BENCH_DATABASE_URL, TEST_DATABASE_URL or DATABASE_URL (a role with CREATEDB)')
  process.exit(1)
}
const loadAverage = () => os.loadavg().map((n) => n.toFixed(2)).join(' ')
if (RATE === null) {
  console.log(`# AdCP buyer-surface benchmark: ${CLIENTS} concurrent clients, ${SECONDS} s per row, 1 server process (pool ${POOL_SIZE}), node ${process.version}, ${os.cpus().length} CPUs, load average ${loadAverage()}`)
  await withScratchDatabase(adminUrl!, 'sf_bench_adcp', bench)
  printTable()
} else {
  if (!Number.isFinite(RATE) || RATE <= 0) throw new Error('BENCH_RATE must be a positive number of requests per second')
  if (!Number.isInteger(SERVER_PROCESSES) || SERVER_PROCESSES < 1) throw new Error('BENCH_SERVER_PROCESSES must be a whole number of processes, at least 1')
  console.log(`# AdCP buyer-surface benchmark at a fixed rate: ${RATE} requests/s offered (open loop), ${WARMUP_SECONDS} s of warm-up then ${SECONDS} s measured per row, ${RATE_SOURCES * RATE_AVAILS_PER_SOURCE} avails across ${RATE_SOURCES} sources, ${SERVER_PROCESSES} server process${SERVER_PROCESSES === 1 ? '' : 'es'} (pool ${POOL_SIZE}${SERVER_PROCESSES === 1 ? '' : ' each'}), node ${process.version}, ${os.cpus().length} CPUs, load average ${loadAverage()}`)
  await withScratchDatabase(adminUrl!, 'sf_bench_adcp', benchFixedRate)
  printRateTable()
  console.log(`# load average at the end: ${loadAverage()}`)
}
