import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { assertTransaction, type Database, type Queryable, type Transaction } from '../../db/database.ts'
import type { WebhookDeliveryOutcome, WebhookOutboxRow } from '../../db/tables.ts'
import type { SecretBox } from '../../shared/secret-box.ts'
import type { WireWebhookAuthentication } from './index.ts'

/**
 * The persistent webhook outbox (migration 0022): events written in the transaction of the change
 * they announce, claimed by any server process under a lease, and one delivery-log row per attempt.
 */

/** One webhook to send: what the change tells its buyer. */
export interface WebhookEvent {
  storefrontId: number
  /** The buy it is about: its sources' status counts it. */
  mediaBuyRowId?: number | null | undefined
  /** One logical event (e.g. `create_media_buy.<task_id>`); a second enqueue of it is ignored. */
  operationId: string
  idempotencyKey: string
  url: string
  /** The deprecated legacy scheme the buyer registered, used instead of the RFC 9421 signature. */
  authentication?: WireWebhookAuthentication | undefined
  /** A sandbox key's: its buyer may run a loopback or private receiver. */
  sandbox: boolean
  /** The mcp-webhook-payload body, without idempotency_key. */
  payload: Record<string, unknown>
}

/** What a claimed event holds once its destination is opened: never logged. */
export interface SealedDestination {
  url: string
  authentication?: WireWebhookAuthentication | undefined
}

/** scheme://host[:port]: what operators and logs see of a destination whose path or query may carry a token. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'invalid-url'
  }
}

/**
 * Writes the event in the caller's transaction: it commits with the change or not at all. The
 * destination (URL and any credentials) is sealed with the secret box. Due at once.
 */
