import type { Database } from '../db/database.ts'
import type { LedgerService } from '../modules/booking-ledger/index.ts'
import type { SourceService } from '../sources/source-service.ts'
import type { InventorySourceResponse, UpdateAgentSource } from '../sources/source.schema.ts'
import { findSourceRow } from '../sources/source-store.ts'
import { hasForwardedBuys } from '../sources/upstream-store.ts'
import { fail } from '../shared/errors.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'

export interface SourceWorkflowDeps {
  db: Database
  sources: SourceService
  ledger: LedgerService
  /** Forgets what this process cached about a source (its tenant status) once it changed. */
  forgetCached: (sourceRowId: number) => void
}

export function createSourceWorkflows({ db, sources, ledger, forgetCached }: SourceWorkflowDeps) {
  /** PUT /inventory-sources/{sourceId}: a new key or status makes a cached tenant status stale. */
  async function updateSource(storefrontId: number, sourceId: string, input: UpdateAgentSource): Promise<InventorySourceResponse> {
    const updated = await sources.update(storefrontId, sourceId, input)
    forgetCached(Number(updated.id))
    return updated
  }

  /**
   * Deleting a source removes its modules, avails and work items with it; it is refused while
   * the source still holds or has booked capacity for a buyer, or buyers' media buys live on it.
   */
  async function deleteSource(storefrontId: number, sourceId: string): Promise<void> {
    const rowId = await outcomeTransaction(db, async (trx) => {
      const row = await findSourceRow(trx, storefrontId, sourceId)
      await ledger.assertNoLiveReservations(trx, row.id)
      if (await hasForwardedBuys(trx, row.id)) {
        throw fail.conflict('SOURCE_HAS_FORWARDED_BUYS', `Source ${sourceId} holds media buys forwarded to it; disable it instead of deleting it`)
      }
      await sources.remove(trx, row.id)
      return row.id
    })
    forgetCached(rowId)
  }

  return { updateSource, deleteSource }
}
