import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, startServerProcess, type ServerProcess } from '../helpers/processes.ts'

describe('storefront serve and the CLI on the embedded database', () => {
  let dataDir: string
  let server: ServerProcess
  let env: Record<string, string>

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'storefront-cli-'))
    env = { DATA_DIR: dataDir }
    server = await startServerProcess(env)
  })
  after(async () => {
    await server?.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('prints a bootstrap key once on first start, and it works', async () => {
    const match = /(sf_[A-Za-z0-9_-]{20,})/.exec(server.output())
    assert.ok(match, server.output())
    const res = await fetch(`${server.url}/api/v2/storefront/inventory-sources`, { headers: { authorization: `Bearer ${match[1]}` } })
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), [])
  })

  it('refuses a second server on the same data directory, naming the holder', async () => {
    const second = await runCli(['serve'], { ...env, PORT: '0' })
    assert.equal(second.code, 3)
    assert.match(second.stderr, /DATA_DIR_LOCKED|in use by process \d+/)
    assert.match(second.stderr, new RegExp(`process ${server.child.pid}`))
    assert.match(second.stderr, /storefront serve/)
  })

  it('creates, lists and revokes keys through the running server', async () => {
    const created = await runCli(['keys', 'create', '--storefront', 'acme', '--label', 'ops', '--json'], env)
    assert.equal(created.code, 0, created.stderr)
    const key = JSON.parse(created.stdout)
    assert.match(key.key, /^sf_/)
    const ok = await fetch(`${server.url}/api/v2/storefront/inventory-sources`, { headers: { authorization: `Bearer ${key.key}` } })
    assert.equal(ok.status, 200)

    const list = await runCli(['keys', 'list', '--storefront', 'acme'], env)
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, /acme/)
    assert.ok(!list.stdout.includes(key.key), 'a listed key must show only its prefix')

    const revoked = await runCli(['keys', 'revoke', key.id], env)
    assert.equal(revoked.code, 0, revoked.stderr)
    const refused = await fetch(`${server.url}/api/v2/storefront/inventory-sources`, { headers: { authorization: `Bearer ${key.key}` } })
    assert.equal(refused.status, 401)
  })

  it('creates a sandbox buyer key that opens /mcp and not the REST API', async () => {
    const created = await runCli(['keys', 'create', '--storefront', 'acme', '--role', 'buyer', '--sandbox', '--label', 'runner', '--json'], env)
    assert.equal(created.code, 0, created.stderr)
    const key = JSON.parse(created.stdout)
    assert.deepEqual([key.role, key.sandbox], ['buyer', true])
    const rest = await fetch(`${server.url}/api/v2/storefront/inventory-sources`, { headers: { authorization: `Bearer ${key.key}` } })
    assert.equal(rest.status, 403)
    const mcp = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    assert.equal(mcp.status, 200)
    const list = await runCli(['keys', 'list', '--storefront', 'acme'], env)
    assert.match(list.stdout, /buyer \(sandbox\)/)
    const refused = await runCli(['keys', 'create', '--storefront', 'acme', '--sandbox'], env)
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /--sandbox needs --role buyer/)
  })

  it('tells the operator that a running server already migrated', async () => {
    const res = await runCli(['migrate'], env)
    assert.equal(res.code, 0)
    assert.match(res.stdout, /running server/)
  })

  it('opens the database directly once the server has stopped, and prints no new bootstrap key on restart', async () => {
    assert.equal(await server.stop(), 0)
    assert.equal(existsSync(path.join(dataDir, 'storefront.lock')), false)
    const list = await runCli(['keys', 'list', '--json'], env)
    assert.equal(list.code, 0, list.stderr)
    // The bootstrap key, and acme's operator and sandbox buyer keys from the tests above.
    assert.deepEqual(JSON.parse(list.stdout).map((k: { storefront: string; role: string }) => `${k.storefront}/${k.role}`).sort(), ['acme/buyer', 'acme/operator', 'default/operator'])
    server = await startServerProcess(env)
    assert.ok(!/sf_[A-Za-z0-9_-]{20,}/.test(server.output()), 'the bootstrap key is shown only on the first start')
  })

  it('takes over a lock left by a killed server', async () => {
    await server.stop('SIGKILL')
    assert.equal(existsSync(path.join(dataDir, 'storefront.lock')), true)
    server = await startServerProcess(env)
    const ready = await fetch(`${server.url}/readyz`)
    assert.equal(ready.status, 200)
  })

  it('registers STOREFRONT_BOOTSTRAP_KEY for scripted setups', async () => {
    await server.stop()
    const fixed = 'sf_scripted_setup_key_0123456789'
    server = await startServerProcess({ ...env, STOREFRONT_BOOTSTRAP_KEY: fixed })
    const res = await fetch(`${server.url}/api/v2/storefront/inventory-sources`, { headers: { authorization: `Bearer ${fixed}` } })
    assert.equal(res.status, 200)
  })

  it('explains bad usage with exit code 2', async () => {
    const res = await runCli(['keys', 'create'], env)
    assert.equal(res.code, 2)
    assert.match(res.stderr, /--storefront/)
  })

  it('requires STOREFRONT_SECRET_KEY on PostgreSQL, where every process must share it', async () => {
    const res = await runCli(['keys', 'list'], { ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', STOREFRONT_SECRET_KEY: '' })
    assert.equal(res.code, 2)
    assert.match(res.stderr, /STOREFRONT_SECRET_KEY is required with DATABASE_URL/)
  })

  it('generates the webhook signing key once into the data directory on the embedded database', () => {
    assert.ok(existsSync(path.join(dataDir, 'webhook-signing-key.json')))
  })

  it('refuses an invalid STOREFRONT_WEBHOOK_SIGNING_KEY naming the variable, never its value', async () => {
    const res = await runCli(['keys', 'list'], {
      ...env,
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      STOREFRONT_SECRET_KEY: 'a-long-enough-secret-key-0123',
      STOREFRONT_WEBHOOK_SIGNING_KEY: '{"kty":"OKP","crv":"Ed25519","kid":"k","x":"AAAA","d":"do-not-print-me"}',
    })
    assert.equal(res.code, 2)
    assert.match(res.stderr, /STOREFRONT_WEBHOOK_SIGNING_KEY: d and x are not one valid Ed25519 key pair/)
    assert.ok(!res.stderr.includes('do-not-print-me'))
  })

  it('refuses an invalid configuration naming the variable', async () => {
    const res = await runCli(['keys', 'list'], { ...env, DATABASE_URL: 'mysql://nope' })
    assert.equal(res.code, 2)
    assert.match(res.stderr, /DATABASE_URL/)
  })
})
