import type { Database } from '../../db/database.ts'
import type { WebhookDeliveryOutcome, WebhookOutboxRow } from '../../db/tables.ts'
import type { Clock } from '../../shared/clock.ts'
import { metrics } from '../../shared/metrics.ts'
import type { SecretBox } from '../../shared/secret-box.ts'
import type { TaskWebhook, TaskWebhookDelivery } from './index.ts'
import { claimDueWebhooks, openDestination, recordWebhookAttempt } from './outbox-store.ts'

/**
 * The sender of the persistent outbox, run by every server process: each pass claims due events
 * (FOR UPDATE SKIP LOCKED plus a lease, so an event has one delivery in flight across processes),
 * sends each once with the signed sender, logs the attempt and settles the event:
 *
 * - 2xx: delivered.
 * - another 4xx (not 408 or 429), a destination the SSRF policy refuses, an unparsable URL: failed, final.
 * - 5xx, 408, 429, a network error or timeout: retried after an exponential backoff with full
 *   jitter (random in [0, min(cap, base x 2^(attempt-1))]), until 24 h after the first attempt;
 *   a retry that would fall later is moved to that moment, and its failure is the last.
 *
 * A process that dies mid-delivery leaves its claim to expire: the event is sent again after the
 * lease (at least once; receivers dedupe by the idempotency_key, which never changes).
 */

export interface OutboxLogger {
  info(object: object, message: string): void
  warn(object: object, message: string): void
  error(object: object, message: string): void
}

export type SendTaskWebhook = (webhook: TaskWebhook) => Promise<TaskWebhookDelivery>

export interface WebhookOutboxOptions {
  db: Database
  clock: Clock
  secrets: SecretBox
  /** Null: this process has no signing key and sends nothing (another process, or none, will). */
  send: SendTaskWebhook | null
  /** Bound of one attempt; default 10 s. */
  attemptTimeoutMs?: number | undefined
  /** How long a claim keeps other processes off an event; default 3 attempt timeouts + 5 s. */
  leaseMs?: number | undefined
  /** Events claimed (and sent at once, concurrently) per pass; default 10. */
  batchSize?: number | undefined
  backoffBaseMs?: number | undefined
  backoffCapMs?: number | undefined
  /** Since the first attempt; default 24 h. */
  giveUpAfterMs?: number | undefined
  /** [0, 1): the jitter's source (tests pin it). */
  random?: (() => number) | undefined
  logger?: OutboxLogger | undefined
}

export interface OutboxPass {
  claimed: number
  delivered: number
  retried: number
  failed: number
}

export const WEBHOOK_GIVE_UP_MS = 24 * 60 * 60 * 1000
export const WEBHOOK_BACKOFF_BASE_MS = 1_000
export const WEBHOOK_BACKOFF_CAP_MS = 30 * 60 * 1000

const silent: OutboxLogger = { info: () => {}, warn: () => {}, error: () => {} }

/** Whether a receiver's answer is worth another attempt. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429
}

/** Full jitter: a uniform delay in [0, min(cap, base x 2^(attempt-1))]. */
export function backoffDelayMs(attempt: number, options: { baseMs: number; capMs: number; random: () => number }): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40))
  return Math.floor(options.random() * ceiling)
}

/** A transport error as stored and logged: the destination shows as its origin, never its path, query or credentials. */
function scrubbed(text: string, url: string, origin: string): string {
  const bare = url.split('?')[0] ?? url
  return text.split(url).join(origin).split(bare).join(origin).slice(0, 1000)
}

