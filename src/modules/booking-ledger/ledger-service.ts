import { sql } from 'kysely'
import type { Database, Queryable, Transaction } from '../../db/database.ts'
import { afterCommit, assertTransaction, isCheckViolation, isUniqueViolation, json } from '../../db/database.ts'
import { capacityOf, fitsSql, freeSql } from '../../db/capacity.ts'
import type { AvailRow, LedgerEntryKind, ReservationRow, ReservationStatus } from '../../db/tables.ts'
import type { Clock } from '../../shared/clock.ts'
import { toIso } from '../../shared/clock.ts'
import { fail, StorefrontError } from '../../shared/errors.ts'
import { metrics } from '../../shared/metrics.ts'
import { activeModuleSql } from '../registry.ts'
import { createHoldGroups, HOLD_GROUP_DEFAULTS, type HoldGroupOptions, type Pending } from './hold-groups.ts'
import type { Reservation, ReservationListQuery } from './ledger.schema.ts'
import { PRODUCT_ID_PREFIX } from './ledger.schema.ts'

/**
 * The booking ledger: capacity holds on avails, in the two-phase model of TigerBeetle's pending
 * transfers. A HOLD entry takes capacity (held += n) and is resolved at most once by a BOOK
 * (held -= n, booked += n), a RELEASE (of the held or the booked amount) or an EXPIRE entry.
 *
 * Every state change is one transaction that writes the reservation's status, its immutable
 * ledger entry and the avail counters together, so the counters always equal the sums of the
 * entries. Capacity is taken by one conditional UPDATE in the database (never read-then-write
 * here); the avail_never_overbooked trigger is the backstop. Time comes from the Clock only.
 */

export interface LedgerServiceDeps {
  db: Database
  clock: Clock
  /**
   * What hangs on a hold outside the ledger (its booking, its open work items) follows every
   * resolution here, in the resolving transaction. The workflows layer fills this port
   * (src/workflows/hold-consequences.ts): the ledger does not know the modules attached to it.
   */
  onResolved?: OnHoldResolved | undefined
  /** How concurrent holds on one avail are grouped into one transaction (hold-groups.ts). */
  holdGroups?: HoldGroupOptions | undefined
}

/** One resolution of one or more holds, as the ledger committed it (inside `trx`). */
export interface HoldResolution {
  to: 'BOOKED' | 'RELEASED' | 'EXPIRED'
  /** reservation.id of every hold this transition moved; never empty. */
  reservationIds: number[]
  /** inventory_source.id of the sources those holds are on, each once: what hangs on a hold is found by its source. */
  sourceRowIds: number[]
  /** The release reason, when one was given. */
  reason: string | null
  /** The work item whose completion books the hold: its caller closes it. */
  workItemId: number | null
  now: Date
}

/**
 * Runs inside the transaction that resolved the holds, after their rows, entries and counters
 * were written and while their reservation rows are locked; it must lock only rows attached to
 * those reservations (work items, then bookings), never avails or other reservations.
 */
export type OnHoldResolved = (trx: Transaction, resolution: HoldResolution) => Promise<void>

export interface ReserveInput {
  /** inventory_source.id of a source the caller already scoped to its storefront. */
  sourceRowId: number
  availId: string
  mediaBuyId: string
  packageId: string | null
  buyerCustomerId: number | null
  requestedImpressions: number
  /**
   * How long the hold lasts; null: it never expires, because the caller hands it off in the same
   * transaction (create_media_buy), so it commits as `suspendExpiry` would have left it.
   */
  holdMinutes: number | null
  /**
   * The caller took sourceRowId from its own cache for this storefront and sourceId: the reserve
   * confirms it against the source row in its own statement and throws SourceMismatch otherwise.
   */
  expectSource?: { storefrontId: number; sourceId: string } | undefined
}

/** The cached sourceRowId no longer names that storefront's modular source: look it up again. */
export class SourceMismatch extends Error {
  constructor() {
    super('the inventory source row no longer matches the cached storefront and sourceId')
  }
}

export interface ReserveResult {
  /** false when an equal live reservation already existed (the replay answer). */
  created: boolean
  reservation: Reservation
  /** The reservation's row, as `reservation` answers it. */
  row: ReservationRow
  /** The avail's row as this transaction left it (counters included). */
  avail: AvailRow
  /**
   * The source's module rows (ids and row versions) as the reserving statement saw them; what a
   * caller derives from those rows may be cached under it. Undefined when no statement read them.
   */
  modulesVersion?: string | undefined
}

/** How a release or a book names its reservation. */
export type ReservationTarget =
  | { sourceRowId: number; reservationId: string; mediaBuyId?: string | undefined; availId?: string | undefined; packageId?: string | null | undefined }
  | { sourceRowId: number; reservationId?: undefined; mediaBuyId: string; availId: string; packageId?: string | null | undefined }

export interface ReleaseResult {
  /** false for the no-op answer: the reservation was already RELEASED or EXPIRED. */
  released: boolean
  reservation: Reservation
  avail: AvailRow
}

export interface BookResult {
  /** false when it was BOOKED already (completing a work item twice is harmless). */
  booked: boolean
  reservation: Reservation
}

export interface ExpireDueOptions {
  /** Rows per transaction; each batch commits on its own so locks stay short. */
  batchSize?: number
  /** Bound on the work of one call; the next run picks up the rest. */
  maxBatches?: number
  /** Only this source's holds (reads use it to show fresh statuses). */
  sourceRowId?: number
}

/** The source's booking ledger is ACTIVE (the rule of src/modules/contract.ts, in one SQL condition). */
const ledgerIsActive = activeModuleSql('BOOKING_LEDGER')

const EXPIRE_BATCH_SIZE = 500
const EXPIRE_MAX_BATCHES = 20
/** PostgreSQL may pick a deadlock victim under unforeseen interleavings; the retry is bounded. */
const DEADLOCK_RETRIES = 3

type Movement = { kind: LedgerEntryKind; heldDelta: -1 | 0 | 1; bookedDelta: -1 | 0 | 1 }

const BOOK: Movement = { kind: 'BOOK', heldDelta: -1, bookedDelta: 1 }
const RELEASE_HELD: Movement = { kind: 'RELEASE', heldDelta: -1, bookedDelta: 0 }
const RELEASE_BOOKED: Movement = { kind: 'RELEASE', heldDelta: 0, bookedDelta: -1 }
const EXPIRE: Movement = { kind: 'EXPIRE', heldDelta: -1, bookedDelta: 0 }

