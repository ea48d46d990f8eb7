import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startServerProcess, type ServerProcess } from '../helpers/processes.ts'

const KEY = 'sf_graceful_shutdown_test_key_0001'
const SHUTDOWN_TIMEOUT_MS = 5_000

/** A raw HTTP/1.1 exchange whose bytes are written when the test says, so it is in flight across SIGTERM. */
function openExchange(url: string) {
  const { hostname, port } = new URL(url)
  const socket = net.connect(Number(port), hostname)
  let received = ''
  socket.on('data', (chunk) => { received += chunk })
  // A reset is an answer too (what the assertions below then show), not an uncaught exception.
  socket.on('error', (error) => { received += `[socket error: ${(error as NodeJS.ErrnoException).code ?? error.message}]` })
  const ended = new Promise<string>((resolve) => socket.on('close', () => resolve(received)))
  return {
    connected: new Promise<void>((resolve) => socket.once('connect', () => resolve())),
    write: (text: string) => new Promise<void>((resolve) => socket.write(text, () => resolve())),
    answer: ended,
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('storefront serve on SIGTERM', () => {
  let dataDir: string
  let server: ServerProcess
  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'storefront-shutdown-'))
    server = await startServerProcess({ DATA_DIR: dataDir, STOREFRONT_BOOTSTRAP_KEY: KEY, SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), LOG_LEVEL: 'info' })
  })
  after(async () => {
    await server?.stop('SIGKILL')
    await rm(dataDir, { recursive: true, force: true })
  })

  it('finishes the request in flight, answers /readyz 503 while draining, and exits 0 within SHUTDOWN_TIMEOUT_MS', async () => {
    // A POST whose body is still coming when the signal arrives.
    const body = JSON.stringify({ sourceId: 'slow-one', name: 'Slow' })
    const slow = openExchange(server.url)
    await slow.connected
    await slow.write(`POST /api/v2/storefront/inventory-sources HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`)
    // A readiness probe whose request line is on the wire: the connection is not idle, so it stays open.
    const probe = openExchange(server.url)
    await probe.connected
    await probe.write('GET /readyz HTTP/1.1\r\n')
    // The server must have parsed the POST's headers before the signal, or the connection is still
    // idle to it and closed at once; on a loaded machine that takes more than a moment.
    await delay(1_000)

    const exited = new Promise<number | null>((resolve) => server.child.once('close', (code) => resolve(code)))
    const signalledAt = performance.now()
    server.child.kill('SIGTERM')
    await delay(500)
    await probe.write('Host: x\r\n\r\n')
    await slow.write(body.slice(10))
    const exitCode = await exited
    const elapsedMs = performance.now() - signalledAt

    const [slowAnswer, probeAnswer] = await Promise.all([slow.answer, probe.answer])
    assert.match(slowAnswer, /^HTTP\/1\.1 (201|400) /, slowAnswer)
    assert.match(slowAnswer, /connection: close/i)
    assert.match(probeAnswer, /^HTTP\/1\.1 503 /, probeAnswer)
    assert.match(probeAnswer, /"reason":"draining"/)
    assert.equal(exitCode, 0, server.output())
    assert.ok(elapsedMs < SHUTDOWN_TIMEOUT_MS, `exited ${Math.round(elapsedMs)} ms after SIGTERM`)
    assert.match(server.output(), /shutting down: draining/)
  })
})