export async function enqueueWebhook(trx: Transaction, secrets: SecretBox, event: WebhookEvent, now: Date): Promise<{ enqueued: boolean }> {
  assertTransaction(trx)
  const destination: SealedDestination = { url: event.url, ...(event.authentication ? { authentication: event.authentication } : {}) }
  const inserted = await trx
    .insertInto('webhook_outbox')
    .values({
      storefront_id: event.storefrontId,
      media_buy_row_id: event.mediaBuyRowId ?? null,
      operation_id: event.operationId,
      idempotency_key: event.idempotencyKey,
      destination_sealed: secrets.sealJson(destination),
      destination_origin: originOf(event.url),
      sandbox: event.sandbox,
      payload: JSON.stringify(event.payload),
      next_attempt_at: now,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('operation_id').doNothing())
    .returning('id')
    .executeTakeFirst()
  return { enqueued: inserted !== undefined }
}

/**
 * A sandbox reset's part: the storefront's sandbox events and their delivery log. Their operation
 * ids name the buy and task ids a run reuses (storyboards have fixed ones), so an event left behind
 * would swallow the next run's event of the same id (enqueue ignores a known operation id).
 */
export async function deleteSandboxWebhooks(trx: Transaction, storefrontId: number): Promise<number> {
  assertTransaction(trx)
  const result = await trx.deleteFrom('webhook_outbox').where('storefront_id', '=', storefrontId).where('sandbox', '=', true).executeTakeFirst()
  return Number(result.numDeletedRows)
}

export function openDestination(secrets: SecretBox, row: Pick<WebhookOutboxRow, 'destination_sealed'>): SealedDestination {
  return secrets.openJson<SealedDestination>(row.destination_sealed)
}

export interface Claim {
  token: string
  rows: WebhookOutboxRow[]
}

/**
 * Claims up to `limit` due pending events for this process until `now + leaseMs`: the rows are
 * taken FOR UPDATE SKIP LOCKED (two claimers never take one row), and the lease keeps every other
 * process off them after this commit, until the attempt is recorded or the lease runs out (a
 * process that died mid-delivery). The claim counts the attempt and starts the 24 h clock.
 */
export async function claimDueWebhooks(db: Queryable, options: { now: Date; leaseMs: number; limit: number }): Promise<Claim> {
  const { now, limit } = options
  const token = randomUUID()
  const claimedUntil = new Date(now.getTime() + options.leaseMs)
  const rows = await db
    .updateTable('webhook_outbox')
    .set({
      claimed_until: claimedUntil,
      claim_token: token,
      attempts: sql<number>`attempts + 1`,
      first_attempt_at: sql<Date>`coalesce(first_attempt_at, ${now}::timestamptz)`,
      last_attempt_at: now,
      updated_at: now,
    })
    .where('id', 'in', (eb) => eb
      .selectFrom('webhook_outbox')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((inner) => inner.or([inner('claimed_until', 'is', null), inner('claimed_until', '<=', now)]))
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(limit)
      .forUpdate()
      .skipLocked())
    .returningAll()
    .execute()
  return { token, rows }
}

export interface AttemptRecord {
  outboxId: number
  token: string
  attempt: number
  outcome: WebhookDeliveryOutcome
  statusCode: number | null
  /** Scrubbed: no URL query, no credential. */
  error: string | null
  startedAt: Date
  durationMs: number
  /** outcome 'retry': when the next attempt is due. */
  nextAttemptAt?: Date | undefined
  now: Date
}

/**
 * Logs the attempt and settles the event: delivered, failed, or pending again at `nextAttemptAt`,
 * and the lease is let go. The event changes only while this claim still holds it: the answer of
 * an attempt whose lease ran out (another process has claimed the event since) is logged, nothing more.
 */
export async function recordWebhookAttempt(db: Database, record: AttemptRecord): Promise<{ settled: boolean }> {
  return db.transaction().execute(async (trx) => {
    await trx.insertInto('webhook_delivery').values({
      outbox_id: record.outboxId,
      attempt: record.attempt,
      outcome: record.outcome,
      status_code: record.statusCode,
      error: record.error,
      started_at: record.startedAt,
      duration_ms: Math.max(0, Math.round(record.durationMs)),
    }).execute()
    const updated = await trx
      .updateTable('webhook_outbox')
      .set({
        status: record.outcome === 'retry' ? 'pending' : record.outcome,
        ...(record.outcome === 'retry' ? { next_attempt_at: record.nextAttemptAt ?? record.now } : {}),
        ...(record.outcome === 'delivered' ? { delivered_at: record.now } : {}),
        ...(record.outcome === 'failed' ? { failed_at: record.now } : {}),
        claimed_until: null,
        claim_token: null,
        last_status_code: record.statusCode,
        last_error: record.error,
        updated_at: record.now,
      })
      .where('id', '=', record.outboxId)
      .where('claim_token', '=', record.token)
      .where('status', '=', 'pending')
      .executeTakeFirst()
    return { settled: Number(updated.numUpdatedRows) === 1 }
  })
}

export interface WebhookStats {
  delivered: number
  failed: number
  lastFailureAt: Date | null
}

/**
 * The delivery log of the webhooks about a source's buys: attempts answered 2xx and attempts that
 * failed (retried or final) since `since`, and the latest failed attempt at any time.
 */
export async function webhookStatsOfSource(db: Queryable, options: { sourceRowId: number; since: Date }): Promise<WebhookStats> {
  const row = await db
    .selectFrom('webhook_delivery as d')
    .innerJoin('webhook_outbox as o', 'o.id', 'd.outbox_id')
    .select([
      sql<number>`count(*) FILTER (WHERE d.outcome = 'delivered' AND d.started_at >= ${options.since})`.as('delivered'),
      sql<number>`count(*) FILTER (WHERE d.outcome <> 'delivered' AND d.started_at >= ${options.since})`.as('failed'),
      sql<Date | string | null>`max(d.started_at) FILTER (WHERE d.outcome <> 'delivered')`.as('last_failure_at'),
    ])
    .where('o.media_buy_row_id', 'in', (eb) => eb
      .selectFrom('media_buy_package')
      .select('media_buy_row_id')
      .where('inventory_source_id', '=', options.sourceRowId))
    .executeTakeFirstOrThrow()
  return {
    delivered: Number(row.delivered),
    failed: Number(row.failed),
    lastFailureAt: row.last_failure_at === null ? null : new Date(row.last_failure_at),
  }
}

/** How many events of the buy have an operation_id starting with `operationPrefix`: a notification's sequence number is one more. */
export async function countWebhooksOfBuy(trx: Transaction, mediaBuyRowId: number, operationPrefix: string): Promise<number> {
  const escaped = operationPrefix.replace(/[\\%_]/g, (char) => `\\${char}`)
  const row = await trx
    .selectFrom('webhook_outbox')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('media_buy_row_id', '=', mediaBuyRowId)
    .where('operation_id', 'like', `${escaped}%`)
    .executeTakeFirstOrThrow()
  return Number(row.n)
}
