import type { Database } from '../db/database.ts'
import { loadProjection } from '../modules/readiness/index.ts'
import { computeModularStatus, loadModularStatusInput, type SourceStatus } from '../modules/source-status/index.ts'
import type { Clock } from '../shared/clock.ts'
import { fail, StorefrontError } from '../shared/errors.ts'
import { findSourceRow } from '../sources/source-store.ts'

export interface SourceStatusWorkflowDeps {
  db: Database
  clock: Clock
}

/**
 * GET /inventory-sources/{sourceId}/status. A MODULAR_SOURCE answers from local state; the
 * upstream tenant status of a MANAGED_SALES_AGENT is not built yet (400); AGENT and
 * LINKED_STOREFRONT sources have no status resource (404, like /esa on a non-managed source).
 */
export function createSourceStatusWorkflows({ db, clock }: SourceStatusWorkflowDeps) {
  async function status(storefrontId: number, sourceId: string): Promise<SourceStatus> {
    const source = await findSourceRow(db, storefrontId, sourceId)
    if (source.execution_type === 'MANAGED_SALES_AGENT') {
      throw new StorefrontError('VALIDATION_ERROR', 'The upstream tenant status of MANAGED_SALES_AGENT sources is not available yet', {
        reason: 'UNSUPPORTED_EXECUTION_TYPE',
        executionType: source.execution_type,
      })
    }
    if (source.execution_type !== 'MODULAR_SOURCE') throw fail.notFound(`Status of inventory source ${sourceId}`)
    const now = clock.now()
    const projection = await loadProjection(db, source, now)
    const extra = await loadModularStatusInput(db, source, now)
    return computeModularStatus({ source, projection, now, ...extra })
  }

  return { status }
}

export type SourceStatusWorkflows = ReturnType<typeof createSourceStatusWorkflows>
