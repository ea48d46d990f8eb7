import type { Database } from '../db/database.ts'
import {
  availIdOf,
  type LedgerService,
  type ReleaseRequest,
  type Reservation,
  type ReservationListQuery,
  type ReserveRequest,
} from '../modules/booking-ledger/index.ts'
import { findModularSourceRow } from '../modules/modular-sources/index.ts'
import { projectProduct, type Product } from '../modules/products/index.ts'
import { loadProjection, type RuntimeProjection } from '../modules/readiness/index.ts'
import type { Clock } from '../shared/clock.ts'
import { outcomeTransaction, outcomeTransactionWhenRecorded } from '../shared/unit-of-work.ts'
import { productCadentDefaults, productCadentFor } from './product-cadent.ts'

export interface LedgerWorkflowDeps {
  db: Database
  clock: Clock
  ledger: LedgerService
}

export interface ReserveOutcome {
  created: boolean
  reservation: Reservation
  product: Product
}

export function createLedgerWorkflows({ db, clock, ledger }: LedgerWorkflowDeps) {
  async function reserve(storefrontId: number, sourceId: string, body: ReserveRequest): Promise<ReserveOutcome> {
    const source = await findModularSourceRow(db, storefrontId, sourceId)
    return outcomeTransactionWhenRecorded(db, async (trx) => {
      const { created, reservation, avail } = await ledger.reserve({
        sourceRowId: source.id,
        availId: availIdOf(body),
        mediaBuyId: body.mediaBuyId,
        packageId: body.packageId ?? null,
        buyerCustomerId: body.buyerCustomerId ?? null,
        requestedImpressions: body.requestedImpressions,
        holdMinutes: body.holdMinutes,
      }, trx)
      return { created, reservation, product: projectProduct(avail, productCadentFor(await productCadentDefaults(trx ?? db, source), avail)) }
    })
  }

  async function release(storefrontId: number, sourceId: string, body: ReleaseRequest): Promise<{ reservation: Reservation; projection: RuntimeProjection }> {
    const source = await findModularSourceRow(db, storefrontId, sourceId)
    const reason = body.reason ?? null
    const target = body.reservationId !== undefined
      ? {
          sourceRowId: source.id,
          reservationId: body.reservationId,
          mediaBuyId: body.mediaBuyId,
          availId: body.availId !== undefined || body.productId !== undefined ? availIdOf(body) : undefined,
          packageId: body.packageId,
        }
      : { sourceRowId: source.id, mediaBuyId: body.mediaBuyId!, availId: availIdOf(body), packageId: body.packageId }
    return outcomeTransaction(db, async (trx) => {
      // The ledger's onResolved port cancels the open work items and ends the booking in this transaction.
      const { reservation } = await ledger.release({ ...target, reason: reason ?? undefined }, trx)
      return { reservation, projection: await loadProjection(trx, source, clock.now()) }
    })
  }

  async function list(storefrontId: number, sourceId: string, query: ReservationListQuery) {
    const source = await findModularSourceRow(db, storefrontId, sourceId)
    return ledger.list(source.id, query)
  }

  async function get(storefrontId: number, sourceId: string, reservationId: string): Promise<Reservation> {
    const source = await findModularSourceRow(db, storefrontId, sourceId)
    return ledger.get(source.id, reservationId)
  }

  return { reserve, release, list, get }
}

export type LedgerWorkflows = ReturnType<typeof createLedgerWorkflows>
