import type { Database } from '../db/database.ts'
import { findSourceRow, type SourceService } from '../sources/source-service.ts'

export function createSourceWorkflows({ db, sources }: { db: Database; sources: SourceService }) {
  /**
   * Deleting a source removes its modules, avails and work items with it; it is refused while
   * the source still holds or has booked capacity for a buyer.
   */
  async function deleteSource(storefrontId: number, sourceId: string): Promise<void> {
    await db.transaction().execute(async (trx) => {
      const row = await findSourceRow(trx, storefrontId, sourceId)
      await sources.remove(trx, row.id)
    })
  }

  return { deleteSource }
}