/** The ledger entry each resolution writes, as the metrics count it. */
const ENTRY_OF: Record<HoldResolution['to'], Exclude<LedgerEntryKind, 'HOLD'>> = { BOOKED: 'BOOK', RELEASED: 'RELEASE', EXPIRED: 'EXPIRE' }

export function toReservation(row: ReservationRow): Reservation {
  return {
    reservationId: String(row.id),
    inventorySourceId: String(row.inventory_source_id),
    availId: row.avail_id,
    productId: `${PRODUCT_ID_PREFIX}${row.avail_id}`,
    mediaBuyId: row.media_buy_id,
    packageId: row.package_id,
    buyerCustomerId: row.buyer_customer_id,
    requestedImpressions: row.requested_impressions,
    status: row.status,
    expiresAt: toIso(row.expires_at),
    createdAt: toIso(row.created_at)!,
    updatedAt: toIso(row.updated_at)!,
    bookedAt: toIso(row.booked_at),
    releasedAt: toIso(row.released_at),
    expiredAt: toIso(row.expired_at),
    releaseReason: row.release_reason,
  }
}

/** When a hold placed now expires; null for one the caller hands off in its transaction. */
function expiryOf(input: Pick<ReserveInput, 'holdMinutes'>, now: Date): Date | null {
  return input.holdMinutes === null ? null : new Date(now.getTime() + input.holdMinutes * 60_000)
}

function isDue(row: ReservationRow, now: Date): boolean {
  return row.status === 'HELD' && row.expires_at !== null && row.expires_at.getTime() <= now.getTime()
}

function isDeadlock(error: unknown): boolean {
  const code = (error as { code?: string })?.code
  return code === '40P01' || code === '40001'
}

/**
 * The version of a source's module rows: their ids and xmin (a new one for every UPDATE of a row),
 * so any change, addition or removal of a module gives another string, seen alike by every process.
 */
function modulesVersionSql(sourceRowId: number) {
  return sql<string>`coalesce((
    SELECT string_agg(m.id::text || ':' || m.xmin::text, ',' ORDER BY m.id) FROM module_instance m
    WHERE m.inventory_source_id = ${sourceRowId}
  ), '')`
}

/** The refusal of a hold that does not fit: the same answer whether it came alone or in a group. */
function insufficientCapacity(availId: string, availableImpressions: number, requestedImpressions: number): StorefrontError {
  return fail.conflict('INSUFFICIENT_CAPACITY', `Avail ${availId} has ${availableImpressions} available impressions; ${requestedImpressions} were requested`, {
    availId,
    availableImpressions,
    requestedImpressions,
  })
}

/** Two holds with this key cannot both be live (the reservation_live_key index). */
function liveKeyOf(input: Pick<ReserveInput, 'mediaBuyId' | 'packageId'>): string {
  return `${input.mediaBuyId}\u0000${input.packageId ?? ''}`
}

function parseReservationId(reservationId: string): number | null {
  return /^\d{1,15}$/.test(reservationId) ? Number(reservationId) : null
}

/**
 * Lock, then read: callers serialise on the reservation row before deciding a transition.
 * Every row lock in the ledger is FOR NO KEY UPDATE (what an UPDATE of non-key columns takes):
 * it does not conflict with the KEY SHARE locks that inserting a ledger entry or a reservation
 * takes on the rows it references, where FOR UPDATE would and could deadlock two sweepers.
 */
export async function lockReservation(trx: Queryable, id: number): Promise<ReservationRow | undefined> {
  return trx.selectFrom('reservation').selectAll().where('id', '=', id).forNoKeyUpdate().executeTakeFirst()
}

async function readAvail(trx: Queryable, availRowId: number): Promise<AvailRow> {
  return trx.selectFrom('avail').selectAll().where('id', '=', availRowId).executeTakeFirstOrThrow()
}

/**
 * Moves one reservation out of `from` and writes its entry and the counter deltas in one
 * statement. The `status = from` guard makes each transition happen at most once even if a
 * caller forgot to lock; zero rows back means someone else resolved it first.
 */
async function transition(
  trx: Transaction,
  id: number,
  from: ReservationStatus,
  to: ReservationStatus,
  movement: Movement,
  now: Date,
  reason: string | null,
): Promise<ReservationRow | undefined> {
  const result = await sql<ReservationRow>`
    WITH moved AS (
      UPDATE reservation SET
        status = ${to},
        updated_at = ${now},
        booked_at = CASE WHEN ${to} = 'BOOKED' THEN ${now}::timestamptz ELSE booked_at END,
        released_at = CASE WHEN ${to} = 'RELEASED' THEN ${now}::timestamptz ELSE released_at END,
        expired_at = CASE WHEN ${to} = 'EXPIRED' THEN ${now}::timestamptz ELSE expired_at END,
        expires_at = CASE WHEN ${to} = 'BOOKED' THEN NULL ELSE expires_at END,
        release_reason = CASE WHEN ${to} = 'RELEASED' THEN ${reason}::text ELSE release_reason END
      WHERE id = ${id} AND status = ${from}
      RETURNING *
    ), entry AS (
      INSERT INTO ledger_entry (reservation_id, avail_row_id, kind, impressions, held_delta, booked_delta, reason, created_at)
      SELECT id, avail_row_id, ${movement.kind}, requested_impressions,
        ${movement.heldDelta}::bigint * requested_impressions, ${movement.bookedDelta}::bigint * requested_impressions,
        ${reason}::text, ${now}::timestamptz
      FROM moved
      RETURNING id
    ), counters AS (
      UPDATE avail SET
        held_impressions = held_impressions + ${movement.heldDelta}::bigint * moved.requested_impressions,
        booked_impressions = booked_impressions + ${movement.bookedDelta}::bigint * moved.requested_impressions
      FROM moved
      WHERE avail.id = moved.avail_row_id
      RETURNING avail.id
    )
    SELECT moved.* FROM moved, entry, counters
  `.execute(trx)
  return result.rows[0]
}

/**
 * The EXPIRE transition of the rows a `due` CTE has locked, as the CTEs `moved` (status and time,
 * guarded on HELD so a hold is resolved once) and `entry` (its immutable ledger entry). The lazy
 * expiry and the sweeper share it; each then moves the avail counters by what `moved` returned.
 */
