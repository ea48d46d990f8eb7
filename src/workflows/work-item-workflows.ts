import type { Database, Transaction } from '../db/database.ts'
import type { InventorySourceRow, WorkItemRow } from '../db/tables.ts'
import { lockReservation, type LedgerService } from '../modules/booking-ledger/index.ts'
import { RESERVATION_RESOURCE } from '../modules/execution/index.ts'
import { findModularSourceRow } from '../modules/modular-sources/index.ts'
import {
  assertResultComplete,
  assertWorkItemOpen,
  blockWorkItem,
  cancelWorkItem,
  completeWorkItem,
  findWorkItem,
  hasOpenWorkItem,
  listWorkItemEvents,
  listWorkItems,
  startWorkItem,
  statusesOf,
  toWorkItemEventResponse,
  toWorkItemResponse,
  type Actor,
  type BlockWorkItem,
  type CancelWorkItem,
  type CompleteWorkItem,
  type StartWorkItem,
  type WorkItem,
  type WorkItemEvent,
  type WorkItemKind,
  type WorkItemListQuery,
} from '../modules/work-queue/index.ts'
import type { Clock } from '../shared/clock.ts'
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

  return {
    list,
    get,
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
