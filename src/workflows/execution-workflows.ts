import type { Database, Transaction } from '../db/database.ts'
import type { AvailRow, BookingRow, InventorySourceRow, ModuleInstanceRow, ReservationRow } from '../db/tables.ts'
import type { LedgerService } from '../modules/booking-ledger/ledger-service.ts'
import { renderCadentCampaignXml, targetsFromTargeting, type CadentCampaignInput } from '../modules/cadent/render-campaign-xml.ts'
import { resolveStageMode, type ModuleContract } from '../modules/contract.ts'
import { readDelivery, type Delivery } from '../modules/delivery/delivery-store.ts'
import {
  findBooking,
  findBookingByReservation,
  findInterruptedHandoffs,
  insertBooking,
  mergeExternalRefs,
  reclaimEndpoint,
  recordEndpointAttempt,
  RESERVATION_RESOURCE,
  toBookingResponse,
  type EndpointAttempt,
} from '../modules/execution/booking-store.ts'
import { DEFAULT_CADENT_TIMEOUT_MS, postCadentCampaign, printable, type CadentPostOutcome, type CadentPoster } from '../modules/execution/cadent-endpoint.ts'
import { finalizeAvailId, type FinalizeRequest, type FinalizeResponse } from '../modules/execution/finalize.schema.ts'
import { findActiveModule, findModularSourceRow, type ActiveModule } from '../modules/modular-sources/module-store.ts'
import { findContract } from '../modules/registry.ts'
import { loadProjection } from '../modules/readiness/load-projection.ts'
import {
  findOpenWorkItem,
  listWorkItemsForResource,
  noteOnWorkItem,
  OPEN_STATUSES,
  openWorkItem,
  toWorkItemResponse,
  type Actor,
  type WorkItemKind,
} from '../modules/work-queue/work-item-store.ts'
import type { Clock } from '../shared/clock.ts'
import { fail } from '../shared/errors.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'
import { HAND_OFF_KINDS, RESUMED_HOLD_MINUTES } from './hold-consequences.ts'

/**
 * The execution hand-off (SPEC §3): finalize turns a HELD reservation into a booking whose
 * execution is either automated (the Cadent endpoint) or handed to people as work items; the
 * work queue's completions then book it. Composes the ledger, the module registry, the Cadent
 * renderer and the work queue, which never import each other.
 */

export interface ExecutionWorkflowDeps {
  db: Database
  clock: Clock
  ledger: LedgerService
  /** Per attempt; a hanging endpoint costs the finalize request this long. */
  cadentTimeoutMs?: number | undefined
  /** Swappable for tests that need to count or fail calls without a server. */
  postCadentCampaign?: CadentPoster | undefined
}

const DAY_MS = 24 * 60 * 60 * 1000
const SYSTEM_ENDPOINT: Actor = { type: 'SYSTEM', id: 'cadent-endpoint' }

/** A work item the hand-off opens, before the fields every hand-off item shares. */
interface PlannedItem {
  kind: WorkItemKind
  moduleRowId: number | null
  title: string
  description: string | null
  dueAt: Date | null
  payload: Record<string, unknown>
  requiredResultKeys: string[]
}

interface HandoffContext {
  source: InventorySourceRow
  reservation: ReservationRow
  avail: AvailRow
  module: ActiveModule
  body: FinalizeRequest
  buyerCustomerId: number | null
}

interface HandoffPlan {
  traffickingPayload: string | null
  /** Set when the XML is POSTed to an endpoint instead of a person trafficking it. */
  endpointUrl: string | null
  items: PlannedItem[]
}

/** The task contract of a work-item kind in a module's contract: required result keys and instructions. */
function taskOf(contract: ModuleContract, kind: WorkItemKind) {
  for (const stage of contract.stages) {
    const task = stage.taskContract
    if (task && (task.workItemKind === kind || task.fallbackWorkItemKind === kind)) return { stage, task }
  }
  return undefined
}

