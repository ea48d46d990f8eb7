import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { claimedMinutesAgo } from '../helpers/idempotency.ts'
import { insertAvail } from '../ledger/ledger-fixtures.ts'
import { createFeedSource } from '../modular/helpers.ts'

/**
 * Idempotency-Key when the first request's process dies. A "dead" request is simulated in
 * process: its workflow never returns after (or before) its transaction, so nothing of that
 * request runs any more, exactly as the database sees a killed process.
 */

const agent = {
  name: 'Crash Agent',
  type: 'SALES',
  endpointUrl: 'https://agent.example.com/mcp',
  protocol: 'MCP',
  authenticationType: 'API_KEY',
  auth: { type: 'bearer', token: 'tok_crash' },
}
const base = '/inventory-sources/retail-modular/modular'

let ctx: TestContext
let storefrontId: number
let sourceRowId: number
const restore: Array<() => void> = []

before(async () => {
  ctx = await createTestContext()
  storefrontId = (await ctx.services.access.authenticate(ctx.key)).storefrontId
  await createFeedSource(ctx)
  sourceRowId = (await ctx.db.selectFrom('inventory_source').select('id').where('source_id', '=', 'retail-modular').executeTakeFirstOrThrow()).id
})
after(() => ctx.close())
afterEach(() => {
  for (const undo of restore.splice(0)) undo()
})

/** A gate the test opens; until then whatever waits on it is a process that stopped there. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { opened, open }
}

/** Replaces `target[name]` for one test; `around` gets the original. */
function patch<T extends object, K extends keyof T>(target: T, name: K, around: (original: T[K]) => T[K]) {
  const original = target[name]
  target[name] = around(original)
  restore.push(() => { target[name] = original })
}

/** The process dies right after the workflow committed: no answer is ever sent by it. */
function dieAfterCommit<T extends object, K extends keyof T>(target: T, name: K) {
  const committed = gate()
  patch(target, name, (original) => (async (...args: unknown[]) => {
    await (original as (...a: unknown[]) => Promise<unknown>).apply(target, args)
    committed.open()
    await new Promise(() => {})
  }) as T[K])
  return committed.opened
}

async function holdsOn(availId: string) {
  return ctx.db.selectFrom('reservation').innerJoin('avail', 'avail.id', 'reservation.avail_row_id').select('reservation.id').where('avail.avail_id', '=', availId).execute()
}

describe('Idempotency-Key when the process dies between COMMIT and the answer', () => {
  it('replays the created source to the retry and creates it once', async () => {
    const committed = dieAfterCommit(ctx.services.sources, 'createAgent')
    const headers = { 'idempotency-key': 'crash-create-1' }
    void ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'crash-agent' }, { headers })
    await committed

    const retry = await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'crash-agent' }, { headers })
    assert.equal(retry.statusCode, 201, retry.body)
    assert.equal(retry.headers['idempotent-replayed'], 'true')
    const stored = await ctx.api('GET', '/inventory-sources/crash-agent')
    assert.deepEqual(retry.json(), stored.json())
    const rows = await ctx.db.selectFrom('inventory_source').select('id').where('source_id', '=', 'crash-agent').execute()
    assert.equal(rows.length, 1)
  })

  it('replays the 201 of a hold to the retry, byte for byte, and holds once', async () => {
    await insertAvail(ctx.db, sourceRowId, { availId: 'crash-avail', capacity: 1_000 })
    const body = { availId: 'crash-avail', mediaBuyId: 'mb-crash', requestedImpressions: 100 }
    const committed = dieAfterCommit(ctx.services.ledgerWorkflows, 'reserve')
    const headers = { 'idempotency-key': 'crash-reserve-1' }
    void ctx.api('POST', `${base}/reservations`, body, { headers })
    await committed

    const retry = await ctx.api('POST', `${base}/reservations`, body, { headers })
    assert.equal(retry.statusCode, 201, retry.body)
    assert.equal(retry.headers['idempotent-replayed'], 'true')
    const holds = await holdsOn('crash-avail')
    assert.equal(holds.length, 1)
    assert.equal(retry.json().reservation.reservationId, String(holds[0]!.id))
    const avail = await ctx.db.selectFrom('avail').select('held_impressions').where('avail_id', '=', 'crash-avail').executeTakeFirstOrThrow()
    assert.equal(avail.held_impressions, 100)
  })

  it('replays the committed answer after a server error that came after COMMIT', async () => {
    patch(ctx.services.sources, 'createAgent', (original) => async (...args) => {
      await original(...args)
      throw new Error('the reply failed after the commit')
    })
    const headers = { 'idempotency-key': 'crash-create-2' }
    const first = await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'after-commit' }, { headers })
    assert.equal(first.statusCode, 500)
    const retry = await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'after-commit' }, { headers })
    assert.equal(retry.statusCode, 201, retry.body)
    assert.equal(retry.headers['idempotent-replayed'], 'true')
    assert.equal(retry.json().sourceId, 'after-commit')
  })
})

