/**
 * Embedded start-up and memory: `npm start`'s own command (package.json `scripts.start`, run by `sh -c` so
 * the measured process is the server itself, not npm) on a fresh data directory with no template of the
 * embedded database in the checkout's cache (initdb runs, as on the first start without `npm install`'s
 * prepare step), on another fresh one (a copy of the template that start left), then again on the same
 * (existing) one; idle RSS a few seconds after each is ready; then, on that server, the server's peak RSS
 * while a generated 100,000-row avails feed (bench/avails-feed-files.ts, the feed of bench:avails) is
 * previewed and committed. Next to the limits measured in the same run: a bare `node -e` start, an
 * empty Fastify route server and `cp -r` of the template (what a copy of its files costs on this disk). "Ready" is the moment the process prints where it listens; RSS is VmRSS,
 * peak is VmHWM (reset through /proc/<pid>/clear_refs before each feed step).
 *
 *   npm run bench:startup
 *   BENCH_ROWS=100000 (default; 0 measures the starts only)  BENCH_RUNS=1 (starts per row, the median is shown)
 *   BENCH_ROOT=/path/to/another/checkout (measure that checkout's `npm start`, e.g. the code before a change)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { openAsBlob } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { generateFeedFiles } from './avails-feed-files.ts'

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 1)
const IDLE_MS = 3_000
const ROOT = path.resolve(process.env.BENCH_ROOT ?? path.join(import.meta.dirname, '..'))
const KEY = `sf_bench_${randomBytes(12).toString('hex')}`

interface Started {
  child: ChildProcess
  url: string
  readyMs: number
  exited: Promise<number | null>
}

/** Spawns `command` (through sh) and resolves when its output matches `ready`. */
function start(command: string, env: Record<string, string>, ready: RegExp, timeoutMs = 600_000): Promise<Started> {
  return new Promise((resolve, reject) => {
    const began = performance.now()
    const child = spawn('sh', ['-c', command], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)))
    let output = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`not ready in ${timeoutMs} ms: ${command}\n${output}`))
    }, timeoutMs)
    const onData = (chunk: Buffer) => {
      output += chunk
      const match = ready.exec(output)
      if (!match) return
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      child.stderr!.off('data', onData)
      resolve({ child, url: match[1] ?? '', readyMs: performance.now() - began, exited })
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`exited with ${code} before ready: ${command}\n${output}`))
    })
  })
}

async function memory(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0)
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 }
}

async function stop(started: Started): Promise<void> {
  started.child.kill('SIGTERM')
  await started.exited
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Row {
  what: string
  readyMs: number[]
  idleRssMiB: number[]
  peakRssMiB: number[]
}

const rows: Row[] = []

function row(what: string): Row {
  let found = rows.find((r) => r.what === what)
  if (!found) rows.push((found = { what, readyMs: [], idleRssMiB: [], peakRssMiB: [] }))
  return found
}

/** Starts, waits until idle, records ready time, idle RSS and the peak so far; returns the process running. */
async function measureStart(what: string, command: string, env: Record<string, string>, ready: RegExp): Promise<Started> {
  const started = await start(command, env, ready)
  await sleep(IDLE_MS)
  const { rssMiB, peakMiB } = await memory(started.child.pid!)
  const r = row(what)
  r.readyMs.push(started.readyMs)
  r.idleRssMiB.push(rssMiB)
  r.peakRssMiB.push(peakMiB)
  console.error(`  ${what}: ready ${started.readyMs.toFixed(0)} ms, idle RSS ${rssMiB.toFixed(0)} MiB, peak ${peakMiB.toFixed(0)} MiB`)
  return started
}

async function api(url: string, method: string, route: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/api/v2/storefront${route}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const answer = (await response.json()) as Record<string, unknown>
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(answer).slice(0, 500)}`)
  return answer
}

async function upload(url: string, sourceId: string, feed: string): Promise<Record<string, unknown>> {
  const form = new FormData()
  form.append('file', await openAsBlob(feed, { type: 'text/csv' }), path.basename(feed))
  const response = await fetch(`${url}/api/v2/storefront/inventory-sources/${sourceId}/modular/avails-feed`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}` },
    body: form,
  })
  const answer = (await response.json()) as Record<string, unknown>
  if (!response.ok) throw new Error(`upload: ${response.status} ${JSON.stringify(answer).slice(0, 500)}`)
  return answer
}

/** The peak RSS of the server during `run`, from a reset high-water mark. */
async function peakDuring(what: string, pid: number, run: () => Promise<void>): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5')
  await run()
  const { peakMiB } = await memory(pid)
  row(what).peakRssMiB.push(peakMiB)
  console.error(`  ${what}: peak RSS ${peakMiB.toFixed(0)} MiB`)
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

