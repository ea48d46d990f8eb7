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
 * A scratch database is created on that server (the role needs CREATEDB) and dropped afterwards.
 * Every hold is 10 impressions on an avail picked at random, so capacity never runs out: first
 * among the demo source's five (every hold contends for five row locks), then among 1,000 more
 * like them (the locks hardly meet). One closed-loop client per buyer, all in this process, so
 * the load generator shares the machine with the server and the database. The in-process rows
 * also count the SQL statements they send: what one call costs the database.
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { sql } from 'kysely'
import pg from 'pg'
import { openDatabase, type DatabaseHandle } from '../src/db/database.ts'
import { createServices } from '../src/services.ts'
import { systemClock } from '../src/shared/clock.ts'
import { SecretBox } from '../src/shared/secret-box.ts'
import { refuseUnprobedAgents } from '../src/sources/agent-probe.ts'
import type { BuyPrincipal } from '../src/workflows/media-buy-workflows.ts'
import { withScratchDatabase } from '../test/helpers/database.ts'
import { startServerProcess } from '../test/helpers/processes.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32)
const POOL_SIZE = 20
const IMPRESSIONS = 10
const SPREAD_AVAILS = 1_000
const CAPACITY = 1_000_000_000_000
const DEMO = 'talpa-cadent-demo'
const SECRET = 'bench-secret-key-0123456789abcdef'
const KEY = `sf_bench_${randomBytes(12).toString('hex')}`
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }
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

async function bench(url: string): Promise<void> {
  const server = await startServerProcess({
    DATABASE_URL: url,
    STOREFRONT_SECRET_KEY: SECRET,
    STOREFRONT_BOOTSTRAP_KEY: KEY,
    STOREFRONT_DEFAULT_NAME: 'acme',
    DATABASE_POOL_SIZE: String(POOL_SIZE),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  })
  // The server migrated; this process's pool is the one the in-process and SQL rows use.
  const handle: DatabaseHandle = await openDatabase({ databaseUrl: url, poolSize: CLIENTS })
  const clients: Client[] = []
  try {
    const demo = await rest(server.url, 'POST', '/inventory-sources/modular/cadent-demo', {})
    if (demo.status !== 201) throw new Error(`cadent-demo: ${demo.status} ${JSON.stringify(demo.json)}`)
    const avails = ((await rest(server.url, 'GET', `/inventory-sources/${DEMO}/modular/products`)).json.products as DemoAvail[])

    const services = createServices({ db: handle.db, engine: handle.engine, notifications: handle.notifications, clock: systemClock, secrets: new SecretBox(SECRET), probeAgent: refuseUnprobedAgents })
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
console.log(`# AdCP buyer-surface benchmark: ${CLIENTS} concurrent clients, ${SECONDS} s per row, 1 server process (pool ${POOL_SIZE}), node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((n) => n.toFixed(2)).join(' ')}`)
await withScratchDatabase(adminUrl!, 'sf_bench_adcp', bench)
printTable()
