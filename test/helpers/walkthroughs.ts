import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'

/** One fenced block of a markdown file. */
export interface FencedBlock {
  /** The info string's first word (`bash`, `sh`, `json`, or empty). */
  lang: string
  body: string
  /** 1-based line of the opening fence, how a failure names the block. */
  line: number
  /** The text of the heading the block sits under. */
  section: string
}

/** The fenced blocks of `markdown` in document order, each with the heading it sits under. */
export function fencedBlocks(markdown: string): FencedBlock[] {
  const lines = markdown.split('\n')
  const blocks: FencedBlock[] = []
  let section = ''
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading) {
      section = heading[1]!
      continue
    }
    const fence = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(line)
    if (!fence) continue
    const opening = fence[1]!
    const start = index
    const body: string[] = []
    for (index++; index < lines.length; index++) {
      const closing = new RegExp(`^ {0,3}${opening[0]}{${opening.length},}\\s*$`)
      if (closing.test(lines[index]!)) break
      body.push(lines[index]!)
    }
    if (index >= lines.length) throw new Error(`the fenced block at line ${start + 1} is never closed`)
    blocks.push({ lang: fence[2]!.toLowerCase(), body: body.join('\n'), line: start + 1, section })
  }
  return blocks
}

export function isCommandBlock(block: FencedBlock): boolean {
  return block.lang === 'bash' || block.lang === 'sh' || block.lang === 'shell'
}

/** A block that starts long-lived processes: its first line is a `# Terminal <n>` comment. */
export function isBackgroundBlock(block: FencedBlock): boolean {
  return isCommandBlock(block) && /^#\s*Terminal\s+\d/i.test(block.body.trimStart())
}

export interface WalkthroughStep {
  block: FencedBlock
  background: boolean
  /** The output block shown after the command block, if any. */
  shown?: FencedBlock
}

/**
 * The steps of a walk-through made of `blocks`: each command block, with the first non-command block that
 * follows it before the next command block as its shown output. An output block that follows no command
 * block, or a second one after a command block, is an error: every shown output must say what printed it.
 */
export function walkthroughSteps(blocks: FencedBlock[]): WalkthroughStep[] {
  const steps: WalkthroughStep[] = []
  for (const block of blocks) {
    if (isCommandBlock(block)) {
      steps.push({ block, background: isBackgroundBlock(block) })
      continue
    }
    const last = steps.at(-1)
    if (!last) throw new Error(`README.md:${block.line}: an output block that follows no command block`)
    if (last.shown) throw new Error(`README.md:${block.line}: a second output block after the command block at line ${last.block.line}`)
    last.shown = block
  }
  return steps
}

/** The commands of a background block: its non-comment lines, with `\` continuations joined. */
export function backgroundCommands(body: string): string[] {
  const commands: string[] = []
  let pending = ''
  for (const raw of body.split('\n')) {
    const line = raw.trim()
    if (!pending && (line === '' || line.startsWith('#'))) continue
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' '
      continue
    }
    commands.push(pending + line)
    pending = ''
  }
  if (pending) commands.push(pending)
  return commands
}

