import type { Database } from '../db/database.ts'
import type { InventorySourceRow } from '../db/tables.ts'
import { webhookStatsOfSource } from '../modules/buyer-webhooks/index.ts'
import { computeProjection, loadProjectionInput } from '../modules/readiness/index.ts'
import {
  computeModularStatus,
  knownSourceStatus,
  loadModularStatusCounts,
  statusFactsOf,
  storefrontSetupTasks,
  withStorefrontSetupTasks,
  type InventorySourceStatus,
} from '../modules/source-status/index.ts'
import type { Clock } from '../shared/clock.ts'
import { fail, StorefrontError } from '../shared/errors.ts'
import { createSingleFlightCache } from '../shared/single-flight-cache.ts'
import type { SourceService } from '../sources/source-service.ts'
import type { RefreshResponse } from '../sources/source.schema.ts'
import { summarizeSourceCalls } from '../sources/source-call-store.ts'
import type { SourceCallRecorder } from '../sources/source-call-recorder.ts'
import { findSourceRow } from '../sources/source-store.ts'
import type { TenantManagementClient } from '../sources/tenant-management-client.ts'

/** How long a managed tenant's status is reused, like the sales agent's own cache of it. */
export const TENANT_STATUS_TTL_MS = 5_000

export interface SourceStatusWorkflowDeps {
  db: Database
  clock: Clock
  sources: SourceService
  tenants: TenantManagementClient
  /** The traffic record: an AGENT's status counts the calls it was sent. */
  sourceCalls: Pick<SourceCallRecorder, 'flush'>
}

/** The window of the traffic figures in an AGENT source's status. */
export const STATUS_TRAFFIC_HOURS = 24

/**
 * GET /inventory-sources/{sourceId}/status: one shape for every kind. A MODULAR_SOURCE answers
 * from local state; a MANAGED_SALES_AGENT from its tenant (read at most once per 5 s per source
 * in this process, a burst of reads sharing one call), with the storefront's own setup tasks
 * merged in; AGENT and LINKED_STOREFRONT sources from what the storefront recorded of them.
 */
export function createSourceStatusWorkflows({ db, clock, sources, tenants, sourceCalls }: SourceStatusWorkflowDeps) {
  // Keyed by the row id, which is never reused: a deleted source's entry can only expire.
  const tenantStatuses = createSingleFlightCache<number, InventorySourceStatus>({ ttlMs: TENANT_STATUS_TTL_MS, clock })

  async function readTenant(source: InventorySourceRow): Promise<InventorySourceStatus> {
    const read = await tenants.readTenantStatus(sources.managedConnection(source))
    if (!read.ok) {
      throw new StorefrontError('UPSTREAM_ERROR', `The tenant status could not be read: ${read.message}`, { reason: read.reason })
    }
    return read.value.status
  }

  async function status(storefrontId: number, sourceId: string): Promise<InventorySourceStatus> {
    const source = await findSourceRow(db, storefrontId, sourceId)
    switch (source.execution_type) {
      case 'MODULAR_SOURCE': {
        const now = clock.now()
        // Independent reads: on PostgreSQL they run side by side on the pool's connections.
        const [facts, counts, webhooks] = await Promise.all([
          loadProjectionInput(db, source, now),
          loadModularStatusCounts(db, source, now),
          webhookStatsOfSource(db, { sourceRowId: source.id, since: new Date(now.getTime() - 24 * 60 * 60 * 1000) }),
        ])
        return computeModularStatus({
          source,
          projection: computeProjection(facts),
          now,
          ...statusFactsOf(facts),
          ...counts,
          webhooks: { deliveredLast24h: webhooks.delivered, failedLast24h: webhooks.failed, lastFailureAt: webhooks.lastFailureAt },
        })
      }
      case 'MANAGED_SALES_AGENT': {
        const tenant = await tenantStatuses.get(source.id, () => readTenant(source))
        // The storefront's tasks come from the row as it is now, not as it was when the tenant was read.
        return withStorefrontSetupTasks(tenant, storefrontSetupTasks(source))
      }
      case 'AGENT': {
        await sourceCalls.flush()
        const now = clock.now()
        const stats = await summarizeSourceCalls(db, source.id, new Date(now.getTime() - STATUS_TRAFFIC_HOURS * 3_600_000))
        const byTool = stats.filter((row) => row.tool !== null).map((row) => ({ tool: row.tool!, requests: row.requests, failed: row.failed, timeouts: row.timeouts }))
        return knownSourceStatus(source, now, { hours: STATUS_TRAFFIC_HOURS, byTool })
      }
      case 'LINKED_STOREFRONT':
        // Linked storefronts are not sold through this one: there is no traffic to count.
        return knownSourceStatus(source, clock.now())
    }
  }

  /**
   * POST /{sourceId}/refresh: the next status read goes to the tenant. Managed sources only. The
   * reference's answer (T-refresh): `already_running` while a read of this tenant is in flight in
   * this process, else `started`; `syncRunIds` is empty because the storefront starts no syncs.
   */
  async function refresh(storefrontId: number, sourceId: string): Promise<RefreshResponse> {
    const source = await findSourceRow(db, storefrontId, sourceId)
    if (source.execution_type !== 'MANAGED_SALES_AGENT') throw fail.notFound(`Cached tenant status of ${source.execution_type} source ${sourceId}`)
    const running = tenantStatuses.loading(source.id)
    return {
      status: running ? 'already_running' : 'started',
      syncRunIds: {},
      sourceId,
      cachedStatusDropped: tenantStatuses.drop(source.id),
      refreshedAt: clock.now().toISOString(),
    }
  }

  /** A change to the source (its key, its status) or its deletion: its cached tenant status is stale. */
  function forget(sourceRowId: number): void {
    tenantStatuses.drop(sourceRowId)
  }

  return { status, refresh, forget }
}

export type SourceStatusWorkflows = ReturnType<typeof createSourceStatusWorkflows>
