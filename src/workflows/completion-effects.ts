import type { Transaction } from '../db/database.ts'
import type { InventorySourceRow, WorkItemRow } from '../db/tables.ts'
import type { LedgerService } from '../modules/booking-ledger/index.ts'
import { RESERVATION_RESOURCE, reservationIdOf } from '../modules/execution/index.ts'
import { findBuysOfReservations, listLiveReservationsOfBuy } from '../modules/media-buys/index.ts'
import { clearModuleError } from '../modules/modular-sources/index.ts'
import type { CompletionContext, CompletionEffect } from '../modules/provider.ts'
import { completionEffectOf } from '../modules/registry.ts'
import type { Actor, WorkItemKind } from '../modules/work-queue/index.ts'
import { fail } from '../shared/errors.ts'

/**
 * What completing a work item does besides closing it (SPEC §3 "Work items"): the effect of the
 * provider that declares the item's kind, from the registry, or the platform's own for the
 * kinds it opens. Every effect runs inside the completion's transaction: if it fails, the item
 * stays open and nothing it wrote remains. An effect returns a short summary that goes into the
 * COMPLETED event.
 */

export type { CommitAvailsPreview, CompletionContext, CompletionEffect } from '../modules/provider.ts'

/** RESOLVE_SOURCE_HEALTH: the operator fixed it, so the module's error (and an ERROR status) is cleared. */
async function clearModuleErrorEffect(context: CompletionContext): Promise<Record<string, unknown>> {
  const moduleRowId = context.item.module_row_id
  if (moduleRowId === null) return { clearedModule: null }
  return { clearedModule: await clearModuleError(context.trx, context.source.id, moduleRowId, context.now) ?? null }
}

/**
 * APPROVE_MEDIA_BUY: the seller approved the line, so its hold is booked through the ledger. What
 * hangs on the hold follows in the ledger's consequences (src/workflows/hold-consequences.ts), as
 * for any hand-off item: the buy's AdCP task completes once every package is booked. A buy that
 * stopped waiting (another of its lines was released, so it was rejected) is not booked into.
 */
async function bookApprovedHold(context: CompletionContext): Promise<Record<string, unknown>> {
  const reservationId = reservationIdOf(context.item)
  const [buy] = await findBuysOfReservations(context.trx, [reservationId])
  if (buy && buy.status !== 'submitted') {
    throw fail.conflict('INVALID_MEDIA_BUY_TRANSITION', `Media buy ${buy.media_buy_id} is ${buy.status}: nothing waits on this approval any more; cancel the item to release its hold`, { status: buy.status })
  }
  const { booked, reservation } = await context.ledger.book(context.trx, {
    sourceRowId: context.source.id,
    reservationId: String(reservationId),
  }, { workItemId: context.item.id })
  return { reservationId: reservation.reservationId, reservationStatus: reservation.status, booked }
}

const platformEffects: Partial<Record<WorkItemKind, CompletionEffect>> = {
  RESOLVE_SOURCE_HEALTH: clearModuleErrorEffect,
  APPROVE_MEDIA_BUY: bookApprovedHold,
}

export function completionEffectFor(kind: WorkItemKind): CompletionEffect | undefined {
  return platformEffects[kind] ?? completionEffectOf(kind)
}

/** Runs in the cancelling transaction, after the item is CANCELLED (its own event written). */
export interface CancellationContext {
  trx: Transaction
  source: InventorySourceRow
  item: WorkItemRow
  reason: string
  actor: Actor
  now: Date
  ledger: LedgerService
}

export type CancellationEffect = (context: CancellationContext) => Promise<void>

/** The live holds of the media buy that holds `reservationId` (none when no buy does), in id order. */
async function liveHoldsOfItsBuy(trx: Transaction, reservationId: number) {
  const [buy] = await findBuysOfReservations(trx, [reservationId])
  return buy ? { buy, holds: await listLiveReservationsOfBuy(trx, buy) } : undefined
}

/**
 * APPROVE_MEDIA_BUY cancelled: the seller declined the line. Nothing else can book it (the source
 * has no execution module), so its hold is released now rather than left to expire, and the buy's
 * task fails with the seller's reason through the ledger's consequences. A buy still waiting on
 * its task is bought whole or not at all, so its other lines are released with it (their open
 * items are cancelled by those releases). A buy no longer waiting (rejected, its lines left to the
 * sweep) loses only this line. A booked hold has no open approval (booking cancels it), so a
 * decline never takes back a booked line.
 */
async function releaseDeclinedHold(context: CancellationContext): Promise<void> {
  const own = reservationIdOf(context.item)
  const reason = `declined by the seller: ${context.reason}`
  // Every hold listed is locked already (holdsToLock). They are released in avail order, the
  // order create_media_buy takes avails in, so the two cannot deadlock on a pair of avails.
  const ofBuy = await liveHoldsOfItsBuy(context.trx, own)
  const whole = ofBuy?.buy.status === 'submitted' ? [...ofBuy.holds].sort((a, b) => a.avail_row_id - b.avail_row_id || a.id - b.id) : []
  const lines = whole.some((hold) => hold.id === own) ? whole : [{ id: own, inventory_source_id: context.source.id }]
  for (const hold of lines) {
    await context.ledger.release({ sourceRowId: hold.inventory_source_id, reservationId: String(hold.id), reason }, context.trx)
  }
}

const platformCancellations: Partial<Record<WorkItemKind, CancellationEffect>> = {
  APPROVE_MEDIA_BUY: releaseDeclinedHold,
}

/** What cancelling an item of this kind does besides closing it; undefined: the default (a hand-off's hold expires again). */
export function cancellationEffectFor(kind: WorkItemKind): CancellationEffect | undefined {
  return platformCancellations[kind]
}

/**
 * The reservations a transition of this item may resolve, in the order to lock them before the
 * item (reservations first, in id order, as update_media_buy locks a buy's): the item's own, and
 * for an approval every live hold of its buy, which a decline releases together.
 */
export async function holdsToLock(trx: Transaction, item: WorkItemRow): Promise<number[]> {
  if (item.resource_type !== RESERVATION_RESOURCE || !item.resource_id || !/^\d{1,15}$/.test(item.resource_id)) return []
  const own = Number(item.resource_id)
  if (item.kind !== 'APPROVE_MEDIA_BUY') return [own]
  const ofBuy = await liveHoldsOfItsBuy(trx, own)
  return [...new Set([own, ...(ofBuy?.holds ?? []).map((hold) => hold.id)])].sort((a, b) => a - b)
}
