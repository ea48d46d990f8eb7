import { sql } from 'kysely'
import type { Transaction } from '../db/database.ts'
import type { InventorySourceRow, WorkItemRow } from '../db/tables.ts'
import type { LedgerService } from '../modules/booking-ledger/ledger-service.ts'
import { lineFlight, replaceDelivery } from '../modules/delivery/delivery-store.ts'
import { flightDays, parseDeliveryReport } from '../modules/delivery/parse-report.ts'
import { findBookingByReservation, mergeExternalRefs, RESERVATION_RESOURCE } from '../modules/execution/booking-store.ts'
import type { Actor, WorkItemKind } from '../modules/work-queue/work-item-store.ts'
import { fail, StorefrontError } from '../shared/errors.ts'

/**
 * What completing a work item does besides closing it, one line per kind (SPEC §3 "Work items").
 * Every effect runs inside the completion's transaction: if it fails, the item stays open and
 * nothing it wrote remains. An effect returns a short summary that goes into the COMPLETED event.
 */

export interface CompletionContext {
  trx: Transaction
  source: InventorySourceRow
  item: WorkItemRow
  result: Record<string, unknown>
  actor: Actor
  now: Date
  ledger: LedgerService
  commitAvailsPreview: CommitAvailsPreview | undefined
}

export type CompletionEffect = (context: CompletionContext) => Promise<Record<string, unknown>>

/** The avails feed's "commit exactly the previewed rows", joined to the completion's transaction. */
export type CommitAvailsPreview = (
  trx: Transaction,
  input: { source: InventorySourceRow; previewId: string; workItemId: number; actor: Actor; now: Date },
) => Promise<Record<string, unknown>>

export const completionEffects: Partial<Record<WorkItemKind, CompletionEffect>> = {
  TRAFFIC_TO_CADENT: bookReservation('cadentCampaignId'),
  EXECUTE_UPSTREAM_BOOKING: bookReservation('upstreamOrderId'),
  CONFIRM_AVAILS: commitConfirmedAvails,
  MAP_CREATIVE_REF: storeCreativeRef,
  UPLOAD_FINAL_REPORT: importFinalReport,
  RESOLVE_SOURCE_HEALTH: clearModuleError,
}

/** A reference the operator typed: a non-blank string, or a number taken as its digits. */
function referenceValue(result: Record<string, unknown>, key: string): string {
  const value = result[key]
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'string' && value.trim().length > 0 && value.trim().length <= 255) return value.trim()
  throw fail.invalidField(`result.${key}`, 'must be a string of 1-255 characters')
}

function reservationIdOf(item: WorkItemRow): number {
  if (item.resource_type === RESERVATION_RESOURCE && item.resource_id && /^\d{1,15}$/.test(item.resource_id)) return Number(item.resource_id)
  throw fail.conflict('NO_BOOKING_FOR_ITEM', `Work item ${item.id} is not tied to a reservation`, { workItemId: String(item.id) })
}

async function bookingOf(context: CompletionContext) {
  const reservationId = reservationIdOf(context.item)
  const booking = await findBookingByReservation(context.trx, reservationId, { forUpdate: true })
  if (!booking) {
    throw fail.conflict('NO_BOOKING_FOR_ITEM', `Reservation ${reservationId} has no finalized booking`, { workItemId: String(context.item.id) })
  }
  return booking
}

/** TRAFFIC_TO_CADENT, EXECUTE_UPSTREAM_BOOKING: the held reservation becomes BOOKED, with the upstream id on the booking. */
function bookReservation(referenceKey: 'cadentCampaignId' | 'upstreamOrderId'): CompletionEffect {
  return async (context) => {
    const reference = referenceValue(context.result, referenceKey)
    const booking = await bookingOf(context)
    // The ledger's BOOKED transition marks the booking BOOKED; the reference is this item's to add.
    const { booked, reservation } = await context.ledger.book(context.trx, {
      sourceRowId: context.source.id,
      reservationId: String(booking.reservation_id),
    }, { workItemId: context.item.id })
    await mergeExternalRefs(context.trx, booking.id, { [referenceKey]: reference }, context.now)
    return { bookingId: String(booking.id), reservationId: reservation.reservationId, reservationStatus: reservation.status, booked, [referenceKey]: reference }
  }
}

/** MAP_CREATIVE_REF: the broadcast-system creative reference is kept on the booking. */
async function storeCreativeRef(context: CompletionContext): Promise<Record<string, unknown>> {
  const creativeRef = referenceValue(context.result, 'creativeRef')
  const booking = await bookingOf(context)
  await mergeExternalRefs(context.trx, booking.id, { creativeRef }, context.now)
  return { bookingId: String(booking.id), creativeRef }
}

/** UPLOAD_FINAL_REPORT: `result.report` becomes the line's delivery; any bad row and nothing is imported. */
async function importFinalReport(context: CompletionContext): Promise<Record<string, unknown>> {
  const booking = await bookingOf(context)
  const flight = await lineFlight(context.trx, booking.reservation_id)
  const rows = parseDeliveryReport(context.result.report, flightDays(flight.startTime, flight.endTime))
  const imported = await replaceDelivery(context.trx, {
    inventorySourceId: context.source.id,
    mediaBuyId: booking.media_buy_id,
    reservationId: booking.reservation_id,
    availId: booking.avail_id,
    workItemId: context.item.id,
    rows,
    now: context.now,
  })
  const impressions = rows.reduce((sum, row) => sum + row.impressions, 0)
  return { bookingId: String(booking.id), mediaBuyId: booking.media_buy_id, ...imported, impressions, firstDate: rows[0]!.date, lastDate: rows.at(-1)!.date }
}

/** RESOLVE_SOURCE_HEALTH: the operator fixed it, so the module's error (and an ERROR status) is cleared. */
async function clearModuleError(context: CompletionContext): Promise<Record<string, unknown>> {
  const moduleRowId = context.item.module_row_id
  if (moduleRowId === null) return { clearedModule: null }
  const module = await context.trx
    .updateTable('module_instance')
    .set({
      last_error: null,
      last_checked_at: context.now,
      // An operator's DISABLED stays; only the error is resolved.
      status_override: sql<'DISABLED' | null>`CASE WHEN status_override = 'ERROR' THEN NULL ELSE status_override END`,
      updated_at: context.now,
    })
    .where('id', '=', moduleRowId)
    .where('inventory_source_id', '=', context.source.id)
    .returning(['module_instance_id'])
    .executeTakeFirst()
  return { clearedModule: module?.module_instance_id ?? null }
}

/** CONFIRM_AVAILS: commit exactly the rows of the preview the item was opened for. */
async function commitConfirmedAvails(context: CompletionContext): Promise<Record<string, unknown>> {
  const previewId = context.item.payload.previewId ?? context.result.previewId
  if (typeof previewId !== 'string' || previewId.length === 0) {
    throw fail.conflict('PREVIEW_NOT_FOUND', `Work item ${context.item.id} names no avails preview`)
  }
  if (!context.commitAvailsPreview) {
    throw new StorefrontError('INTERNAL_ERROR', 'The avails feed cannot commit previews in this build')
  }
  return context.commitAvailsPreview(context.trx, { source: context.source, previewId, workItemId: context.item.id, actor: context.actor, now: context.now })
}
