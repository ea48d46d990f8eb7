import type { Database } from '../db/database.ts'
import { FLIGHT_MOVES, listBuysDueOnFlight, moveBuyAlongFlight } from '../modules/media-buys/index.ts'
import type { Clock } from '../shared/clock.ts'
import type { SecretBox } from '../shared/secret-box.ts'
import { enqueueStatusChangeWebhook } from './buy-notifications.ts'

/**
 * The clock's part in a media buy's life (the sweep every server process runs): a pending_start
 * buy becomes active when its start_time passes, an active or paused one completed when its
 * end_time passes (FLIGHT_MOVES). Each move is announced to the buy's push_notification_config in
 * the move's own transaction, so a move that rolls back announces nothing.
 */
export interface FlightWorkflowDeps {
  db: Database
  clock: Clock
  secrets: SecretBox
  /** After a transaction that enqueued webhooks commits: the outbox sender's wake-up. */
  onCommitted?: (() => void) | undefined
}

export function createFlightWorkflows({ db, clock, secrets, onCommitted }: FlightWorkflowDeps) {
  /**
   * Moves every buy whose flight says so, one transaction per buy: one that fails (a lost
   * connection, a seal that no longer opens) is reported to `onError` and retried next sweep, the
   * rest go on. Due buys are read a page at a time after one another, so buys that keep failing
   * never fill the page and starve the buys behind them. Two processes sweeping at once both see a
   * buy due; its row lock and status check let one of them move it (moveBuyAlongFlight).
   */
  async function advanceFlights(options: { pageSize?: number; onError?: (mediaBuyId: string, error: unknown) => void } = {}): Promise<{ moved: number; failed: number }> {
    let moved = 0
    let failed = 0
    const dueAt = clock.now()
    let afterRowId = 0
    for (;;) {
      const page = await listBuysDueOnFlight(db, dueAt, afterRowId, options.pageSize ?? 100)
      for (const due of page) {
        try {
          const moves = await db.transaction().execute(async (trx) => {
            const now = clock.now()
            let count = 0
            let announced = false
            // A buy whose whole flight passed unswept takes the start move, then the end move.
            for (let step = 0; step < FLIGHT_MOVES.length; step++) {
              const move = await moveBuyAlongFlight(trx, due.id, now)
              if (!move) break
              count++
              if (await enqueueStatusChangeWebhook(trx, secrets, move.buy, move.from, now)) announced = true
            }
            return { count, announced }
          })
          moved += moves.count
          if (moves.announced) onCommitted?.()
        } catch (error) {
          failed += 1
          options.onError?.(due.media_buy_id, error)
        }
      }
      if (page.length === 0) return { moved, failed }
      afterRowId = page[page.length - 1]!.id
    }
  }

  return { advanceFlights }
}

export type FlightWorkflows = ReturnType<typeof createFlightWorkflows>
