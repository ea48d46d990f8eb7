// Reads one `adcp fuzz --format json` report, prints its counts, every failure and every
// uniform-error probe, and exits 0 only if the run is clean AND the cross-tenant probe ran:
//  - totalFailures == 0 (each answer a schema-valid success or a well-formed AdCP error);
//  - no uniform-error invariant verdict `fail`;
//  - the probes in CROSS_TENANT (tools whose id the seeder creates) ran in cross-tenant mode and passed:
//    without a seeded id the fuzzer silently falls back to baseline mode (two random ids, one token),
//    which proves nothing about the other tenant's objects.
//
//   node scripts/fuzz-summary.mjs <report.json> <wall seconds>
import console from 'node:console'
import { readFileSync } from 'node:fs'
import process from 'node:process'

const CROSS_TENANT = ['get_media_buy_delivery']

const [file, seconds] = process.argv.slice(2)
const report = JSON.parse(readFileSync(file, 'utf8'))
const problems = []

const tools = Object.entries(report.perTool ?? {})
const ran = tools.filter(([, s]) => !s.skipped)
const sum = (key) => ran.reduce((n, [, s]) => n + (s[key] ?? 0), 0)
const pools = Object.entries(report.fixturesUsed ?? {}).filter(([, v]) => Array.isArray(v) && v.length > 0).map(([k, v]) => `${k}=${v.length}`)
console.log(
  `seed ${report.seed}: runs=${report.totalRuns} accepted=${sum('accepted')} rejected=${sum('rejected')} failed=${report.totalFailures}` +
    ` tools=${ran.length} (skipped ${tools.length - ran.length}) seeded=[${pools.join(' ')}] fuzzer=${((report.durationMs ?? 0) / 1000).toFixed(1)} s wall=${seconds} s`,
)
for (const [tool, s] of tools) {
  console.log(s.skipped ? `  ${tool}: skipped (${s.skipReason})` : `  ${tool}: runs=${s.runs} accepted=${s.accepted} rejected=${s.rejected} failed=${s.failed}`)
}
for (const w of report.seedWarnings ?? []) console.log(`  seed warning [${w.seeder}]: ${w.reason}`)

if (typeof report.totalFailures !== 'number') problems.push('the report has no totalFailures')
else if (report.totalFailures > 0) problems.push(`${report.totalFailures} oracle violation(s)${report.droppedFailures ? ` (${report.droppedFailures} not listed)` : ''}`)
for (const f of report.failures ?? []) {
  console.log(`  FAIL [${f.tool}] seed=${f.seed}: ${(f.invariantFailures ?? []).join('; ').slice(0, 400)}`)
  console.log(`       input: ${JSON.stringify(f.input).slice(0, 300)}`)
}

for (const u of report.uniformError ?? []) {
  console.log(`  uniform-error ${u.tool}: ${u.verdict} (${u.mode})${u.skipReason ? ` ${u.skipReason}` : ''}`)
  for (const d of u.differences ?? []) console.log(`    · ${String(d).slice(0, 300)}`)
  if (u.verdict === 'fail') problems.push(`uniform-error invariant failed on ${u.tool}`)
}
for (const tool of CROSS_TENANT) {
  const u = (report.uniformError ?? []).find((r) => r.tool === tool)
  if (!u || u.mode !== 'cross-tenant' || u.verdict !== 'pass') {
    problems.push(`${tool}: the cross-tenant probe did not run and pass (${u ? `${u.verdict}, ${u.mode}` : 'absent'}; did the seeder create a media buy?)`)
  }
}

for (const p of problems) console.log(`  GATE: ${p}`)
process.exit(problems.length === 0 ? 0 : 1)
