import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, afterEach, describe, it } from 'node:test'
import { LOCK_FILE } from '../../src/db/data-dir-lock.ts'
import { runCli, spawnNpmStart, startServerProcess } from '../helpers/processes.ts'

/** `storefront serve` started and stopped the way an operator or a process manager does it. */

const dirs: string[] = []
async function freshDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'storefront-service-'))
  dirs.push(dir)
  return dir
}

/** Whatever a failed assertion left running is stopped, so no server outlives the test. */
function killLockHolder(dataDir: string): void {
  const file = path.join(dataDir, LOCK_FILE)
  if (!existsSync(file)) return
  try {
    process.kill((JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

// Starting PGlite and migrating takes long on a busy machine; stopping must not.
const START_TIMEOUT_MS = 180_000

/** The npm process's exit, or a failure after 10 s (a test must fail, not hang, when npm never exits). */
function exitOf(npm: { exited: Promise<unknown> }): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('npm did not exit within 10 s')), 10_000) })
  return Promise.race([npm.exited, late]).finally(() => clearTimeout(timer))
}

async function answers(url: string): Promise<boolean> {
  return fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(() => true, () => false)
}

describe('storefront serve as a service', () => {
  const npmProcesses: Array<{ child: { pid?: number | undefined; kill(signal: NodeJS.Signals): boolean } }> = []
  afterEach(() => {
    for (const npm of npmProcesses) npm.child.kill('SIGKILL')
    for (const dir of dirs) killLockHolder(dir)
  })
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  })

  it('prints the bootstrap key on the next start when the first start could not listen', async () => {
    const dataDir = await freshDataDir()
    const squatter: Server = createServer()
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve))
    const port = (squatter.address() as { port: number }).port
    try {
      const failed = await runCli(['serve'], { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' }, START_TIMEOUT_MS)
      assert.notEqual(failed.code, 0)
      assert.match(failed.stderr, /EADDRINUSE|in use/)
      assert.doesNotMatch(failed.stdout + failed.stderr, /sf_[A-Za-z0-9_-]{20,}/)
    } finally {
      squatter.close()
    }
    const server = await startServerProcess({ DATA_DIR: dataDir }, START_TIMEOUT_MS)
    try {
      const match = /(sf_[A-Za-z0-9_-]{20,})/.exec(server.output())
      assert.ok(match, `no bootstrap key printed:\n${server.output()}`)
      const res = await fetch(`${server.url}/api/v2/storefront/inventory-sources`, { headers: { authorization: `Bearer ${match[1]}` } })
      assert.equal(res.status, 200)
    } finally {
      assert.equal(await server.stop(), 0)
    }
  })

  it('stops within 5 s and releases the lock when the npm start process gets SIGTERM', async () => {
    const dataDir = await freshDataDir()
    const npm = spawnNpmStart({ DATA_DIR: dataDir })
    npmProcesses.push(npm)
    const [, url] = await npm.waitFor(/listening on (http:\/\/\S+)/, START_TIMEOUT_MS)
    assert.equal(await answers(url!), true)
    const signalledAt = Date.now()
    npm.child.kill('SIGTERM')
    await exitOf(npm)
    const stoppedInMs = Date.now() - signalledAt
    assert.ok(stoppedInMs < 5_000, `npm took ${stoppedInMs} ms to exit`)
    assert.equal(await answers(url!), false, 'the server must not outlive npm')
    assert.equal(existsSync(path.join(dataDir, LOCK_FILE)), false, 'the data-dir lock must be released')
  })

  it('stops within 5 s, releases the lock and leaves a data directory the next start serves from when the npm start process gets SIGINT during startup', async () => {
    const dataDir = await freshDataDir()
    const npm = spawnNpmStart({ DATA_DIR: dataDir })
    npmProcesses.push(npm)
    // The lock is taken first; opening PGlite and migrating come after it.
    const lockFile = path.join(dataDir, LOCK_FILE)
    const giveUpAt = Date.now() + START_TIMEOUT_MS
    while (!existsSync(lockFile)) {
      assert.ok(Date.now() < giveUpAt, `no lock taken:\n${npm.output()}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const holder = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number }
    const signalledAt = Date.now()
    npm.child.kill('SIGINT')
    await exitOf(npm)
    const stoppedInMs = Date.now() - signalledAt
    assert.ok(stoppedInMs < 5_000, `npm took ${stoppedInMs} ms to exit:\n${npm.output()}`)
    assert.doesNotMatch(npm.output(), /listening on/)
    let serverAlive = true
    for (let waited = 0; serverAlive && waited < 1_000; waited += 50) {
      try {
        process.kill(holder.pid, 0)
        await new Promise((resolve) => setTimeout(resolve, 50))
      } catch {
        serverAlive = false
      }
    }
    assert.equal(serverAlive, false, `server process ${holder.pid} must not outlive npm`)
    assert.equal(existsSync(lockFile), false, 'the data-dir lock must be released')

    const next = await startServerProcess({ DATA_DIR: dataDir }, START_TIMEOUT_MS)
    try {
      assert.equal(await answers(next.url), true)
    } finally {
      assert.equal(await next.stop(), 0)
    }
  })
})
