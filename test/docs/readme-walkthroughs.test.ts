/**
 * The README's walk-throughs, run as a reader would paste them, against live servers.
 *
 * The test reads README.md and takes, for each walk-through (the sections named in `walkthroughs` below),
 * its fenced blocks in document order. Editing a README command changes what runs here; renaming a section
 * fails here.
 *
 * The rules a walk-through follows:
 * - A ```bash (or ```sh) block is a command block. Each walk-through runs its command blocks in ONE bash
 *   process (`set -eo pipefail`), in the checkout, so `export`, variables captured with `$(... | jq ...)`,
 *   shell functions and `cd` carry over from block to block. A failing command fails the walk-through,
 *   naming the block's README line; so does a captured variable left empty or `null`.
 * - A command block whose first line is `# Terminal <n>: ...` starts long-lived processes (a server, a
 *   receiver): each of its commands runs in the background, and the next block waits until it prints
 *   `listening on`. Everything a walk-through starts runs in the process group of its bash, which is
 *   stopped at the end: only those processes.
 * - The first non-command block (```json, a plain ```) after a command block, before the next command
 *   block, is that block's shown output: its stdout must match it. After a `# Terminal` block, it is what
 *   those processes print while the walk-through runs, checked once every block has run.
 * - Matching: both texts are masked the same way first (dates and timestamps, ids with a known prefix such as
 *   `mb_`, `task_`, `avp_`, `sf_`, numeric `"id"`s, the webhook key id, column widths and runs of spaces),
 *   then `...` or `…` in the shown output stands for any text (several keys, lines, or the rest of an id).
 *   A mismatch names both README lines and shows both texts; the walk-through goes on, and fails at the end
 *   listing every mismatch (a failing command stops it at once).
 * - Each walk-through gets fresh data: its own temp dir as `TMPDIR` (so `$(mktemp -d)` scratch files and
 *   `${TMPDIR:-/tmp}/...` data dirs land there), `DATA_DIR` in it, and free ports: wherever the README
 *   says `127.0.0.1:<port>`, `localhost:<port>`, `PORT=<port>` or `.listen(<port>` for one of
 *   `readmePorts`, the run uses its own port, and `PORT`/`STOREFRONT_URL` name the one standing for
 *   3000 (the server's default).
 * - `npx storefront` and `npx adcp` run the very bins npx resolves them to (`bin/storefront.js`, the SDK's
 *   `bin/adcp.js`) through a shell function: `npm exec` alone costs seconds a call on a loaded machine, and
 *   a walk-through makes dozens. A separate test checks that npx resolves both to those bins.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { freePort } from '../helpers/free-port.ts'
import { repoRoot } from '../helpers/processes.ts'
import {
  backgroundCommands,
  BashSession,
  fencedBlocks,
  matchesShownOutput,
  walkthroughSteps,
  type FencedBlock,
} from '../helpers/walkthroughs.ts'

const walkthroughs: Array<{ name: string; sections: string[] }> = [
  {
    name: 'inventory sources, the modular lifecycle, avails feeds and the storefront command (one server)',
    sections: ['Walk-through: inventory sources', 'Modular sources: the lifecycle', 'Avails feeds and products', 'The `storefront` command'],
  },
  { name: 'selling to buyer agents', sections: ['Selling to buyer agents'] },
  { name: "webhooks: a buyer's agent is told", sections: ["Webhooks: a buyer's agent is told"] },
  { name: "selling a local AdCP agent's products (two servers)", sections: ["Walk-through: selling a local AdCP agent's products"] },
]

/** The ports the README names; each run replaces them with free ones (see the header). */
const readmePorts = [3000, 3001, 4917]
const serverStartTimeoutMs = 150_000
const blockTimeoutMs = 120_000
const backgroundOutputWaitMs = 30_000

