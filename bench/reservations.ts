/**
 * Reservations per second and latency of POST .../modular/reservations over HTTP with 64
 * concurrent connections (autocannon), for one hot avail and for 1,000 avails, on the embedded
 * database and on PostgreSQL with one and two server processes; next to the ledger's own SQL
 * issued straight to the database by 64 clients (no HTTP: the physical limit of the design).
 *
 *   npm run bench:reservations                                   # PGlite only
 *   BENCH_DATABASE_URL=postgres://... npm run bench:reservations  # + PostgreSQL (role with CREATEDB)
 *   BENCH_SECONDS=10 (default) per run
 *   BENCH_PGLITE=0                      skip the PGlite runs
 *   BENCH_PROCESSES=1,2 (default)       server process counts on PostgreSQL
 *   BENCH_BEFORE_ROOT=/path/to/checkout also measure another checkout of the project (its server
 *                                       processes and its ledger module) in the same run: "before" rows
 *
 * Every attempt succeeds (capacity is effectively unlimited), so the numbers are the cost of a
 * successful hold: the lookup and the conditional UPDATE that writes reservation, entry and counters.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import { openDatabase, type DatabaseHandle } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { createLedgerService } from '../src/modules/booking-ledger/ledger-service.ts'
import { systemClock } from '../src/shared/clock.ts'
import { startServerProcess, startServerProcesses, type ServerProcess } from '../test/helpers/processes.ts'
import { seedModularSource } from '../test/ledger/ledger-fixtures.ts'
import { withScratchDatabase } from '../test/helpers/database.ts'
import { benchServerEnv } from './server-env.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = 64
const SPREAD_AVAILS = 1_000
const CAPACITY = 1_000_000_000_000
const POOL_SIZE = 20
const KEY = `sf_bench_${randomBytes(12).toString('hex')}`
const adminUrl = process.env.BENCH_DATABASE_URL
const RUN_PGLITE = process.env.BENCH_PGLITE !== '0'
const PROCESS_COUNTS = (process.env.BENCH_PROCESSES ?? '1,2').split(',').map(Number)
const BEFORE_ROOT = process.env.BENCH_BEFORE_ROOT

/** The code measured: this checkout, or the one BENCH_BEFORE_ROOT names. */
interface Build {
  label: string
  root: string | undefined
  createLedger: typeof createLedgerService
  /** That build's own migrations and fixture: an older server refuses a schema newer than it knows. */
  migrate: typeof migrate
  seedModularSource: typeof seedModularSource
}

async function builds(): Promise<Build[]> {
  const current: Build = { label: BEFORE_ROOT ? 'after' : '', root: undefined, createLedger: createLedgerService, migrate, seedModularSource }
  if (!BEFORE_ROOT) return [current]
  const root = path.resolve(BEFORE_ROOT)
  const ledger = await import(path.join(root, 'src/modules/booking-ledger/ledger-service.ts')) as { createLedgerService: typeof createLedgerService }
  const migrations = await import(path.join(root, 'src/db/migrate.ts')) as { migrate: typeof migrate }
  const fixtures = await import(path.join(root, 'test/ledger/ledger-fixtures.ts')) as { seedModularSource: typeof seedModularSource }
  return [{ label: 'before', root, createLedger: ledger.createLedgerService, migrate: migrations.migrate, seedModularSource: fixtures.seedModularSource }, current]
}

type Workload = 'hot' | 'spread'

interface Row {
  engine: string
  path: string
  workload: string
  reservationsPerSecond: number
  p50Ms: number
  p99Ms: number
  /** Answers other than 2xx, plus transport errors and timeouts (autocannon's 10 s). */
  failures: string
}

const rows: Row[] = []
let sequence = 0

function attemptBody(workload: Workload): string {
  sequence += 1
  const availId = workload === 'hot' ? 'hot' : `a-${Math.floor(Math.random() * SPREAD_AVAILS)}`
  return JSON.stringify({ availId, mediaBuyId: `bench-${process.pid}-${sequence}`, requestedImpressions: 1 })
}

async function seed(handle: DatabaseHandle, build?: Build): Promise<void> {
  await handle.db.insertInto('storefront').values({ name: 'acme', created_at: new Date() }).onConflict((oc) => oc.column('name').doNothing()).execute()
  const avails = [{ availId: 'hot', capacity: CAPACITY }]
  for (let i = 0; i < SPREAD_AVAILS; i++) avails.push({ availId: `a-${i}`, capacity: CAPACITY })
  await (build?.seedModularSource ?? seedModularSource)(handle.db, { sourceId: 'bench', avails, now: new Date() })
}

function serverEnv(database: { databaseUrl: string } | { dataDir: string }): Record<string, string> {
  return benchServerEnv(database, KEY, { DATABASE_POOL_SIZE: String(POOL_SIZE) })
}

function failureSummary(non2xx: number, errors: number, timeouts: number): string {
  if (non2xx + errors + timeouts === 0) return '0'
  return [non2xx ? `${non2xx} non-2xx` : '', errors ? `${errors} errors` : '', timeouts ? `${timeouts} timeouts` : ''].filter(Boolean).join(', ')
}

