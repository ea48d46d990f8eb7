import { sql, type ExpressionBuilder, type Expression, type SqlBool } from 'kysely'
import type { Queryable, Transaction } from '../../db/database.ts'
import type { DB, MediaBuyRow, MediaBuyStatus } from '../../db/tables.ts'

/**
 * What a buy's flight makes of its status: the one home of that rule (AdCP 3.0.6
 * media-buy-status). A ready buy waits in pending_start until its start_time and runs (active)
 * from it; a running buy, paused or not, has finished running (completed) from its end_time. Each
 * move is an edge of the SDK's MEDIA_BUY_TRANSITIONS; pending_start -> completed is none, so a buy
 * whose whole flight passed unswept takes both moves, one after the other. Buys in any other status
 * are not the clock's: pending_creatives waits on the buyer, submitted on its task, and rejected,
 * canceled and completed are terminal. Forwarded buys are not media_buy rows (forwarded_media_buy):
 * their upstream owns their status.
 */
export const FLIGHT_MOVES = [
  { from: ['pending_start'], to: 'active', at: 'start_time' },
  { from: ['active', 'paused'], to: 'completed', at: 'end_time' },
] as const satisfies ReadonlyArray<{ from: readonly MediaBuyStatus[]; to: MediaBuyStatus; at: 'start_time' | 'end_time' }>

const [START_MOVE] = FLIGHT_MOVES

/** Every status the clock moves a buy out of: the predicate of the index media_buy_on_the_clock (migration 0029). */
const ON_THE_CLOCK: MediaBuyStatus[] = [...new Set(FLIGHT_MOVES.flatMap((move) => move.from))]

type BuyExpressions = ExpressionBuilder<DB, 'media_buy'>

/**
 * A buy one of FLIGHT_MOVES is due for at `now`. The status condition in front is implied by the
 * moves, but PostgreSQL only uses the partial index when the query names its predicate.
 */
function isFlightMoveDue(eb: BuyExpressions, now: Date): Expression<SqlBool> {
  return eb.and([
    eb('media_buy.status', 'in', ON_THE_CLOCK),
    eb.or(FLIGHT_MOVES.map((move) => eb.and([eb('media_buy.status', 'in', [...move.from]), eb(`media_buy.${move.at}`, '<=', now)]))),
  ])
}

/** The status the due move of a buy in status `status` (a column reference) takes it to. */
function flightMoveTarget(status: string) {
  const cases = FLIGHT_MOVES.map((move) => sql`WHEN ${sql.ref(status)} IN (${sql.join(move.from.map((from) => sql.lit(from)))}) THEN ${sql.lit(move.to)}`)
  return sql<MediaBuyStatus>`CASE ${sql.join(cases, sql` `)} END`
}

/**
 * The status of a buy that is ready to serve (its creatives are in) at `now`: pending_start while
 * its flight is ahead, else where the start move takes it. A flight already over is the sweep's
 * to complete, on its next run.
 */
export function readyStatusSql(now: Date) {
  return sql<MediaBuyStatus>`CASE WHEN ${sql.ref(START_MOVE.at)} > ${now} THEN ${sql.lit(START_MOVE.from[0])} ELSE ${sql.lit(START_MOVE.to)} END`
}

/**
 * One page of the buys a flight move is due for at `now`, in row id order after `afterRowId`
 * (keyset paging: a sweep tries each due buy once, and one that fails does not hide the rest).
 */
export async function listBuysDueOnFlight(db: Queryable, now: Date, afterRowId: number, limit: number): Promise<Array<Pick<MediaBuyRow, 'id' | 'media_buy_id'>>> {
  return db.selectFrom('media_buy')
    .select(['id', 'media_buy_id'])
    .where((eb) => isFlightMoveDue(eb, now))
    .where('id', '>', afterRowId)
    .orderBy('id')
    .limit(limit)
    .execute()
}

/**
 * Takes the buy along its due flight move, a new revision, and answers it with the status it left;
 * undefined when no move is due (another process took it first, or it changed) or when the row is
 * locked by a change in progress (SKIP LOCKED: the next sweep looks again). The row is locked and
 * its status read in one statement, so two processes sweeping at once move it once.
 */
export async function moveBuyAlongFlight(trx: Transaction, buyRowId: number, now: Date): Promise<{ buy: MediaBuyRow; from: MediaBuyStatus } | undefined> {
  const moved = await trx
    .with('due', (db) => db.selectFrom('media_buy')
      .select(['media_buy.id', 'media_buy.status'])
      .where('media_buy.id', '=', buyRowId)
      .where((eb) => isFlightMoveDue(eb, now))
      .forNoKeyUpdate()
      .skipLocked())
    .updateTable('media_buy')
    .from('due')
    .set({ status: flightMoveTarget('due.status'), revision: sql<number>`media_buy.revision + 1`, updated_at: now })
    .whereRef('media_buy.id', '=', 'due.id')
    .returningAll('media_buy')
    .returning('due.status as from_status')
    .executeTakeFirst()
  if (!moved) return undefined
  const { from_status: from, ...buy } = moved
  return { buy, from }
}
