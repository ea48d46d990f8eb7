import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { InMemoryReplayStore, InMemoryRevocationStore, StaticJwksResolver, verifyWebhookSignature } from '@adcp/sdk/signing/server'
import {
  createWebhookOutbox,
  enqueueWebhook,
  taskWebhookPayload,
  WEBHOOK_BACKOFF_CAP_MS,
  WEBHOOK_GIVE_UP_MS,
  webhookIdempotencyKey,
  type WebhookEvent,
} from '../../../src/modules/buyer-webhooks/index.ts'
import { claimDueWebhooks, recordWebhookAttempt } from '../../../src/modules/buyer-webhooks/outbox-store.ts'
import { SecretBox } from '../../../src/shared/secret-box.ts'
import { TEST_SECRET_KEY } from '../../helpers/context.ts'
import { startWebhookReceiver, type CapturedWebhook, type WebhookReceiver } from '../../helpers/webhook-receiver.ts'
import { buyFirstProduct, callTool, createMcpTestContext, type McpTestContext } from '../../mcp/helpers.ts'

const secrets = new SecretBox(TEST_SECRET_KEY)
const ACCOUNT = { brand: { domain: 'test.example' }, operator: 'test.example', sandbox: true }

async function verifyAgainstJwks(ctx: McpTestContext, receiverUrl: string, captured: CapturedWebhook) {
  const jwks = (await (await fetch(`${ctx.baseUrl}/.well-known/jwks.json`)).json()) as { keys: ConstructorParameters<typeof StaticJwksResolver>[0] }
  return verifyWebhookSignature(
    { method: 'POST', url: `${receiverUrl}${captured.url}`, headers: captured.headers as Record<string, string>, body: captured.body },
    { jwks: new StaticJwksResolver(jwks.keys), replayStore: new InMemoryReplayStore(), revocationStore: new InMemoryRevocationStore() },
  )
}