function plannedItem(module: { row: ModuleInstanceRow | null; contract: ModuleContract | undefined }, kind: WorkItemKind, fields: Pick<PlannedItem, 'title' | 'dueAt' | 'payload'>): PlannedItem {
  const found = module.contract ? taskOf(module.contract, kind) : undefined
  return {
    kind,
    moduleRowId: module.row?.id ?? null,
    description: found?.task.operatorAction?.instructions ?? null,
    requiredResultKeys: found?.task.requiredResultKeys ?? [],
    ...fields,
  }
}

/** What every hand-off item carries: the line, the names and the flight. */
function handoffPayload(reservation: ReservationRow, avail: AvailRow, names: { campaignName: string; advertiserName: string }): Record<string, unknown> {
  return {
    reservationId: String(reservation.id),
    mediaBuyId: reservation.media_buy_id,
    availId: reservation.avail_id,
    packageId: reservation.package_id,
    requestedImpressions: reservation.requested_impressions,
    campaignName: names.campaignName,
    advertiserName: names.advertiserName,
    flight: { startTime: avail.start_time.toISOString(), endTime: avail.end_time.toISOString() },
  }
}

function cadentInput(context: HandoffContext): CadentCampaignInput {
  const { reservation, avail, body, module } = context
  const config = module.row.config
  const flight = { startTime: avail.start_time.toISOString(), endTime: avail.end_time.toISOString() }
  return {
    mediaBuyId: reservation.media_buy_id,
    campaignName: body.campaignName,
    advertiserName: body.advertiserName,
    buyerCustomerId: context.buyerCustomerId,
    campaignDeliveryType: config.campaignDeliveryType as CadentCampaignInput['campaignDeliveryType'],
    flight,
    lines: [{
      reservationId: String(reservation.id),
      availId: avail.avail_id,
      collectionId: avail.collection_id,
      collectionName: avail.collection_name,
      impressions: reservation.requested_impressions,
      // The XML needs a rate; an avail without one is trafficked at 0 and priced in Cadent.
      cpm: avail.cpm ?? 0,
      currency: avail.currency,
      lineDeliveryType: config.lineDeliveryType as CadentCampaignInput['campaignDeliveryType'],
      adType: config.adType as CadentCampaignInput['lines'][number]['adType'],
      adClass: config.adClass as CadentCampaignInput['lines'][number]['adClass'],
      ...flight,
      targets: targetsFromTargeting(avail.targeting),
      creative: body.creative ? { ...body.creative, adId: body.creative.adId ?? null } : null,
    }],
  }
}

function trafficToCadentItem(context: { module: { row: ModuleInstanceRow | null; contract: ModuleContract | undefined }; avail: AvailRow } & { payload: Record<string, unknown>; campaignName: string; mediaBuyId: string }, xml: string, endpointError: string | null): PlannedItem {
  return plannedItem(context.module, 'TRAFFIC_TO_CADENT', {
    title: `Traffic "${context.campaignName}" (${context.mediaBuyId}) in Cadent`,
    dueAt: context.avail.start_time,
    payload: {
      ...context.payload,
      cadentCampaignXml: xml,
      contentType: 'application/xml',
      ...(endpointError ? { endpointError } : {}),
    },
  })
}

