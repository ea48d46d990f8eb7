import type { Database, Transaction } from '../db/database.ts'
import type { InventorySourceRow, WorkItemRow } from '../db/tables.ts'
import { lockReservation, type LedgerService } from '../modules/booking-ledger/index.ts'
import { findBookingByReservation, RESERVATION_RESOURCE, reservationIdOf } from '../modules/execution/index.ts'
import { findModularSourceRow, findModuleById } from '../modules/modular-sources/index.ts'
import { followUpPlannerOf } from '../modules/registry.ts'
import {
  assertResultComplete,
  assertWorkItemOpen,
  blockWorkItem,
  cancelWorkItem,
  completeWorkItem,
  findOpenWorkItemOfResource,
  findWorkItem,
  hasOpenWorkItem,
  listWorkItemEvents,
  listWorkItems,
  openWorkItem,
  startWorkItem,
  statusesOf,
  toWorkItemEventResponse,
  toWorkItemResponse,
  type Actor,
  type BlockWorkItem,
  type CancelWorkItem,
  type CompleteWorkItem,
  type FollowUpWorkItem,
  type StartWorkItem,
  type WorkItem,
  type WorkItemEvent,
  type WorkItemFollowUp,
  type WorkItemKind,
  type WorkItemListQuery,
} from '../modules/work-queue/index.ts'
import type { Clock } from '../shared/clock.ts'
import { fail } from '../shared/errors.ts'
import { cancellationEffectFor, completionEffectFor, holdsToLock, type CommitAvailsPreview } from './completion-effects.ts'
// Work items whose completion books the reservation: while one is open, the hold does not expire.
import { HAND_OFF_KINDS, RESUMED_HOLD_MINUTES } from './hold-consequences.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'
import type { SecretBox } from '../shared/secret-box.ts'
import { findBuysOfReservations } from '../modules/media-buys/index.ts'
import { enqueueDeliveryReportWebhook } from './buy-notifications.ts'


export interface WorkItemWorkflowDeps {
  db: Database
  clock: Clock
  ledger: LedgerService
  /** The avails feed's preview commit, run when a CONFIRM_AVAILS item is completed. */
  commitAvailsPreview?: CommitAvailsPreview | undefined
  /**
   * Called after each committed transition: a completion may have settled an AdCP task and written
   * its buyer's webhook to the outbox, which this process's sender then sends at once.
   */
  onCommitted?: (() => void) | undefined
  /** Opens a buy's sealed webhook destinations: a delivery report's import notifies its buyer. Absent: no notification. */
  secrets?: SecretBox | undefined
}

/** Kinds whose completion imports a line's delivery report: the buy's buyer is notified in the same transaction. */
const DELIVERY_IMPORT_KINDS: readonly WorkItemKind[] = ['UPLOAD_FINAL_REPORT']

export interface WorkItemChanged {
  ok: true
  item: WorkItem
}