function expireTransition(now: Date) {
  return sql`moved AS (
      UPDATE reservation SET status = 'EXPIRED', expired_at = ${now}, updated_at = ${now}
      FROM due
      WHERE reservation.id = due.id AND reservation.status = 'HELD'
      RETURNING reservation.id, reservation.inventory_source_id, reservation.avail_row_id, reservation.requested_impressions
    ), entry AS (
      INSERT INTO ledger_entry (reservation_id, avail_row_id, kind, impressions, held_delta, booked_delta, reason, created_at)
      SELECT id, avail_row_id, 'EXPIRE', requested_impressions, -requested_impressions, 0, NULL, ${now}::timestamptz
      FROM moved
    )`
}

/**
 * Expires the avail's due holds inside the caller's transaction. Rows are locked in id order and
 * waited for (no SKIP LOCKED): a due hold that another transaction is resolving right now must
 * be seen resolved, not skipped, or it could block this reservation. Reservation rows are always
 * locked before their avail row, in every path, so this cannot deadlock with the sweeper.
 */
async function expireDueOnAvail(trx: Transaction, availRowId: number, now: Date): Promise<number[]> {
  const result = await sql<{ ids: number[] | null }>`
    WITH due AS (
      SELECT id FROM reservation
      WHERE avail_row_id = ${availRowId} AND status = 'HELD' AND expires_at <= ${now}
      ORDER BY id
      FOR NO KEY UPDATE
    ), ${expireTransition(now)}, total AS (
      SELECT count(*)::bigint AS expired, coalesce(sum(requested_impressions), 0)::bigint AS impressions,
        array_agg(id ORDER BY id) AS ids
      FROM moved
    ), counters AS (
      UPDATE avail SET held_impressions = held_impressions - total.impressions
      FROM total
      WHERE avail.id = ${availRowId} AND total.expired > 0
    )
    SELECT ids FROM total
  `.execute(trx)
  return (result.rows[0]?.ids ?? []).map(Number)
}

