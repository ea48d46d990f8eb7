import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { acquireDataDirLock, LOCK_FILE, readLockHolder } from '../../src/db/data-dir-lock.ts'
import { repoRoot } from '../helpers/processes.ts'

/** The pid of a process that has already exited: what a crashed server leaves in its lock. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  return Number(child.stdout)
}

async function writeStaleLock(dataDir: string, pid: number): Promise<void> {
  await writeFile(path.join(dataDir, LOCK_FILE), JSON.stringify({ pid, hostname: hostname(), command: 'storefront serve', startedAt: '2026-01-01T00:00:00.000Z' }))
}

describe('the data-dir lock', () => {
  let root: string
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'storefront-lock-'))
  })
  after(() => rm(root, { recursive: true, force: true }))
  let round = 0
  const freshDir = () => path.join(root, `dir-${++round}`)

  it('lets exactly one of many contenders take over a dead holder\'s lock, round after round', async () => {
    const stalePid = deadPid()
    for (let attempt = 0; attempt < 40; attempt++) {
      const dataDir = freshDir()
      await acquireDataDirLock(dataDir, 'setup').then((lock) => lock.release())
      await writeStaleLock(dataDir, stalePid)
      const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, index) => acquireDataDirLock(dataDir, `contender ${index}`)))
      const winners = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []))
      assert.equal(winners.length, 1, `round ${attempt}: ${winners.map((lock) => lock.holder.command).join(', ')} all hold the lock`)
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') assert.equal(outcome.reason.details.reason, 'DATA_DIR_LOCKED')
      }
      const onDisk = JSON.parse(await readFile(path.join(dataDir, LOCK_FILE), 'utf8'))
      assert.equal(onDisk.command, winners[0]!.holder.command)
      await winners[0]!.release()
      assert.deepEqual(await readdir(dataDir), [], 'no claim or temporary file is left behind')
    }
  })

  it('is never seen half-written by a reader, while it is created or updated', async () => {
    const dataDir = freshDir()
    const file = path.join(dataDir, LOCK_FILE)
    let writing = true
    const seen: string[] = []
    const reader = (async () => {
      while (writing) {
        const text = await readFile(file, 'utf8').catch(() => null)
        if (text !== null) seen.push(text)
      }
    })()
    for (let cycle = 0; cycle < 30; cycle++) {
      const lock = await acquireDataDirLock(dataDir, 'storefront serve')
      for (let update = 0; update < 20; update++) await lock.update({ url: `http://127.0.0.1:${3000 + update}` })
      await lock.release()
    }
    writing = false
    await reader
    assert.ok(seen.length > 0)
    const torn = seen.filter((text) => { try { JSON.parse(text); return false } catch { return true } })
    assert.equal(torn.length, 0, `${torn.length} of ${seen.length} reads saw a partial lock file`)
  })

  it('takes over a lock whose takeover was itself interrupted by a crash', async () => {
    const dataDir = freshDir()
    const stalePid = deadPid()
    await acquireDataDirLock(dataDir, 'setup').then((lock) => lock.release())
    await writeStaleLock(dataDir, stalePid)
    const staleText = await readFile(path.join(dataDir, LOCK_FILE), 'utf8')
    const { createHash } = await import('node:crypto')
    const claim = path.join(dataDir, `${LOCK_FILE}.takeover-${createHash('sha256').update(staleText).digest('hex').slice(0, 24)}`)
    await writeFile(claim, JSON.stringify({ pid: stalePid, hostname: hostname(), command: 'crashed mid-takeover', startedAt: '2026-01-01T00:00:00.000Z' }))
    const lock = await acquireDataDirLock(dataDir, 'storefront serve')
    assert.equal((await readLockHolder(dataDir))?.token, lock.holder.token)
    await lock.release()
    assert.deepEqual(await readdir(dataDir), [])
  })

  it('refuses while a live process holds it, naming the holder', async () => {
    const dataDir = freshDir()
    const lock = await acquireDataDirLock(dataDir, 'storefront serve')
    await assert.rejects(acquireDataDirLock(dataDir, 'storefront keys list'), (error: Error & { details: { reason: string } }) => {
      assert.equal(error.details.reason, 'DATA_DIR_LOCKED')
      assert.match(error.message, new RegExp(`process ${process.pid}`))
      return true
    })
    await lock.release()
    assert.equal(existsSync(path.join(dataDir, LOCK_FILE)), false)
  })

  it('is released when its process exits without closing it', () => {
    const dataDir = freshDir()
    const script = `import { acquireDataDirLock } from ${JSON.stringify(path.join(repoRoot, 'src/db/data-dir-lock.ts'))}
      await acquireDataDirLock(${JSON.stringify(dataDir)}, 'exits abruptly')
      process.exit(7)`
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' })
    assert.equal(child.status, 7, child.stderr)
    assert.equal(existsSync(path.join(dataDir, LOCK_FILE)), false)
  })

  it('is released when its process exits while still taking it (the file exists, the call has not returned)', () => {
    const dataDir = freshDir()
    const lockFile = path.join(dataDir, LOCK_FILE)
    // Exits the moment the lock file appears, before acquireDataDirLock has resolved: a signal
    // during startup lands there.
    const script = `import { existsSync } from 'node:fs'
      import { acquireDataDirLock } from ${JSON.stringify(path.join(repoRoot, 'src/db/data-dir-lock.ts'))}
      let resolved = false
      acquireDataDirLock(${JSON.stringify(dataDir)}, 'exits mid-acquire').then(() => { resolved = true })
      const watch = () => existsSync(${JSON.stringify(lockFile)}) ? process.exit(resolved ? 8 : 7) : setImmediate(watch)
      watch()`
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' })
    assert.equal(child.status, 7, `exit ${child.status} (8: the lock was already returned, so the window was missed)\n${child.stderr}`)
    assert.equal(existsSync(lockFile), false)
  })
})
