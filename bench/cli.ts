/**
 * CLI start (issue 15, target 6: `storefront --help` and `storefront work list` < 0.5 s to first
 * output): time from spawning a process to its first byte on stdout or stderr, next to a bare
 * `node -e` start measured in the same run, the runs of every row interleaved so that the machine's
 * load falls on all of them alike.
 *
 *   npm run bench:cli                 BENCH_RUNS=15 (default) per row
 *
 * Rows: bare Node; `bin/storefront.js --help` and `work list` from the warm CLI bundle (the way
 * `npx storefront` runs); the same two through tsx (`node --import tsx src/cli/main.ts`, how the bin
 * ran before the bundle, and `STOREFRONT_CLI_TSX=1`); and the first run after an edit of src/cli,
 * which rebuilds the bundle. `work list` asks a real server in this process (the app on PGlite with
 * the Cadent demo source and one finalized hold, so the list has rows), over loopback HTTP.
 */
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { cacheDirectory } from '../bin/bundle.js'
import { createDemo, DEMO, finalize, reserve } from '../test/execution/helpers.ts'
import { createTestContext } from '../test/helpers/context.ts'
import { repoRoot } from '../test/helpers/processes.ts'

const RUNS = Number(process.env.BENCH_RUNS ?? 15)
const bin = path.join(repoRoot, 'bin/storefront.js')
const main = path.join(repoRoot, 'src/cli/main.ts')

interface Row {
  name: string
  args: string[]
  env?: Record<string, string>
  before?: () => void
  times: number[]
}

/** Milliseconds from spawn to the first output byte; fails on a non-zero exit. */
function firstOutput(args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let first: number | undefined
    let output = ''
    const child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const seen = (chunk: Buffer) => {
      first ??= performance.now() - started
      output += chunk
    }
    child.stdout.on('data', seen)
    child.stderr.on('data', seen)
    child.on('close', (code) => {
      if (code !== 0 || first === undefined) reject(new Error(`${args.join(' ')} exited ${code}: ${output}`))
      else resolve(first)
    })
  })
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

const load = () => os.loadavg().map((value) => value.toFixed(2)).join(' ')

const ctx = await createTestContext()
try {
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  await createDemo(ctx)
  await reserve(ctx, {})
  await finalize(ctx)
  const api = { STOREFRONT_URL: `http://127.0.0.1:${port}`, STOREFRONT_API_KEY: ctx.key, STOREFRONT_SOURCE: DEMO }
  const bundleDir = cacheDirectory()

  const rows: Row[] = [
    { name: 'bare node -e', args: ['-e', 'console.log(1)'], times: [] },
    { name: 'storefront --help (bundle)', args: [bin, '--help'], times: [] },
    { name: 'storefront work list (bundle)', args: [bin, 'work', 'list'], env: api, times: [] },
    { name: 'storefront --help (tsx, before)', args: ['--import', 'tsx', main, '--help'], times: [] },
    { name: 'storefront work list (tsx, before)', args: ['--import', 'tsx', main, 'work', 'list'], env: api, times: [] },
    { name: 'storefront --help, bundle rebuilt', args: [bin, '--help'], before: () => rmSync(path.join(bundleDir, 'manifest.json'), { force: true }), times: [] },
  ]
  // Warm-up: the bundle, tsx's own cache and the server's first request.
  for (const row of rows) await firstOutput(row.args, row.env ?? {})
  const loadBefore = load()
  for (let run = 0; run < RUNS; run += 1) {
    for (const row of rows) {
      row.before?.()
      row.times.push(await firstOutput(row.args, row.env ?? {}))
    }
  }
  const loadAfter = load()

  const bare = [...rows[0]!.times].sort((a, b) => a - b)
  const bareMedian = percentile(bare, 50)
  console.log(`CLI start: time to first output, ${RUNS} runs per row, interleaved; node ${process.version}, ${os.cpus().length} CPUs`)
  console.log(`load average ${loadBefore} before, ${loadAfter} after\n`)
  console.log(`${'row'.padEnd(38)}${'p50 ms'.padStart(9)}${'p90 ms'.padStart(9)}${'p50 - bare'.padStart(12)}${'x bare'.padStart(8)}`)
  for (const row of rows) {
    const sorted = [...row.times].sort((a, b) => a - b)
    const median = percentile(sorted, 50)
    console.log(`${row.name.padEnd(38)}${median.toFixed(0).padStart(9)}${percentile(sorted, 90).toFixed(0).padStart(9)}${(median - bareMedian).toFixed(0).padStart(12)}${(median / bareMedian).toFixed(2).padStart(8)}`)
  }
} finally {
  await ctx.close()
}
