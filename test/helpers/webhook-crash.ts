import assert from 'node:assert/strict'
import type { Database } from '../../src/db/database.ts'
import { createAccessService } from '../../src/access/access-service.ts'
import { enqueueWebhook, newWebhookSigningKeyJson, taskWebhookPayload, webhookIdempotencyKey, type WebhookEvent } from '../../src/modules/buyer-webhooks/index.ts'
import { systemClock } from '../../src/shared/clock.ts'
import { SecretBox } from '../../src/shared/secret-box.ts'
import type { ServerProcess } from './processes.ts'
import type { WebhookReceiver } from './webhook-receiver.ts'

/**
 * The outbox's crash scenario, on either engine: events are enqueued, a `storefront serve`
 * process starts sending them to a receiver that holds every answer, is SIGKILLed with deliveries
 * in flight, and a restarted process finishes the job. Every event must reach the receiver (which
 * dedupes by idempotency_key) at least once, and only the deliveries cut off by the kill twice.
 */

export const OUTBOX_SECRET_KEY = 'webhook-outbox-test-secret-key-0123456789'
/** One attempt is bounded by this; a claim's lease is 3 of these + 5 s. */
export const OUTBOX_TIMEOUT_MS = 2_000
export const OUTBOX_LEASE_MS = OUTBOX_TIMEOUT_MS * 3 + 5_000

export function outboxServerEnv(): Record<string, string> {
  return {
    STOREFRONT_SECRET_KEY: OUTBOX_SECRET_KEY,
    STOREFRONT_WEBHOOK_SIGNING_KEY: newWebhookSigningKeyJson(),
    WEBHOOK_POLL_INTERVAL_MS: '100',
    WEBHOOK_TIMEOUT_MS: String(OUTBOX_TIMEOUT_MS),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '0',
  }
}

/** `count` sandbox events to the receiver, committed in one transaction; their idempotency_keys. */
export async function enqueueEvents(db: Database, receiverUrl: string, count: number, prefix: string): Promise<string[]> {
  const access = createAccessService(db, systemClock)
  await access.createKey({ storefront: 'acme', label: 'webhook outbox test' })
  const storefront = await db.selectFrom('storefront').select('id').where('name', '=', 'acme').executeTakeFirstOrThrow()
  const secrets = new SecretBox(OUTBOX_SECRET_KEY)
  const keys: string[] = []
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < count; i++) {
      const operationId = `create_media_buy.task_${prefix}_${i}`
      const event: WebhookEvent = {
        storefrontId: storefront.id,
        operationId,
        idempotencyKey: webhookIdempotencyKey(operationId),
        url: `${receiverUrl}/hooks/${i}?token=t${i}`,
        sandbox: true,
        payload: taskWebhookPayload({ task_id: `task_${prefix}_${i}`, task_type: 'create_media_buy', status: 'completed', timestamp: new Date(), result: { media_buy_id: `mb_${i}`, packages: [] } }),
      }
      await enqueueWebhook(trx, secrets, event, new Date())
      keys.push(event.idempotencyKey)
    }
  })
  return keys
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

export interface CrashOutcome {
  /** Requests the receiver had taken, and was still holding, when the process was killed. */
  receivedAtKill: number
  openAtKill: number
  total: number
}

/**
 * Starts a server, kills it (SIGKILL) once `killAfterOpen` deliveries are in flight, restarts it
 * and waits until every key has arrived and the killed process's leases have run out and been
 * sent again (or `allDelivered` says so), then stops the restarted server.
 */
export async function killWhileDelivering(options: {
  receiver: WebhookReceiver
  keys: string[]
  start(): Promise<ServerProcess>
  killAfterOpen: number
  allDelivered?: (() => Promise<boolean>) | undefined
}): Promise<CrashOutcome> {
  const { receiver, keys } = options
  const first = await options.start()
  await waitFor(() => receiver.open() >= options.killAfterOpen, 60_000, () => `${options.killAfterOpen} open deliveries (open: ${receiver.open()})\n${first.output()}`)
  first.child.kill('SIGKILL')
  await first.stop()
  const receivedAtKill = receiver.received.length
  const openAtKill = receiver.open()
  assert.ok(receiver.distinctKeys().size < keys.length, 'the kill came while events were pending')

  const restarted = await options.start()
  const restartedAt = Date.now()
  try {
    let lastCount = -1
    let quietSince = Date.now()
    await waitFor(async () => {
      if (receiver.received.length !== lastCount) {
        lastCount = receiver.received.length
        quietSince = Date.now()
      }
      if (receiver.distinctKeys().size < keys.length || receiver.open() > 0) return false
      if (options.allDelivered) return options.allDelivered()
      // The killed claims are sent again once their lease has run out, then the receiver goes quiet.
      return Date.now() > restartedAt + OUTBOX_LEASE_MS + 2_000 && Date.now() - quietSince > 1_500
    }, 120_000, () => `every event delivered (distinct keys ${receiver.distinctKeys().size}/${keys.length})\n${restarted.output()}`)
  } finally {
    await restarted.stop()
  }
  return { receivedAtKill, openAtKill, total: receiver.received.length }
}

/** What the receiver and the outbox must show after the crash: every event once or more, nothing lost. */
export async function assertEveryEventDelivered(db: Database, keys: string[], receiver: WebhookReceiver, outcome: CrashOutcome): Promise<void> {
  const distinct = receiver.distinctKeys()
  assert.equal(distinct.size, keys.length, 'distinct idempotency_keys at the receiver == events')
  assert.deepEqual([...distinct].sort(), [...keys].sort())
  assert.ok(outcome.total >= keys.length)
  // Only deliveries the receiver had taken before the kill may arrive twice, and attempts the
  // restarted server logged as failed (a receiver slower than WEBHOOK_TIMEOUT_MS on a loaded machine
  // has the request but the sender gave up on it): at-least-once, each repeat accounted for.
  const failedAttempts = Number((await db.selectFrom('webhook_delivery').select((eb) => eb.fn.countAll<number>().as('n')).where('outcome', '<>', 'delivered').executeTakeFirstOrThrow()).n)
  assert.ok(outcome.total - keys.length <= outcome.receivedAtKill + failedAttempts, JSON.stringify({ ...outcome, failedAttempts }))
  const rows = await db.selectFrom('webhook_outbox').select(['idempotency_key', 'status', 'attempts', 'claimed_until']).execute()
  assert.equal(rows.length, keys.length)
  assert.deepEqual(rows.filter((row) => row.status !== 'delivered'), [], 'every event is delivered in the outbox')
  // A claim counts its attempt before sending: the killed process's claims count even when unsent.
  const attempts = rows.reduce((sum, row) => sum + row.attempts, 0)
  assert.ok(attempts >= outcome.total, `outbox attempts ${attempts}, received ${outcome.total}`)
  const logged = Number((await db.selectFrom('webhook_delivery').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
  // Attempts cut off by the kill were never recorded; every event has its delivered one.
  assert.ok(logged <= outcome.total - outcome.openAtKill && logged >= keys.length, `logged ${logged}, ${JSON.stringify(outcome)}`)
  const delivered = await db.selectFrom('webhook_delivery').select((eb) => eb.fn.countAll<number>().as('n')).where('outcome', '=', 'delivered').executeTakeFirstOrThrow()
  assert.equal(Number(delivered.n), keys.length, 'one delivered attempt per event in the log')
}
