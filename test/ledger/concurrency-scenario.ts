import assert from 'node:assert/strict'
import type { Database } from '../../src/db/database.ts'
import { assertLedgerConsistent } from './ledger-fixtures.ts'

/**
 * The load both concurrency suites fire (in one process on PGlite, and across server processes
 * on PostgreSQL), and the checks they make afterwards from the database alone.
 */

export interface ReservationAttempt {
  availId: string
  mediaBuyId: string
  requestedImpressions: number
}

export interface AttemptResult {
  attempt: ReservationAttempt
  /** null when the request never got an answer (the server was killed mid-request). */
  status: number | null
  body: { reservation?: { reservationId: string; requestedImpressions: number; availId: string }; error?: { code: string; details?: { reason?: string } } } | null
}

/** Sends one attempt and reports what came back; the transport is the suite's (fetch or inject). */
export type SendAttempt = (attempt: ReservationAttempt, index: number) => Promise<{ status: number; body: unknown }>

export interface LoadPlan {
  /** avail_id -> impressions capacity */
  capacities: Map<string, number>
  attempts: ReservationAttempt[]
}

/** Deterministic pseudo-random numbers so a failing run can be repeated. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0
    return state / 2 ** 32
  }
}

/**
 * One hot avail that every client fights over and a spread of avails, both oversubscribed
 * (demand ~1.2x capacity) so refusals must happen; attempts are shuffled together and every
 * mediaBuyId is unique, so the only legitimate refusal is INSUFFICIENT_CAPACITY.
 */
export function buildLoadPlan(options: { hotAttempts: number; spreadAttempts: number; spreadAvails: number; seed?: number; prefix?: string }): LoadPlan {
  const random = seededRandom(options.seed ?? 42)
  const prefix = options.prefix ?? 'load'
  const capacities = new Map<string, number>()
  const attempts: ReservationAttempt[] = []
  const amount = () => 1 + Math.floor(random() * 5)
  const hot = `${prefix}-hot`
  capacities.set(hot, Math.floor(options.hotAttempts * 3 / 1.2))
  for (let i = 0; i < options.hotAttempts; i++) attempts.push({ availId: hot, mediaBuyId: `${prefix}-mb-hot-${i}`, requestedImpressions: amount() })
  const perAvail = options.spreadAttempts / options.spreadAvails
  for (let a = 0; a < options.spreadAvails; a++) capacities.set(`${prefix}-spread-${a}`, Math.floor(perAvail * 3 / 1.2))
  for (let i = 0; i < options.spreadAttempts; i++) {
    const availId = `${prefix}-spread-${Math.floor(random() * options.spreadAvails)}`
    attempts.push({ availId, mediaBuyId: `${prefix}-mb-spread-${i}`, requestedImpressions: amount() })
  }
  for (let i = attempts.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[attempts[i], attempts[j]] = [attempts[j]!, attempts[i]!]
  }
  return { capacities, attempts }
}

/** Runs every attempt with at most `concurrency` in flight. A transport error is recorded, not thrown. */
export async function fireAttempts(attempts: ReservationAttempt[], send: SendAttempt, concurrency: number): Promise<AttemptResult[]> {
  const results: AttemptResult[] = new Array(attempts.length)
  let next = 0
  async function worker() {
    while (next < attempts.length) {
      const index = next++
      const attempt = attempts[index]!
      try {
        const { status, body } = await send(attempt, index)
        results[index] = { attempt, status, body: body as AttemptResult['body'] }
      } catch {
        results[index] = { attempt, status: null, body: null }
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return results
}

export interface LoadSummary {
  created: number
  refused: number
  unanswered: number
}

/**
 * What must hold after the load, read back from the database: every acknowledged (201) hold is
 * there with its amount, every refusal was INSUFFICIENT_CAPACITY, no avail is over capacity,
 * and the counters equal both the ledger entries and the live reservations.
 */
export async function assertLoadOutcome(db: Database, plan: LoadPlan, results: AttemptResult[], options: { allowUnanswered?: boolean } = {}): Promise<LoadSummary> {
  const summary: LoadSummary = { created: 0, refused: 0, unanswered: 0 }
  const acknowledged = new Map<number, AttemptResult>()
  for (const result of results) {
    if (result.status === null || result.status >= 500) {
      assert.ok(options.allowUnanswered, `an attempt got no answer or a ${result.status}: ${JSON.stringify(result)}`)
      summary.unanswered += 1
    } else if (result.status === 201) {
      summary.created += 1
      const id = Number(result.body!.reservation!.reservationId)
      assert.ok(!acknowledged.has(id), `reservation ${id} acknowledged twice`)
      acknowledged.set(id, result)
    } else {
      assert.equal(result.status, 409, JSON.stringify(result))
      assert.equal(result.body?.error?.details?.reason, 'INSUFFICIENT_CAPACITY', JSON.stringify(result))
      summary.refused += 1
    }
  }

  const rows = await db.selectFrom('reservation').select(['id', 'avail_id', 'media_buy_id', 'requested_impressions', 'status']).execute()
  const byId = new Map(rows.map((row) => [row.id, row]))
  for (const [id, result] of acknowledged) {
    const row = byId.get(id)
    assert.ok(row, `acknowledged reservation ${id} is missing`)
    assert.equal(row.status, 'HELD')
    assert.equal(row.media_buy_id, result.attempt.mediaBuyId)
    assert.equal(row.requested_impressions, result.attempt.requestedImpressions)
  }
  // A row without a 201 can exist only for a request whose answer was lost with its process.
  assert.ok(rows.length - acknowledged.size <= summary.unanswered, `${rows.length - acknowledged.size} reservations exist that nobody acknowledged`)

  const avails = await db.selectFrom('avail').select(['avail_id', 'feed_capacity', 'held_impressions', 'booked_impressions']).execute()
  for (const avail of avails) {
    const capacity = plan.capacities.get(avail.avail_id)
    if (capacity === undefined) continue
    assert.ok(avail.held_impressions + avail.booked_impressions <= capacity, `avail ${avail.avail_id} overbooked`)
    const acknowledgedHeld = [...acknowledged.values()]
      .filter((result) => result.attempt.availId === avail.avail_id)
      .reduce((sum, result) => sum + result.attempt.requestedImpressions, 0)
    if (summary.unanswered === 0) assert.equal(avail.held_impressions, acknowledgedHeld, `avail ${avail.avail_id}: held equals the acknowledged holds`)
    else assert.ok(avail.held_impressions >= acknowledgedHeld)
  }
  await assertLedgerConsistent(db)
  return summary
}