/** What `npx storefront` and `npx adcp` run; any other `npx` goes to npx itself. */
const storefrontBin = path.join(repoRoot, 'bin/storefront.js')
const adcpBin = path.join(repoRoot, 'node_modules/@adcp/sdk/bin/adcp.js')
const npxShortcut = `npx() {
  case "$1" in
    storefront) shift; node ${JSON.stringify(storefrontBin)} "$@" ;;
    adcp) shift; node ${JSON.stringify(adcpBin)} "$@" ;;
    *) command npx "$@" ;;
  esac
}`

const readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8')
const blocks = fencedBlocks(readme)

function blocksOf(sections: string[]): FencedBlock[] {
  for (const section of sections) {
    assert.ok(blocks.some((block) => block.section === section), `README.md has no fenced block under the heading "${section}"`)
  }
  return blocks.filter((block) => sections.includes(block.section))
}

// Walk-throughs run concurrently: no two may be handed the same free port.
const portsHandedOut = new Set<number>()
async function unusedPort(): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (!portsHandedOut.has(port)) {
      portsHandedOut.add(port)
      return port
    }
  }
}

function withPorts(text: string, ports: Map<number, number>): string {
  return text.replace(/(127\.0\.0\.1:|localhost:|PORT=|\.listen\()(\d{4,5})\b/g, (whole, before: string, port: string) => {
    const replacement = ports.get(Number(port))
    return replacement === undefined ? whole : `${before}${replacement}`
  })
}

function mismatch(what: string, shown: FencedBlock, shownText: string, actual: string): string {
  return `${what} does not match the output shown at README.md:${shown.line}\n--- shown\n${shownText}\n--- actual\n${actual}`
}

async function runWalkthrough(sections: string[]): Promise<void> {
  const steps = walkthroughSteps(blocksOf(sections))
  assert.ok(steps.some((step) => step.background), 'the walk-through starts no server (no `# Terminal` block)')
  assert.ok(steps.some((step) => step.shown), 'the walk-through shows no output to check')
  const ports = new Map<number, number>()
  for (const port of readmePorts) ports.set(port, await unusedPort())
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'readme-walkthrough-'))
  // tsx keeps its compile cache in $TMPDIR/tsx-<uid>: the walk-through's own TMPDIR shares the warm one, or
  // every server of every run would compile the whole source tree again.
  const tsxCache = `tsx-${process.getuid?.() ?? 0}`
  if (existsSync(path.join(os.tmpdir(), tsxCache))) await symlink(path.join(os.tmpdir(), tsxCache), path.join(workDir, tsxCache))
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    // The reader's own storefront settings (and the test runner's) are not the walk-through's.
    if (!/^(STOREFRONT_|DATABASE_URL$|TEST_DATABASE_URL$|NODE_TEST_CONTEXT$|PORT$|DATA_DIR$)/.test(name)) env[name] = value
  }
  Object.assign(env, {
    TMPDIR: workDir,
    DATA_DIR: path.join(workDir, 'data'),
    PORT: String(ports.get(3000)),
    STOREFRONT_URL: `http://127.0.0.1:${ports.get(3000)}`,
    LOG_LEVEL: 'warn',
    ADCP_SKIP_VERSION_CHECK: '1',
    npm_config_update_notifier: 'false',
  })
  const session = new BashSession(workDir, repoRoot, env)
  const watched: Array<{ shown: FencedBlock; output(): Promise<string> }> = []
  // A wrong output does not stop the walk-through (its commands worked): every mismatch is listed at the end.
  const mismatches: string[] = []
  try {
    await session.run(npxShortcut, 'the npx shortcut', blockTimeoutMs)
    await runSteps()
  } catch (error) {
    // A command that fails stops the walk-through; the outputs that did not match before it are still news.
    if (mismatches.length > 0) (error as Error).message += `\n\nand before it:\n${mismatches.join('\n\n')}`
    throw error
  } finally {
    await session.close()
    await rm(workDir, { recursive: true, force: true, maxRetries: 5 })
  }
  if (mismatches.length > 0) assert.fail(mismatches.join('\n\n'))

  async function runSteps(): Promise<void> {
    for (const step of steps) {
      const label = `README.md:${step.block.line}`
      if (step.background) {
        const outputs: Array<{ output(): Promise<string> }> = []
        for (const command of backgroundCommands(withPorts(step.block.body, ports))) {
          outputs.push(await session.background(command, `${label} (${command})`, serverStartTimeoutMs))
        }
        if (step.shown) watched.push({ shown: step.shown, output: async () => (await Promise.all(outputs.map((output) => output.output()))).join('\n') })
        continue
      }
      const { stdout } = await session.run(withPorts(step.block.body, ports), label, blockTimeoutMs)
      if (step.shown) {
        const shownText = withPorts(step.shown.body, ports)
        if (!matchesShownOutput(shownText, stdout)) mismatches.push(mismatch(`the output of the block at ${label}`, step.shown, shownText, stdout))
      }
    }
    for (const { shown, output } of watched) {
      const shownText = withPorts(shown.body, ports)
      const deadline = Date.now() + backgroundOutputWaitMs
      let printed = await output()
      while (!matchesShownOutput(shownText, printed) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250))
        printed = await output()
      }
      if (!matchesShownOutput(shownText, printed)) mismatches.push(mismatch('what the background processes printed', shown, shownText, printed))
    }
  }
}

