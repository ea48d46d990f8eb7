/**
 * Avails feed ingestion at scale: a generated 100,000-row seller CSV is uploaded as
 * multipart/form-data to a real `storefront serve` process, previewed, committed by previewId,
 * re-imported unchanged, and committed directly; next to a raw `COPY` of the same normalized rows
 * into the avail table (the physical limit of writing them). Times are wall-clock as the client
 * sees them (upload, parse, stage, diff, commit); peak RSS is the server process's VmHWM during
 * the step (reset through /proc/<pid>/clear_refs before each step).
 *
 *   npm run bench:avails                                        # PGlite only
 *   BENCH_DATABASE_URL=postgres://... npm run bench:avails       # + PostgreSQL (role with CREATEDB)
 *   eval "$(scripts/start-test-postgres.sh)"; BENCH_DATABASE_URL=$TEST_DATABASE_URL npm run bench:avails
 *   BENCH_ROWS=100000 (default)
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { openAsBlob } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { openDatabase } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { startServerProcess, type ServerProcess } from '../test/helpers/processes.ts'
import { dropScratchDatabase } from '../test/helpers/database.ts'
import { generateFeedFiles as generateFiles } from './avails-feed-files.ts'
import { benchServerEnv } from './server-env.ts'

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000)
const KEY = `sf_bench_${randomBytes(12).toString('hex')}`
const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL

interface Row {
  engine: string
  step: string
  seconds: number
  peakRssMiB: number | null
}

const rows: Row[] = []

const COPY_COLUMNS = [
  'inventory_source_id', 'avail_id', 'collection_id', 'collection_name', 'collection_description', 'name', 'channel',
  'start_time', 'end_time', 'feed_capacity', 'upstream_booked_impressions', 'cpm', 'currency', 'targeting',
  'source_metadata', 'status', 'created_at', 'updated_at',
].join(', ')

async function memory(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0)
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 }
}

async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5').catch(() => {})
}

class Client {
  constructor(readonly baseUrl: string) {}

  async json(method: string, route: string, body?: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`${this.baseUrl}/api/v2/storefront${route}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const answer = (await response.json()) as Record<string, unknown>
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(answer).slice(0, 500)}`)
    return answer
  }

  async upload(sourceId: string, file: string, fields: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const form = new FormData()
    for (const [name, value] of Object.entries(fields)) form.append(name, value)
    form.append('file', await openAsBlob(file, { type: 'text/csv' }), path.basename(file))
    const response = await fetch(`${this.baseUrl}/api/v2/storefront/inventory-sources/${sourceId}/modular/avails-feed`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}` },
      body: form,
    })
    const answer = (await response.json()) as Record<string, unknown>
    if (!response.ok) throw new Error(`upload: ${response.status} ${JSON.stringify(answer).slice(0, 500)}`)
    return answer
  }
}

async function timed<T>(engine: string, step: string, server: ServerProcess, run: () => Promise<T>): Promise<T> {
  const pid = server.child.pid!
  await resetPeak(pid)
  const started = process.hrtime.bigint()
  const result = await run()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const { peakMiB } = await memory(pid)
  rows.push({ engine, step, seconds, peakRssMiB: peakMiB })
  console.error(`  ${engine} ${step}: ${seconds.toFixed(2)} s, peak RSS ${peakMiB.toFixed(0)} MiB`)
  return result
}

function countOf(answer: Record<string, unknown>, key: string): number {
  return Number(answer[key])
}

async function runServerSteps(engine: string, database: { databaseUrl: string } | { dataDir: string }, feed: string): Promise<void> {
  const server = await startServerProcess(benchServerEnv(database, KEY), 120_000)
  try {
    const client = new Client(server.url)
    for (const sourceId of ['warmup', 'bench', 'bench-direct']) {
      await client.json('POST', '/inventory-sources/modular/feed', { name: sourceId, sourceId })
    }
    // Warm the JIT and the connection pool on a small feed first.
    const small = path.join(path.dirname(feed), 'warmup.csv')
    const head = (await readFile(feed, 'utf8')).split('\n').slice(0, 1001).join('\n')
    await writeFile(small, `${head}\n`)
    const warm = await client.upload('warmup', small)
    await client.json('POST', '/inventory-sources/warmup/modular/avails-feed', { confirmed: true, previewId: warm.previewId })
    const baseline = await memory(server.child.pid!)
    rows.push({ engine, step: 'server RSS before the runs', seconds: Number.NaN, peakRssMiB: baseline.rssMiB })

    const preview = await timed(engine, `preview ${ROWS.toLocaleString('en-US')} rows (multipart upload)`, server, () => client.upload('bench', feed))
    if (countOf(preview, 'parsedAvailCount') !== ROWS || countOf(preview, 'errorCount') !== 0) throw new Error(`unexpected preview ${JSON.stringify(preview).slice(0, 500)}`)
    const commit = await timed(engine, 'commit by previewId (all created)', server, () =>
      client.json('POST', '/inventory-sources/bench/modular/avails-feed', { confirmed: true, previewId: preview.previewId }))
    if (countOf(commit, 'ingestedAvailCount') !== ROWS) throw new Error('commit did not ingest every row')

    const again = await timed(engine, 're-import preview (all unchanged)', server, () => client.upload('bench', feed))
    await timed(engine, 're-import commit (all unchanged)', server, () =>
      client.json('POST', '/inventory-sources/bench/modular/avails-feed', { confirmed: true, previewId: again.previewId }))
    await timed(engine, 'direct commit (confirmed=true upload, all created)', server, () => client.upload('bench-direct', feed, { confirmed: 'true' }))
  } finally {
    await server.stop()
  }
}

async function insertCopySource(query: (text: string) => Promise<{ rows: { id: number }[] }>): Promise<number> {
  const storefront = await query(`INSERT INTO storefront (name, created_at) VALUES ('copy-bench-${randomBytes(4).toString('hex')}', now()) RETURNING id`)
  const source = await query(
    `INSERT INTO inventory_source (storefront_id, source_id, name, execution_type, status, setup_metadata, created_at, updated_at)
     VALUES (${storefront.rows[0]!.id}, 'copy', 'copy', 'MODULAR_SOURCE', 'ACTIVE', '{}', now(), now()) RETURNING id`,
  )
  return Number(source.rows[0]!.id)
}

async function benchPglite(dir: string, files: Awaited<ReturnType<typeof generateFiles>>): Promise<void> {
  const dataDir = path.join(dir, 'pglite-data')
  await runServerSteps('PGlite', { dataDir }, files.feed)
  // The server is gone; the same database file takes the raw COPY.
  const pglite = await PGlite.create({ dataDir: path.join(dataDir, 'pglite') })
  try {
    const sourceRowId = await insertCopySource((text) => pglite.query<{ id: number }>(text))
    const normalized = await files.normalized(sourceRowId)
    const blob = await openAsBlob(normalized)
    const started = process.hrtime.bigint()
    await pglite.query(`COPY avail (${COPY_COLUMNS}) FROM '/dev/blob' WITH (FORMAT csv)`, [], { blob })
    rows.push({ engine: 'PGlite', step: `raw COPY of the ${ROWS.toLocaleString('en-US')} normalized rows (in-process)`, seconds: Number(process.hrtime.bigint() - started) / 1e9, peakRssMiB: null })
  } finally {
    await pglite.close()
  }
}

async function benchPostgres(dir: string, files: Awaited<ReturnType<typeof generateFiles>>, url: string): Promise<void> {
  const name = `bench_avails_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const databaseUrl = Object.assign(new URL(url), { pathname: `/${name}` }).toString()
  try {
    const handle = await openDatabase({ databaseUrl, poolSize: 2 })
    await migrate(handle.db)
    await handle.close()
    await runServerSteps('PostgreSQL', { databaseUrl }, files.feed)

    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    const sourceRowId = await insertCopySource((text) => client.query<{ id: number }>(text))
    await client.end()
    const normalized = await files.normalized(sourceRowId)
    const started = process.hrtime.bigint()
    const copy = spawnSync('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy avail (${COPY_COLUMNS}) FROM '${normalized}' WITH (FORMAT csv)`], { encoding: 'utf8' })
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    if (copy.status !== 0) throw new Error(`psql \\copy failed: ${copy.stderr}`)
    rows.push({ engine: 'PostgreSQL', step: `raw COPY of the ${ROWS.toLocaleString('en-US')} normalized rows (psql \\copy)`, seconds, peakRssMiB: null })
  } finally {
    await dropScratchDatabase(url, name)
  }
}

function printTable(feedBytes: number): void {
  const header = ['engine', 'step', 'seconds', 'rows/s', 'server peak RSS MiB']
  const body = rows.map((row) => [
    row.engine,
    row.step,
    Number.isNaN(row.seconds) ? '' : row.seconds.toFixed(2),
    Number.isNaN(row.seconds) ? '' : Math.round(ROWS / row.seconds).toLocaleString('en-US'),
    row.peakRssMiB === null ? '—' : row.peakRssMiB.toFixed(0),
  ])
  console.log(`\n${ROWS.toLocaleString('en-US')} rows, feed file ${(feedBytes / (1024 * 1024)).toFixed(1)} MiB, Node ${process.version}, ${os.cpus().length} vCPUs\n`)
  console.log(`| ${header.join(' | ')} |`)
  console.log(`|${header.map(() => '---').join('|')}|`)
  for (const line of body) console.log(`| ${line.join(' | ')} |`)
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'storefront-bench-avails-'))
  try {
    console.error(`Generating ${ROWS} rows in ${dir}...`)
    const files = await generateFiles(dir, ROWS)
    await benchPglite(dir, files)
    if (adminUrl) await benchPostgres(dir, files, adminUrl)
    else console.error('BENCH_DATABASE_URL is not set: PostgreSQL skipped')
    printTable((await stat(files.feed)).size)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
