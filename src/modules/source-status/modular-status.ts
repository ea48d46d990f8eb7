import { sql } from 'kysely'
import type { Queryable } from '../../db/database.ts'
import type { InventorySourceRow } from '../../db/tables.ts'
import { toIso } from '../../shared/clock.ts'
import type { LifecycleStage } from '../contract.ts'
import type { ProjectionInput, ProjectionIssue, RuntimeProjection } from '../readiness/index.ts'
import { rollUpSetupTasks, type ModularStatus, type SetupTask } from './status.schema.ts'

/**
 * GET /inventory-sources/{sourceId}/status for a MODULAR_SOURCE: the managed-source status shape
 * (reference §2.8) computed from local state. Work items are its `workflows`, reservations its
 * `packages`, sellable avails its `products`, and module setup gaps its `setupTasks`.
 */

/** The modular source's answer: the shared status shape with every block present. */
export type SourceStatus = ModularStatus

export interface ModularStatusInput {
  source: InventorySourceRow
  projection: RuntimeProjection
  now: Date
  openWorkItems: { byKind: Record<string, number>; oldestOpenedAt: Date | null }
  liveReservations: number
  impressionsLast24h: number
  /** Live bookings that carry a creative. */
  bookingsWithCreative: number
  /** Avails that can no longer be sold: INACTIVE, or their flight has ended. */
  archivedAvails: number
  lastFeedAt: Date | null
  /** The delivery log of the outbox's webhooks about this source's buys (attempts, not events). */
  webhooks: { deliveredLast24h: number; failedLast24h: number; lastFailureAt: Date | null }
}

const SELLING_STAGES: readonly LifecycleStage[] = ['INGEST_AVAILS', 'CONFIRM_AVAILS', 'HOLD_CAPACITY']

function affectsOf(issue: ProjectionIssue): ('discovery' | 'delivery' | 'setup')[] {
  switch (issue.code) {
    case 'NO_ACTIVE_AVAILS':
    case 'SOURCE_DISABLED':
      return ['discovery', 'delivery']
    case 'NO_BOOKING_LEDGER':
      return ['discovery', 'setup']
    case 'MISSING_SETUP':
    case 'UNKNOWN_PROVIDER':
    case 'MODULE_DISABLED':
      return ['setup']
    default:
      return issue.stage && SELLING_STAGES.includes(issue.stage) ? ['discovery'] : ['delivery']
  }
}

/**
 * Attempts of the last 24 h from the outbox's delivery log: a receiver that answered 500 twice then
 * 200 counts 1 delivered and 2 failed. successRate is a percentage (one decimal); 100 with no attempt.
 */
function webhooksBlock(stats: ModularStatusInput['webhooks']): SourceStatus['webhooks'] {
  const total = stats.deliveredLast24h + stats.failedLast24h
  return {
    last24h: {
      delivered: stats.deliveredLast24h,
      failed: stats.failedLast24h,
      successRate: total === 0 ? 100 : Math.round((stats.deliveredLast24h / total) * 1000) / 10,
    },
    lastFailureAt: toIso(stats.lastFailureAt),
  }
}

