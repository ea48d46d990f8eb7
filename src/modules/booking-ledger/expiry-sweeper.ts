import { metrics } from '../../shared/metrics.ts'
import type { LedgerService } from './ledger-service.ts'

export interface SweeperLogger {
  info(object: object, message: string): void
  error(object: object, message: string): void
}

export interface ExpirySweeper {
  /** Resolves once a sweep in progress has finished; no new sweep starts after. */
  stop(): Promise<void>
}

/**
 * Expires due holds every `intervalMs`, then runs `reconcile` when given. Correctness does not depend on it (a reservation expires
 * its avail's due holds itself); it keeps listed statuses and product counters fresh. Safe to run
 * in every server process at once: batches take their rows with SKIP LOCKED. Runs never overlap,
 * and a failed run is logged and retried at the next tick.
 */
export interface ExpirySweeperOptions {
  ledger: Pick<LedgerService, 'expireDue'>
  intervalMs: number
  logger: SweeperLogger
  /**
   * Run after each sweep, in order: the workflows' reconcilers (holds whose hand-off was
   * interrupted get their fallback work item; lines of rejected buys are released; media buys move
   * along their flights). Ports, so the
   * ledger depends on neither the execution module nor media buys. Each answers how many rows it
   * mended, logged under its name when not 0; one that fails does not stop the next.
   */
  reconcilers?: ReadonlyArray<SweepReconciler> | undefined
}

export interface SweepReconciler {
  /** What it mends, for the log: 'interrupted hand-offs handed to work items'. */
  name: string
  run(): Promise<number>
}

export function startExpirySweeper({ ledger, intervalMs, logger, reconcilers = [] }: ExpirySweeperOptions): ExpirySweeper {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined

  async function sweep(): Promise<void> {
    const started = performance.now()
    let failed = false
    try {
      const { expired } = await ledger.expireDue()
      if (expired > 0) logger.info({ expired }, 'expired due reservation holds')
    } catch (error) {
      failed = true
      logger.error({ err: error }, 'reservation expiry sweep failed')
    }
    for (const reconciler of reconcilers) {
      try {
        const mended = await reconciler.run()
        if (mended > 0) logger.info({ mended }, reconciler.name)
      } catch (error) {
        failed = true
        logger.error({ err: error }, `reconciler failed: ${reconciler.name}`)
      }
    }
    metrics.sweeperRun(failed ? 'failed' : 'ok', (performance.now() - started) / 1000)
  }

  function schedule(): void {
    if (stopped) return
    timer = setTimeout(() => {
      running = sweep().finally(() => {
        running = undefined
        schedule()
      })
    }, intervalMs)
    // The sweeper alone never keeps the process alive.
    timer.unref()
  }

  schedule()
  return {
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
  }
}
