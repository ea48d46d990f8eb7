import type { Provider } from '../../provider.ts'
import { agenticBookingLedgerContract } from './contract.ts'

/** The ledger's behaviour lives in booking-ledger/; the provider only declares its stage. */
export const agenticBookingLedgerProvider: Provider = { contract: agenticBookingLedgerContract }