export function computeModularStatus(input: ModularStatusInput): SourceStatus {
  const { projection, source } = input
  const base = `/inventory-sources/${source.source_id}/modular`
  const trafficking = projection.modules.find((module) => module.kind === 'TRAFFICKING' && module.status !== 'DISABLED')
  const hasLedger = projection.modules.some((module) => module.kind === 'BOOKING_LEDGER' && module.status === 'ACTIVE')

  const items: SetupTask[] = [
    {
      id: 'source:avails',
      name: 'Ingest avails',
      severity: 'blocker',
      scope: 'platform',
      description: 'Commit an avails feed with at least one avail whose flight has not ended.',
      isComplete: projection.activeAvailCount > 0,
      configurePath: `${base}/avails-feed`,
    },
    {
      id: 'source:booking-ledger',
      name: 'Attach a booking ledger',
      severity: 'blocker',
      scope: 'platform',
      description: 'An ACTIVE booking ledger holds capacity so the source is never overbooked.',
      isComplete: hasLedger,
      configurePath: `${base}/modules`,
    },
    {
      id: 'source:trafficking',
      name: 'Attach a trafficking module',
      severity: 'warning',
      scope: 'platform',
      description: 'Finalizing a booking needs an ACTIVE trafficking module (cadent or manual).',
      isComplete: projection.modules.some((module) => module.kind === 'TRAFFICKING' && module.status === 'ACTIVE'),
      configurePath: `${base}/modules`,
    },
  ]
  for (const module of projection.modules) {
    if (module.status === 'DISABLED') continue
    const missing = module.missingSetupFieldsBySource.flatMap((group) => group.fields.map((field) => field.key))
    items.push({
      id: `module:${module.moduleInstanceId}:setup`,
      name: `Configure ${module.contract?.displayName ?? module.name}`,
      severity: 'blocker',
      scope: 'module',
      description: missing.length > 0 ? `Missing required config: ${missing.join(', ')}.` : 'Every required setup field has a value.',
      isComplete: missing.length === 0,
      configurePath: `${base}/modules/${module.moduleInstanceId}/config`,
    })
    if (module.status === 'ERROR' || module.lastError) {
      items.push({
        id: `module:${module.moduleInstanceId}:error`,
        name: `Resolve the error of ${module.contract?.displayName ?? module.name}`,
        severity: module.status === 'ERROR' ? 'blocker' : 'warning',
        scope: 'module',
        description: module.lastError ?? 'The module was set to ERROR.',
        isComplete: false,
        configurePath: `${base}/work-items?kind=RESOLVE_SOURCE_HEALTH`,
      })
    }
  }

  const issues = projection.issues.map((issue) => ({ code: issue.code, severity: issue.severity, message: issue.message, affects: affectsOf(issue) }))
  const blockedStages = projection.lifecycleSummary.filter((row) => row.status === 'BLOCKED').map((row) => row.stage)
  const discoveryDegraded = source.status !== 'ACTIVE' || projection.activeAvailCount === 0 || !hasLedger
  const deliveryDegraded = blockedStages.some((stage) => !SELLING_STAGES.includes(stage)) || !trafficking || trafficking.status !== 'ACTIVE'
  const isLive = source.status === 'ACTIVE' && projection.inventorySource.healthStatus !== 'unhealthy'
  const summary = !isLive
    ? `Not selling: ${issues.filter((issue) => issue.severity === 'critical').map((issue) => issue.message).join('; ') || 'the source is not ACTIVE'}.`
    : deliveryDegraded
      ? `Selling, but execution needs attention${blockedStages.length > 0 ? ` (${blockedStages.join(', ')} blocked)` : ''}.`
      : 'Selling: avails, ledger and execution are ready.'

  const byKind = Object.fromEntries(Object.entries(input.openWorkItems.byKind).filter(([, count]) => count > 0))
  // Creatives wait on the one kind any provider opens for them (cadent: MAP_CREATIVE_REF).
  const pendingCreatives = byKind.MAP_CREATIVE_REF ?? 0
  const notApplicable = { status: 'not_applicable', lastRunAt: null, itemCount: 0, error: null }

  return {
    adapter: {
      type: trafficking?.provider ?? 'none',
      connected: trafficking?.status === 'ACTIVE' && trafficking.lastError === null,
      lastTestedAt: trafficking?.lastCheckedAt ?? null,
      lastTestError: trafficking?.lastError ?? null,
    },
    syncs: {
      inventory: {
        status: input.lastFeedAt ? 'success' : 'never_run',
        lastRunAt: toIso(input.lastFeedAt),
        itemCount: projection.activeAvailCount,
        error: null,
      },
      customTargeting: notApplicable,
      advertisers: notApplicable,
    },
    workflows: {
      openCount: Object.values(byKind).reduce((sum, count) => sum + count, 0),
      oldestOpenedAt: toIso(input.openWorkItems.oldestOpenedAt),
      byKind,
    },
    packages: { activeCount: input.liveReservations, pausedCount: 0, last24hImpressions: input.impressionsLast24h },
    creatives: { activeCount: input.bookingsWithCreative, pendingReviewCount: pendingCreatives, rejectedLast24hCount: 0 },
    webhooks: webhooksBlock(input.webhooks),
    fetchedAt: input.now.toISOString(),
    products: { activeCount: projection.activeAvailCount, draftCount: 0, archivedCount: input.archivedAvails },
    setupTasks: rollUpSetupTasks(items),
    operational: { isLive, discoveryDegraded, deliveryDegraded, summary, issues },
  }
}

/**
 * What /status shows of the projection's own reads (`facts`): the avail summary and the open work
 * items, so /status does not scan the source's avails and work items a second time.
 */
export function statusFactsOf(facts: ProjectionInput): Pick<ModularStatusInput, 'openWorkItems' | 'archivedAvails' | 'lastFeedAt'> {
  const byKind: Record<string, number> = {}
  let oldestOpenedAt: Date | null = null
  for (const item of facts.openWorkItems) {
    byKind[item.kind] = (byKind[item.kind] ?? 0) + item.count
    if (oldestOpenedAt === null || item.oldestOpenedAt < oldestOpenedAt) oldestOpenedAt = item.oldestOpenedAt
  }
  return { openWorkItems: { byKind, oldestOpenedAt }, archivedAvails: facts.archivedAvailCount, lastFeedAt: facts.lastFeedAt }
}

/**
 * The counts /status reads beside the projection: live reservations, the last 24 hours'
 * impressions and the live bookings with a creative, three tables in one statement.
 */
export async function loadModularStatusCounts(
  db: Queryable,
  source: InventorySourceRow,
  now: Date,
): Promise<Pick<ModularStatusInput, 'liveReservations' | 'impressionsLast24h' | 'bookingsWithCreative'>> {
  const today = now.toISOString().slice(0, 10)
  const yesterday = new Date(now.getTime() - 24 * 60 * 60 * 1000).toISOString().slice(0, 10)
  const counts = await db
    .selectNoFrom((eb) => [
      eb.selectFrom('reservation')
        .select((inner) => inner.fn.countAll<number>().as('count'))
        .where('inventory_source_id', '=', source.id)
        .where((inner) => inner.or([
          inner('status', '=', 'BOOKED'),
          inner.and([inner('status', '=', 'HELD'), inner.or([inner('expires_at', 'is', null), inner('expires_at', '>', now)])]),
        ]))
        .as('live_reservations'),
      eb.selectFrom('delivery_row')
        .select(sql<number>`coalesce(sum(impressions), 0)`.as('impressions'))
        .where('inventory_source_id', '=', source.id)
        .where('delivery_date', 'in', [yesterday, today])
        .as('impressions_last_24h'),
      eb.selectFrom('booking')
        .select((inner) => inner.fn.countAll<number>().as('count'))
        .where('inventory_source_id', '=', source.id)
        .where('status', 'in', ['HELD', 'BOOKED'])
        .where('creative', 'is not', null)
        .as('bookings_with_creative'),
    ])
    .executeTakeFirstOrThrow()
  return {
    liveReservations: Number(counts.live_reservations),
    impressionsLast24h: Number(counts.impressions_last_24h),
    bookingsWithCreative: Number(counts.bookings_with_creative),
  }
}
