import { hostname } from 'node:os'
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
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

/** The live owner of the directory, or null when it is free (a dead owner's lock is stale). */
export async function readLockHolder(dataDir: string): Promise<LockHolder | null> {
  let holder: LockHolder
  try {
    holder = JSON.parse(await readFile(path.join(dataDir, LOCK_FILE), 'utf8')) as LockHolder
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    // A half-written lock from a process killed mid-write: treat as stale.
    if (error instanceof SyntaxError) return null
    throw error
  }
  if (holder.hostname !== hostname()) return holder
  return isAlive(holder.pid) ? holder : null
}

export function describeHolder(holder: LockHolder): string {
  const where = holder.url ? `, serving ${holder.url}` : ''
  return `process ${holder.pid} on ${holder.hostname} ("${holder.command}", started ${holder.startedAt}${where})`
}

/**
 * PGlite must never be opened by two processes at once: the second would corrupt the files.
 * The lock file is created exclusively; a lock left by a dead process is taken over.
 */
export async function acquireDataDirLock(dataDir: string, command: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true })
  const file = path.join(dataDir, LOCK_FILE)
  const holder: LockHolder = { pid: process.pid, hostname: hostname(), command, startedAt: new Date().toISOString() }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(file, JSON.stringify(holder), { flag: 'wx', mode: 0o600 })
      let released = false
      return {
        holder,
        async update(changes) {
          Object.assign(holder, changes)
          await writeFile(file, JSON.stringify(holder), { mode: 0o600 })
        },
        async release() {
          if (released) return
          released = true
          const current = await readFile(file, 'utf8').catch(() => null)
          if (current && (JSON.parse(current) as LockHolder).pid === process.pid) await unlink(file).catch(() => undefined)
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = await readLockHolder(dataDir)
      if (owner) {
        throw new StorefrontError('CONFLICT', `The embedded database in ${dataDir} is in use by ${describeHolder(owner)}. Stop it first, or use its HTTP API.`, {
          reason: 'DATA_DIR_LOCKED',
          holder: owner,
        })
      }
      await unlink(file).catch(() => undefined)
    }
  }
  throw new StorefrontError('CONFLICT', `Could not lock ${dataDir}: another process keeps taking it`, { reason: 'DATA_DIR_LOCKED' })
}
