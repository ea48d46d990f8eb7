import type { WorkItemRow } from '../../db/tables.ts'
import { fail } from '../../shared/errors.ts'
import type { CompletionContext, CompletionEffect } from '../provider.ts'
import { findBookingByReservation, mergeExternalRefs, RESERVATION_RESOURCE } from './booking-store.ts'

/** Completion effects that providers share: an item on a reservation acts on its booking. */

/** A reference the operator typed: a non-blank string, or a number taken as its digits. */
export function referenceValue(result: Record<string, unknown>, key: string): string {
  const value = result[key]
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'string' && value.trim().length > 0 && value.trim().length <= 255) return value.trim()
  throw fail.invalidField(`result.${key}`, 'must be a string of 1-255 characters')
}

/** The reservation an item is opened on (resource `reservation`), else 409 NO_BOOKING_FOR_ITEM. */
export function reservationIdOf(item: WorkItemRow): number {
  if (item.resource_type === RESERVATION_RESOURCE && item.resource_id && /^\d{1,15}$/.test(item.resource_id)) return Number(item.resource_id)
  throw fail.conflict('NO_BOOKING_FOR_ITEM', `Work item ${item.id} is not tied to a reservation`, { workItemId: String(item.id) })
}

/** The booking of the item's reservation, locked. */
export async function bookingOf(context: CompletionContext) {
  const reservationId = reservationIdOf(context.item)
  const booking = await findBookingByReservation(context.trx, reservationId, { forUpdate: true })
  if (!booking) {
    throw fail.conflict('NO_BOOKING_FOR_ITEM', `Reservation ${reservationId} has no finalized booking`, { workItemId: String(context.item.id) })
  }
  return booking
}

/** A hand-off item: the held reservation becomes BOOKED, with the upstream id on the booking. */
export function bookReservation(referenceKey: string): CompletionEffect {
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

/** The reference the operator typed is kept on the booking under `key`. */
export function storeBookingRef(key: string): CompletionEffect {
  return async (context) => {
    const value = referenceValue(context.result, key)
    const booking = await bookingOf(context)
    await mergeExternalRefs(context.trx, booking.id, { [key]: value }, context.now)
    return { bookingId: String(booking.id), [key]: value }
  }
}
