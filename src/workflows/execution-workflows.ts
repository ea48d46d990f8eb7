import type { Database, Transaction } from '../db/database.ts'
import type { AvailRow, BookingRow, InventorySourceRow, ModuleInstanceRow, ReservationRow } from '../db/tables.ts'
import type { LedgerService } from '../modules/booking-ledger/index.ts'
import { readDelivery, type Delivery } from '../modules/delivery/index.ts'
import {
  finalizeAvailId,
  findBooking,
  findBookingByReservation,
  findInterruptedHandoffs,
  hasBookingForMediaBuy,
  insertBookings,
  mergeExternalRefs,
  reclaimEndpoint,
  recordEndpointAttempt,
  RESERVATION_RESOURCE,
  toBookingResponse,
  type EndpointAttempt,
  type FinalizeRequest,
  type NewBooking,
} from '../modules/execution/index.ts'
import { printable } from '../shared/printable.ts'
import { handoffPayload } from '../modules/handoff.ts'
import {
  findActiveModule,
  findModularSourceRow,
  findModuleById,
  findSourceRowById,
  markModuleChecked,
  recordModuleError,
  type ActiveModule,
} from '../modules/modular-sources/index.ts'
import type { DispatchOutcome, DispatchSender, HandoffContext, PlannedItem, ProviderDispatch } from '../modules/provider.ts'
import { findContract, findProvider, installedProviders } from '../modules/registry.ts'
import { loadProjection, type FinalizeResponse } from '../modules/readiness/index.ts'
import {
  findOpenWorkItem,
  listWorkItemsForResource,
  noteOnWorkItem,
  OPEN_STATUSES,
  openWorkItem,
  openWorkItems,
  toWorkItemResponse,
  type Actor,
  type OpenWorkItemInput,
} from '../modules/work-queue/index.ts'
import type { Clock } from '../shared/clock.ts'
import type { FlatRateUnit } from '../shared/flat-rate.ts'
import { fail } from '../shared/errors.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'
import { HAND_OFF_KINDS, RESUMED_HOLD_MINUTES } from './hold-consequences.ts'

/**
 * The execution hand-off (SPEC §3): finalize turns a HELD reservation into a booking whose
 * execution is either automated (a provider's dispatch to an external system) or handed to
 * people as work items; the work queue's completions then book it. What each provider renders,
 * sends and opens is its own (src/modules/catalog/<provider>/); this composes them with the
 * ledger and the work queue, which never import each other.
 */

export interface ExecutionWorkflowDeps {
  db: Database
  clock: Clock
  ledger: LedgerService
  /** Per dispatch attempt, for every provider; a hanging endpoint costs the finalize request this long. */
  dispatchTimeoutMs?: number | undefined
  /** Replaces every provider's send, for tests that need to count or fail calls without a server. */
  send?: DispatchSender | undefined
}

/**
 * What the seller decides on when a source has no execution module to book a media buy's line:
 * the buy, the line and its price, beside the hold's own fields.
 */
export interface ApprovalRequest {
  reservationId: string
  mediaBuyId: string
  packageId: string
  productId: string
  /** The AdCP account the buy is for (buyer_account.account_id). */
  buyerAccountId: string
  campaignName: string
  advertiserName: string
  /** cpm is the line's effective CPM; a flat-rate line also carries its rate, unit and spots. */
  pricing: { model: 'cpm' | 'flat_rate'; cpm: number; budget: number; currency: string; flatRate?: number; flatRateUnit?: FlatRateUnit; spots?: number | null }
  /** The buy's flight (the line fields carry the avail's); the item is due when it starts. */
  flight: { start: Date; end: Date }
  poNumber: string | null
}

/** How the seller reads a line's price: a CPM, spots at a flat rate, or the whole package at one. */
function priceOf(pricing: ApprovalRequest['pricing']): string {
  if (pricing.model === 'cpm' || pricing.flatRate === undefined) return `${pricing.cpm} ${pricing.currency} CPM`
  return pricing.flatRateUnit === 'spot'
    ? `${pricing.spots ?? 0} spot(s) at a flat ${pricing.flatRate} ${pricing.currency} per spot`
    : `a flat ${pricing.flatRate} ${pricing.currency} for the package`
}

