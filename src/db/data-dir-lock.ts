import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, unlinkSync } from 'node:fs'
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { StorefrontError } from '../shared/errors.ts'

export const LOCK_FILE = 'storefront.lock'

/** Who owns the embedded database; shown to anyone else who tries to open it. */
export interface LockHolder {
  pid: number
  hostname: string
  command: string
  startedAt: string
  /** Set by a serving process so CLI verbs can talk to it instead of the files. */
  url?: string
  /** Random per acquisition: tells this lock from an earlier one of the same pid, so a stale lock is never mistaken for a fresh one. */
  token?: string
}

export interface DataDirLock {
  holder: LockHolder
  update(changes: Partial<LockHolder>): Promise<void>
  release(): Promise<void>
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException)?.code === code
}

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    if (isCode(error, 'ENOENT')) return null
    throw error
  }
}

/** The holder a lock text names, or null when it cannot be read (a pre-atomic half-written file). */
function parseHolder(text: string): LockHolder | null {
  try {
    const holder = JSON.parse(text) as LockHolder
    return typeof holder?.pid === 'number' && typeof holder.hostname === 'string' ? holder : null
  } catch {
    return null
  }
}

/** A holder on another host cannot be checked from here, so it counts as live. */
function holderIsLive(holder: LockHolder | null): holder is LockHolder {
  if (!holder) return false
  return holder.hostname !== hostname() || isAlive(holder.pid)
}

/** The live owner of the directory, or null when it is free (a dead owner's lock is stale). */
export async function readLockHolder(dataDir: string): Promise<LockHolder | null> {
  const text = await readText(path.join(dataDir, LOCK_FILE))
  if (text === null) return null
  const holder = parseHolder(text)
  return holderIsLive(holder) ? holder : null
}

export function describeHolder(holder: LockHolder): string {
  const where = holder.url ? `, serving ${holder.url}` : ''
  return `process ${holder.pid} on ${holder.hostname} ("${holder.command}", started ${holder.startedAt}${where})`
}

function tempNameFor(file: string): string {
  return `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
}

/**
 * Creates `file` with `text` only if it does not exist, and never half-written: the text is written
 * to a private temporary file which is then hard-linked into place (link fails with EEXIST).
 */
async function createExclusive(file: string, text: string): Promise<boolean> {
  const temp = tempNameFor(file)
  await writeFile(temp, text, { flag: 'wx', mode: 0o600 })
  try {
    await link(temp, file)
    return true
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false
    throw error
  } finally {
    await unlink(temp).catch(() => undefined)
  }
}

/** Replaces `file` atomically: readers see the old text or the new, never a mix. */
async function replaceAtomically(file: string, text: string): Promise<void> {
  const temp = tempNameFor(file)
  await writeFile(temp, text, { flag: 'wx', mode: 0o600 })
  try {
    await rename(temp, file)
  } catch (error) {
    await unlink(temp).catch(() => undefined)
    throw error
  }
}

// A crash inside a takeover leaves its claim behind; a claim of a dead claimant is itself taken over,
// up to this many levels (each level needs another crash inside the few microseconds of a takeover).
const MAX_TAKEOVER_DEPTH = 3

/**
 * Removes `file` only if it still holds exactly `staleText`. Contenders that judged the same text
 * stale race to create one claim file named after that text (O_EXCL through link); only the winner
 * re-reads and removes it. Without the claim, two contenders could both remove "the stale lock",
 * the second removing the first one's fresh lock, and both would own the directory.
 * Returns false when a live process is already taking it over.
 */
async function removeIfUnchanged(file: string, staleText: string, claimant: string, depth = 0): Promise<boolean> {
  const claim = `${file}.takeover-${createHash('sha256').update(staleText).digest('hex').slice(0, 24)}`
  for (;;) {
    if (await createExclusive(claim, claimant)) break
    const claimText = await readText(claim)
    if (claimText === null) continue
    if (holderIsLive(parseHolder(claimText))) return false
    if (depth >= MAX_TAKEOVER_DEPTH) throw new StorefrontError('CONFLICT', `Stale takeover files in ${path.dirname(file)}; remove ${path.basename(file)}.takeover-* by hand`, { reason: 'DATA_DIR_LOCKED' })
    await removeIfUnchanged(claim, claimText, claimant, depth + 1)
  }
  try {
    // Under the claim nobody else removes this text, and a fresh lock never has it (its token is new).
    if ((await readText(file)) === staleText) await unlink(file).catch((error: unknown) => { if (!isCode(error, 'ENOENT')) throw error })
    return true
  } finally {
    await unlink(claim).catch(() => undefined)
  }
}

/** Locks held (or being taken) by this process, token -> file, released on the way out even when it exits abruptly. */
const heldLocks = new Map<string, string>()
let exitHookInstalled = false

function releaseHeldLocksSync(): void {
  for (const [token, file] of heldLocks) {
    try {
      if (parseHolder(readFileSync(file, 'utf8'))?.token === token) unlinkSync(file)
    } catch {
      // Gone already, or unreadable: nothing of ours to remove.
    }
  }
  heldLocks.clear()
}

/**
 * PGlite must never be opened by two processes at once: the second would corrupt the files.
 * The lock file is created atomically and exclusively; a lock left by a dead process is taken
 * over by exactly one contender. The lock is released on close and on process exit.
 */
export async function acquireDataDirLock(dataDir: string, command: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true })
  const file = path.join(dataDir, LOCK_FILE)
  const token = randomBytes(16).toString('hex')
  const holder: LockHolder = { pid: process.pid, hostname: hostname(), command, startedAt: new Date().toISOString(), token }
  const text = JSON.stringify(holder)
  // Known to the exit hook before the file can exist: a process that exits between creating the
  // file and returning (a signal during startup) still removes it. Only a file with this token is.
  releaseOnExit(file, token)
  try {
    for (let attempt = 0; attempt < 20; attempt++) {
      if (await createExclusive(file, text)) return heldLock(file, holder)
      const currentText = await readText(file)
      if (currentText === null) continue
      const owner = parseHolder(currentText)
      if (holderIsLive(owner)) {
        throw new StorefrontError('CONFLICT', `The embedded database in ${dataDir} is in use by ${describeHolder(owner)}. Stop it first, or use its HTTP API.`, {
          reason: 'DATA_DIR_LOCKED',
          holder: owner,
        })
      }
      // Someone else is taking the same stale lock over: give them a moment, then look again.
      if (!(await removeIfUnchanged(file, currentText, text))) await new Promise((resolve) => setTimeout(resolve, 10 * (attempt + 1)))
    }
    throw new StorefrontError('CONFLICT', `Could not lock ${dataDir}: another process keeps taking it`, { reason: 'DATA_DIR_LOCKED' })
  } catch (error) {
    heldLocks.delete(token)
    throw error
  }
}

function releaseOnExit(file: string, token: string): void {
  heldLocks.set(token, file)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', releaseHeldLocksSync)
  }
}

function heldLock(file: string, holder: LockHolder): DataDirLock {
  let released = false
  return {
    holder,
    async update(changes) {
      Object.assign(holder, changes, { token: holder.token })
      await replaceAtomically(file, JSON.stringify(holder))
    },
    async release() {
      if (released) return
      released = true
      heldLocks.delete(holder.token!)
      const current = await readText(file).catch(() => null)
      if (current && parseHolder(current)?.token === holder.token) await unlink(file).catch(() => undefined)
    },
  }
}
