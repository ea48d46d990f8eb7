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
 * Expires due holds every `intervalMs`. Correctness does not depend on it (a reservation expires
 * its avail's due holds itself); it keeps listed statuses and product counters fresh. Safe to run
 * in every server process at once: batches take their rows with SKIP LOCKED. Runs never overlap,
 * and a failed run is logged and retried at the next tick.
 */
export function startExpirySweeper({ ledger, intervalMs, logger }: { ledger: Pick<LedgerService, 'expireDue'>; intervalMs: number; logger: SweeperLogger }): ExpirySweeper {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined

  async function sweep(): Promise<void> {
    try {
      const { expired } = await ledger.expireDue()
      if (expired > 0) logger.info({ expired }, 'expired due reservation holds')
    } catch (error) {
      logger.error({ err: error }, 'reservation expiry sweep failed')
    }
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
