import type { Database } from '../db/database.ts'
import type { LedgerService } from '../modules/booking-ledger/index.ts'
import type { SourceService } from '../sources/source-service.ts'
import { findSourceRow } from '../sources/source-store.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'

export function createSourceWorkflows({ db, sources, ledger }: { db: Database; sources: SourceService; ledger: LedgerService }) {
  /**
   * Deleting a source removes its modules, avails and work items with it; it is refused while
   * the source still holds or has booked capacity for a buyer.
   */
  async function deleteSource(storefrontId: number, sourceId: string): Promise<void> {
    await outcomeTransaction(db, async (trx) => {
      const row = await findSourceRow(trx, storefrontId, sourceId)
      await ledger.assertNoLiveReservations(trx, row.id)
      await sources.remove(trx, row.id)
    })
  }

  return { deleteSource }
}