export function createLedgerService({ db, clock, onResolved, holdGroups: holdGroupOptions }: LedgerServiceDeps) {
  /**
   * The consequences of a transition, one call per target state and path. Every path that moves
   * a hold to BOOKED, RELEASED or EXPIRED (the API, the lazy expiry, the sweeper, the work queue)
   * ends here in its own transaction, so nothing attached to a hold outlives its resolution.
   */
  async function resolved(trx: Transaction, to: HoldResolution['to'], holds: ReadonlyArray<Pick<ReservationRow, 'id' | 'inventory_source_id'>>, now: Date, extra: { reason?: string | null; workItemId?: number | null } = {}): Promise<void> {
    if (holds.length === 0) return
    afterCommit(trx, () => metrics.ledgerEntries(ENTRY_OF[to], holds.length))
    if (!onResolved) return
    await onResolved(trx, {
      to,
      reservationIds: holds.map((hold) => hold.id),
      sourceRowIds: [...new Set(holds.map((hold) => hold.inventory_source_id))],
      reason: extra.reason ?? null,
      workItemId: extra.workItemId ?? null,
      now,
    })
  }

  /** HELD -> EXPIRED of one locked, due hold (a release or a book found it past its expiry). */
  async function expireOne(trx: Transaction, row: ReservationRow, now: Date): Promise<ReservationRow | undefined> {
    const moved = await transition(trx, row.id, 'HELD', 'EXPIRED', EXPIRE, now, null)
    if (moved) await resolved(trx, 'EXPIRED', [moved], now)
    return moved
  }

  /** The avail's due holds -> EXPIRED, in the caller's transaction (the lazy expiry); the avail is on `sourceRowId`. */
  async function expireDueOnAvailWithConsequences(trx: Transaction, availRowId: number, sourceRowId: number, now: Date): Promise<void> {
    const ids = await expireDueOnAvail(trx, availRowId, now)
    await resolved(trx, 'EXPIRED', ids.map((id) => ({ id, inventory_source_id: sourceRowId })), now)
  }

  /** Runs `work` in its own transaction, retrying a deadlock victim a bounded number of times. */
  async function inTransaction<T>(work: (trx: Transaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await db.transaction().execute(work)
      } catch (error) {
        if (!isDeadlock(error) || attempt >= DEADLOCK_RETRIES) throw error
      }
    }
  }

  /**
   * Holds capacity. Result codes, first applicable wins (docs/booking-ledger.md):
   * NO_BOOKING_LEDGER, avail NOT_FOUND, replay of an equal live reservation (created: false),
   * RESERVATION_EXISTS, AVAIL_NOT_SELLABLE, INSUFFICIENT_CAPACITY, then created.
   *
   * Without `trx`, each step is one atomic statement (no BEGIN/COMMIT round trips): the lookup,
   * the lazy expiry of the avail's due holds when there are any, then one statement that takes
   * the capacity and writes the reservation and its HOLD entry. With `trx` the same statements
   * join the caller's transaction (the outcome transaction a request with an Idempotency-Key records
   * its answer in: src/workflows/ledger-workflows.ts).
   */
  async function reserve(input: ReserveInput, trx?: Transaction): Promise<ReserveResult> {
    // Inside a caller's transaction the hold commits with the caller's other writes: never grouped.
    if (trx) return reserveAlone(input, trx)
    const scope = input.expectSource ? `${input.expectSource.storefrontId}\u0000${input.expectSource.sourceId}` : ''
    return holdGroups.submit(`${input.sourceRowId}\u0000${input.availId}\u0000${scope}`, input)
  }

  /** One hold on its own: the lookup, the lazy expiry if due holds exist, then the one write. */
  async function reserveAlone(input: ReserveInput, trx?: Transaction): Promise<ReserveResult> {
    try {
      if (input.expectSource) await confirmSource(trx ?? db, input.sourceRowId, input.expectSource)
      return await reserveOn(input, clock.now(), trx)
    } catch (error) {
      // The trigger is a backstop only: the conditional UPDATE should have refused first.
      if (isCheckViolation(error, 'avail_never_overbooked')) {
        throw fail.conflict('INSUFFICIENT_CAPACITY', 'Not enough available impressions on the avail', { availableImpressions: 0 })
      }
      // The source was deleted between the lookup and the insert.
      if ((error as { code?: string })?.code === '23503') throw fail.notFound('Inventory source')
      throw error
    }
  }

  async function confirmSource(handle: Queryable, sourceRowId: number, expected: NonNullable<ReserveInput['expectSource']>): Promise<void> {
    const row = await handle
      .selectFrom('inventory_source')
      .select('id')
      .where('id', '=', sourceRowId)
      .where('storefront_id', '=', expected.storefrontId)
      .where('source_id', '=', expected.sourceId)
      .where('execution_type', '=', 'MODULAR_SOURCE')
      .executeTakeFirst()
    if (!row) throw new SourceMismatch()
  }

  const holdGroups = createHoldGroups<ReserveInput, ReserveResult>(holdGroupOptions ?? HOLD_GROUP_DEFAULTS, runGroup)

  /**
   * A group of holds on one avail (same source, avail and cache claim), in arrival order. The
   * common case is one statement for all of them (reserveGroup). Whatever that statement cannot
   * decide alone (a missing avail or ledger, due holds to expire, a key already live, a failing
   * statement such as a unique violation against another process's hold) goes through the
   * one-by-one path, so every member gets exactly the answer it would get on its own and one
   * member's reason never fails the others. A second request with a key already in the group
   * runs after the group has committed, and so answers as the replay of the first.
   */
  async function runGroup(members: Pending<ReserveInput, ReserveResult>[]): Promise<void> {
    const alone = (member: Pending<ReserveInput, ReserveResult>) => reserveAlone(member.input).then(member.resolve, member.reject)
    const keys = new Set<string>()
    const distinct: Pending<ReserveInput, ReserveResult>[] = []
    const repeats: Pending<ReserveInput, ReserveResult>[] = []
    for (const member of members) {
      const key = liveKeyOf(member.input)
      if (keys.has(key)) repeats.push(member)
      else distinct.push(member)
      keys.add(key)
    }
    let answers: Array<ReserveResult | StorefrontError> | 'stale' | null = null
    try {
      answers = await reserveGroup(distinct.map((member) => member.input), clock.now())
    } catch {
      answers = null
    }
    if (answers === 'stale') {
      for (const member of members) member.reject(new SourceMismatch())
      return
    }
    if (answers === null) await Promise.all(distinct.map(alone))
    else {
      distinct.forEach((member, i) => {
        const answer = answers[i]!
        if (answer instanceof StorefrontError) member.reject(answer)
        else member.resolve(answer)
      })
    }
    await Promise.all(repeats.map(alone))
  }

  /**
   * Holds for several requests on one avail in one statement, so one transaction and one commit:
   * the avail row is locked, a walk in arrival order admits each request that fits what the ones
   * before it left (what one-by-one holds in that order would do), one conditional UPDATE takes
   * their total and one INSERT writes their reservations and HOLD entries.
   * The keys of `inputs` are distinct. Returns one answer per input (the created hold or its
   * INSUFFICIENT_CAPACITY refusal), 'stale' when expectSource does not match, or null when the
   * statement wrote nothing because the one-by-one path must answer (see runGroup).
   */
  async function reserveGroup(inputs: ReserveInput[], now: Date): Promise<Array<ReserveResult | StorefrontError> | 'stale' | null> {
    const first = inputs[0]!
    const sourceRowId = first.sourceRowId
    const expected = first.expectSource
    const requests = inputs.map((input, i) => ({
      ord: i + 1,
      media_buy_id: input.mediaBuyId,
      package_id: input.packageId,
      buyer_customer_id: input.buyerCustomerId,
      requested: input.requestedImpressions,
      expires_at: expiryOf(input, now)?.toISOString() ?? null,
    }))
    const sourceMatches = expected
      ? sql<boolean>`EXISTS (
          SELECT 1 FROM inventory_source s
          WHERE s.id = ${sourceRowId} AND s.storefront_id = ${expected.storefrontId} AND s.source_id = ${expected.sourceId}
            AND s.execution_type = 'MODULAR_SOURCE'
        )`
      : sql<boolean>`true`
    const result = await sql<{
      source_ok: boolean
      modules_version: string
      locked: AvailRow | null
      avail: AvailRow | null
      impressions: number | string
      walk: Array<{ ord: number; free: number; admit: boolean }> | null
      reservations: ReservationRow[] | null
    }>`
      WITH RECURSIVE req AS (
        SELECT * FROM jsonb_to_recordset(${json(requests)}::jsonb)
          AS r(ord int, media_buy_id text, package_id text, buyer_customer_id bigint, requested bigint, expires_at timestamptz)
      ), gate AS (
        SELECT
          ${sourceMatches} AS source_ok,
          EXISTS (
            SELECT 1 FROM module_instance
            WHERE inventory_source_id = ${sourceRowId} AND ${ledgerIsActive}
          ) AS has_ledger,
          ${modulesVersionSql(sourceRowId)} AS modules_version,
          a.id AS avail_row_id,
          EXISTS (
            SELECT 1 FROM reservation r
            WHERE r.avail_row_id = a.id AND r.status = 'HELD' AND r.expires_at <= ${now}
          ) AS has_due,
          EXISTS (
            SELECT 1 FROM req JOIN reservation r
              ON r.inventory_source_id = ${sourceRowId} AND r.avail_id = ${first.availId} AND r.media_buy_id = req.media_buy_id
              AND coalesce(r.package_id, '') = coalesce(req.package_id, '') AND r.status IN ('HELD', 'BOOKED')
          ) AS has_live
        FROM (SELECT 1) AS one
        LEFT JOIN avail a ON a.inventory_source_id = ${sourceRowId} AND a.avail_id = ${first.availId}
      ), cur AS MATERIALIZED (
        SELECT avail.* FROM avail
        WHERE avail.id = (SELECT avail_row_id FROM gate WHERE source_ok AND has_ledger AND NOT has_due AND NOT has_live)
          AND avail.status = 'ACTIVE' AND avail.end_time > ${now}
        FOR NO KEY UPDATE
      ), walk (ord, free, admit) AS (
        SELECT 0, ${freeSql('cur')}::bigint, false FROM cur
        UNION ALL
        SELECT req.ord,
          CASE WHEN req.requested <= walk.free THEN walk.free - req.requested ELSE walk.free END,
          req.requested <= walk.free
        FROM walk JOIN req ON req.ord = walk.ord + 1
      ), admitted AS (
        SELECT req.* FROM req JOIN walk ON walk.ord = req.ord WHERE walk.admit
      ), total AS (
        SELECT coalesce(sum(requested), 0)::bigint AS impressions FROM admitted
      ), taken AS (
        UPDATE avail SET held_impressions = avail.held_impressions + total.impressions
        FROM cur, total
        WHERE avail.id = cur.id AND total.impressions > 0 AND ${fitsSql('avail', sql`total.impressions`)}
        RETURNING avail.*
      ), inserted AS (
        INSERT INTO reservation (
          inventory_source_id, avail_row_id, avail_id, media_buy_id, package_id, buyer_customer_id,
          requested_impressions, status, expires_at, created_at, updated_at
        )
        SELECT ${sourceRowId}, taken.id, taken.avail_id, admitted.media_buy_id, admitted.package_id, admitted.buyer_customer_id,
          admitted.requested, 'HELD', admitted.expires_at, ${now}::timestamptz, ${now}::timestamptz
        FROM admitted CROSS JOIN taken
        ORDER BY admitted.ord
        RETURNING *
      ), entry AS (
        INSERT INTO ledger_entry (reservation_id, avail_row_id, kind, impressions, held_delta, booked_delta, reason, created_at)
        SELECT id, avail_row_id, 'HOLD', requested_impressions, requested_impressions, 0, NULL, ${now}::timestamptz
        FROM inserted
      )
      SELECT
        (SELECT source_ok FROM gate) AS source_ok,
        (SELECT modules_version FROM gate) AS modules_version,
        (SELECT row_to_json(cur) FROM cur) AS locked,
        (SELECT row_to_json(taken) FROM taken) AS avail,
        (SELECT impressions FROM total) AS impressions,
        (SELECT json_agg(json_build_object('ord', ord, 'free', free, 'admit', admit) ORDER BY ord) FROM walk WHERE ord > 0) AS walk,
        (SELECT json_agg(row_to_json(inserted)) FROM inserted) AS reservations
    `.execute(db)
    const row = result.rows[0]!
    if (!row.source_ok) return 'stale'
    if (!row.locked) return null
    // The row is locked, so the UPDATE's own condition cannot refuse what the walk admitted.
    if (Number(row.impressions) > 0 && !row.avail) return null
    const avail = reviveAvail(row.avail ?? row.locked)
    const created = new Map((row.reservations ?? []).map((raw) => {
      const reservation = reviveReservation(raw)
      return [liveKeyOf({ mediaBuyId: reservation.media_buy_id, packageId: reservation.package_id }), reservation]
    }))
    // One statement outside any transaction: it has committed by now.
    if (created.size > 0) metrics.ledgerEntries('HOLD', created.size)
    const walk = row.walk ?? []
    return inputs.map((input, i) => {
      const step = walk[i]!
      if (!step.admit) return insufficientCapacity(input.availId, Math.max(0, Number(step.free)), input.requestedImpressions)
      const reservation = created.get(liveKeyOf(input))!
      return { created: true, reservation: toReservation(reservation), row: reservation, avail, modulesVersion: row.modules_version }
    })
  }

  async function reserveOn(input: ReserveInput, now: Date, trx: Transaction | undefined): Promise<ReserveResult> {
    const handle: Queryable = trx ?? db
    const inCallerTransaction = trx !== undefined
    let found = await lookupForReserve(handle, input, now)
    if (!found.has_ledger) {
      throw fail.conflict('NO_BOOKING_LEDGER', 'The source has no ACTIVE booking ledger module')
    }
    if (found.avail_row_id === null) throw fail.notFound(`Avail ${input.availId}`)
    const availRowId = Number(found.avail_row_id)

    // Lazy expiry: a due hold never blocks, whether or not the sweeper has run. A hold that
    // commits after the lookup cannot already be due (it expires at least a minute after now),
    // so the lookup's has_due is enough to skip this statement on the common path.
    if (found.has_due) {
      // Its consequences (booking, work items) are several statements: one transaction for all.
      if (trx) await expireDueOnAvailWithConsequences(trx, availRowId, input.sourceRowId, now)
      else await inTransaction((trx) => expireDueOnAvailWithConsequences(trx, availRowId, input.sourceRowId, now))
      found = await lookupForReserve(handle, input, now)
    }
    if (found.live) return { ...(await replayOrRefuse(handle, reviveReservation(found.live), input.requestedImpressions)), modulesVersion: found.modules_version }

    const expiresAt = expiryOf(input, now)
    // One statement: take capacity if it is there, and only then write the reservation and its
    // HOLD entry. A concurrent identical request that committed first makes the insert conflict:
    // on its own the statement then fails whole (23505) and nothing was taken; inside a caller's
    // transaction (which an error would abort) the insert is skipped and the capacity given back.
    const onConflict = inCallerTransaction
      ? sql`ON CONFLICT (inventory_source_id, media_buy_id, avail_id, (coalesce(package_id, ''))) WHERE status IN ('HELD', 'BOOKED') DO NOTHING`
      : sql``
    let outcome: { avail: AvailRow | null; reservation: ReservationRow | null }
    try {
      const held = await sql<{ avail: AvailRow | null; reservation: ReservationRow | null }>`
        WITH taken AS (
          UPDATE avail SET held_impressions = held_impressions + ${input.requestedImpressions}::bigint
          WHERE id = ${availRowId}
            AND status = 'ACTIVE' AND end_time > ${now}
            AND ${fitsSql('avail', input.requestedImpressions)}
          RETURNING *
        ), inserted AS (
          INSERT INTO reservation (
            inventory_source_id, avail_row_id, avail_id, media_buy_id, package_id, buyer_customer_id,
            requested_impressions, status, expires_at, created_at, updated_at
          )
          SELECT ${input.sourceRowId}, id, avail_id, ${input.mediaBuyId}, ${input.packageId}, ${input.buyerCustomerId}::bigint,
            ${input.requestedImpressions}::bigint, 'HELD', ${expiresAt}::timestamptz, ${now}::timestamptz, ${now}::timestamptz
          FROM taken
          ${onConflict}
          RETURNING *
        ), entry AS (
          INSERT INTO ledger_entry (reservation_id, avail_row_id, kind, impressions, held_delta, booked_delta, reason, created_at)
          SELECT id, avail_row_id, 'HOLD', requested_impressions, requested_impressions, 0, NULL, ${now}::timestamptz
          FROM inserted
        )
        SELECT (SELECT row_to_json(taken) FROM taken) AS avail, (SELECT row_to_json(inserted) FROM inserted) AS reservation
      `.execute(handle)
      outcome = held.rows[0]!
    } catch (error) {
      if (inCallerTransaction || !isUniqueViolation(error, 'reservation_live_key')) throw error
      return answerLiveWinner(handle, input)
    }

    if (outcome.avail && outcome.reservation) {
      afterCommit(handle, () => metrics.ledgerEntries('HOLD'))
      const row = reviveReservation(outcome.reservation)
      return { created: true, reservation: toReservation(row), row, avail: reviveAvail(outcome.avail), modulesVersion: found.modules_version }
    }
    if (outcome.avail) {
      // Inside the caller's transaction: capacity was taken but the insert was skipped. Give it
      // back (no entry: within this transaction nothing happened) and answer like a replay.
      await handle
        .updateTable('avail')
        .set((eb) => ({ held_impressions: eb('held_impressions', '-', input.requestedImpressions) }))
        .where('id', '=', availRowId)
        .execute()
      return answerLiveWinner(handle, input)
    }

    const avail = await readAvail(handle, availRowId)
    if (avail.status !== 'ACTIVE' || avail.end_time.getTime() <= now.getTime()) {
      throw fail.conflict('AVAIL_NOT_SELLABLE', `Avail ${input.availId} is not sellable: it is ${avail.status === 'ACTIVE' ? 'past its flight end' : 'inactive'}`, {
        availId: input.availId,
      })
    }
    // The lazy expiry above already took this avail's due holds out of the counters.
    throw insufficientCapacity(input.availId, capacityOf(avail).availableImpressions, input.requestedImpressions)
  }

  /** Ledger module, avail, the live reservation for the key and whether the avail has due holds, in one read. */
  async function lookupForReserve(handle: Queryable, input: ReserveInput, now: Date) {
    const lookup = await sql<{ has_ledger: boolean; modules_version: string; avail_row_id: number | null; has_due: boolean | null; live: ReservationRow | null }>`
      SELECT
        ${modulesVersionSql(input.sourceRowId)} AS modules_version,
        EXISTS (
          SELECT 1 FROM module_instance
          WHERE inventory_source_id = ${input.sourceRowId} AND ${ledgerIsActive}
        ) AS has_ledger,
        a.id AS avail_row_id,
        EXISTS (
          SELECT 1 FROM reservation r
          WHERE r.avail_row_id = a.id AND r.status = 'HELD' AND r.expires_at <= ${now}
        ) AS has_due,
        (
          SELECT row_to_json(r) FROM reservation r
          WHERE r.inventory_source_id = ${input.sourceRowId} AND r.media_buy_id = ${input.mediaBuyId}
            AND r.avail_id = ${input.availId} AND coalesce(r.package_id, '') = ${input.packageId ?? ''}
            AND r.status IN ('HELD', 'BOOKED')
          LIMIT 1
        ) AS live
      FROM (SELECT 1) AS one
      LEFT JOIN avail a ON a.inventory_source_id = ${input.sourceRowId} AND a.avail_id = ${input.availId}
    `.execute(handle)
    return lookup.rows[0]!
  }

  async function answerLiveWinner(handle: Queryable, input: ReserveInput): Promise<ReserveResult> {
    const winner = await findLiveByKey(handle, input.sourceRowId, input.mediaBuyId, input.availId, input.packageId)
    if (!winner) throw new Error('reservation insert conflicted but no live reservation was found')
    return replayOrRefuse(handle, winner, input.requestedImpressions)
  }

  async function replayOrRefuse(trx: Queryable, live: ReservationRow, requestedImpressions: number): Promise<ReserveResult> {
    if (live.requested_impressions !== requestedImpressions) {
      throw fail.conflict('RESERVATION_EXISTS', `Reservation ${live.id} already holds ${live.requested_impressions} impressions for this media buy, avail and package`, {
        reservationId: String(live.id),
        requestedImpressions: live.requested_impressions,
      })
    }
    return { created: false, reservation: toReservation(live), row: live, avail: await readAvail(trx, live.avail_row_id) }
  }

  async function findLiveByKey(
    trx: Queryable,
    sourceRowId: number,
    mediaBuyId: string,
    availId: string,
    packageId: string | null,
  ): Promise<ReservationRow | undefined> {
    return trx
      .selectFrom('reservation')
      .selectAll()
      .where('inventory_source_id', '=', sourceRowId)
      .where('media_buy_id', '=', mediaBuyId)
      .where('avail_id', '=', availId)
      .where(sql<string>`coalesce(package_id, '')`, '=', packageId ?? '')
      .where('status', 'in', ['HELD', 'BOOKED'])
      .executeTakeFirst()
  }

  /** The reservations of one line by key; an omitted packageId matches any package. */
  function byKey(trx: Queryable, target: { sourceRowId: number; mediaBuyId: string; availId: string; packageId?: string | null | undefined }) {
    let query = trx
      .selectFrom('reservation')
      .selectAll()
      .where('inventory_source_id', '=', target.sourceRowId)
      .where('media_buy_id', '=', target.mediaBuyId)
      .where('avail_id', '=', target.availId)
    if (target.packageId !== undefined) {
      query = target.packageId === null ? query.where('package_id', 'is', null) : query.where('package_id', '=', target.packageId)
    }
    return query
  }

  /**
   * The live (HELD or BOOKED) reservation a hand-off names by key, locked as the ledger locks
   * reservations, with `due` set when a HELD one is past its expiry; several live matches need a
   * packageId (400), none is 409 NO_HELD_RESERVATION.
   */
  async function lockLiveByKey(
    trx: Queryable,
    target: { sourceRowId: number; mediaBuyId: string; availId: string; packageId?: string | null | undefined },
  ): Promise<{ row: ReservationRow; due: boolean }> {
    const live = await byKey(trx, target).where('status', 'in', ['HELD', 'BOOKED']).orderBy('id').limit(2).forNoKeyUpdate().execute()
    if (live.length > 1) {
      throw fail.invalidField('packageId', 'several live reservations match this media buy and avail; send packageId')
    }
    if (!live[0]) {
      throw fail.conflict('NO_HELD_RESERVATION', `No HELD reservation for media buy ${target.mediaBuyId} on avail ${target.availId}`, {
        mediaBuyId: target.mediaBuyId,
        availId: target.availId,
      })
    }
    return { row: live[0], due: isDue(live[0], clock.now()) }
  }

  /** One reservation row locked (skipLocked: undefined while another transaction holds it), and its avail. */
  async function lockById(trx: Queryable, reservationRowId: number, options: { skipLocked?: boolean } = {}): Promise<ReservationRow | undefined> {
    if (!options.skipLocked) return lockReservation(trx, reservationRowId)
    return trx.selectFrom('reservation').selectAll().where('id', '=', reservationRowId).forNoKeyUpdate().skipLocked().executeTakeFirst()
  }

  /**
   * The one reservation a release or book names. By key, an omitted packageId matches any
   * package; several live matches are ambiguous (400). With no live match, the newest
   * resolved one is returned so a repeated release answers 200 with it.
   */
  async function resolveTarget(trx: Queryable, target: ReservationTarget): Promise<ReservationRow> {
    if (target.reservationId !== undefined) {
      const id = parseReservationId(target.reservationId)
      const row = id === null ? undefined : await trx
        .selectFrom('reservation')
        .selectAll()
        .where('id', '=', id)
        .where('inventory_source_id', '=', target.sourceRowId)
        .executeTakeFirst()
      const matches = row
        && (target.mediaBuyId === undefined || row.media_buy_id === target.mediaBuyId)
        && (target.availId === undefined || row.avail_id === target.availId)
        && (target.packageId === undefined || row.package_id === target.packageId)
      if (!row || !matches) throw fail.notFound(`Reservation ${target.reservationId}`)
      return row
    }
    const query = byKey(trx, target)
    const live = await query.where('status', 'in', ['HELD', 'BOOKED']).orderBy('id').limit(2).execute()
    if (live.length > 1) {
      throw fail.invalidField('packageId', 'several live reservations match this media buy and avail; send packageId or reservationId')
    }
    if (live[0]) return live[0]
    const latest = await query.orderBy('id', 'desc').limit(1).executeTakeFirst()
    if (!latest) throw fail.notFound(`Reservation for media buy ${target.mediaBuyId} on avail ${target.availId}`)
    return latest
  }

  /**
   * HELD or BOOKED -> RELEASED and the capacity returns. Already RELEASED or EXPIRED: a no-op
   * (released: false). A HELD reservation past its expiry is expired, not released: that is
   * what it already was, whether or not the sweeper had run.
   * With `trx` it joins the caller's transaction (the work queue cancels the reservation's
   * open work items in the same one).
   */
  async function release(target: ReservationTarget & { reason?: string | undefined }, trx?: Transaction): Promise<ReleaseResult> {
    const run = async (handle: Transaction): Promise<ReleaseResult> => {
      const now = clock.now()
      const named = await resolveTarget(handle, target)
      const row = (await lockReservation(handle, named.id))!
      let moved: ReservationRow | undefined
      if (isDue(row, now)) {
        const expired = await expireOne(handle, row, now)
        return { released: false, reservation: toReservation(expired!), avail: await readAvail(handle, row.avail_row_id) }
      }
      const reason = target.reason ?? null
      if (row.status === 'HELD') moved = await transition(handle, row.id, 'HELD', 'RELEASED', RELEASE_HELD, now, reason)
      else if (row.status === 'BOOKED') moved = await transition(handle, row.id, 'BOOKED', 'RELEASED', RELEASE_BOOKED, now, reason)
      if (moved) await resolved(handle, 'RELEASED', [moved], now, { reason })
      return { released: moved !== undefined, reservation: toReservation(moved ?? row), avail: await readAvail(handle, row.avail_row_id) }
    }
    return trx ? run(trx) : inTransaction(run)
  }

  /**
   * HELD -> BOOKED: the held impressions become booked. Always inside the caller's transaction
   * (work-item completion books in the same one). BOOKED already: no-op (booked: false).
   * RELEASED, EXPIRED, or HELD past its expiry: 409 NO_HELD_RESERVATION.
   * `workItemId` names the work item whose completion books it (the caller closes that one).
   */
  async function book(trx: Transaction, target: ReservationTarget, options: { workItemId?: number | undefined } = {}): Promise<BookResult> {
    assertTransaction(trx)
    const now = clock.now()
    const named = await resolveTarget(trx, target)
    const row = (await lockReservation(trx, named.id))!
    if (row.status === 'BOOKED') return { booked: false, reservation: toReservation(row) }
    if (row.status === 'HELD' && !isDue(row, now)) {
      const moved = await transition(trx, row.id, 'HELD', 'BOOKED', BOOK, now, null)
      await resolved(trx, 'BOOKED', [moved!], now, { workItemId: options.workItemId ?? null })
      return { booked: true, reservation: toReservation(moved!) }
    }
    throw fail.conflict('NO_HELD_RESERVATION', `Reservation ${row.id} is ${isDue(row, now) ? 'past its hold expiry' : row.status}, not HELD`, {
      reservationId: String(row.id),
      status: isDue(row, now) ? 'EXPIRED' : row.status,
    })
  }

  /**
   * A HELD reservation whose execution hand-off is open stops expiring (finalize calls this in
   * its transaction). Refuses a hold that is not HELD or already due.
   */
  async function suspendExpiry(trx: Transaction, target: ReservationTarget): Promise<Reservation> {
    assertTransaction(trx)
    const now = clock.now()
    const named = await resolveTarget(trx, target)
    const row = (await lockReservation(trx, named.id))!
    if (row.status !== 'HELD' || isDue(row, now)) {
      throw fail.conflict('NO_HELD_RESERVATION', `Reservation ${row.id} is not HELD`, { reservationId: String(row.id) })
    }
    const updated = await trx
      .updateTable('reservation')
      .set({ expires_at: null, updated_at: now })
      .where('id', '=', row.id)
      .where('status', '=', 'HELD')
      .returningAll()
      .executeTakeFirstOrThrow()
    return toReservation(updated)
  }

  /**
   * A HELD reservation whose hand-off ended without booking (its last execution item was
   * cancelled) expires again, so its capacity cannot stay held forever.
   */
  async function resumeExpiry(trx: Transaction, reservationRowId: number, expiresAt: Date): Promise<boolean> {
    assertTransaction(trx)
    const resumed = await trx
      .updateTable('reservation')
      .set({ expires_at: expiresAt, updated_at: clock.now() })
      .where('id', '=', reservationRowId)
      .where('status', '=', 'HELD')
      .where('expires_at', 'is', null)
      .returning('id')
      .executeTakeFirst()
    return resumed !== undefined
  }

  /** A reservation row by its id, unlocked. */
  async function readRow(db: Queryable, reservationRowId: number): Promise<ReservationRow> {
    return db.selectFrom('reservation').selectAll().where('id', '=', reservationRowId).executeTakeFirstOrThrow()
  }

  async function get(sourceRowId: number, reservationId: string): Promise<Reservation> {
    await expireDue({ sourceRowId, maxBatches: 1 })
    const id = parseReservationId(reservationId)
    const row = id === null ? undefined : await db
      .selectFrom('reservation')
      .selectAll()
      .where('id', '=', id)
      .where('inventory_source_id', '=', sourceRowId)
      .executeTakeFirst()
    if (!row) throw fail.notFound(`Reservation ${reservationId}`)
    return toReservation(row)
  }

  /** Newest first, bounded by `take` (max 200). Due holds are expired first so statuses are current. */
  async function list(sourceRowId: number, query: ReservationListQuery): Promise<{ reservations: Reservation[]; total: number }> {
    await expireDue({ sourceRowId, maxBatches: 1 })
    let base = db.selectFrom('reservation').where('inventory_source_id', '=', sourceRowId)
    if (query.status) base = base.where('status', '=', query.status)
    if (query.mediaBuyId) base = base.where('media_buy_id', '=', query.mediaBuyId)
    if (query.availId) base = base.where('avail_id', '=', query.availId)
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('id', 'desc').limit(query.take).offset(query.skip).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
    ])
    return { reservations: rows.map(toReservation), total: Number(count.total) }
  }

  /**
   * The sweeper: expires due holds in batches. Each batch is its own transaction and takes
   * its rows with FOR NO KEY UPDATE SKIP LOCKED, so several processes can sweep at once without
   * waiting on each other or expiring a hold twice. Avail rows are locked in id order after
   * the reservation rows, the same order every other path uses.
   */
  async function expireDue(options: ExpireDueOptions = {}): Promise<{ expired: number }> {
    const batchSize = Math.min(Math.max(options.batchSize ?? EXPIRE_BATCH_SIZE, 1), 5_000)
    const maxBatches = Math.min(Math.max(options.maxBatches ?? EXPIRE_MAX_BATCHES, 1), 1_000)
    let expired = 0
    for (let batch = 0; batch < maxBatches; batch++) {
      const count = await inTransaction(async (trx) => {
        const now = clock.now()
        const moved = await sql<{ avail_row_id: number; inventory_source_id: number; impressions: number; expired: number; ids: number[] }>`
          WITH due AS (
            SELECT id FROM reservation
            WHERE status = 'HELD' AND expires_at <= ${now}
              ${options.sourceRowId === undefined ? sql`` : sql`AND inventory_source_id = ${options.sourceRowId}`}
            ORDER BY expires_at, id
            LIMIT ${batchSize}
            FOR NO KEY UPDATE SKIP LOCKED
          ), ${expireTransition(now)}
          SELECT avail_row_id, inventory_source_id, sum(requested_impressions)::bigint AS impressions, count(*)::bigint AS expired,
            array_agg(id ORDER BY id) AS ids
          FROM moved GROUP BY avail_row_id, inventory_source_id ORDER BY avail_row_id
        `.execute(trx)
        if (moved.rows.length === 0) return 0
        const availIds = moved.rows.map((r) => Number(r.avail_row_id))
        await trx.selectFrom('avail').select('id').where('id', 'in', availIds).orderBy('id').forNoKeyUpdate().execute()
        for (const row of moved.rows) {
          await trx
            .updateTable('avail')
            .set((eb) => ({ held_impressions: eb('held_impressions', '-', Number(row.impressions)) }))
            .where('id', '=', Number(row.avail_row_id))
            .execute()
        }
        // Reservations, then avails, then what hangs on the holds: the order every path keeps.
        const holds = moved.rows.flatMap((row) => row.ids.map((id) => ({ id: Number(id), inventory_source_id: Number(row.inventory_source_id) })))
        await resolved(trx, 'EXPIRED', holds.sort((a, b) => a.id - b.id), now)
        return moved.rows.reduce((sum, row) => sum + Number(row.expired), 0)
      })
      expired += count
      if (count < batchSize) break
    }
    return { expired }
  }

  /**
   * Refuses (400) while the source has HELD or BOOKED reservations. Locks the source row first:
   * a reservation being inserted right now holds a key-share lock on it (its foreign key), so
   * the check waits for it and sees it, and later inserts wait for the delete and then fail.
   */
  async function assertNoLiveReservations(trx: Transaction, sourceRowId: number): Promise<void> {
    await trx.selectFrom('inventory_source').select('id').where('id', '=', sourceRowId).forUpdate().execute()
    const now = clock.now()
    const live = await trx
      .selectFrom('reservation')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('inventory_source_id', '=', sourceRowId)
      .where((eb) => eb.or([
        eb('status', '=', 'BOOKED'),
        eb.and([eb('status', '=', 'HELD'), eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)])]),
      ]))
      .executeTakeFirstOrThrow()
    const count = Number(live.n)
    if (count > 0) {
      throw new StorefrontError('VALIDATION_ERROR', `The source still has ${count} HELD or BOOKED reservations; release them first`, {
        reason: 'SOURCE_HAS_LIVE_RESERVATIONS',
        liveReservations: count,
      })
    }
  }

  return { reserve, release, book, suspendExpiry, resumeExpiry, get, list, expireDue, assertNoLiveReservations, lockLiveByKey, lockById, readAvail, readRow }
}

export type LedgerService = ReturnType<typeof createLedgerService>

// row_to_json turns timestamps into strings and bigint stays a JSON number; bring them back to row types.
function reviveDate(value: unknown): Date | null {
  return value === null || value === undefined ? null : new Date(value as string)
}

function reviveReservation(raw: ReservationRow): ReservationRow {
  return {
    ...raw,
    expires_at: reviveDate(raw.expires_at),
    created_at: reviveDate(raw.created_at)!,
    updated_at: reviveDate(raw.updated_at)!,
    booked_at: reviveDate(raw.booked_at),
    released_at: reviveDate(raw.released_at),
    expired_at: reviveDate(raw.expired_at),
  }
}

function reviveAvail(raw: AvailRow): AvailRow {
  return {
    ...raw,
    cpm: raw.cpm === null ? null : Number(raw.cpm),
    start_time: reviveDate(raw.start_time)!,
    end_time: reviveDate(raw.end_time)!,
    created_at: reviveDate(raw.created_at)!,
    updated_at: reviveDate(raw.updated_at)!,
  }
}
