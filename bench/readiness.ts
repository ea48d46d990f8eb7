/**
 * Readiness at scale (issue 15, target 5): the readiness projection and GET /status of one
 * modular source with 10,000 avails, 20,000 reservations and 5,000 work items, on PostgreSQL,
 * called one after another (nothing queued in front of a call), next to their limit in the same
 * run: a `SELECT 1` round trip, sent as many times per call as the read sends statements.
 *
 *   BENCH_DATABASE_URL | TEST_DATABASE_URL | DATABASE_URL=postgres://... npm run bench:readiness
 *   BENCH_CALLS=200 (default) per row
 *
 * A scratch database is created on that server (the role needs CREATEDB) and dropped afterwards.
 * The rows are the ones test/modular/readiness-at-scale.test.ts counts the statements of
 * (test/helpers/source-at-scale.ts).
 */
import os from 'node:os'
import { sql } from 'kysely'
import { openDatabase } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { loadProjection } from '../src/modules/readiness/index.ts'
import { createServices } from '../src/services.ts'
import { systemClock } from '../src/shared/clock.ts'
import { SecretBox } from '../src/shared/secret-box.ts'
import { refuseUnprobedAgents } from '../src/sources/agent-probe.ts'
import { withScratchDatabase } from '../test/helpers/database.ts'
import { ISSUE_15_SCALE, seedSourceAtScale, statementCounter } from '../test/helpers/source-at-scale.ts'
import { BENCH_SECRET } from './server-env.ts'

const CALLS = Number(process.env.BENCH_CALLS ?? 200)
const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL

interface Row { read: string; statements: number; p50Ms: number; p99Ms: number; maxMs: number }
const rows: Row[] = []

async function measure(read: string, statements: number, once: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 10; i++) await once()
  const latencies: number[] = []
  for (let i = 0; i < CALLS; i++) {
    const begun = performance.now()
    await once()
    latencies.push(performance.now() - begun)
  }
  latencies.sort((a, b) => a - b)
  rows.push({ read, statements, p50Ms: latencies[Math.floor(CALLS * 0.5)]!, p99Ms: latencies[Math.floor(CALLS * 0.99)]!, maxMs: latencies.at(-1)! })
  console.log(`# ${read}: done`)
}

async function bench(url: string): Promise<void> {
  const handle = await openDatabase({ databaseUrl: url, poolSize: 4 })
  try {
    await migrate(handle.db)
    const counter = statementCounter()
    const db = handle.db.withPlugin(counter.plugin)
    const services = createServices({ db, engine: handle.engine, notifications: handle.notifications, clock: systemClock, secrets: new SecretBox(BENCH_SECRET), probeAgent: refuseUnprobedAgents })
    const key = await services.access.createKey({ storefront: 'acme', label: 'readiness bench' })
    const storefrontId = Number((await db.selectFrom('api_key').select('storefront_id').where('id', '=', Number(key.id)).executeTakeFirstOrThrow()).storefront_id)
    const started = performance.now()
    const source = await seedSourceAtScale(services, db, { storefrontId, sourceId: 'demo-scale', now: new Date(), ...ISSUE_15_SCALE })
    console.log(`# seeded ${ISSUE_15_SCALE.avails} avails, ${ISSUE_15_SCALE.reservations} reservations, ${ISSUE_15_SCALE.workItems} work items in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    const countOf = async (once: () => Promise<unknown>) => { counter.reset(); await once(); return counter.count() }
    const projection = () => loadProjection(db, source, new Date())
    const status = () => services.sourceStatus.status(storefrontId, 'demo-scale')
    const projectionStatements = await countOf(projection)
    const statusStatements = await countOf(status)
    await measure('SELECT 1 round trip', 1, () => sql`SELECT 1`.execute(handle.db))
    await measure(`${projectionStatements} x SELECT 1 (the projection's round trips)`, projectionStatements, async () => { for (let i = 0; i < projectionStatements; i++) await sql`SELECT 1`.execute(handle.db) })
    await measure('readiness projection (loadProjection)', projectionStatements, projection)
    await measure(`${statusStatements} x SELECT 1 (/status's round trips)`, statusStatements, async () => { for (let i = 0; i < statusStatements; i++) await sql`SELECT 1`.execute(handle.db) })
    await measure('GET /status (sourceStatus.status)', statusStatements, status)
  } finally {
    await handle.close()
  }
}

if (!adminUrl) {
  console.error('bench:readiness needs PostgreSQL: set BENCH_DATABASE_URL, TEST_DATABASE_URL or DATABASE_URL (a role with CREATEDB)')
  process.exit(1)
}
const loadAverage = () => os.loadavg().map((n) => n.toFixed(2)).join(' ')
console.log(`# Readiness at scale: ${CALLS} sequential calls per row, node ${process.version}, ${os.cpus().length} CPUs, load average ${loadAverage()}`)
await withScratchDatabase(adminUrl, 'sf_bench_readiness', bench)
console.log('| read | SQL statements | p50 ms | p99 ms | max ms |')
console.log('|---|---|---|---|---|')
for (const r of rows) console.log(`| ${r.read} | ${r.statements} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.maxMs.toFixed(1)} |`)
console.log(`# load average at the end: ${loadAverage()}`)