/** cadent: render the XML; POST it when an endpoint is configured, else a person traffics it. */
function planCadentHandoff(context: HandoffContext): HandoffPlan {
  const xml = renderCadentCampaignXml(cadentInput(context))
  const trafficStage = context.module.contract.stages.find((stage) => stage.stage === 'TRAFFIC_CAMPAIGN')
  const automated = trafficStage !== undefined && resolveStageMode(trafficStage, context.module.row.config) === 'AUTOMATED'
  const payload = handoffPayload(context.reservation, context.avail, context.body)
  const items: PlannedItem[] = []
  if (!automated) {
    items.push(trafficToCadentItem({ ...context, payload, campaignName: context.body.campaignName, mediaBuyId: context.reservation.media_buy_id }, xml, null))
  }
  if (context.body.creative) {
    items.push(plannedItem(context.module, 'MAP_CREATIVE_REF', {
      title: `Map the creative of "${context.body.campaignName}" (${context.reservation.media_buy_id}) to a Cadent creative`,
      dueAt: context.avail.start_time,
      payload: { ...payload, creative: context.body.creative },
    }))
  }
  return { traffickingPayload: xml, endpointUrl: automated ? String(context.module.row.config.cadentEndpointUrl) : null, items }
}

/** manual: a person books the line in the seller's own system. */
function planManualHandoff(context: HandoffContext): HandoffPlan {
  const systemName = typeof context.module.row.config.systemName === 'string' ? context.module.row.config.systemName : null
  return {
    traffickingPayload: null,
    endpointUrl: null,
    items: [plannedItem(context.module, 'EXECUTE_UPSTREAM_BOOKING', {
      title: `Book "${context.body.campaignName}" (${context.reservation.media_buy_id}) in ${systemName ?? 'the upstream system'}`,
      dueAt: context.avail.start_time,
      payload: { ...handoffPayload(context.reservation, context.avail, context.body), systemName, creative: context.body.creative ?? null },
    })],
  }
}

/** One line per trafficking provider in the catalog. */
const handoffPlanners: Record<string, (context: HandoffContext) => HandoffPlan> = {
  cadent: planCadentHandoff,
  manual: planManualHandoff,
}

interface Prepared {
  bookingId: number
  /** Present when this call owns the endpoint POST. */
  dispatch: { url: string; xml: string; idempotencyKey: string } | null
}