/** autocannon against every server at once (connections split evenly); throughput adds up. */
async function runHttp(engine: string, servers: ServerProcess[], workload: Workload, build = ''): Promise<void> {
  const perServer = CONNECTIONS / servers.length
  const results = await Promise.all(servers.map((server) => autocannon({
    url: server.url,
    connections: perServer,
    duration: SECONDS,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    requests: [{
      method: 'POST',
      path: '/api/v2/storefront/inventory-sources/bench/modular/reservations',
      setupRequest: (request) => ({ ...request, body: attemptBody(workload) }),
    }],
  })))
  rows.push({
    engine,
    path: `${build ? `${build}: ` : ''}HTTP, ${servers.length} server process${servers.length > 1 ? 'es' : ''}`,
    workload: workload === 'hot' ? '1 hot avail' : `${SPREAD_AVAILS} avails`,
    reservationsPerSecond: results.reduce((sum, r) => sum + r['2xx'], 0) / SECONDS,
    // Percentiles of separate runs cannot be merged exactly: the median of medians, the worst p99.
    p50Ms: results.map((r) => r.latency.p50).sort((a, b) => a - b)[Math.floor(results.length / 2)]!,
    p99Ms: Math.max(...results.map((r) => r.latency.p99)),
    failures: failureSummary(results.reduce((sum, r) => sum + r.non2xx, 0), results.reduce((sum, r) => sum + r.errors, 0), results.reduce((sum, r) => sum + r.timeouts, 0)),
  })
}

/** The ledger's reserve (lookup + conditional UPDATE statement) from 64 concurrent clients, no HTTP. */
async function runDirect(engine: string, handle: DatabaseHandle, workload: Workload, build?: Build): Promise<void> {
  const ledger = (build?.createLedger ?? createLedgerService)({ db: handle.db, clock: systemClock })
  const source = await handle.db.selectFrom('inventory_source').select('id').where('source_id', '=', 'bench').executeTakeFirstOrThrow()
  const latencies: number[] = []
  let failures = 0
  const deadline = performance.now() + SECONDS * 1000
  async function client() {
    while (performance.now() < deadline) {
      const body = JSON.parse(attemptBody(workload)) as { availId: string; mediaBuyId: string }
      const started = performance.now()
      try {
        await ledger.reserve({ sourceRowId: source.id, availId: body.availId, mediaBuyId: body.mediaBuyId, packageId: null, buyerCustomerId: null, requestedImpressions: 1, holdMinutes: 60 })
        latencies.push(performance.now() - started)
      } catch {
        failures += 1
      }
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, client))
  latencies.sort((a, b) => a - b)
  rows.push({
    engine,
    path: `${build?.label ? `${build.label}: ` : ''}SQL direct, ${CONNECTIONS} clients`,
    workload: workload === 'hot' ? '1 hot avail' : `${SPREAD_AVAILS} avails`,
    reservationsPerSecond: latencies.length / SECONDS,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    failures: String(failures),
  })
}

async function benchPglite(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'storefront-bench-'))
  try {
    const handle = await openDatabase({ dataDir: path.join(dataDir, 'pglite') })
    await migrate(handle.db)
    await seed(handle)
    await handle.close()
    const server = await startServerProcess(serverEnv({ dataDir }))
    try {
      for (const workload of ['hot', 'spread'] as const) await runHttp('PGlite', [server], workload)
    } finally {
      await server.stop()
    }
    // The server released the data directory; measure the same statements in-process.
    const direct = await openDatabase({ dataDir: path.join(dataDir, 'pglite') })
    try {
      for (const workload of ['hot', 'spread'] as const) await runDirect('PGlite', direct, workload)
    } finally {
      await direct.close()
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}

async function benchPostgres(): Promise<void> {
  const measured = await builds()
  for (const processes of PROCESS_COUNTS) {
    for (const build of measured) {
      await withScratchDatabase(adminUrl!, 'sf_bench', async (url) => {
        const handle = await openDatabase({ databaseUrl: url, poolSize: 4 })
        await build.migrate(handle.db)
        await seed(handle, build)
        await handle.close()
        const servers: ServerProcess[] = []
        try {
          servers.push(...(await startServerProcesses(processes, serverEnv({ databaseUrl: url }), 180_000, build.root)))
          for (const workload of ['hot', 'spread'] as const) await runHttp('PostgreSQL', servers, workload, build.label)
        } finally {
          for (const server of servers) await server.stop()
        }
      })
    }
  }
  for (const build of measured) {
    await withScratchDatabase(adminUrl!, 'sf_bench', async (url) => {
      const handle = await openDatabase({ databaseUrl: url, poolSize: CONNECTIONS })
      try {
        await build.migrate(handle.db)
        await seed(handle, build)
        for (const workload of ['hot', 'spread'] as const) await runDirect('PostgreSQL', handle, workload, build)
      } finally {
        await handle.close()
      }
    })
  }
}

function printTable(): void {
  const header = ['engine', 'path', 'workload', 'reservations/s', 'p50 ms', 'p99 ms', 'failures']
  const lines = rows.map((r) => [r.engine, r.path, r.workload, r.reservationsPerSecond.toFixed(0), r.p50Ms.toFixed(1), r.p99Ms.toFixed(1), r.failures])
  console.log(`| ${header.join(' | ')} |`)
  console.log(`|${header.map(() => '---').join('|')}|`)
  for (const line of lines) console.log(`| ${line.join(' | ')} |`)
}

console.log(`# reservations benchmark: ${CONNECTIONS} connections, ${SECONDS} s per run, node ${process.version}, ${os.cpus().length} CPUs`)
console.log(`# load average before the run: ${os.loadavg().map((n) => n.toFixed(2)).join(' ')}`)
if (RUN_PGLITE) await benchPglite()
if (adminUrl) await benchPostgres()
else console.log('# BENCH_DATABASE_URL not set: PostgreSQL runs skipped')
printTable()
console.log(`# load average after the run: ${os.loadavg().map((n) => n.toFixed(2)).join(' ')}`)