/** The seller's instructions on an APPROVE_MEDIA_BUY item. */
const APPROVAL_INSTRUCTIONS = 'A buyer agent bought this line and waits for the seller. Complete the item to approve: the hold is booked, and the buy is confirmed to the buyer once every package is. Cancel it with a reason to decline: the hold is released and the buy is rejected with that reason.'

/**
 * A hold the caller placed in this very transaction (create_media_buy), with what it read there:
 * the reserve statement inserted the row, so this transaction holds it and no booking can exist
 * for it yet, and its avail row is locked by the same statement. Its hand-off need not look any
 * of that up again. `reservation.expires_at` is null when the hold was placed without an expiry
 * (holdMinutes: null), which is what suspending it would have left.
 */
export interface FreshHold {
  reservation: ReservationRow
  /** The avail's row as this transaction left it. */
  avail: AvailRow
}

/** The source's modules a hand-off uses, each ACTIVE one or undefined, as read in the caller's transaction. */
export interface HandoffModules {
  trafficking: ActiveModule | undefined
  reporting: ActiveModule | undefined
}

/** What a caller already read for a hand-off, in its transaction: the hand-off skips those lookups. */
export interface HandoffKnown {
  fresh?: FreshHold | undefined
  modules?: HandoffModules | undefined
}

/** One line of a media buy to hand off in the caller's transaction: to its source's execution module, or to the seller. */
export type BuyLine =
  | { kind: 'handoff'; source: InventorySourceRow; body: FinalizeRequest; known: HandoffKnown }
  | { kind: 'approval'; source: InventorySourceRow; request: ApprovalRequest; fresh?: FreshHold | undefined }

/** A hand-off prepared inside a caller's transaction: its booking, and the dispatch to send after COMMIT. */
export interface PreparedHandoff {
  bookingId: number
  /** Present when this call owns the dispatch. */
  dispatch: { provider: ProviderDispatch; url: string; payload: string; idempotencyKey: string } | null
}

/**
 * A hand-off up to its booking: an existing booking of the reservation (a repeated finalize), or
 * the booking to insert with whatever it will dispatch. Bookings of several hand-offs are inserted
 * together (`bookHandoffs`).
 */
type PlannedHandoff =
  | { existing: PreparedHandoff }
  | { booking: NewBooking; dispatch: { provider: ProviderDispatch; url: string; payload: string } | null }

function dispatchOf(booking: Pick<BookingRow, 'provider'>): ProviderDispatch | undefined {
  return findProvider('TRAFFICKING', booking.provider)?.dispatch
}

