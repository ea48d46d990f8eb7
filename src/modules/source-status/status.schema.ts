import { z } from 'zod'
import { TimestampSchema } from '../../shared/common.schema.ts'

/**
 * The one status shape of every source kind (GET /inventory-sources/{sourceId}/status): the
 * managed sales agent's tenant status in camelCase (reference §2.8, seed 003). A modular source
 * fills every block from local state; a managed source mirrors its tenant (blocks the agent left
 * out stay absent, fields the storefront does not know pass through); an AGENT or
 * LINKED_STOREFRONT source has only what the storefront knows of it. Objects are loose so the
 * fields a managed tenant adds reach the operator.
 */

const Count = z.number().int().min(0)

export const AdapterBlockSchema = z.looseObject({
  type: z.string().describe('The ad server of a managed tenant (google_ad_manager…), the trafficking provider of a modular source (cadent, manual, none), adcp_mcp or adcp_a2a for an AGENT.'),
  connected: z.boolean(),
  lastTestedAt: TimestampSchema.nullable().optional(),
  lastTestError: z.string().nullable().optional(),
})

export const SyncBlockSchema = z.looseObject({
  status: z.string().describe('success, failed, running or never_run (every kind of source); not_applicable for a sync a modular source does not have.'),
  lastRunAt: TimestampSchema.nullable().optional(),
  itemCount: Count.nullable().optional(),
  error: z.string().nullable().optional(),
})

const syncs = { inventory: SyncBlockSchema, customTargeting: SyncBlockSchema, advertisers: SyncBlockSchema }

export const WorkflowsBlockSchema = z.looseObject({
  openCount: Count,
  oldestOpenedAt: TimestampSchema.nullable().optional(),
  byKind: z.record(z.string(), Count).describe('Open workflows by kind; the kinds are kept as the source names them.'),
})

export const MediaBuysBlockSchema = z.looseObject({ activeCount: Count, pendingApprovalCount: Count })

export const PackagesBlockSchema = z.looseObject({ activeCount: Count, pausedCount: Count, last24hImpressions: Count.optional() })

export const CreativesBlockSchema = z.looseObject({ activeCount: Count, pendingReviewCount: Count, rejectedLast24hCount: Count })

export const WebhooksBlockSchema = z.looseObject({
  last24h: z.looseObject({ delivered: Count.optional(), failed: Count.optional(), successRate: z.number().optional() }),
  lastFailureAt: TimestampSchema.nullable().optional(),
})

export const ProductsBlockSchema = z.looseObject({ activeCount: Count, draftCount: Count, archivedCount: Count })

export const SETUP_TASK_SEVERITIES = ['blocker', 'warning', 'info'] as const
/** The scopes a managed tenant's own tasks have (the reference's Literal). */
export const TENANT_SETUP_TASK_SCOPES = ['platform', 'publisher'] as const
/** module: the storefront's own tasks of a modular source's modules. */
export const SETUP_TASK_SCOPES = [...TENANT_SETUP_TASK_SCOPES, 'module'] as const

export const SetupTaskSchema = z.looseObject({
  id: z.string().describe('source:… and module:… are the storefront\'s own tasks; other ids are the managed tenant\'s.'),
  name: z.string(),
  severity: z.enum(SETUP_TASK_SEVERITIES),
  scope: z.enum(SETUP_TASK_SCOPES).describe('platform: the storefront (the host) finishes it; publisher: the seller, in the sales agent; module: a module of a modular source.'),
  description: z.string(),
  isComplete: z.boolean(),
  configurePath: z.string().nullable().optional().describe('Storefront tasks: a path under /api/v2/storefront. Tenant tasks: a path under the tenant admin root, as the sales agent sent it.'),
})
export type SetupTask = z.output<typeof SetupTaskSchema>

export const SetupTasksBlockSchema = z.looseObject({ blockerCount: Count, warningCount: Count, items: z.array(SetupTaskSchema) })

/**
 * The rollup of a task list: open blockers and open warnings. Counted from the items, never
 * taken from a source, so a merged list counts what it shows.
 */
export function rollUpSetupTasks(items: SetupTask[]): { blockerCount: number; warningCount: number; items: SetupTask[] } {
  const open = items.filter((task) => !task.isComplete)
  return {
    blockerCount: open.filter((task) => task.severity === 'blocker').length,
    warningCount: open.filter((task) => task.severity === 'warning').length,
    items,
  }
}

export const OPERATIONAL_ISSUE_SEVERITIES = ['warning', 'critical'] as const
export const OPERATIONAL_ISSUE_AFFECTS = ['discovery', 'delivery', 'setup'] as const

export const OperationalBlockSchema = z.object({
  isLive: z.boolean(),
  discoveryDegraded: z.boolean(),
  deliveryDegraded: z.boolean(),
  summary: z.string(),
  issues: z.array(z.object({
    code: z.string(),
    severity: z.enum(OPERATIONAL_ISSUE_SEVERITIES),
    message: z.string(),
    affects: z.array(z.enum(OPERATIONAL_ISSUE_AFFECTS)),
  })),
})

export const InventorySourceStatusSchema = z
  .looseObject({
    adapter: AdapterBlockSchema,
    syncs: z.looseObject({ inventory: SyncBlockSchema.optional(), customTargeting: SyncBlockSchema.optional(), advertisers: SyncBlockSchema.optional() }).optional(),
    workflows: WorkflowsBlockSchema.optional(),
    mediaBuys: MediaBuysBlockSchema.optional(),
    packages: PackagesBlockSchema.optional(),
    creatives: CreativesBlockSchema.optional(),
    webhooks: WebhooksBlockSchema.nullable().optional().describe('null when a managed tenant does not report webhooks yet.'),
    fetchedAt: TimestampSchema.describe('When the storefront computed this status, or read it from the managed tenant.'),
    products: ProductsBlockSchema.optional(),
    setupTasks: SetupTasksBlockSchema.optional(),
    operational: OperationalBlockSchema.optional(),
  })
  .meta({ id: 'InventorySourceStatus' })
export type InventorySourceStatus = z.output<typeof InventorySourceStatusSchema>

/** What a modular source always answers: every block, computed from local state. */
export const ModularStatusSchema = z.object({
  adapter: AdapterBlockSchema,
  syncs: z.object(syncs),
  workflows: WorkflowsBlockSchema,
  packages: PackagesBlockSchema,
  creatives: CreativesBlockSchema,
  webhooks: WebhooksBlockSchema,
  fetchedAt: TimestampSchema,
  products: ProductsBlockSchema,
  setupTasks: SetupTasksBlockSchema,
  operational: OperationalBlockSchema,
})
export type ModularStatus = z.output<typeof ModularStatusSchema>