/** The modular source's human work queue: list, read, and every transition with its event. */
export function createWorkItemWorkflows({ db, clock, ledger, commitAvailsPreview, onCommitted, secrets }: WorkItemWorkflowDeps) {
  async function list(storefrontId: number, sourceId: string, query: WorkItemListQuery): Promise<{ items: WorkItem[]; total: number }> {
    const source = await findModularSourceRow(db, storefrontId, sourceId)
    const { rows, total } = await listWorkItems(db, {
      inventorySourceId: source.id,
      statuses: statusesOf(query),
      kind: query.kind as WorkItemKind | undefined,
      resourceType: query.resourceType,
      resourceId: query.resourceId,
      mediaBuyId: query.mediaBuyId,
      buyerCustomerId: query.buyerCustomerId,
      limit: query.limit,
    })
    return { items: rows.map((row) => toWorkItemResponse(row, source.source_id)), total }
  }

  async function get(storefrontId: number, sourceId: string, workItemId: string): Promise<{ item: WorkItem; events: WorkItemEvent[] }> {
    const source = await findModularSourceRow(db, storefrontId, sourceId)
    const row = await findWorkItem(db, source.id, workItemId)
    const events = await listWorkItemEvents(db, row.id)
    return { item: toWorkItemResponse(row, source.source_id), events: events.map(toWorkItemEventResponse) }
  }

  /**
   * A hold stops expiring only while its hand-off is open. When the last open execution item of
   * a HELD reservation is cancelled, the hold expires again after the default hold time, unless
   * the operator releases it first.
   */
  async function resumeExpiryWhenHandOffEnds(trx: Transaction, source: InventorySourceRow, row: WorkItemRow, now: Date): Promise<void> {
    if (!HAND_OFF_KINDS.includes(row.kind as WorkItemKind) || row.resource_type !== RESERVATION_RESOURCE || !row.resource_id) return
    const stillOpen = await hasOpenWorkItem(trx, {
      inventorySourceId: source.id,
      resourceType: RESERVATION_RESOURCE,
      resourceId: row.resource_id,
      kinds: HAND_OFF_KINDS,
    })
    if (stillOpen) return
    await ledger.resumeExpiry(trx, Number(row.resource_id), new Date(now.getTime() + RESUMED_HOLD_MINUTES * 60_000))
  }

  /** Locks the item in its own transaction, refuses a terminal one, and applies `change`. */
  async function transition(
    storefrontId: number,
    sourceId: string,
    workItemId: string,
    change: (trx: Transaction, source: InventorySourceRow, row: WorkItemRow, now: Date) => Promise<WorkItemRow>,
  ): Promise<WorkItemChanged> {
    const changed = await outcomeTransaction(db, async (trx) => {
      const now = clock.now()
      const source = await findModularSourceRow(trx, storefrontId, sourceId)
      // Lock order is reservation, then its work items, then its booking: the order a release
      // takes them in (it cancels the items), so a completion and a release cannot deadlock.
      const peek = await findWorkItem(trx, source.id, workItemId)
      for (const reservationId of await holdsToLock(trx, peek)) await lockReservation(trx, reservationId)
      const row = await findWorkItem(trx, source.id, workItemId, { forUpdate: true })
      assertWorkItemOpen(row)
      const updated = await change(trx, source, row, now)
      return { ok: true as const, item: toWorkItemResponse(updated, source.source_id) }
    })
    onCommitted?.()
    return changed
  }

  /**
   * POST .../work-items/{workItemId}/follow-up: the next item of the line of `workItemId`, of its
   * kind, for work that comes again (a later delivery report: the C7 report weeks after the live
   * one). The one home of when that may be: the kind has follow-ups (a provider plans them), the
   * item is on a line with a booking, the booking is neither released nor expired, and the line
   * has no open item of the kind (the item itself while it is open, or an earlier follow-up).
   */
  async function followUp(storefrontId: number, sourceId: string, workItemId: string, body: FollowUpWorkItem, actor: Actor): Promise<WorkItemFollowUp> {
    return outcomeTransaction(db, async (trx) => {
      const now = clock.now()
      const source = await findModularSourceRow(trx, storefrontId, sourceId)
      const peek = await findWorkItem(trx, source.id, workItemId)
      const planner = followUpPlannerOf(peek.kind)
      if (!planner) {
        throw fail.conflict('NO_FOLLOW_UP_FOR_KIND', `Work item ${peek.id} is ${peek.kind}, which is done once per line; only a delivery report is opened again`, {
          workItemId: String(peek.id), kind: peek.kind,
        })
      }
      // Reservation, then its work items, then its booking (a completion's and a release's order):
      // two follow-ups of one line are serialised on the reservation, so only one opens.
      const reservationId = reservationIdOf(peek)
      await lockReservation(trx, reservationId)
      const previous = await findWorkItem(trx, source.id, workItemId, { forUpdate: true })
      const booking = await findBookingByReservation(trx, reservationId, { forUpdate: true })
      if (!booking) {
        throw fail.conflict('NO_BOOKING_FOR_ITEM', `Reservation ${reservationId} of work item ${previous.id} has no finalized booking`, { workItemId: String(previous.id) })
      }
      if (booking.status === 'RELEASED' || booking.status === 'EXPIRED') {
        throw fail.conflict('LINE_ENDED', `Booking ${booking.id} of media buy ${booking.media_buy_id} is ${booking.status}: its line takes no further report`, {
          workItemId: String(previous.id), bookingId: String(booking.id), bookingStatus: booking.status,
        })
      }
      const open = await findOpenWorkItemOfResource(trx, {
        inventorySourceId: source.id, resourceType: RESERVATION_RESOURCE, resourceId: String(reservationId), kinds: [previous.kind],
      })
      if (open) {
        throw fail.conflict('FOLLOW_UP_ALREADY_OPEN', `Work item ${open.id} (${open.kind}) of this line is ${open.status}: complete or cancel it before opening another`, {
          workItemId: String(previous.id), openWorkItemId: String(open.id),
        })
      }
      const module = previous.module_row_id === null ? null : (await findModuleById(trx, previous.module_row_id)) ?? null
      const planned = planner(previous, module, { dueAt: body.dueAt ? new Date(body.dueAt) : null })
      const item = await openWorkItem(trx, {
        storefrontId: source.storefront_id,
        inventorySourceId: source.id,
        moduleRowId: planned.moduleRowId,
        kind: planned.kind,
        title: planned.title,
        description: planned.description,
        resourceType: RESERVATION_RESOURCE,
        resourceId: String(reservationId),
        mediaBuyId: previous.media_buy_id,
        buyerCustomerId: previous.buyer_customer_id,
        dueAt: planned.dueAt,
        payload: planned.payload,
        requiredResultKeys: planned.requiredResultKeys,
        notes: body.notes ? `Follows work item ${previous.id}: ${body.notes}` : `Follows work item ${previous.id}`,
      }, actor, now)
      return { ok: true as const, item: toWorkItemResponse(item, source.source_id), followsWorkItemId: String(previous.id) }
    })
  }

  return {
    list,
    get,
    followUp,
    /** Whether an item of this kind may be followed by another of its line (the console offers it). */
    hasFollowUps: (kind: string) => followUpPlannerOf(kind) !== undefined,
    start: (storefrontId: number, sourceId: string, workItemId: string, body: StartWorkItem, actor: Actor) =>
      transition(storefrontId, sourceId, workItemId, (trx, _source, row, now) => startWorkItem(trx, row, body, actor, now)),
    block: (storefrontId: number, sourceId: string, workItemId: string, body: BlockWorkItem, actor: Actor) =>
      transition(storefrontId, sourceId, workItemId, (trx, _source, row, now) => blockWorkItem(trx, row, body, actor, now)),
    cancel: (storefrontId: number, sourceId: string, workItemId: string, body: CancelWorkItem, actor: Actor) =>
      transition(storefrontId, sourceId, workItemId, async (trx, source, row, now) => {
        const cancelled = await cancelWorkItem(trx, row, body, actor, now)
        // After the item is CANCELLED: a release it causes then finds no open item of its own to cancel.
        const effect = cancellationEffectFor(row.kind)
        if (effect) await effect({ trx, source, item: row, reason: body.reason, actor, now, ledger })
        else await resumeExpiryWhenHandOffEnds(trx, source, row, now)
        return cancelled
      }),
    /**
     * Validates the result against the item's required keys, runs the kind's side effect and
     * closes the item, all in one transaction: either everything happened or nothing did.
     */
    complete: (storefrontId: number, sourceId: string, workItemId: string, body: CompleteWorkItem, actor: Actor) =>
      transition(storefrontId, sourceId, workItemId, async (trx, source, row, now) => {
        const result = body.result ?? {}
        assertResultComplete(row, result)
        const effect = completionEffectFor(row.kind)
        const summary = effect
          ? await effect({ trx, source, item: row, result, actor, now, ledger, commitAvailsPreview })
          : undefined
        if (DELIVERY_IMPORT_KINDS.includes(row.kind) && row.resource_type === RESERVATION_RESOURCE && row.resource_id && /^\d{1,15}$/.test(row.resource_id)) {
          // The buy of the line, if an AdCP buy holds it (a REST reservation has none to notify).
          const [buy] = await findBuysOfReservations(trx, [Number(row.resource_id)])
          if (buy) await enqueueDeliveryReportWebhook(trx, secrets, { mediaBuyRowId: buy.id, workItemId: row.id, now })
        }
        return completeWorkItem(trx, row, { result, notes: body.notes, effect: summary }, actor, now)
      }),
  }
}

export type WorkItemWorkflows = ReturnType<typeof createWorkItemWorkflows>