describe('Idempotency-Key answers recorded at COMMIT', () => {
  it('are the bytes the client received: a new hold 201, an equal one 200', async () => {
    await insertAvail(ctx.db, sourceRowId, { availId: 'bytes-avail', capacity: 1_000 })
    const body = { availId: 'bytes-avail', mediaBuyId: 'mb-bytes', requestedImpressions: 5 }
    const first = await ctx.api('POST', `${base}/reservations`, body, { headers: { 'idempotency-key': 'bytes-1' } })
    const equal = await ctx.api('POST', `${base}/reservations`, body, { headers: { 'idempotency-key': 'bytes-2' } })
    assert.deepEqual([first.statusCode, equal.statusCode], [201, 200])
    const stored = await ctx.db.selectFrom('idempotency_record').select(['idempotency_key', 'status_code', 'response_body'])
      .where('idempotency_key', 'in', ['bytes-1', 'bytes-2']).orderBy('idempotency_key').execute()
    assert.deepEqual(stored, [
      { idempotency_key: 'bytes-1', status_code: 201, response_body: first.body },
      { idempotency_key: 'bytes-2', status_code: 200, response_body: equal.body },
    ])
  })

  it('are the bytes of the demo source 201 and an empty 204', async () => {
    const demo = await ctx.api('POST', '/inventory-sources/modular/cadent-demo', { sourceId: 'demo-bytes', seedAvails: false }, { headers: { 'idempotency-key': 'demo-1' } })
    assert.equal(demo.statusCode, 201, demo.body)
    const again = await ctx.api('POST', '/inventory-sources/modular/cadent-demo', { sourceId: 'demo-bytes', seedAvails: false }, { headers: { 'idempotency-key': 'demo-1' } })
    assert.equal(again.statusCode, 201)
    assert.equal(again.body, demo.body)
    await ctx.api('POST', '/inventory-sources', { ...agent, sourceId: 'to-delete-bytes' })
    const deleted = await ctx.api('DELETE', '/inventory-sources/to-delete-bytes', undefined, { headers: { 'idempotency-key': 'delete-bytes' } })
    assert.equal(deleted.statusCode, 204)
    const stored = await ctx.db.selectFrom('idempotency_record').select(['idempotency_key', 'status_code', 'response_body'])
      .where('idempotency_key', 'in', ['demo-1', 'delete-bytes']).orderBy('idempotency_key').execute()
    assert.deepEqual(stored, [
      { idempotency_key: 'delete-bytes', status_code: 204, response_body: '' },
      { idempotency_key: 'demo-1', status_code: 201, response_body: demo.body },
    ])
  })
})

describe('Idempotency-Key claims taken over from a request thought dead', () => {
  it('roll back the late original: the retry applies the change, once', async () => {
    const resume = gate()
    patch(ctx.services.availsFeed, 'ingest', (original) => async (...args) => {
      await resume.opened
      return original(...args)
    })
    const headers = { 'idempotency-key': 'stalled-preview' }
    const feed = { avails: [{ availId: 'stalled-1', name: 'Stalled', startTime: '2026-12-01', endTime: '2026-12-31', impressionsCapacity: 1_000 }] }
    const late = ctx.api('POST', `${base}/avails-feed`, feed, { headers })
    await waitForClaim('stalled-preview')
    await claimedMinutesAgo(ctx.db, storefrontId, 'stalled-preview', 3)
    restore.splice(0).forEach((undo) => undo())

    const retry = await ctx.api('POST', `${base}/avails-feed`, feed, { headers })
    assert.equal(retry.statusCode, 200, retry.body)
    assert.equal(retry.headers['idempotent-replayed'], undefined)
    resume.open()
    const original = await late
    assert.equal(original.statusCode, 409, original.body)
    assert.equal(original.json().error.details.reason, 'IDEMPOTENCY_KEY_IN_PROGRESS')

    const previews = await ctx.db.selectFrom('avails_preview').select('preview_id').where('inventory_source_id', '=', sourceRowId).execute()
    assert.deepEqual(previews.map((p) => p.preview_id), [retry.json().previewId])
    const replay = await ctx.api('POST', `${base}/avails-feed`, feed, { headers })
    assert.equal(replay.headers['idempotent-replayed'], 'true')
    assert.equal(replay.body, retry.body)
  })
})

