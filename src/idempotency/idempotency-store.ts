import { createHash } from 'node:crypto'
import type { Database } from '../db/database.ts'
import type { Clock } from '../shared/clock.ts'
import { fail } from '../shared/errors.ts'

/** Replays last 24 hours, as the wire contract promises. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000
/** A claim whose request never finished (its process died) can be retried after this. */
const ABANDONED_CLAIM_MS = 2 * 60 * 1000

export type IdempotencyOutcome =
  /** `claimedAt` identifies this claim: only its holder may complete or abandon it. */
  | { kind: 'proceed'; claimedAt: Date }
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
 * The first request claims the key; its response is stored when it finishes.
 */
export function createIdempotencyStore(db: Database, clock: Clock) {
  async function claim(storefrontId: number, key: string, fingerprint: string): Promise<IdempotencyOutcome> {
    const now = clock.now()
    const inserted = await db
      .insertInto('idempotency_record')
      .values({ storefront_id: storefrontId, idempotency_key: key, request_hash: fingerprint, created_at: now })
      .onConflict((oc) => oc.columns(['storefront_id', 'idempotency_key']).doNothing())
      .returning('idempotency_key')
      .executeTakeFirst()
    if (inserted) return { kind: 'proceed', claimedAt: now }

    const existing = await db
      .selectFrom('idempotency_record')
      .selectAll()
      .where('storefront_id', '=', storefrontId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst()
    if (!existing) return claim(storefrontId, key, fingerprint)
    const age = now.getTime() - existing.created_at.getTime()
    if (age > IDEMPOTENCY_WINDOW_MS || (existing.status_code === null && age > ABANDONED_CLAIM_MS)) {
      // Expired, or abandoned by a crashed process: take the key over atomically.
      const taken = await db
        .updateTable('idempotency_record')
        .set({ request_hash: fingerprint, status_code: null, response_body: null, created_at: now })
        .where('storefront_id', '=', storefrontId)
        .where('idempotency_key', '=', key)
        .where('created_at', '=', existing.created_at)
        .returning('idempotency_key')
        .executeTakeFirst()
      if (taken) return { kind: 'proceed', claimedAt: now }
      return claim(storefrontId, key, fingerprint)
    }
    if (existing.request_hash !== fingerprint) {
      throw fail.conflict('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used with a different request')
    }
    if (existing.status_code === null || existing.response_body === null) {
      throw fail.conflict('IDEMPOTENCY_KEY_IN_PROGRESS', 'A request with this Idempotency-Key is still in progress; retry shortly')
    }
    return { kind: 'replay', statusCode: existing.status_code, body: existing.response_body }
  }

  // A slow request whose claim was taken over as abandoned must not overwrite or delete the new claim.
  async function complete(storefrontId: number, key: string, claimedAt: Date, statusCode: number, body: string): Promise<void> {
    await db
      .updateTable('idempotency_record')
      .set({ status_code: statusCode, response_body: body })
      .where('storefront_id', '=', storefrontId)
      .where('idempotency_key', '=', key)
      .where('created_at', '=', claimedAt)
      .execute()
  }

  /** Server errors are not replayed: the client may retry the same key. */
  async function abandon(storefrontId: number, key: string, claimedAt: Date): Promise<void> {
    await db
      .deleteFrom('idempotency_record')
      .where('storefront_id', '=', storefrontId)
      .where('idempotency_key', '=', key)
      .where('created_at', '=', claimedAt)
      .where('status_code', 'is', null)
      .execute()
  }

  async function sweep(): Promise<number> {
    const cutoff = new Date(clock.now().getTime() - IDEMPOTENCY_WINDOW_MS)
    const result = await db.deleteFrom('idempotency_record').where('created_at', '<', cutoff).executeTakeFirst()
    return Number(result.numDeletedRows)
  }

  return { claim, complete, abandon, sweep }
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>