/** Names a block assigns from a command substitution (`NAME=$(...)`, `export NAME=$(...)`): captured values. */
export function capturedNames(body: string): string[] {
  return [...new Set([...body.matchAll(/(?:^|[\s;])(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=\$\(/gm)].map((match) => match[1]!))]
}

/**
 * Run-dependent values, replaced by the same placeholder in the shown and the actual output before they are
 * compared: dates and timestamps (the demo's flights start next month), generated ids with a known prefix,
 * numeric ids, the webhook signing key's id, and the widths of aligned columns.
 */
const masks: Array<[RegExp, string]> = [
  [/\r/g, ''],
  [/\b\d{4}-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?)?/g, '<date>'],
  // A generated id: 8 or more characters after the prefix, or any with a digit (not a key like `task_id`).
  [/\b(sf|cl|avp|task|mb|pkg|acct|evt|whk)_(?:[A-Za-z0-9_-]{8,}|[A-Za-z0-9_-]*\d[A-Za-z0-9_-]*)/g, '$1_…'],
  [/storefront-webhook-[0-9a-f]+/g, 'storefront-webhook-…'],
  [/"(id|[A-Za-z_]*Id|[a-z_]*_id)":"\d+"/g, '"$1":"<n>"'],
  [/-{3,}/g, '--'],
  [/[ \t]+/g, ' '],
]

export function maskRunDependent(text: string): string {
  let masked = text
  for (const [pattern, replacement] of masks) masked = masked.replace(pattern, replacement)
  return masked
    .split('\n')
    .map((line) => line.trim())
    .join('\n')
    .trim()
}

/** Whether `actual` is what `shown` shows: both masked, `...` and `…` in `shown` standing for any text. */
export function matchesShownOutput(shown: string, actual: string): boolean {
  const pattern = maskRunDependent(shown)
    .split(/\.\.\.|…/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*?')
  return new RegExp(`^${pattern}$`).test(maskRunDependent(actual))
}

export interface BlockOutput {
  stdout: string
  stderr: string
}

/**
 * One bash process for a whole walk-through, so `export`, captured variables, functions and `cd` carry over
 * from block to block as they do in a terminal. It runs with `set -eo pipefail`: a failing command ends it,
 * and the block that was running is reported. It leads its own process group, and everything a walk-through
 * starts (servers, receivers) runs in that group, so `close()` stops exactly what it started.
 */
export class BashSession {
  private readonly child: ChildProcess
  private stdout = ''
  private stderr = ''
  private exitCode: number | null | undefined
  private blockCount = 0
  private readonly waiters = new Set<() => void>()

  constructor(private readonly workDir: string, cwd: string, env: NodeJS.ProcessEnv) {
    this.child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail'], { cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stdout!.on('data', (chunk) => this.notify(() => { this.stdout += chunk }))
    this.child.stderr!.on('data', (chunk) => this.notify(() => { this.stderr += chunk }))
    this.child.on('close', (code, signal) => this.notify(() => { this.exitCode = code ?? (signal ? -1 : null) }))
    // A capture that came back empty (or jq's `null`) would only fail a later command, far from its cause.
    this.send('__sf_require_set() { local name; for name in "$@"; do if [ -z "${!name:-}" ] || [ "${!name}" = null ]; then echo "\\$$name is empty or null after this block" >&2; exit 97; fi; done; }\n')
  }

  /** Runs `script` as one block (sourced, so its state stays); rejects when a command of it fails. */
  async run(script: string, label: string, timeoutMs: number): Promise<BlockOutput> {
    const number = ++this.blockCount
    const file = path.join(this.workDir, `block-${number}.sh`)
    const out = `${file}.out`
    const err = `${file}.err`
    await writeFile(file, `${script}\n`)
    const names = capturedNames(script)
    this.send(`. ${quote(file)} > ${quote(out)} 2> ${quote(err)} < /dev/null\n${names.length ? `__sf_require_set ${names.join(' ')}\n` : ''}echo __sf_done_${number}\n`)
    const read = async () => ({ stdout: await readFile(out, 'utf8').catch(() => ''), stderr: await readFile(err, 'utf8').catch(() => '') })
    try {
      await this.until(() => this.stdout.includes(`__sf_done_${number}\n`), timeoutMs, label)
    } catch (error) {
      const output = await read()
      throw new Error(`${(error as Error).message}\n--- stdout\n${output.stdout}\n--- stderr\n${output.stderr}${this.stderr}`)
    }
    return read()
  }

  /** Starts `command` in the background and resolves once its output says it is listening. */
  async background(command: string, label: string, timeoutMs: number): Promise<{ output(): Promise<string> }> {
    const number = ++this.blockCount
    const log = path.join(this.workDir, `background-${number}.log`)
    // On lines of its own, so a trailing `# comment` of the command cannot swallow the closing parenthesis.
    this.send(`(\n${command}\n) > ${quote(log)} 2>&1 < /dev/null &\necho __sf_started_${number}\n`)
    const output = () => readFile(log, 'utf8').catch(() => '')
    await this.until(() => this.stdout.includes(`__sf_started_${number}\n`), timeoutMs, label)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const text = await output()
      if (/listening on/i.test(text)) return { output }
      if (this.exitCode !== undefined) throw new Error(`${label}: the walk-through's shell ended\n${text}`)
      if (Date.now() > deadline) throw new Error(`${label}: did not print "listening on" within ${timeoutMs} ms:\n${text}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  /** Stops the session's process group (the shell and everything it started) and waits until it is gone. */
  async close(): Promise<void> {
    const group = this.child.pid!
    const alive = () => {
      try {
        process.kill(-group, 0)
        return true
      } catch {
        return false
      }
    }
    this.child.stdin!.end()
    if (alive()) process.kill(-group, 'SIGTERM')
    const deadline = Date.now() + 15_000
    while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    if (alive()) process.kill(-group, 'SIGKILL')
  }

  private send(text: string): void {
    this.child.stdin!.write(text)
  }

  private notify(change: () => void): void {
    change()
    for (const check of this.waiters) check()
  }

  private until(condition: () => boolean, timeoutMs: number, label: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (condition()) {
          done()
          resolve()
        } else if (this.exitCode !== undefined) {
          done()
          reject(new Error(`${label}: a command failed (the shell exited with ${this.exitCode})`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`${label}: did not finish within ${timeoutMs} ms`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
      check()
    })
  }
}

function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`
}