describe('Idempotency-Key abandonment', () => {
  it('is judged by the database clock, not by the clock of the process that asks', async () => {
    const store = ctx.services.idempotency
    const first = await store.claim(storefrontId, 'db-clock-1', 'fingerprint')
    assert.equal(first.kind, 'proceed')
    // A process whose clock runs 3 hours ahead still sees a claim made a moment ago.
    ctx.clock.advance(3 * 60 * 60 * 1000)
    await assert.rejects(store.claim(storefrontId, 'db-clock-1', 'fingerprint'), /still in progress/)
    await claimedMinutesAgo(ctx.db, storefrontId, 'db-clock-1', 1)
    await assert.rejects(store.claim(storefrontId, 'db-clock-1', 'fingerprint'), /still in progress/)
    await claimedMinutesAgo(ctx.db, storefrontId, 'db-clock-1', 2)
    const retry = await store.claim(storefrontId, 'db-clock-1', 'fingerprint')
    assert.equal(retry.kind, 'proceed')
  })
})

async function waitForClaim(key: string): Promise<void> {
  for (let i = 0; i < 1_000; i++) {
    const row = await ctx.db.selectFrom('idempotency_record').select('idempotency_key').where('idempotency_key', '=', key).executeTakeFirst()
    if (row) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error(`no claim ${key}`)
}

// Two requests in one transaction's lifetime need two connections: PostgreSQL only.
describe('Idempotency-Key takeover racing an open outcome transaction', { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL' }, () => {
  /** Stops the next request's answer recording at `before` (row not yet locked) and after it (locked, not committed). */
  function stallRecording() {
    const reached = gate()
    const proceed = gate()
    const recorded = gate()
    const commit = gate()
    patch(ctx.services.idempotency, 'record', (original) => async (...args) => {
      reached.open()
      await proceed.opened
      await original(...args)
      recorded.open()
      await commit.opened
    })
    return { reached: reached.opened, proceed: proceed.open, recorded: recorded.opened, commit: commit.open }
  }

  it('rolls back the stalled original when a retry took its claim over before it recorded its answer', async () => {
    const stall = stallRecording()
    const headers = { 'idempotency-key': 'race-before-record' }
    const body = { ...agent, sourceId: 'race-agent-1' }
    const late = ctx.api('POST', '/inventory-sources', body, { headers })
    await stall.reached
    await claimedMinutesAgo(ctx.db, storefrontId, 'race-before-record', 3)
    restore.splice(0).forEach((undo) => undo())
    // The retry's insert waits for the original's uncommitted row with the same sourceId.
    const retry = ctx.api('POST', '/inventory-sources', body, { headers })
    await waitForLockWait()
    stall.proceed()
    stall.commit()
    const [original, retried] = await Promise.all([late, retry])
    assert.equal(original.statusCode, 409, original.body)
    assert.equal(original.json().error.details.reason, 'IDEMPOTENCY_KEY_IN_PROGRESS')
    assert.equal(retried.statusCode, 201, retried.body)
    const rows = await ctx.db.selectFrom('inventory_source').select('id').where('source_id', '=', 'race-agent-1').execute()
    assert.deepEqual(rows.map((r) => String(r.id)), [retried.json().id])
  })

  it('replays the original when it recorded its answer before the retry arrived, once it commits', async () => {
    const stall = stallRecording()
    const headers = { 'idempotency-key': 'race-after-record' }
    const body = { ...agent, sourceId: 'race-agent-2' }
    const late = ctx.api('POST', '/inventory-sources', body, { headers })
    await stall.reached
    await claimedMinutesAgo(ctx.db, storefrontId, 'race-after-record', 3)
    stall.proceed()
    await stall.recorded
    restore.splice(0).forEach((undo) => undo())
    // The takeover waits for the original's lock on the claim, then sees the answer committed.
    const retry = ctx.api('POST', '/inventory-sources', body, { headers })
    await waitForLockWait()
    stall.commit()
    const [original, retried] = await Promise.all([late, retry])
    assert.equal(original.statusCode, 201, original.body)
    assert.equal(retried.statusCode, 201, retried.body)
    assert.equal(retried.headers['idempotent-replayed'], 'true')
    assert.equal(retried.body, original.body)
  })
})

/**
 * Until some statement of this test's database waits for a lock: the retry has reached the
 * original's open transaction. pg_locks covers the whole server, where other test files run at the
 * same time on their own databases, so a wait of theirs must not count.
 */
async function waitForLockWait(): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    const { rows } = await sql<{ waiting: number }>`
      SELECT count(*)::int AS waiting FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE NOT l.granted AND a.datname = current_database()`.execute(ctx.db)
    if (rows[0]!.waiting > 0) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error('no statement waited for a lock')
}