describe('the webhook outbox', () => {
  let ctx: McpTestContext
  let storefrontId: number
  let counter = 0

  before(async () => {
    ctx = await createMcpTestContext()
    storefrontId = (await ctx.db.selectFrom('storefront').select('id').where('name', '=', 'acme').executeTakeFirstOrThrow()).id
  })
  after(async () => {
    await ctx.close()
  })
  // Each case counts only its own events: what an earlier one left pending would fall due as the clock moves.
  afterEach(async () => {
    await ctx.db.deleteFrom('webhook_outbox').execute()
  })

  /** A sender with pinned jitter (0.5 of the ceiling) on the test's clock. */
  function outbox(options: { random?: () => number } = {}) {
    return createWebhookOutbox({ db: ctx.db, clock: ctx.clock, secrets, send: ctx.services.buyerWebhooks.sendTaskWebhook, random: options.random ?? (() => 0.5), attemptTimeoutMs: 2_000 })
  }

  async function enqueue(receiver: WebhookReceiver, overrides: Partial<WebhookEvent> = {}): Promise<{ id: number; idempotencyKey: string }> {
    counter++
    const operationId = `create_media_buy.task_outbox_${counter}`
    const event: WebhookEvent = {
      storefrontId,
      operationId,
      idempotencyKey: webhookIdempotencyKey(operationId),
      url: `${receiver.url}/hooks/adcp?token=secret-query-${counter}`,
      sandbox: true,
      payload: taskWebhookPayload({ task_id: `task_outbox_${counter}`, task_type: 'create_media_buy', status: 'completed', timestamp: ctx.clock.now(), result: { media_buy_id: `mb_${counter}`, packages: [] } }),
      ...overrides,
    }
    await ctx.db.transaction().execute((trx) => enqueueWebhook(trx, secrets, event, ctx.clock.now()))
    const row = await ctx.db.selectFrom('webhook_outbox').select('id').where('operation_id', '=', event.operationId).executeTakeFirstOrThrow()
    return { id: row.id, idempotencyKey: event.idempotencyKey }
  }

  const eventRow = (id: number) => ctx.db.selectFrom('webhook_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  const logOf = (id: number) => ctx.db.selectFrom('webhook_delivery').selectAll().where('outbox_id', '=', id).orderBy('attempt').execute()
  /** Moves the clock to the event's next attempt. */
  async function untilDue(id: number) {
    const row = await eventRow(id)
    if (row.next_attempt_at.getTime() > ctx.clock.now().getTime()) ctx.clock.set(row.next_attempt_at)
  }

  it('writes a settled buy\'s webhook in the settling transaction: a rolled-back settlement leaves no event, a committed one always has it', async () => {
    const receiver = await startWebhookReceiver({ answer: (attempt) => (attempt === 1 ? 503 : 200) })
    try {
      const { key } = await ctx.services.access.createKey({ storefront: 'acme', label: 'outbox buyer', role: 'buyer', sandbox: true })
      const client = await ctx.connect(key)
      const forced = await callTool(client, 'comply_test_controller', { scenario: 'force_create_media_buy_arm', params: { arm: 'submitted', task_id: 'task_outbox_rollback_0001' }, account: ACCOUNT })
      assert.equal(forced.payload.success, true, JSON.stringify(forced.payload))
      const created = await buyFirstProduct(client, ACCOUNT, {
        push_notification_config: { url: `${receiver.url}/hooks/buy`, token: 'buyer-validation-token-0002' },
        idempotency_key: 'outbox-rollback-create-0001',
      })
      assert.equal(created.payload.status, 'submitted', JSON.stringify(created.payload))
      const buy = await ctx.db.selectFrom('media_buy').selectAll().where('task_id', '=', 'task_outbox_rollback_0001').executeTakeFirstOrThrow()
      const hold = await ctx.db.selectFrom('reservation').selectAll().where('media_buy_id', '=', buy.media_buy_id).executeTakeFirstOrThrow()
      const release = { sourceRowId: hold.inventory_source_id, reservationId: String(hold.id), reason: 'seller withdrew the avail' }

      // The release settles the buy (rejected, its task failed) in the caller's transaction, which then fails.
      await assert.rejects(ctx.db.transaction().execute(async (trx) => {
        await ctx.services.ledger.release(release, trx)
        const inside = await trx.selectFrom('webhook_outbox').select('id').where('media_buy_row_id', '=', buy.id).execute()
        assert.equal(inside.length, 1, 'the event is written inside the settling transaction')
        throw new Error('the settling transaction fails after the release')
      }), /fails after the release/)
      assert.deepEqual(await ctx.db.selectFrom('webhook_outbox').select('id').where('media_buy_row_id', '=', buy.id).execute(), [])
      assert.equal((await ctx.db.selectFrom('media_buy').select('status').where('id', '=', buy.id).executeTakeFirstOrThrow()).status, 'submitted')

      await ctx.services.ledger.release(release)
      const events = await ctx.db.selectFrom('webhook_outbox').selectAll().where('media_buy_row_id', '=', buy.id).execute()
      assert.equal(events.length, 1)
      assert.deepEqual([events[0]!.status, events[0]!.operation_id, events[0]!.idempotency_key], ['pending', 'create_media_buy.task_outbox_rollback_0001', webhookIdempotencyKey('create_media_buy.task_outbox_rollback_0001')])
      const payload = JSON.parse(events[0]!.payload) as { status: string; task_id: string; token: string }
      assert.deepEqual([payload.status, payload.task_id, payload.token], ['failed', 'task_outbox_rollback_0001', 'buyer-validation-token-0002'])
      assert.doesNotMatch(events[0]!.destination_sealed, /hooks|127\.0\.0\.1/, 'the destination is sealed at rest')

      // The sandbox source's status counts its buys' webhook attempts, from the delivery log.
      const failedAt = ctx.clock.now().toISOString()
      assert.equal((await ctx.services.webhookOutbox.deliverDue()).retried, 1)
      await untilDue(events[0]!.id)
      assert.equal((await ctx.services.webhookOutbox.deliverDue()).delivered, 1)
      const status = (await ctx.api('GET', '/inventory-sources/adcp-sandbox/status')).json() as { webhooks: unknown }
      assert.deepEqual(status.webhooks, { last24h: { delivered: 1, failed: 1, successRate: 50 }, lastFailureAt: failedAt })
      // Past the delivered attempt (at most 1 s of backoff after the failed one) by a day.
      ctx.clock.advance(WEBHOOK_GIVE_UP_MS + 1_000)
      const later = (await ctx.api('GET', '/inventory-sources/adcp-sandbox/status')).json() as { webhooks: unknown }
      assert.deepEqual(later.webhooks, { last24h: { delivered: 0, failed: 0, successRate: 100 }, lastFailureAt: failedAt }, 'a day later only lastFailureAt remains')
    } finally {
      await receiver.close()
    }
  })

  it('delivers to a receiver that answers 500 twice then 200 exactly once, with byte-identical bodies and one idempotency_key over 3 signed attempts', async () => {
    const receiver = await startWebhookReceiver({ answer: (attempt) => (attempt <= 2 ? 500 : 200) })
    try {
      const sender = outbox()
      const { id, idempotencyKey } = await enqueue(receiver)
      assert.deepEqual(await sender.deliverDue(), { claimed: 1, delivered: 0, retried: 1, failed: 0 })
      // Not due again until its backoff has passed (0.5 x 1 s, then 0.5 x 2 s).
      assert.equal((await sender.deliverDue()).claimed, 0)
      assert.equal((await eventRow(id)).next_attempt_at.getTime(), ctx.clock.now().getTime() + 500)
      await untilDue(id)
      assert.equal((await sender.deliverDue()).retried, 1)
      assert.equal((await eventRow(id)).next_attempt_at.getTime(), ctx.clock.now().getTime() + 1_000)
      await untilDue(id)
      assert.equal((await sender.deliverDue()).delivered, 1)
      ctx.clock.advance(WEBHOOK_GIVE_UP_MS)
      assert.equal((await sender.deliverDue()).claimed, 0, 'a delivered event is never sent again')

      const mine = receiver.received.filter((captured) => captured.idempotencyKey === idempotencyKey)
      assert.equal(mine.length, 3)
      assert.equal(receiver.distinctKeys().size, 1)
      assert.equal(new Set(mine.map((captured) => captured.body)).size, 1, 'every retry sends the same bytes')
      assert.equal(new Set(mine.map((captured) => String(captured.headers.signature))).size, 3, 'each attempt is signed afresh')
      for (const captured of mine) {
        const verified = await verifyAgainstJwks(ctx, receiver.url, captured)
        assert.equal(verified.keyid, ctx.services.buyerWebhooks.signerKey!.keyid)
      }
      const row = await eventRow(id)
      assert.deepEqual([row.status, row.attempts, row.last_status_code, row.claimed_until], ['delivered', 3, 200, null])
      const log = await logOf(id)
      assert.deepEqual(log.map((entry) => [entry.attempt, entry.outcome, entry.status_code]), [[1, 'retry', 500], [2, 'retry', 500], [3, 'delivered', 200]])
    } finally {
      await receiver.close()
    }
  })

  it('takes a 4xx other than 408 and 429 as final, and retries 408 and 429', async () => {
    const receiver = await startWebhookReceiver({ answer: (_attempt, captured) => Number(/status=(\d+)/.exec(captured.url)?.[1] ?? 200) })
    try {
      const sender = outbox()
      const gone = await enqueue(receiver, { url: `${receiver.url}/hooks?status=410` })
      const slow = await enqueue(receiver, { url: `${receiver.url}/hooks?status=408` })
      const busy = await enqueue(receiver, { url: `${receiver.url}/hooks?status=429` })
      assert.deepEqual(await sender.deliverDue(), { claimed: 3, delivered: 0, retried: 2, failed: 1 })
      const row = await eventRow(gone.id)
      assert.deepEqual([row.status, row.attempts, row.last_status_code], ['failed', 1, 410])
      assert.deepEqual([(await eventRow(slow.id)).status, (await eventRow(busy.id)).status], ['pending', 'pending'])
      ctx.clock.advance(WEBHOOK_BACKOFF_CAP_MS)
      await sender.deliverDue()
      assert.equal(receiver.received.filter((captured) => captured.idempotencyKey === gone.idempotencyKey).length, 1, 'a final failure is not retried')
      assert.deepEqual((await logOf(gone.id)).map((entry) => entry.outcome), ['failed'])
    } finally {
      await receiver.close()
    }
  })

  it('gives up 24 h after the first attempt, the last retry moved to that moment', async () => {
    const receiver = await startWebhookReceiver({ answer: () => 503 })
    try {
      // The longest backoff every time: 1 s, 2 s, … up to the 30 min cap.
      const sender = outbox({ random: () => 0.999_999 })
      const { id } = await enqueue(receiver)
      const first = ctx.clock.now().getTime()
      let passes = 0
      while ((await eventRow(id)).status === 'pending' && passes < 200) {
        await untilDue(id)
        await sender.deliverDue()
        passes++
        const row = await eventRow(id)
        if (row.status === 'pending') assert.ok(row.next_attempt_at.getTime() <= first + WEBHOOK_GIVE_UP_MS, 'never scheduled past the give-up')
      }
      const row = await eventRow(id)
      assert.equal(row.status, 'failed')
      assert.equal(row.first_attempt_at!.getTime(), first)
      assert.equal(row.last_attempt_at!.getTime(), first + WEBHOOK_GIVE_UP_MS, 'the last attempt is at the 24 h mark')
      assert.match(row.last_error ?? '', /given up 24 h after the first attempt/)
      const log = await logOf(id)
      assert.equal(log.length, row.attempts)
      assert.ok(log.slice(0, -1).every((entry) => entry.outcome === 'retry' && entry.status_code === 503))
      assert.equal(log.at(-1)!.outcome, 'failed')
      // 1 s doubling to 30 min, then every 30 min until the mark: about 60 attempts, not hundreds.
      assert.ok(row.attempts > 40 && row.attempts < 70, `attempts: ${row.attempts}`)
      assert.equal(receiver.received.length, row.attempts)
    } finally {
      await receiver.close()
    }
  })

  it('refuses a live (non-sandbox) event\'s loopback destination as final, and never stores or logs its path, query or credentials', async () => {
    const receiver = await startWebhookReceiver()
    try {
      const { id } = await enqueue(receiver, { sandbox: false, authentication: { schemes: ['Bearer'], credentials: 'buyer-credential-0123456789abcdef' } })
      const row = await eventRow(id)
      assert.doesNotMatch(row.destination_sealed, /secret-query|buyer-credential|hooks/)
      assert.equal(row.destination_origin, receiver.url)
      assert.deepEqual(await outbox().deliverDue(), { claimed: 1, delivered: 0, retried: 0, failed: 1 })
      const settled = await eventRow(id)
      assert.equal(settled.status, 'failed')
      assert.match(settled.last_error ?? '', /^destination refused/)
      const texts = [settled.last_error, ...(await logOf(id)).map((entry) => entry.error)].join(' ')
      assert.doesNotMatch(texts, /secret-query|buyer-credential|\/hooks/)
      assert.equal(receiver.received.length, 0)
    } finally {
      await receiver.close()
    }
  })

  it('keeps a claimed event from every other sender until its lease runs out, and ignores the late answer of an expired lease', async () => {
    const receiver = await startWebhookReceiver()
    try {
      const { id } = await enqueue(receiver)
      const now = ctx.clock.now()
      const first = await claimDueWebhooks(ctx.db, { now, leaseMs: 30_000, limit: 10 })
      assert.deepEqual(first.rows.map((row) => row.id), [id])
      assert.deepEqual((await claimDueWebhooks(ctx.db, { now, leaseMs: 30_000, limit: 10 })).rows, [], 'leased: no second claim')
      ctx.clock.advance(30_000)
      const second = await claimDueWebhooks(ctx.db, { now: ctx.clock.now(), leaseMs: 30_000, limit: 10 })
      assert.deepEqual(second.rows.map((row) => [row.id, row.attempts]), [[id, 2]], 'a lease that ran out (its process died) is claimed again')
      const late = await recordWebhookAttempt(ctx.db, { outboxId: id, token: first.token, attempt: 1, outcome: 'delivered', statusCode: 200, error: null, startedAt: now, durationMs: 5, now: ctx.clock.now() })
      assert.equal(late.settled, false)
      assert.equal((await eventRow(id)).claim_token, second.token)
      const current = await recordWebhookAttempt(ctx.db, { outboxId: id, token: second.token, attempt: 2, outcome: 'delivered', statusCode: 200, error: null, startedAt: ctx.clock.now(), durationMs: 5, now: ctx.clock.now() })
      assert.equal(current.settled, true)
      assert.equal((await logOf(id)).length, 2, 'both attempts are in the delivery log')
    } finally {
      await receiver.close()
    }
  })

  it('stops quickly with a delivery in flight: the attempt is aborted and recorded as a retry, its lease let go', async () => {
    const receiver = await startWebhookReceiver({ holdMs: 5_000 })
    try {
      const sender = outbox()
      const { id } = await enqueue(receiver)
      sender.start({ intervalMs: 50 })
      const deadline = Date.now() + 10_000
      while (receiver.open() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      assert.equal(receiver.open(), 1)
      const started = Date.now()
      await sender.stop()
      assert.ok(Date.now() - started < 2_000, `stopped in ${Date.now() - started} ms`)
      const row = await eventRow(id)
      assert.deepEqual([row.status, row.attempts, row.claimed_until, row.last_status_code], ['pending', 1, null, null])
      assert.deepEqual((await logOf(id)).map((entry) => entry.outcome), ['retry'])
    } finally {
      await receiver.close()
    }
  })

  it('enqueues one event per operation_id: a second enqueue of it is ignored', async () => {
    const receiver = await startWebhookReceiver()
    try {
      const { id } = await enqueue(receiver, { operationId: 'update_media_buy.once', idempotencyKey: webhookIdempotencyKey('update_media_buy.once') })
      const again = await ctx.db.transaction().execute((trx) => enqueueWebhook(trx, secrets, {
        storefrontId, operationId: 'update_media_buy.once', idempotencyKey: webhookIdempotencyKey('update_media_buy.once'), url: `${receiver.url}/x`, sandbox: true, payload: {},
      }, ctx.clock.now()))
      assert.equal(again.enqueued, false)
      assert.deepEqual((await ctx.db.selectFrom('webhook_outbox').select('id').where('operation_id', '=', 'update_media_buy.once').execute()).map((row) => row.id), [id])
    } finally {
      await receiver.close()
    }
  })
})
