// The full-assessment ratchet (issue 14): reads the `--summary-output` of the runner's
// capability-driven assessment (`adcp storyboard run <url>` with no storyboard id) and the line of
// README.md that records it ("Full assessment ratchet: **<p> passed / <f> failed / <s> skipped**"),
// prints the counts and every failure grouped by storyboard, and exits non-zero when more steps fail
// than the README records (the failed count may only go down) or fewer pass (so a run that stopped
// early, or a step that is now skipped, cannot pass for an improvement). When the counts improve, it
// says so, so the README line is moved in the same change.
//
//   node scripts/assessment-ratchet.mjs <summary.json> <README.md> <wall seconds>
import console from 'node:console'
import { readFileSync } from 'node:fs'
import process from 'node:process'

const RATCHET_LINE = /Full assessment ratchet: \*\*(\d+) passed \/ (\d+) failed \/ (\d+) skipped\*\*/

const [summaryFile, readmeFile, seconds] = process.argv.slice(2)
if (!summaryFile || !readmeFile) {
  console.error('usage: node scripts/assessment-ratchet.mjs <summary.json> <README.md> [wall seconds]')
  process.exit(2)
}
const summary = JSON.parse(readFileSync(summaryFile, 'utf8'))
const recorded = RATCHET_LINE.exec(readFileSync(readmeFile, 'utf8'))
if (!recorded) {
  console.error(`${readmeFile} has no line "Full assessment ratchet: **<p> passed / <f> failed / <s> skipped**"`)
  process.exit(2)
}
const [, recordedPassed, recordedFailed, recordedSkipped] = recorded.map(Number)

const failures = summary.failures ?? []
const byStoryboard = new Map()
for (const failure of failures) {
  const steps = byStoryboard.get(failure.storyboard_id) ?? []
  steps.push(failure)
  byStoryboard.set(failure.storyboard_id, steps)
}
const runner = ((summary.total_duration_ms ?? 0) / 1000).toFixed(1)
console.log(
  `assessment: ${summary.overall_status ?? ''} passed=${summary.passed} failed=${summary.failed} skipped=${summary.skipped}` +
    ` (README: ${recordedPassed} / ${recordedFailed} / ${recordedSkipped}) runner=${runner} s${seconds ? ` wall=${seconds} s` : ''}`,
)
for (const [storyboard, steps] of byStoryboard) {
  console.log(`  ${storyboard}: ${steps.length} failed`)
  for (const step of steps) console.log(`    ${step.step_id}: ${String(step.reason ?? '').slice(0, 200)}`)
}

for (const count of ['passed', 'failed', 'skipped']) {
  if (typeof summary[count] !== 'number') {
    console.error(`the summary has no numeric ${count} count: the runner did not finish`)
    process.exit(1)
  }
}
if (summary.failed !== failures.length) {
  console.error(`the summary's failed count (${summary.failed}) does not match its ${failures.length} listed failures`)
  process.exit(1)
}
if (summary.failed > recordedFailed) {
  console.error(`RATCHET: ${summary.failed} steps failed, more than the ${recordedFailed} README.md records: a step that passed now fails`)
  process.exit(1)
}
if (summary.passed < recordedPassed) {
  console.error(`RATCHET: ${summary.passed} steps passed, fewer than the ${recordedPassed} README.md records: a step no longer runs or passes`)
  process.exit(1)
}
if (summary.failed < recordedFailed || summary.passed > recordedPassed) {
  console.log(`ratchet: ${summary.passed} passed / ${summary.failed} failed, better than README.md records: move its line`)
}
