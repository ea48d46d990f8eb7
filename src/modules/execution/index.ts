// The public surface of execution/: other folders import it from here, never from its files (eslint.config.js).
export {
  BookingSchema,
  findBooking,
  findBookingByReservation,
  findBookingsByReservations,
  findInterruptedHandoffs,
  hasBookingForMediaBuy,
  insertBookings,
  markBooked,
  markEndedByReservation,
  mergeExternalRefs,
  reclaimEndpoint,
  recordEndpointAttempt,
  RESERVATION_RESOURCE,
  toBookingResponse,
  type EndpointAttempt,
  type NewBooking,
} from './booking-store.ts'
export { finalizeAvailId, FinalizeRequestSchema, type FinalizeRequest } from './finalize.schema.ts'
export { bookingOf, bookReservation, reservationIdOf, storeBookingRef } from './handoff-effects.ts'
