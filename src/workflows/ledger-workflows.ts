import type { Database } from '../db/database.ts'
import {
  availIdOf,
  type LedgerService,
  type ReleaseRequest,
  type Reservation,
  type ReservationListQuery,
  type ReserveRequest,
  SourceMismatch,
} from '../modules/booking-ledger/index.ts'
import { findModularSourceRow } from '../modules/modular-sources/index.ts'
import { projectProduct, type Product } from '../modules/products/index.ts'
import type { ProductBlock } from '../modules/provider.ts'
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

/**
 * What a reservation needs of its source besides the ledger: the source row's id for the
 * storefront's sourceId, and the product block its trafficking module gives, with the version of
 * the module rows it was derived from. Kept per process for a short while; it is never trusted on
 * its own: the reserve statement confirms the id (SourceMismatch otherwise) and returns the
 * modules' current version, and a block of another version is derived again. So a change made
 * through any process is seen by the next reservation in every process.
 */
interface SourceFacts {
  sourceRowId: number
  block: ProductBlock | null
  modulesVersion: string
  until: number
}

const SOURCE_FACTS_TTL_MS = 60_000
const SOURCE_FACTS_MAX = 1_000

export function createLedgerWorkflows({ db, clock, ledger }: LedgerWorkflowDeps) {
  const sourceFacts = new Map<string, SourceFacts>()

  async function reserve(storefrontId: number, sourceId: string, body: ReserveRequest): Promise<ReserveOutcome> {
    const key = `${storefrontId}\u0000${sourceId}`
    const cached = sourceFacts.get(key)
    if (cached && cached.until > clock.now().getTime()) {
      try {
        return await reserveOn(key, cached.sourceRowId, { storefrontId, sourceId }, body, cached)
      } catch (error) {
        if (!(error instanceof SourceMismatch)) throw error
        sourceFacts.delete(key)
      }
    }
    const source = await findModularSourceRow(db, storefrontId, sourceId)
    return reserveOn(key, source.id, undefined, body, undefined)
  }

  async function reserveOn(
    key: string,
    sourceRowId: number,
    expectSource: { storefrontId: number; sourceId: string } | undefined,
    body: ReserveRequest,
    cached: SourceFacts | undefined,
  ): Promise<ReserveOutcome> {
    return outcomeTransactionWhenRecorded(db, async (trx) => {
      const { created, reservation, avail, modulesVersion } = await ledger.reserve({
        sourceRowId,
        availId: availIdOf(body),
        mediaBuyId: body.mediaBuyId,
        packageId: body.packageId ?? null,
        buyerCustomerId: body.buyerCustomerId ?? null,
        requestedImpressions: body.requestedImpressions,
        holdMinutes: body.holdMinutes,
        expectSource,
      }, trx)
      let block: ProductBlock | null
      if (cached && modulesVersion !== undefined && cached.modulesVersion === modulesVersion) block = cached.block
      else {
        block = await productCadentDefaults(trx ?? db, { id: sourceRowId })
        if (modulesVersion !== undefined) remember(key, { sourceRowId, block, modulesVersion, until: clock.now().getTime() + SOURCE_FACTS_TTL_MS })
      }
      return { created, reservation, product: projectProduct(avail, productCadentFor(block, avail)) }
    })
  }

  function remember(key: string, facts: SourceFacts): void {
    sourceFacts.delete(key)
    if (sourceFacts.size >= SOURCE_FACTS_MAX) sourceFacts.delete(sourceFacts.keys().next().value!)
    sourceFacts.set(key, facts)
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
