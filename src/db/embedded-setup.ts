import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { access, readdir, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { copyTemplate, saveTemplate } from './embedded-template.ts'

/**
 * Setting up the embedded database (initdb on a fresh data directory, migrations on an out-of-date
 * one) runs in a short-lived child process; the serving process only ever opens a directory that is
 * set up. PGlite's WebAssembly heap never shrinks, and initdb (a second PGlite instance, its own
 * WebAssembly, the data directory built in memory) left ~110 MiB resident in the server for its
 * whole life even after closing and collecting everything; a process that exits returns all of it.
 *
 * The caller owns the data directory (src/db/data-dir-lock.ts) for as long as this runs, and the child
 * works only while its parent waits for it: it is killed when the parent exits (a signal during
 * start-up) and stops by itself when its parent is gone. A fresh directory is built beside its final
 * place and renamed into it only once initdb and every migration succeeded, so a failed or cut-short
 * set-up leaves no half-made database for the next start to trip over.
 */

/** Runs embedded-setup-process.ts from the application's bundle, or through tsx (bin/bundle.js). */
const SETUP_ENTRY = fileURLToPath(new URL('../../bin/embedded-setup.js', import.meta.url))
const SETTING_UP = '.setting-up-'

/** What the set-up process reports over its IPC channel. */
export type SetUpReport = { applied: string[] } | { error: string }

export interface EmbeddedSetUp {
  /** The process that ran it (never this one); null when the directory is a copy of the template. */
  pid: number | null
  /** Whether initdb ran: the data directory held no database and there was no template of it. */
  initdb: boolean
  /** Whether the fresh directory is a copy of the template (embedded-template.ts). */
  fromTemplate: boolean
  applied: string[]
}

/** The template a fresh data directory may start from, and the migrations it holds. */
export interface SetUpTemplate {
  name: string
  migrations: string[]
}

export class EmbeddedSetUpError extends Error {
  override readonly name = 'EmbeddedSetUpError'
}

/** Whether dataDir holds a PostgreSQL data directory (initdb writes PG_VERSION). */
export async function holdsDatabase(dataDir: string): Promise<boolean> {
  try {
    await access(path.join(dataDir, 'PG_VERSION'))
    return true
  } catch {
    return false
  }
}

async function entriesOf(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}

// Flags that would make the child something else than a script (a test run, a watcher, an eval) or
// fight over a port (the inspector); the second list takes its value as the next argument.
const NOT_FOR_THE_CHILD = /^(--test|--experimental-test|--watch|--inspect|--eval$|--print$|--input-type|--check$|--interactive$|-[epci]$)/
const VALUE_FOLLOWS = /^(-e|--eval|-p|--print|--input-type|--test-[a-z-]+|--watch-path|--inspect-port)$/

/** Node's own flags of this process for the child (a loader, memory limits, --expose-gc), less the above. */
export function childExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!
    if (!NOT_FOR_THE_CHILD.test(flag)) kept.push(flag)
    else if (VALUE_FOLLOWS.test(flag)) i++
  }
  return kept
}

/** Runs the set-up process on dir and returns what it applied; throws with its error otherwise. */
function runSetUpProcess(dir: string, migrationsDir: string | undefined): Promise<{ pid: number; applied: string[] }> {
  return new Promise((resolve, reject) => {
    const child = fork(SETUP_ENTRY, [dir, ...(migrationsDir ? [migrationsDir] : [])], {
      execArgv: childExecArgv(),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    // Output is kept for the error message only; PGlite and initdb print to both.
    let output = ''
    const keep = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4_000) }
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
    let report: SetUpReport | null = null
    child.on('message', (message: SetUpReport) => { report = message })
    // A signal during start-up exits this process at once (serve-command.ts): the child goes with it.
    const killChild = () => { child.kill('SIGKILL') }
    process.on('exit', killChild)
    child.on('error', (error) => {
      process.off('exit', killChild)
      reject(error)
    })
    child.on('close', (code, signal) => {
      process.off('exit', killChild)
      const answer = report as SetUpReport | null
      if (answer && 'applied' in answer && code === 0) resolve({ pid: child.pid!, applied: answer.applied })
      else if (answer && 'error' in answer) reject(new EmbeddedSetUpError(answer.error))
      else reject(new EmbeddedSetUpError(`the set-up process ${signal ? `was killed by ${signal}` : `exited with ${code}`}${output.trim() ? `:\n${output.trim()}` : ''}`))
    })
  })
}

/**
 * Sets up the PGlite data directory dataDir: when it holds no database, as a copy of the template if
 * there is one, otherwise in a child process (initdb and every migration, then kept as the template);
 * the pending migrations of an existing one in a child process. Only a directory that is missing or
 * empty is initialised; one with files but no database is refused rather than built upon.
 */
export async function setUpInChildProcess(
  dataDir: string,
  options: { migrationsDir?: string | undefined; template?: SetUpTemplate | undefined } = {},
): Promise<EmbeddedSetUp> {
  const describe = (error: unknown) => new EmbeddedSetUpError(`Setting up the embedded database in ${dataDir} failed: ${(error as Error).message}`)
  if (await holdsDatabase(dataDir)) {
    try {
      return { initdb: false, fromTemplate: false, ...(await runSetUpProcess(dataDir, options.migrationsDir)) }
    } catch (error) {
      throw describe(error)
    }
  }
  const entries = await entriesOf(dataDir)
  if (entries.length > 0) {
    throw new EmbeddedSetUpError(
      `${dataDir} holds files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}) but no database (no PG_VERSION): ` +
        'it is not an embedded Storefront database. Move it away or empty it, then start again.',
    )
  }
  const parent = path.dirname(dataDir)
  const base = path.basename(dataDir)
  // Left by a set-up that was killed with its parent; this process owns the data directory now.
  for (const entry of await entriesOf(parent)) {
    if (entry.startsWith(`${base}${SETTING_UP}`)) await rm(path.join(parent, entry), { recursive: true, force: true })
  }
  const building = path.join(parent, `${base}${SETTING_UP}${randomBytes(6).toString('hex')}`)
  const { template } = options
  try {
    if (template && (await copyTemplate(template.name, building))) {
      await rename(building, dataDir)
      return { pid: null, initdb: false, fromTemplate: true, applied: template.migrations }
    }
    const done = await runSetUpProcess(building, options.migrationsDir)
    if (template) await saveTemplate(template.name, building)
    // Replaces the empty directory, if there is one, in one step.
    await rename(building, dataDir)
    return { initdb: true, fromTemplate: false, ...done }
  } catch (error) {
    await rm(building, { recursive: true, force: true })
    throw describe(error)
  }
}
