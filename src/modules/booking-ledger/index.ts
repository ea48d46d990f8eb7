// The public surface of booking-ledger/: other folders import it from here, never from its files (eslint.config.js).
export { startExpirySweeper, type SweepReconciler } from './expiry-sweeper.ts'
export {
  createLedgerService,
  lockReservation,
  SourceMismatch,
  type HoldResolution,
  type LedgerService,
  type OnHoldResolved,
} from './ledger-service.ts'
export {
  availIdOf,
  HOLD_MINUTES_DEFAULT,
  ReleaseRequestSchema,
  RESERVATION_STATUSES,
  ReservationIdParamsSchema,
  ReservationListQuerySchema,
  ReservationListSchema,
  ReservationSchema,
  ReserveRequestSchema,
  type ReleaseRequest,
  type Reservation,
  type ReservationListQuery,
  type ReserveRequest,
} from './ledger.schema.ts'