export function createExecutionWorkflows(deps: ExecutionWorkflowDeps) {
  const { db, clock, ledger } = deps
  const timeoutMs = deps.cadentTimeoutMs ?? DEFAULT_CADENT_TIMEOUT_MS
  const post = deps.postCadentCampaign ?? postCadentCampaign
  // A claim older than this belongs to a process that died mid-POST (the POST itself is bounded
  // by two timeouts), so a later finalize may send the XML again.
  const staleClaimMs = 2 * timeoutMs + 30_000

  async function openItems(trx: Transaction, source: InventorySourceRow, reservation: ReservationRow, items: PlannedItem[], actor: Actor, now: Date): Promise<void> {
    for (const item of items) {
      await openWorkItem(trx, {
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
      }, actor, now)
    }
  }

  /** The live reservation the request names, locked; several matches need a packageId. */
  async function lockNamedReservation(trx: Transaction, source: InventorySourceRow, body: FinalizeRequest): Promise<ReservationRow> {
    const availId = finalizeAvailId(body)
    let query = trx
      .selectFrom('reservation')
      .selectAll()
      .where('inventory_source_id', '=', source.id)
      .where('media_buy_id', '=', body.mediaBuyId)
      .where('avail_id', '=', availId)
      .where('status', 'in', ['HELD', 'BOOKED'])
    if (body.packageId !== undefined) {
      query = body.packageId === null ? query.where('package_id', 'is', null) : query.where('package_id', '=', body.packageId)
    }
    // NO KEY UPDATE, as the ledger locks reservations: concurrent finalizes serialise here, while
    // inserts that only reference the row (ledger entries, delivery) are not blocked by it.
    const live = await query.orderBy('id').limit(2).forNoKeyUpdate().execute()
    if (live.length > 1) {
      throw fail.invalidField('packageId', 'several live reservations match this media buy and avail; send packageId')
    }
    if (!live[0]) {
      throw fail.conflict('NO_HELD_RESERVATION', `No HELD reservation for media buy ${body.mediaBuyId} on avail ${availId}`, {
        mediaBuyId: body.mediaBuyId,
        availId,
      })
    }
    return live[0]
  }

  async function prepare(trx: Transaction, source: InventorySourceRow, body: FinalizeRequest, actor: Actor): Promise<Prepared> {
    const now = clock.now()
    const reservation = await lockNamedReservation(trx, source, body)
    const existing = await findBookingByReservation(trx, reservation.id, { forUpdate: true })
    if (existing) {
      const stale = new Date(now.getTime() - staleClaimMs)
      const retry = existing.trafficking_payload !== null && await reclaimEndpoint(trx, existing, stale, now)
      const module = retry && existing.module_row_id !== null
        ? await trx.selectFrom('module_instance').selectAll().where('id', '=', existing.module_row_id).executeTakeFirst()
        : undefined
      const url = module?.config.cadentEndpointUrl
      return {
        bookingId: existing.id,
        dispatch: retry && typeof url === 'string' ? { url, xml: existing.trafficking_payload!, idempotencyKey: existing.endpoint_idempotency_key } : null,
      }
    }

    const expired = reservation.status === 'HELD' && reservation.expires_at !== null && reservation.expires_at.getTime() <= now.getTime()
    if (reservation.status !== 'HELD' || expired) {
      throw fail.conflict('NO_HELD_RESERVATION', `Reservation ${reservation.id} is ${expired ? 'past its hold expiry' : reservation.status}, not HELD`, {
        reservationId: String(reservation.id),
      })
    }
    const buyerCustomerId = body.buyerCustomerId ?? reservation.buyer_customer_id
    if (reservation.buyer_customer_id !== null && body.buyerCustomerId != null && body.buyerCustomerId !== reservation.buyer_customer_id) {
      throw fail.conflict('NO_HELD_RESERVATION', `Reservation ${reservation.id} was held for buyer customer ${reservation.buyer_customer_id}, not ${body.buyerCustomerId}`, {
        reservationId: String(reservation.id),
      })
    }

    const module = await findActiveModule(trx, source.id, 'TRAFFICKING')
    const planner = module ? handoffPlanners[module.row.provider] : undefined
    if (!module || !planner) {
      throw fail.conflict('NO_EXECUTION_MODULE', `Source ${source.source_id} has no ACTIVE trafficking module`)
    }
    const avail = await trx.selectFrom('avail').selectAll().where('id', '=', reservation.avail_row_id).executeTakeFirstOrThrow()
    const context: HandoffContext = { source, reservation, avail, module, body, buyerCustomerId }
    const plan = planner(context)

    const reporting = await findActiveModule(trx, source.id, 'REPORTING_IMPORT')
    if (reporting) {
      plan.items.push(plannedItem(reporting, 'UPLOAD_FINAL_REPORT', {
        title: `Upload the final delivery report of "${body.campaignName}" (${reservation.media_buy_id})`,
        dueAt: new Date(avail.end_time.getTime() + DAY_MS),
        payload: { ...handoffPayload(context.reservation, context.avail, context.body), reportColumns: ['date', 'impressions', 'spend?', 'clicks?', 'completedViews?'] },
      }))
    }

    // The hold stops expiring while its hand-off is open: the hand-off items (or a release) resolve it.
    await ledger.suspendExpiry(trx, { sourceRowId: source.id, reservationId: String(reservation.id) })
    const booking = await insertBooking(trx, {
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
      traffickingMode: plan.endpointUrl ? 'AUTOMATED' : 'HITL',
      endpointClaimedAt: plan.endpointUrl ? now : null,
      now,
    })
    await openItems(trx, source, reservation, plan.items, actor, now)
    return {
      bookingId: booking.id,
      dispatch: plan.endpointUrl ? { url: plan.endpointUrl, xml: plan.traffickingPayload!, idempotencyKey: booking.endpoint_idempotency_key } : null,
    }
  }

  /** The error stays on the module (lastError) and in one open RESOLVE_SOURCE_HEALTH item per module. */
  async function recordModuleFailure(trx: Transaction, source: InventorySourceRow, module: ModuleInstanceRow, message: string, now: Date): Promise<void> {
    await noteOrOpenHealthItem(trx, source, module, message, now)
    // The health item before the module row: completing that item locks them in this order too.
    await trx.updateTable('module_instance').set({ last_error: message, last_checked_at: now, updated_at: now }).where('id', '=', module.id).execute()
  }

  async function noteOrOpenHealthItem(trx: Transaction, source: InventorySourceRow, module: ModuleInstanceRow, message: string, now: Date): Promise<void> {
    const open = await findOpenWorkItem(trx, { inventorySourceId: source.id, kind: 'RESOLVE_SOURCE_HEALTH', moduleRowId: module.id })
    if (open) {
      await noteOnWorkItem(trx, open, { eventType: 'FAILED_AGAIN', actor: SYSTEM_ENDPOINT, now, notes: message })
      return
    }
    await openWorkItem(trx, {
      storefrontId: source.storefront_id,
      inventorySourceId: source.id,
      moduleRowId: module.id,
      kind: 'RESOLVE_SOURCE_HEALTH',
      title: `Cadent endpoint of module ${module.module_instance_id} failed`,
      description: 'Bookings fall back to TRAFFIC_TO_CADENT work items meanwhile. Check the endpoint and the module config, then complete this item to clear the error.',
      resourceType: 'module',
      resourceId: module.module_instance_id,
      payload: { moduleInstanceId: module.module_instance_id, cadentEndpointUrl: module.config.cadentEndpointUrl ?? null, error: message },
    }, SYSTEM_ENDPOINT, now)
  }

  /**
   * A hand-off the endpoint did not complete goes to a person: the error is recorded on the module
   * (lastError and its RESOLVE_SOURCE_HEALTH item) and a TRAFFIC_TO_CADENT item opens with the XML.
   * The caller holds the reservation and the booking locked.
   */
  async function handToPerson(trx: Transaction, source: InventorySourceRow, booking: BookingRow, reservation: ReservationRow, xml: string, message: string, now: Date): Promise<void> {
    const module = booking.module_row_id === null
      ? undefined
      : await trx.selectFrom('module_instance').selectAll().where('id', '=', booking.module_row_id).executeTakeFirst()
    if (module) await recordModuleFailure(trx, source, module, message, now)
    if (booking.status !== 'HELD') return
    const avail = await trx.selectFrom('avail').selectAll().where('id', '=', reservation.avail_row_id).executeTakeFirstOrThrow()
    // A module removed meanwhile still leaves the person an item, owned by no module.
    const item = trafficToCadentItem({
      module: { row: module ?? null, contract: findContract('TRAFFICKING', module?.provider ?? booking.provider) },
      avail,
      payload: handoffPayload(reservation, avail, { campaignName: booking.campaign_name, advertiserName: booking.advertiser_name }),
      campaignName: booking.campaign_name,
      mediaBuyId: booking.media_buy_id,
    }, xml, message)
    await openItems(trx, source, reservation, [item], SYSTEM_ENDPOINT, now)
  }

  /** The endpoint's answer, recorded in a transaction of its own (the POST ran outside any). */
  async function settleIn(trx: Transaction, source: InventorySourceRow, bookingId: number, url: string, xml: string, outcome: CadentPostOutcome): Promise<void> {
    const now = clock.now()
    // Reservation before booking, the order a release locks them in.
    const named = await findBooking(trx, bookingId)
    if (!named) return
    const reservation = await trx.selectFrom('reservation').selectAll().where('id', '=', named.reservation_id).forNoKeyUpdate().executeTakeFirstOrThrow()
    const booking = (await findBooking(trx, bookingId, { forUpdate: true }))!
    // Whatever a poster returns is stored: never a control character or broken UTF-16 (PostgreSQL refuses U+0000).
    const campaignId = outcome.ok && outcome.campaignId !== null && printable(outcome.campaignId) === outcome.campaignId ? outcome.campaignId : null
    const error = outcome.ok ? null : printable(outcome.error)
    const attempt: EndpointAttempt = { at: now.toISOString(), ok: outcome.ok, url, httpStatus: outcome.httpStatus, error, attempts: outcome.attempts }
    await recordEndpointAttempt(trx, booking.id, attempt, now)

    if (outcome.ok) {
      if (booking.module_row_id !== null) await trx.updateTable('module_instance').set({ last_checked_at: now }).where('id', '=', booking.module_row_id).execute()
      const refs = campaignId ? { cadentCampaignId: campaignId } : {}
      if (booking.status === 'HELD') {
        // The ledger's BOOKED transition marks the booking and cancels a fallback item a reconciler may have opened.
        await ledger.book(trx, { sourceRowId: source.id, reservationId: String(booking.reservation_id) })
        await mergeExternalRefs(trx, booking.id, refs, now)
      } else if (booking.status === 'BOOKED') {
        await mergeExternalRefs(trx, booking.id, refs, now)
      } else {
        // Released or expired while the POST was in flight: Cadent now runs a campaign nobody holds.
        await openWorkItem(trx, {
          storefrontId: source.storefront_id,
          inventorySourceId: source.id,
          moduleRowId: booking.module_row_id,
          kind: 'RESOLVE_TRAFFICKING_ERROR',
          title: `Remove campaign ${campaignId ?? `for ${booking.media_buy_id}`} from Cadent: its reservation was ${booking.status === 'EXPIRED' ? 'expired' : 'released'}`,
          description: 'The Cadent endpoint accepted the campaign after the reservation was released or expired. Remove or pause it in Cadent, then complete this item.',
          resourceType: 'booking',
          resourceId: String(booking.id),
          mediaBuyId: booking.media_buy_id,
          buyerCustomerId: booking.buyer_customer_id,
          payload: { bookingId: String(booking.id), reservationId: String(booking.reservation_id), idempotencyKey: booking.endpoint_idempotency_key, ...refs },
        }, SYSTEM_ENDPOINT, now)
      }
      return
    }
    await handToPerson(trx, source, booking, reservation, xml, `POST ${url} ${error}`, now)
  }

  /**
   * Every answer ends in BOOKED or in an open item with the error recorded. If recording the
   * answer fails, it is recorded as a failure that says so; if even that fails (the database is
   * gone), the booking keeps its claim and the reconciler hands it to a person once it is stale.
   */
  async function settleDispatch(source: InventorySourceRow, bookingId: number, url: string, xml: string, outcome: CadentPostOutcome, idempotencyKey: string): Promise<void> {
    try {
      await db.transaction().execute((trx) => settleIn(trx, source, bookingId, url, xml, outcome))
    } catch (error) {
      const answer = outcome.ok ? `answered HTTP ${outcome.httpStatus} (accepted)` : outcome.error
      const failure: CadentPostOutcome = {
        ok: false,
        httpStatus: outcome.httpStatus,
        error: `${answer}, but the answer could not be recorded (${(error as Error)?.message ?? String(error)}); check Cadent for a campaign sent with Idempotency-Key ${idempotencyKey} before trafficking it`,
        attempts: outcome.attempts,
      }
      await db.transaction().execute((trx) => settleIn(trx, source, bookingId, url, xml, failure))
    }
  }

  /**
   * The reconciler, run by the sweeper loop of every process: a hold whose hand-off is open
   * (expiry suspended) but has no open execution item and is not booked was interrupted, by a
   * crash in the middle of the endpoint POST or before its answer was recorded. Once its claim is
   * stale it is handed to a person like a failed POST, and no finalize POSTs it again.
   */
  async function reconcileHandoffs(options: { limit?: number } = {}): Promise<{ opened: number }> {
    const now = clock.now()
    const staleBefore = new Date(now.getTime() - staleClaimMs)
    const candidates = await findInterruptedHandoffs(db, { staleBefore, handOffKinds: HAND_OFF_KINDS, openStatuses: OPEN_STATUSES, limit: options.limit ?? 100 })
    let opened = 0
    for (const candidate of candidates) {
      const handed = await db.transaction().execute(async (trx) => {
        // Reservation, then work items, then booking; a hold another transaction is resolving is left to it.
        const reservation = await trx.selectFrom('reservation').selectAll().where('id', '=', candidate.reservation_id).forNoKeyUpdate().skipLocked().executeTakeFirst()
        if (!reservation || reservation.status !== 'HELD' || reservation.expires_at !== null) return false
        const items = await listWorkItemsForResource(trx, candidate.inventory_source_id, RESERVATION_RESOURCE, String(reservation.id))
        if (items.some((item) => HAND_OFF_KINDS.includes(item.kind as WorkItemKind) && OPEN_STATUSES.includes(item.status))) return false
        const booking = await findBooking(trx, candidate.id, { forUpdate: true })
        if (!booking || booking.status !== 'HELD' || (booking.endpoint_claimed_at !== null && booking.endpoint_claimed_at >= staleBefore)) return false
        if (booking.trafficking_payload === null) {
          // Nothing to traffic by hand: the hold expires again, as when its hand-off is cancelled.
          await ledger.resumeExpiry(trx, reservation.id, new Date(now.getTime() + RESUMED_HOLD_MINUTES * 60_000))
          return false
        }
        const source = await trx.selectFrom('inventory_source').selectAll().where('id', '=', booking.inventory_source_id).executeTakeFirstOrThrow()
        const module = booking.module_row_id === null
          ? undefined
          : await trx.selectFrom('module_instance').select('config').where('id', '=', booking.module_row_id).executeTakeFirst()
        const url = typeof module?.config.cadentEndpointUrl === 'string' ? module.config.cadentEndpointUrl : '(the Cadent endpoint)'
        const message = `POST ${url} was interrupted: the process stopped before the answer was recorded; check Cadent for a campaign sent with Idempotency-Key ${booking.endpoint_idempotency_key} before trafficking it`
        await recordEndpointAttempt(trx, booking.id, { at: now.toISOString(), ok: false, url, httpStatus: null, error: message, attempts: 0 }, now)
        await handToPerson(trx, source, booking, reservation, booking.trafficking_payload, message, now)
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
      const reservation = await trx.selectFrom('reservation').select(['requested_impressions']).where('id', '=', booking.reservation_id).executeTakeFirstOrThrow()
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
    if (prepared.dispatch) {
      const { url, xml, idempotencyKey } = prepared.dispatch
      // A poster that throws (a bug, not an answer) is a failed attempt like any other.
      const outcome = await post(url, xml, { timeoutMs, idempotencyKey }).catch((error: unknown): CadentPostOutcome => ({
        ok: false, httpStatus: null, error: `request failed (${(error as Error)?.message ?? String(error)})`, attempts: 1,
      }))
      await settleDispatch(source, prepared.bookingId, url, xml, outcome, idempotencyKey)
    }
    return answer(source, prepared.bookingId)
  }

  /** GET .../modular/delivery?mediaBuyId= */
  async function delivery(storefrontId: number, sourceId: string, mediaBuyId: string): Promise<Delivery> {
    const source = await findModularSourceRow(db, storefrontId, sourceId)
    const booking = await db
      .selectFrom('booking')
      .select('id')
      .where('inventory_source_id', '=', source.id)
      .where('media_buy_id', '=', mediaBuyId)
      .limit(1)
      .executeTakeFirst()
    if (!booking) throw fail.notFound(`Media buy ${mediaBuyId} on source ${sourceId}`)
    return readDelivery(db, source.id, mediaBuyId)
  }

  return { finalize, delivery, reconcileHandoffs }
}
