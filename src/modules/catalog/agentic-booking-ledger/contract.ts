import { stageContract, type ModuleContract } from '../../contract.ts'

/** The built-in booking ledger: holds capacity against avails so the source is never overbooked. */
export const agenticBookingLedgerContract: ModuleContract = {
  contractId: 'agentic.booking-ledger',
  version: '1.0.0',
  moduleType: 'BOOKING_LEDGER',
  provider: 'agentic',
  displayName: 'Booking ledger',
  description: 'Holds, books and releases impressions against avails with immutable ledger entries.',
  constraints: [
    'Held plus booked impressions never exceed an avail\'s capacity.',
    'Upstream bookings are not tracked here: they are removed from capacity before the feed is committed.',
  ],
  defaultModuleInstanceId: 'booking-ledger',
  setupFields: [],
  stages: [
    stageContract({
      stage: 'HOLD_CAPACITY',
      mode: 'AUTOMATED',
      description: 'Hold requested impressions on an avail until the booking is executed, released or the hold expires.',
      outputKeys: ['reservation'],
      runtimeInputs: ['ACTIVE_AVAILS'],
    }),
  ],
}
