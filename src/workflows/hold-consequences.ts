import type { Transaction } from '../db/database.ts'
import type { HoldResolution, OnHoldResolved } from '../modules/booking-ledger/index.ts'
import {
  findBookingsByReservations,
  markBooked,
  markEndedByReservation,
  RESERVATION_RESOURCE,
} from '../modules/execution/index.ts'
import { bookingHandOffKinds } from '../modules/registry.ts'
import { cancelOpenWorkItems, type Actor, type WorkItemKind } from '../modules/work-queue/index.ts'
import type { SecretBox } from '../shared/secret-box.ts'
import { settleSubmittedBuys } from './media-buy-workflows.ts'

/**
 * What a hold's resolution means for what hangs on it, filled into the ledger's `onResolved`
 * port by the composition root. The ledger calls it in the resolving transaction, whichever path
 * resolved the hold (release, book, lazy expiry, sweeper), so the booking and the work items of
 * a hold can never disagree with it:
 *
 * - RELEASED: every open item of the reservation is cancelled; its booking is RELEASED.
 * - EXPIRED: the same, and the booking is EXPIRED.
 * - BOOKED: the booking is BOOKED; any other open hand-off or approval item is cancelled (the line is booked).
 * - Then the submitted media buy of the holds, if any: its AdCP task completes or fails.
 *
 * The items are found by the reservations, not their bookings: a hold on a source without an
 * execution module has no booking, only the seller's APPROVE_MEDIA_BUY item.
 *
 * Lock order: the ledger holds the reservation rows; this locks their work items, then their
 * bookings, the order a work-item completion takes them in.
 */

/** Work items whose completion books the reservation: the providers' `handOffKinds`, a live list of the registry. */
export const HAND_OFF_KINDS: readonly WorkItemKind[] = bookingHandOffKinds()
/**
 * Work items whose completion books the reservation, the seller's approval among them: once the
 * hold is booked by one, the others have nothing left to do and are cancelled. Read at each
 * resolution, since HAND_OFF_KINDS grows as providers register.
 */
function bookingKinds(): WorkItemKind[] {
  return [...HAND_OFF_KINDS, 'APPROVE_MEDIA_BUY']
}
/** The default hold time of a new reservation, given back to a hold whose hand-off ended without booking. */
export { HOLD_MINUTES_DEFAULT as RESUMED_HOLD_MINUTES } from '../modules/booking-ledger/index.ts'

const ACTORS: Record<HoldResolution['to'], Actor> = {
  RELEASED: { type: 'SYSTEM', id: 'bookings/release' },
  EXPIRED: { type: 'SYSTEM', id: 'ledger/expiry' },
  BOOKED: { type: 'SYSTEM', id: 'ledger/book' },
}

function noteOf(resolution: HoldResolution): string {
  if (resolution.to === 'RELEASED') return resolution.reason ? `Reservation released: ${resolution.reason}` : 'Reservation released'
  return resolution.to === 'EXPIRED' ? 'Reservation expired' : 'Reservation booked'
}

export function createHoldConsequences(options: { secrets?: SecretBox | undefined } = {}): OnHoldResolved {
  return async (trx: Transaction, resolution: HoldResolution) => {
    await cancelOpenWorkItems(trx, {
      inventorySourceId: resolution.sourceRowIds,
      resourceType: RESERVATION_RESOURCE,
      resourceId: resolution.reservationIds.map(String),
      ...(resolution.to === 'BOOKED' ? { kinds: bookingKinds(), exceptId: resolution.workItemId } : {}),
    }, ACTORS[resolution.to], resolution.now, noteOf(resolution))
    for (const booking of await findBookingsByReservations(trx, resolution.reservationIds)) {
      if (resolution.to === 'BOOKED') await markBooked(trx, booking.id, {}, resolution.now)
      else await markEndedByReservation(trx, booking.reservation_id, resolution.to, resolution.now)
    }
    // A submitted AdCP media buy is confirmed once all its holds are booked, or fails on a lost one;
    // its buyer's webhook goes into the outbox in this transaction.
    await settleSubmittedBuys(trx, resolution, options.secrets)
  }
}