/** The embedded database's templates of ROOT (src/db/embedded-template.ts), wherever its cache keeps them. */
async function templateDirectories(): Promise<string[]> {
  const cache = path.join(ROOT, 'node_modules', '.cache', 'storefront')
  const found: string[] = []
  for (const checkout of await readdir(cache).catch(() => [])) {
    const templates = path.join(cache, checkout, 'pglite-templates')
    for (const name of await readdir(templates).catch(() => [])) if (/^[0-9a-f]{16}$/.test(name)) found.push(path.join(templates, name))
  }
  return found
}

/** Runs `command` through sh to its end: its time in ms. */
function timeCommand(command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const began = performance.now()
    const child = spawn('sh', ['-c', command], { stdio: 'inherit' })
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - began) : reject(new Error(`${command} exited with ${code}`))))
  })
}

const nodeBare = `exec node -e "console.log('ready'); setInterval(() => {}, 1000)"`
const fastifyEmpty =
  `exec node --input-type=module -e "import Fastify from 'fastify'; const app = Fastify(); app.get('/', async () => ({ ok: true })); ` +
  `await app.listen({ port: 0, host: '127.0.0.1' }); console.log('listening on http://127.0.0.1:' + app.server.address().port)"`

async function main(): Promise<void> {
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
  const serverCommand = pkg.scripts.start
  const dir = await mkdtemp(path.join(os.tmpdir(), 'storefront-bench-startup-'))
  const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ')
  const loadBefore = load()
  try {
    console.error(`Generating ${ROWS} rows in ${dir}...`)
    const feed = ROWS > 0 ? (await generateFeedFiles(dir, ROWS)).feed : null
    const serverEnv = {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      STOREFRONT_BOOTSTRAP_KEY: KEY,
    }
    for (let run = 0; run < RUNS; run++) {
      await stop(await measureStart('bare `node -e` (limit)', nodeBare, {}, /ready/))
      await stop(await measureStart('empty Fastify route server (limit)', fastifyEmpty, {}, /listening on (http:\/\/\S+)/))
      const listening = /listening on (http:\/\/\S+)/
      for (const template of await templateDirectories()) await rm(template, { recursive: true, force: true })
      const first = { ...serverEnv, DATA_DIR: path.join(dir, `first-${run}`) }
      await stop(await measureStart('storefront, fresh data dir, no template (initdb)', serverCommand, first, listening))
      const [template] = await templateDirectories()
      if (template) row('`cp -r` of the template (limit of its copy)').readyMs.push(await timeCommand(`cp -r '${template}' '${path.join(dir, `copy-${run}`)}'`))
      const dataDir = path.join(dir, `data-${run}`)
      const env = { ...serverEnv, DATA_DIR: dataDir }
      await stop(await measureStart('storefront, fresh data dir (from the template)', serverCommand, env, listening))
      const server = await measureStart('storefront, existing data dir', serverCommand, env, listening)
      if (!feed) {
        await stop(server)
        continue
      }
      try {
        const pid = server.child.pid!
        await api(server.url, 'POST', '/inventory-sources/modular/feed', { name: 'bench', sourceId: 'bench' })
        let previewId: unknown
        await peakDuring(`storefront, preview of the ${ROWS.toLocaleString('en-US')}-row feed`, pid, async () => {
          const preview = await upload(server.url, 'bench', feed)
          if (Number(preview.parsedAvailCount) !== ROWS) throw new Error(`unexpected preview ${JSON.stringify(preview).slice(0, 300)}`)
          previewId = preview.previewId
        })
        await peakDuring(`storefront, commit of the ${ROWS.toLocaleString('en-US')}-row feed`, pid, async () => {
          const commit = await api(server.url, 'POST', '/inventory-sources/bench/modular/avails-feed', { confirmed: true, previewId })
          if (Number(commit.ingestedAvailCount) !== ROWS) throw new Error('the commit did not ingest every row')
        })
        await sleep(IDLE_MS)
        row('storefront, idle after the commit').idleRssMiB.push((await memory(pid)).rssMiB)
      } finally {
        await stop(server)
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }

  const cell = (values: number[], digits = 0) => (values.length ? median(values).toFixed(digits) : '')
  console.log(`\n\`${serverCommand}\` in ${ROOT}; Node ${process.version}, ${os.cpus().length} vCPUs, ${RUNS} run(s), median shown;` +
    ` load average ${loadBefore} before, ${load()} after\n`)
  console.log('| process | to ready ms | idle RSS MiB | peak RSS MiB |')
  console.log('|---|---|---|---|')
  for (const r of rows) console.log(`| ${r.what} | ${cell(r.readyMs)} | ${cell(r.idleRssMiB)} | ${cell(r.peakRssMiB)} |`)
}

await main()