describe('how a walk-through block is compared with its shown output', () => {
  it('masks dates, timestamps and generated ids on both sides', () => {
    assert.ok(matchesShownOutput('{"id":"1","previewId":"avp_a090916577c2e04f2521e504","createdAt":"2026-11-22T21:51:51.601Z"}',
      '{"id":"17","previewId":"avp_0123456789abcdef01234567","createdAt":"2027-03-01T08:00:00.000Z"}'))
  })

  it('reads ... and … in the shown output as any text, across lines', () => {
    assert.ok(matchesShownOutput('HTTP/1.1 200 OK\n...\n[{"id":"1",…}]', 'HTTP/1.1 200 OK\r\nx-total-count: 1\r\n\r\n[{"id":"1","name":"x"}]'))
  })

  it('fails on a value that differs, a missing line or an extra line', () => {
    assert.equal(matchesShownOutput('{"status":"PENDING"}', '{"status":"ACTIVE"}'), false)
    assert.equal(matchesShownOutput('204\n200', '204'), false)
    assert.equal(matchesShownOutput('204', '204\n200'), false)
  })

  it('pairs each command block with the output block after it, and refuses an output block nobody printed', () => {
    const steps = walkthroughSteps(fencedBlocks('## A\n\n```bash\n# Terminal 1: x\nnpm start\n```\n\n```bash\necho hi\n```\n\ntext\n\n```\nhi\n```\n'))
    assert.deepEqual(steps.map((step) => [step.block.line, step.background, step.shown?.line]), [[3, true, undefined], [8, false, 14]])
    assert.throws(() => walkthroughSteps(fencedBlocks('## A\n\n```json\n{}\n```\n')), /follows no command block/)
  })
})

describe('the npx shortcut of the walk-throughs', () => {
  it('runs what npx itself runs for storefront and adcp', async () => {
    const run = promisify(execFile)
    const options = { cwd: repoRoot, env: { ...process.env, ADCP_SKIP_VERSION_CHECK: '1', npm_config_update_notifier: 'false' } }
    const viaNpx = await run('npx', ['storefront', '--version'], options)
    const viaBin = await run(process.execPath, [storefrontBin, '--version'], options)
    assert.equal(viaNpx.stdout, viaBin.stdout)
    const resolved = await run('npm', ['exec', '--', 'node', '-e', 'console.log(require("fs").realpathSync(require("child_process").execSync("command -v adcp", {shell: "/bin/bash"}).toString().trim()))'], options)
    assert.equal(resolved.stdout.trim(), realpathSync(adcpBin))
  })
})

describe('the README walk-throughs run as written against live servers', { concurrency: true }, () => {
  for (const walkthrough of walkthroughs) {
    it(`runs the walk-through: ${walkthrough.name}`, { timeout: 600_000 }, async (t) => {
      const started = Date.now()
      await runWalkthrough(walkthrough.sections)
      t.diagnostic(`ran in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    })
  }
})
