// Reads one `adcp storyboard run --summary-output` file, prints the bundle's counts and every
// failure, and exits 0 only if each failure is tolerated by name (scripts/conformance.sh's TOLERATED:
// "<storyboard_id>/<step_id> <regexp the reason must match>") and the failed count is explained by
// the failures listed.
//
//   node scripts/conformance-summary.mjs <summary.json> <bundle> <wall seconds> [tolerated rule...]
import console from 'node:console'
import { readFileSync } from 'node:fs'
import process from 'node:process'

const [file, bundle, seconds, ...rules] = process.argv.slice(2)
const summary = JSON.parse(readFileSync(file, 'utf8'))
const tolerated = rules.map((line) => {
  const at = line.indexOf(' ')
  return { step: line.slice(0, at), reason: new RegExp(line.slice(at + 1)) }
})
const isTolerated = (f) => tolerated.some((rule) => rule.step === `${f.storyboard_id}/${f.step_id}` && rule.reason.test(String(f.reason ?? '')))
const failures = summary.failures ?? []
const real = failures.filter((f) => !isTolerated(f))
const toleratedCount = failures.length - real.length
const runner = ((summary.total_duration_ms ?? 0) / 1000).toFixed(1)
console.log(
  `${bundle}: ${summary.overall_status ?? ''} passed=${summary.passed} failed=${summary.failed} skipped=${summary.skipped}` +
    `${toleratedCount ? ` (tolerated=${toleratedCount})` : ''} runner=${runner} s wall=${seconds} s`,
)
for (const f of failures) console.log(`  ${isTolerated(f) ? 'TOLERATED' : 'FAIL'} ${f.storyboard_id}/${f.step_id}: ${String(f.reason ?? '').slice(0, 300)}`)
process.exit(real.length === 0 && summary.failed === toleratedCount ? 0 : 1)