export function createWebhookOutbox(options: WebhookOutboxOptions) {
  const { db, clock, secrets, send } = options
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000
  const leaseMs = options.leaseMs ?? attemptTimeoutMs * 3 + 5_000
  const batchSize = options.batchSize ?? 10
  const giveUpAfterMs = options.giveUpAfterMs ?? WEBHOOK_GIVE_UP_MS
  const backoff = { baseMs: options.backoffBaseMs ?? WEBHOOK_BACKOFF_BASE_MS, capMs: options.backoffCapMs ?? WEBHOOK_BACKOFF_CAP_MS, random: options.random ?? Math.random }
  let logger = options.logger ?? silent
  // Aborts the deliveries in flight when the process stops: each is recorded as a retry, so a
  // graceful stop is quick and leaves no lease to wait out.
  const stopping = new AbortController()

  interface Outcome { outcome: WebhookDeliveryOutcome; statusCode: number | null; error: string | null; nextAttemptAt?: Date }

  async function attempt(row: WebhookOutboxRow, sender: SendTaskWebhook): Promise<Outcome> {
    const destination = openDestination(secrets, row)
    try {
      new URL(destination.url)
    } catch {
      return { outcome: 'failed', statusCode: null, error: 'the destination URL does not parse' }
    }
    let result: TaskWebhookDelivery
    try {
      result = await sender({
        url: destination.url,
        authentication: destination.authentication,
        payload: JSON.parse(row.payload) as Record<string, unknown>,
        operation_id: row.operation_id,
        idempotency_key: row.idempotency_key,
        allowPrivateDestination: row.sandbox,
        maxAttempts: 1,
        timeoutMs: attemptTimeoutMs,
        signal: stopping.signal,
      })
    } catch (error) {
      // A legacy scheme the emitter cannot use, a payload that will not parse: no retry mends it.
      return { outcome: 'failed', statusCode: null, error: scrubbed(error instanceof Error ? error.message : String(error), destination.url, row.destination_origin) }
    }
    const statusCode = result.final_status ?? null
    const error = result.errors.length > 0 ? scrubbed(result.errors.join('; ').replace(/^attempt \d+: /, ''), destination.url, row.destination_origin) : null
    if (result.delivered) return { outcome: 'delivered', statusCode, error: null }
    if (result.refused) return { outcome: 'failed', statusCode, error: `destination refused: ${error ?? 'private or non-https address'}` }
    if (statusCode !== null && !isRetryableStatus(statusCode)) return { outcome: 'failed', statusCode, error }
    const now = clock.now()
    const deadline = new Date((row.first_attempt_at ?? now).getTime() + giveUpAfterMs)
    if (now.getTime() >= deadline.getTime()) return { outcome: 'failed', statusCode, error: `given up 24 h after the first attempt; last: ${error ?? `HTTP ${statusCode}`}` }
    const next = new Date(Math.min(now.getTime() + backoffDelayMs(row.attempts, backoff), deadline.getTime()))
    return { outcome: 'retry', statusCode, error, nextAttemptAt: next }
  }

  async function deliverOne(row: WebhookOutboxRow, token: string, sender: SendTaskWebhook): Promise<WebhookDeliveryOutcome> {
    const startedAt = clock.now()
    const started = performance.now()
    let outcome: Outcome
    try {
      outcome = await attempt(row, sender)
    } catch (error) {
      // The sealed destination did not open (another secret key?): nothing later mends it.
      outcome = { outcome: 'failed', statusCode: null, error: `the event could not be read: ${error instanceof Error ? error.message : String(error)}` }
    }
    const { settled } = await recordWebhookAttempt(db, {
      outboxId: row.id,
      token,
      attempt: row.attempts,
      outcome: outcome.outcome,
      statusCode: outcome.statusCode,
      error: outcome.error,
      startedAt,
      durationMs: performance.now() - started,
      nextAttemptAt: outcome.nextAttemptAt,
      now: clock.now(),
    })
    const context = { outboxId: row.id, operationId: row.operation_id, destination: row.destination_origin, attempt: row.attempts, status: outcome.statusCode }
    // Counted once recorded (the statement committed), and only by the claim that settled it.
    if (settled) metrics.webhookDelivery(outcome.outcome)
    if (!settled) logger.warn(context, 'webhook attempt answered after its lease ran out; the event was left to its new claim')
    else if (outcome.outcome === 'failed') logger.warn({ ...context, error: outcome.error }, 'webhook delivery failed for good')
    else if (outcome.outcome === 'retry') logger.info({ ...context, error: outcome.error, nextAttemptAt: outcome.nextAttemptAt }, 'webhook delivery failed; retried later')
    return outcome.outcome
  }

  /** One pass: claims due events (up to `batchSize`) and sends them; never throws for a receiver. */
  async function deliverDue(): Promise<OutboxPass> {
    const pass: OutboxPass = { claimed: 0, delivered: 0, retried: 0, failed: 0 }
    if (!send) return pass
    const { token, rows } = await claimDueWebhooks(db, { now: clock.now(), leaseMs, limit: batchSize })
    pass.claimed = rows.length
    // At once: every claimed event is sent within its lease, however many the batch holds.
    const outcomes = await Promise.allSettled(rows.map((row) => deliverOne(row, token, send)))
    for (const settled of outcomes) {
      if (settled.status === 'rejected') {
        // Recording failed (the database went away): the lease runs out and the event is sent again.
        logger.error({ err: settled.reason }, 'recording a webhook attempt failed; the event is retried after its lease')
        continue
      }
      if (settled.value === 'delivered') pass.delivered++
      else if (settled.value === 'retry') pass.retried++
      else pass.failed++
    }
    return pass
  }

  // The loop of a server process: a pass every interval, and at once when kicked after a commit.
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let again = false
  let started = false
  let stopped = false
  let intervalMs = 1_000

  async function drain(): Promise<void> {
    do {
      again = false
      try {
        // A full batch means more may be due: keep going until a short one.
        for (let round = 0; round < 100 && !stopped; round++) {
          const pass = await deliverDue()
          if (pass.claimed < batchSize) break
        }
      } catch (error) {
        logger.error({ err: error }, 'webhook outbox pass failed; retried next tick')
      }
    } while (again && !stopped)
  }

  function runNow(): void {
    if (stopped) return
    if (running) {
      again = true
      return
    }
    if (timer) clearTimeout(timer)
    running = drain().finally(() => {
      running = undefined
      schedule()
    })
  }

  function schedule(): void {
    if (stopped) return
    timer = setTimeout(runNow, intervalMs)
    // The sender alone never keeps the process alive.
    timer.unref()
  }

  return {
    deliverDue,
    /** Starts this process's sender loop (a server process does; CLI verbs and tests do not). */
    start(loop: { intervalMs: number; logger?: OutboxLogger | undefined }): void {
      if (started || !send) return
      started = true
      intervalMs = loop.intervalMs
      if (loop.logger) logger = loop.logger
      runNow()
    },
    /** A change committed an event: send it now rather than at the next tick. A no-op without the loop. */
    kick(): void {
      if (started) runNow()
    },
    /**
     * Stops the loop: no pass starts after. The deliveries in flight get `drainMs` (default 0) to
     * finish, then are aborted (each recorded as a retry, so no lease is left to wait out);
     * resolves once the pass has finished.
     */
    async stop(options: { drainMs?: number } = {}): Promise<void> {
      stopped = true
      if (timer) clearTimeout(timer)
      const pass = running
      if (pass && options.drainMs) {
        let wait: NodeJS.Timeout | undefined
        await Promise.race([pass, new Promise((resolve) => { wait = setTimeout(resolve, options.drainMs) })])
        clearTimeout(wait)
      }
      stopping.abort()
      await running
    },
  }
}

export type WebhookOutbox = ReturnType<typeof createWebhookOutbox>
