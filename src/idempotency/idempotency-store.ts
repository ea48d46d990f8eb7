import { createHash, randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import type { Database, Transaction } from '../db/database.ts'
import { assertTransaction } from '../db/database.ts'
import type { Clock } from '../shared/clock.ts'
import { fail } from '../shared/errors.ts'

/** Replays last 24 hours, as the wire contract promises. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000
/** A claim whose request never finished (its process died) can be retried after this, by the database clock. */
export const ABANDONED_CLAIM_MS = 2 * 60 * 1000

/** Only the holder of `token` may record the answer of this claim or drop it. */
export interface IdempotencyClaim {
  storefrontId: number
  key: string
  token: string
}

export type IdempotencyOutcome =
  | { kind: 'proceed'; claim: IdempotencyClaim }
  | { kind: 'replay'; statusCode: number; body: string }

export function requestFingerprint(method: string, url: string, body: unknown): string {
  const hash = createHash('sha256').update(method).update('\0').update(url).update('\0')
  if (Buffer.isBuffer(body)) hash.update(body)
  else if (typeof body === 'string') hash.update(body)
  else hash.update(JSON.stringify(body ?? null))
  return hash.digest('hex')
}

/**
 * Stored in the database so a retry that lands on another server process still replays.
 * The first request claims the key with a random token; its answer is recorded by `record`
 * inside the transaction that commits its change (so a crash after COMMIT still replays), or
 * by `complete` when it finishes without such a transaction.
 *
 * Two clocks, on purpose. Abandonment is judged by the database clock (`now()` in SQL, the one
 * exception to "SQL never calls now()"): it decides whether another process may run a request
 * whose owner might still be alive, and processes' clocks may differ by more than the 2 minutes
 * at stake. The 24 h replay window stays on the injected Clock like every business time, so tests
 * move it with a ManualClock; a few seconds of skew do not matter against 24 hours.
 */
export function createIdempotencyStore(db: Database, clock: Clock) {
  async function claim(storefrontId: number, key: string, fingerprint: string): Promise<IdempotencyOutcome> {
    for (;;) {
      const now = clock.now()
      const token = randomBytes(18).toString('base64url')
      const proceed = { kind: 'proceed' as const, claim: { storefrontId, key, token } }
      const inserted = await db
        .insertInto('idempotency_record')
        .values({
          storefront_id: storefrontId,
          idempotency_key: key,
          request_hash: fingerprint,
          created_at: now,
          claim_token: token,
          claimed_at: sql<Date>`now()`,
        })
        .onConflict((oc) => oc.columns(['storefront_id', 'idempotency_key']).doNothing())
        .returning('idempotency_key')
        .executeTakeFirst()
      if (inserted) return proceed

      // Expired, or abandoned by a dead process: take the key over in one conditional statement.
      // A request that is still recording its answer holds the row, so this waits and re-checks.
      const taken = await db
        .updateTable('idempotency_record')
        .set({ request_hash: fingerprint, status_code: null, response_body: null, created_at: now, claim_token: token, claimed_at: sql<Date>`now()` })
        .where('storefront_id', '=', storefrontId)
        .where('idempotency_key', '=', key)
        .where((eb) => eb.or([
          eb('created_at', '<', new Date(now.getTime() - IDEMPOTENCY_WINDOW_MS)),
          eb.and([
            eb('status_code', 'is', null),
            eb('claimed_at', '<', sql<Date>`now() - make_interval(secs => ${ABANDONED_CLAIM_MS / 1000})`),
          ]),
        ]))
        .returning('idempotency_key')
        .executeTakeFirst()
      if (taken) return proceed

      const existing = await db
        .selectFrom('idempotency_record')
        .select(['request_hash', 'status_code', 'response_body'])
        .where('storefront_id', '=', storefrontId)
        .where('idempotency_key', '=', key)
        .executeTakeFirst()
      // Swept or abandoned in between: claim again.
      if (!existing) continue
      if (existing.request_hash !== fingerprint) {
        throw fail.conflict('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used with a different request')
      }
      if (existing.status_code === null || existing.response_body === null) throw inProgress()
      return { kind: 'replay', statusCode: existing.status_code, body: existing.response_body }
    }
  }

  /**
   * Records the answer inside the transaction of the change it answers: both commit or neither.
   * A claim taken over by a retry (this request was thought dead) is refused, which rolls the
   * change back: the retry is the one that applies it.
   */
  async function record(trx: Transaction, claimed: IdempotencyClaim, statusCode: number, body: string): Promise<void> {
    assertTransaction(trx)
    const updated = await trx
      .updateTable('idempotency_record')
      .set({ status_code: statusCode, response_body: body })
      .where('storefront_id', '=', claimed.storefrontId)
      .where('idempotency_key', '=', claimed.key)
      .where('claim_token', '=', claimed.token)
      .returning('idempotency_key')
      .executeTakeFirst()
    if (!updated) throw inProgress()
  }

  /** The answer of a request that recorded none in a transaction; a recorded one is never replaced. */
  async function complete(claimed: IdempotencyClaim, statusCode: number, body: string): Promise<void> {
    await db
      .updateTable('idempotency_record')
      .set({ status_code: statusCode, response_body: body })
      .where('storefront_id', '=', claimed.storefrontId)
      .where('idempotency_key', '=', claimed.key)
      .where('claim_token', '=', claimed.token)
      .where('status_code', 'is', null)
      .execute()
  }

  /** Server errors are not replayed: the client may retry the same key. A recorded answer stays. */
  async function abandon(claimed: IdempotencyClaim): Promise<void> {
    await db
      .deleteFrom('idempotency_record')
      .where('storefront_id', '=', claimed.storefrontId)
      .where('idempotency_key', '=', claimed.key)
      .where('claim_token', '=', claimed.token)
      .where('status_code', 'is', null)
      .execute()
  }

  async function sweep(): Promise<number> {
    const cutoff = new Date(clock.now().getTime() - IDEMPOTENCY_WINDOW_MS)
    const result = await db.deleteFrom('idempotency_record').where('created_at', '<', cutoff).executeTakeFirst()
    return Number(result.numDeletedRows)
  }

  return { claim, record, complete, abandon, sweep }
}

function inProgress() {
  return fail.conflict('IDEMPOTENCY_KEY_IN_PROGRESS', 'A request with this Idempotency-Key is still in progress; retry shortly')
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>