export function createExecutionWorkflows(deps: ExecutionWorkflowDeps) {
  const { db, clock, ledger } = deps
  const timeoutOf = (dispatch: ProviderDispatch) => deps.dispatchTimeoutMs ?? dispatch.timeoutMs
  // A claim older than this belongs to a process that died mid-dispatch (a send is bounded by
  // two timeouts), so a later finalize may send it again.
  const staleClaimMs = () => 2 * Math.max(0, ...installedProviders().flatMap((provider) => provider.dispatch ? [timeoutOf(provider.dispatch)] : [])) + 30_000

  /** A hand-off's items, opened together (one statement each for the items, their events and their announcement). */
  async function openItems(trx: Transaction, source: InventorySourceRow, reservation: ReservationRow, items: PlannedItem[], actor: Actor, now: Date): Promise<void> {
    await openWorkItems(trx, itemInputs(source, reservation, items), actor, now)
  }

  function itemInputs(source: InventorySourceRow, reservation: ReservationRow, items: PlannedItem[]): OpenWorkItemInput[] {
    return items.map((item) => ({
      storefrontId: source.storefront_id,
      inventorySourceId: source.id,
      moduleRowId: item.moduleRowId,
      kind: item.kind,
      title: item.title,
      description: item.description,
      resourceType: RESERVATION_RESOURCE,
      resourceId: String(reservation.id),
      mediaBuyId: reservation.media_buy_id,
      buyerCustomerId: reservation.buyer_customer_id,
      dueAt: item.dueAt,
      payload: item.payload,
      requiredResultKeys: item.requiredResultKeys,
    }))
  }

  /** The hand-off of the HELD reservation a finalize names, with its items, in the caller's transaction. */
  async function prepare(trx: Transaction, source: InventorySourceRow, body: FinalizeRequest, actor: Actor): Promise<PreparedHandoff> {
    const now = clock.now()
    const { handoff, items } = await prepareWithoutItems(trx, source, body, {}, now)
    const [prepared] = await bookHandoffs(trx, [handoff])
    await openWorkItems(trx, items, actor, now)
    return prepared!
  }

  /**
   * The hand-off of a HELD reservation named by `body` up to its items, which it answers for the
   * caller to open in this transaction. With `known.fresh` (a hold this transaction just placed)
   * and `known.modules` (the source's modules, read once per buy) it skips the lookups they
   * answer; every check that needs no statement still runs.
   */
  async function prepareWithoutItems(trx: Transaction, source: InventorySourceRow, body: FinalizeRequest, known: HandoffKnown, now: Date): Promise<{ handoff: PlannedHandoff; items: OpenWorkItemInput[] }> {
    const { fresh } = known
    // Concurrent finalizes serialise on the reservation, locked as the ledger locks it. A fresh
    // hold is locked by the insert that created it and cannot be due: it was placed just now.
    const { row: reservation, due } = fresh
      ? { row: fresh.reservation, due: false }
      : await ledger.lockLiveByKey(trx, { sourceRowId: source.id, mediaBuyId: body.mediaBuyId, availId: finalizeAvailId(body), packageId: body.packageId })
    if (!fresh) {
      const existing = await findBookingByReservation(trx, reservation.id, { forUpdate: true })
      if (existing) return { handoff: { existing: { bookingId: existing.id, dispatch: await retryDispatch(trx, existing, now) } }, items: [] }
    }

    if (reservation.status !== 'HELD' || due) {
      throw fail.conflict('NO_HELD_RESERVATION', `Reservation ${reservation.id} is ${due ? 'past its hold expiry' : reservation.status}, not HELD`, {
        reservationId: String(reservation.id),
      })
    }
    const buyerCustomerId = body.buyerCustomerId ?? reservation.buyer_customer_id
    if (reservation.buyer_customer_id !== null && body.buyerCustomerId != null && body.buyerCustomerId !== reservation.buyer_customer_id) {
      throw fail.conflict('NO_HELD_RESERVATION', `Reservation ${reservation.id} was held for buyer customer ${reservation.buyer_customer_id}, not ${body.buyerCustomerId}`, {
        reservationId: String(reservation.id),
      })
    }

    const module = known.modules ? known.modules.trafficking : await findActiveModule(trx, source.id, 'TRAFFICKING')
    const planner = module ? findProvider(module.row.kind, module.row.provider)?.planHandoff : undefined
    if (!module || !planner) {
      throw fail.conflict('NO_EXECUTION_MODULE', `Source ${source.source_id} has no ACTIVE trafficking module`)
    }
    const avail = fresh?.avail ?? await ledger.readAvail(trx, reservation.avail_row_id)
    const context: HandoffContext = { source, reservation, avail, module, body, buyerCustomerId }
    const plan = planner(context)

    // The reporting module's items (the final report owed after the flight) join the hand-off.
    const reporting = known.modules ? known.modules.reporting : await findActiveModule(trx, source.id, 'REPORTING_IMPORT')
    const reportingPlanner = reporting ? findProvider(reporting.row.kind, reporting.row.provider)?.planHandoff : undefined
    if (reporting && reportingPlanner) plan.items.push(...reportingPlanner({ ...context, module: reporting }).items)

    // The hold stops expiring while its hand-off is open: the hand-off items (or a release) resolve
    // it. A fresh hold placed without an expiry already does not expire.
    if (!fresh || reservation.expires_at !== null) await ledger.suspendExpiry(trx, { sourceRowId: source.id, reservationId: String(reservation.id) })
    const dispatch = plan.dispatchTo ? findProvider(module.row.kind, module.row.provider)?.dispatch : undefined
    if (plan.dispatchTo && (!dispatch || plan.traffickingPayload === null)) {
      throw new Error(`Provider ${module.row.provider} planned a dispatch it cannot send`)
    }
    const booking: NewBooking = {
      inventorySourceId: source.id,
      reservationId: reservation.id,
      moduleRowId: module.row.id,
      provider: module.row.provider,
      mediaBuyId: reservation.media_buy_id,
      availId: reservation.avail_id,
      packageId: reservation.package_id,
      buyerCustomerId,
      campaignName: body.campaignName,
      advertiserName: body.advertiserName,
      creative: body.creative ?? null,
      traffickingPayload: plan.traffickingPayload,
      traffickingMode: dispatch ? 'AUTOMATED' : 'HITL',
      endpointClaimedAt: dispatch ? now : null,
      now,
    }
    return {
      handoff: { booking, dispatch: dispatch ? { provider: dispatch, url: plan.dispatchTo!, payload: plan.traffickingPayload! } : null },
      items: itemInputs(source, reservation, plan.items),
    }
  }

  /** The bookings of planned hand-offs, inserted in one statement: each hand-off as prepared, in place (null stays null). */
  async function bookHandoffs(trx: Transaction, handoffs: ReadonlyArray<PlannedHandoff | null>): Promise<Array<PreparedHandoff | null>> {
    const inserted = await insertBookings(trx, handoffs.flatMap((handoff) => (handoff && 'booking' in handoff ? [handoff.booking] : [])))
    let next = 0
    return handoffs.map((handoff) => {
      if (handoff === null) return null
      if ('existing' in handoff) return handoff.existing
      const booking = inserted[next++]!
      return {
        bookingId: booking.id,
        dispatch: handoff.dispatch ? { ...handoff.dispatch, idempotencyKey: booking.endpoint_idempotency_key } : null,
      }
    })
  }

  /**
   * Every line of a media buy handed off in the caller's transaction, each exactly as finalize
   * hands off a reservation, or sent for the seller's approval (`approvalItem`), with the work items of all of them opened together at the
   * end, in line order (ids, CREATED events and notices come out as line by line): three
   * statements for the buy's items instead of three per line. One `now` for the whole buy.
   * Answers each line's prepared hand-off (null for an approval).
   */
  async function handOffBuyLines(trx: Transaction, lines: readonly BuyLine[], actor: Actor): Promise<Array<PreparedHandoff | null>> {
    const now = clock.now()
    const items: OpenWorkItemInput[] = []
    const planned: Array<PlannedHandoff | null> = []
    for (const line of lines) {
      if (line.kind === 'handoff') {
        const { handoff, items: lineItems } = await prepareWithoutItems(trx, line.source, line.body, line.known, now)
        items.push(...lineItems)
        planned.push(handoff)
      } else {
        items.push(await approvalItem(trx, line.source, line.request, line.fresh))
        planned.push(null)
      }
    }
    const prepared = await bookHandoffs(trx, planned)
    await openWorkItems(trx, items, actor, now)
    return prepared
  }

  /**
   * A HELD reservation on a source without an execution module waits on the seller's approval:
   * its expiry is suspended and one APPROVE_MEDIA_BUY item (on the reservation, with no module)
   * asks the seller to book it, by completing the item, or decline it, by cancelling it
   * (src/workflows/completion-effects.ts). In the caller's transaction; answers the item for the
   * caller to open there (handOffBuyLines opens a buy's items together).
   */
  async function approvalItem(trx: Transaction, source: InventorySourceRow, request: ApprovalRequest, fresh?: FreshHold): Promise<OpenWorkItemInput> {
    // A fresh hold placed without an expiry is already what suspending it leaves, and known.
    if (!fresh || fresh.reservation.expires_at !== null) {
      await ledger.suspendExpiry(trx, { sourceRowId: source.id, reservationId: request.reservationId, mediaBuyId: request.mediaBuyId, packageId: request.packageId })
    }
    const reservation = fresh && fresh.reservation.expires_at === null ? fresh.reservation : await ledger.readRow(trx, Number(request.reservationId))
    const avail = fresh?.avail ?? await ledger.readAvail(trx, reservation.avail_row_id)
    const { pricing, flight } = request
    return {
      storefrontId: source.storefront_id,
      inventorySourceId: source.id,
      moduleRowId: null,
      kind: 'APPROVE_MEDIA_BUY',
      title: `Approve "${request.campaignName}" (${request.mediaBuyId} ${request.packageId}): ${reservation.requested_impressions} impressions of ${avail.name} at ${priceOf(pricing)}`,
      description: APPROVAL_INSTRUCTIONS,
      resourceType: RESERVATION_RESOURCE,
      resourceId: String(reservation.id),
      mediaBuyId: reservation.media_buy_id,
      buyerCustomerId: reservation.buyer_customer_id,
      dueAt: flight.start,
      payload: {
        ...handoffPayload(reservation, avail, request),
        productId: request.productId,
        buyerAccountId: request.buyerAccountId,
        poNumber: request.poNumber,
        pricing,
        mediaBuyFlight: { startTime: flight.start.toISOString(), endTime: flight.end.toISOString() },
      },
      requiredResultKeys: [],
    }
  }

  /** A repeated finalize re-sends only a dispatch whose claim went stale (its process died). */
  async function retryDispatch(trx: Transaction, existing: BookingRow, now: Date): Promise<PreparedHandoff['dispatch']> {
    const dispatch = dispatchOf(existing)
    if (!dispatch || existing.trafficking_payload === null) return null
    const retry = await reclaimEndpoint(trx, existing, new Date(now.getTime() - staleClaimMs()), now)
    const module = retry && existing.module_row_id !== null ? await findModuleById(trx, existing.module_row_id) : undefined
    const url = module ? dispatch.targetOf(module.config) : null
    return url ? { provider: dispatch, url, payload: existing.trafficking_payload, idempotencyKey: existing.endpoint_idempotency_key } : null
  }

  /** The error stays on the module (lastError) and in one open RESOLVE_SOURCE_HEALTH item per module. */
  async function recordModuleFailure(trx: Transaction, source: InventorySourceRow, module: ModuleInstanceRow, dispatch: ProviderDispatch, message: string, now: Date): Promise<void> {
    const open = await findOpenWorkItem(trx, { inventorySourceId: source.id, kind: 'RESOLVE_SOURCE_HEALTH', moduleRowId: module.id })
    if (open) {
      await noteOnWorkItem(trx, open, { eventType: 'FAILED_AGAIN', actor: dispatch.actor, now, notes: message })
    } else {
      await openWorkItem(trx, {
        storefrontId: source.storefront_id,
        inventorySourceId: source.id,
        moduleRowId: module.id,
        kind: 'RESOLVE_SOURCE_HEALTH',
        resourceType: 'module',
        resourceId: module.module_instance_id,
        ...dispatch.healthItem(module, message),
      }, dispatch.actor, now)
    }
    // The health item before the module row: completing that item locks them in this order too.
    await recordModuleError(trx, module.id, message, now)
  }

  /**
   * A hand-off the dispatch did not complete goes to a person: the error is recorded on the
   * module (lastError and its RESOLVE_SOURCE_HEALTH item) and the provider's fallback item opens
   * with the payload. The caller holds the reservation and the booking locked.
   */
  async function handToPerson(trx: Transaction, source: InventorySourceRow, booking: BookingRow, reservation: ReservationRow, dispatch: ProviderDispatch, payload: string, message: string, now: Date): Promise<void> {
    const module = booking.module_row_id === null ? undefined : await findModuleById(trx, booking.module_row_id)
    if (module) await recordModuleFailure(trx, source, module, dispatch, message, now)
    if (booking.status !== 'HELD') return
    const avail = await ledger.readAvail(trx, reservation.avail_row_id)
    // A module removed meanwhile still leaves the person an item, owned by no module.
    const item = dispatch.fallbackItem({
      module: { row: module ?? null, contract: findContract('TRAFFICKING', module?.provider ?? booking.provider) },
      avail,
      payload: handoffPayload(reservation, avail, { campaignName: booking.campaign_name, advertiserName: booking.advertiser_name }),
      campaignName: booking.campaign_name,
      mediaBuyId: booking.media_buy_id,
    }, payload, message)
    await openItems(trx, source, reservation, [item], dispatch.actor, now)
  }

  /** The answer, recorded in a transaction of its own (the dispatch ran outside any). */
  async function settleIn(trx: Transaction, source: InventorySourceRow, bookingId: number, dispatch: ProviderDispatch, url: string, payload: string, outcome: DispatchOutcome): Promise<void> {
    const now = clock.now()
    // Reservation before booking, the order a release locks them in.
    const named = await findBooking(trx, bookingId)
    if (!named) return
    const reservation = (await ledger.lockById(trx, named.reservation_id))!
    const booking = (await findBooking(trx, bookingId, { forUpdate: true }))!
    // Whatever a sender returns is stored: never a control character or broken UTF-16 (PostgreSQL refuses U+0000).
    const reference = outcome.ok && outcome.reference !== null && printable(outcome.reference) === outcome.reference ? outcome.reference : null
    const error = outcome.ok ? null : printable(outcome.error)
    const attempt: EndpointAttempt = { at: now.toISOString(), ok: outcome.ok, url, httpStatus: outcome.httpStatus, error, attempts: outcome.attempts }
    await recordEndpointAttempt(trx, booking.id, attempt, now)

    if (outcome.ok) {
      if (booking.module_row_id !== null) await markModuleChecked(trx, booking.module_row_id, now)
      const refs = reference ? { [dispatch.referenceKey]: reference } : {}
      if (booking.status === 'HELD') {
        // The ledger's BOOKED transition marks the booking and cancels a fallback item a reconciler may have opened.
        await ledger.book(trx, { sourceRowId: source.id, reservationId: String(booking.reservation_id) })
        await mergeExternalRefs(trx, booking.id, refs, now)
      } else if (booking.status === 'BOOKED') {
        await mergeExternalRefs(trx, booking.id, refs, now)
      } else {
        // Released or expired while the dispatch was in flight: the system now runs a line nobody holds.
        await openWorkItem(trx, {
          storefrontId: source.storefront_id,
          inventorySourceId: source.id,
          moduleRowId: booking.module_row_id,
          ...dispatch.orphanItem(booking, reference),
          resourceType: 'booking',
          resourceId: String(booking.id),
          mediaBuyId: booking.media_buy_id,
          buyerCustomerId: booking.buyer_customer_id,
          payload: { bookingId: String(booking.id), reservationId: String(booking.reservation_id), idempotencyKey: booking.endpoint_idempotency_key, ...refs },
        }, dispatch.actor, now)
      }
      return
    }
    await handToPerson(trx, source, booking, reservation, dispatch, payload, `POST ${url} ${error}`, now)
  }

  /**
   * Every answer ends in BOOKED or in an open item with the error recorded. If recording the
   * answer fails, it is recorded as a failure that says so; if even that fails (the database is
   * gone), the booking keeps its claim and the reconciler hands it to a person once it is stale.
   */
  async function settleDispatch(source: InventorySourceRow, bookingId: number, prepared: NonNullable<PreparedHandoff['dispatch']>, outcome: DispatchOutcome): Promise<void> {
    const { provider: dispatch, url, payload, idempotencyKey } = prepared
    try {
      await db.transaction().execute((trx) => settleIn(trx, source, bookingId, dispatch, url, payload, outcome))
    } catch (error) {
      const answer = outcome.ok ? `answered HTTP ${outcome.httpStatus} (accepted)` : outcome.error
      const failure: DispatchOutcome = {
        ok: false,
        httpStatus: outcome.httpStatus,
        error: `${answer}, but the answer could not be recorded (${(error as Error)?.message ?? String(error)}); ${dispatch.lostAnswerHint(idempotencyKey)}`,
        attempts: outcome.attempts,
      }
      await db.transaction().execute((trx) => settleIn(trx, source, bookingId, dispatch, url, payload, failure))
    }
  }

  /**
   * The reconciler, run by the sweeper loop of every process: a hold whose hand-off is open
   * (expiry suspended) but has no open execution item and is not booked was interrupted, by a
   * crash in the middle of the dispatch or before its answer was recorded. Once its claim is
   * stale it is handed to a person like a failed dispatch, and no finalize sends it again.
   */
  async function reconcileHandoffs(options: { limit?: number } = {}): Promise<{ opened: number }> {
    const now = clock.now()
    const staleBefore = new Date(now.getTime() - staleClaimMs())
    const candidates = await findInterruptedHandoffs(db, { staleBefore, handOffKinds: HAND_OFF_KINDS, limit: options.limit ?? 100 })
    let opened = 0
    for (const candidate of candidates) {
      const handed = await db.transaction().execute(async (trx) => {
        // Reservation, then work items, then booking; a hold another transaction is resolving is left to it.
        const reservation = await ledger.lockById(trx, candidate.reservation_id, { skipLocked: true })
        if (!reservation || reservation.status !== 'HELD' || reservation.expires_at !== null) return false
        const items = await listWorkItemsForResource(trx, candidate.inventory_source_id, RESERVATION_RESOURCE, String(reservation.id))
        if (items.some((item) => HAND_OFF_KINDS.includes(item.kind) && OPEN_STATUSES.includes(item.status))) return false
        const booking = await findBooking(trx, candidate.id, { forUpdate: true })
        if (!booking || booking.status !== 'HELD' || (booking.endpoint_claimed_at !== null && booking.endpoint_claimed_at >= staleBefore)) return false
        const dispatch = dispatchOf(booking)
        if (booking.trafficking_payload === null || !dispatch) {
          // Nothing to hand a person: the hold expires again, as when its hand-off is cancelled.
          await ledger.resumeExpiry(trx, reservation.id, new Date(now.getTime() + RESUMED_HOLD_MINUTES * 60_000))
          return false
        }
        const source = await findSourceRowById(trx, booking.inventory_source_id)
        const module = booking.module_row_id === null ? undefined : await findModuleById(trx, booking.module_row_id)
        const url = (module && dispatch.targetOf(module.config)) ?? dispatch.describeTarget
        const message = `POST ${url} was interrupted: the process stopped before the answer was recorded; ${dispatch.lostAnswerHint(booking.endpoint_idempotency_key)}`
        await recordEndpointAttempt(trx, booking.id, { at: now.toISOString(), ok: false, url, httpStatus: null, error: message, attempts: 0 }, now)
        await handToPerson(trx, source, booking, reservation, dispatch, booking.trafficking_payload, message, now)
        return true
      })
      if (handed) opened += 1
    }
    return { opened }
  }

  /** The answer is read in an outcome transaction of its own: the steps before it committed separately. */
  async function answer(source: InventorySourceRow, bookingId: number): Promise<FinalizeResponse> {
    return outcomeTransaction(db, async (trx) => {
      const booking = (await findBooking(trx, bookingId))!
      const reservation = await ledger.readRow(trx, booking.reservation_id)
      const items = await listWorkItemsForResource(trx, source.id, RESERVATION_RESOURCE, String(booking.reservation_id))
      return {
        booking: toBookingResponse(booking, reservation.requested_impressions),
        workItems: items.map((item) => toWorkItemResponse(item, source.source_id)),
        projection: await loadProjection(trx, source, clock.now()),
      }
    })
  }

  /**
   * POST .../modular/bookings/finalize. Idempotent: a reservation has one booking, and finalizing
   * it again answers with that booking and its work items (the first request's names and creative win).
   */
  async function finalize(storefrontId: number, sourceId: string, body: FinalizeRequest, actor: Actor): Promise<FinalizeResponse> {
    const source = await findModularSourceRow(db, storefrontId, sourceId)
    const prepared = await db.transaction().execute((trx) => prepare(trx, source, body, actor))
    await dispatchHandoff(source, prepared)
    return answer(source, prepared.bookingId)
  }

  /**
   * The hand-off's push to the external system, when it has one: after the transaction that
   * prepared it committed (a dispatch is never sent from inside one), settled in its own.
   */
  async function dispatchHandoff(source: InventorySourceRow, prepared: PreparedHandoff): Promise<void> {
    if (!prepared.dispatch) return
    const { provider: dispatch, url, payload, idempotencyKey } = prepared.dispatch
    const send = deps.send ?? dispatch.send
    // A sender that throws (a bug, not an answer) is a failed attempt like any other.
    const outcome = await send(url, payload, { timeoutMs: timeoutOf(dispatch), idempotencyKey }).catch((error: unknown): DispatchOutcome => ({
      ok: false, httpStatus: null, error: `request failed (${(error as Error)?.message ?? String(error)})`, attempts: 1,
    }))
    await settleDispatch(source, prepared.bookingId, prepared.dispatch, outcome)
  }

  /** GET .../modular/delivery?mediaBuyId= */
  async function delivery(storefrontId: number, sourceId: string, mediaBuyId: string): Promise<Delivery> {
    const source = await findModularSourceRow(db, storefrontId, sourceId)
    if (!await hasBookingForMediaBuy(db, source.id, mediaBuyId)) throw fail.notFound(`Media buy ${mediaBuyId} on source ${sourceId}`)
    return readDelivery(db, source.id, mediaBuyId)
  }

  return {
    finalize,
    delivery,
    reconcileHandoffs,
    /**
     * The hand-offs of a buy's lines, each exactly as finalize makes one, inside the caller's
     * transaction (create_media_buy hands off every package of a buy in the one that holds them);
     * then `dispatchHandoff` of each after it committed.
     */
    handOffBuyLines,
    dispatchHandoff,
  }
}

export type ExecutionWorkflows = ReturnType<typeof createExecutionWorkflows>
