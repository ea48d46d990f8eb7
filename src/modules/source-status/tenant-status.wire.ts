import { z } from 'zod'
import { OPERATIONAL_ISSUE_AFFECTS, OPERATIONAL_ISSUE_SEVERITIES, SETUP_TASK_SEVERITIES, TENANT_SETUP_TASK_SCOPES } from './status.schema.ts'

/**
 * The reference sales agent's `TenantStatusResponse` as it travels (GET
 * /api/v1/tenant-management/tenants/{tenant_id}/status): snake_case, the blocks of its managed
 * lineage (adcp.md §2). Objects are loose: fields this schema does not know are kept, so the
 * storefront passes a newer agent's additions through instead of dropping them. What it does know
 * is checked, because the storefront recounts setup tasks and shows these values as facts.
 *
 * Required are the blocks every version of the agent emits (adapter, syncs, workflows, packages,
 * creatives, fetched_at); media_buys, products, setup_tasks, webhooks and operational came later or may be
 * null, and stay absent when the agent leaves them out.
 */

const OFFSET_FREE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/
const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i

/**
 * Python datetimes as pydantic writes them: `Z`, `+00:00`, or no offset at all for a naive UTC
 * value read from the database. Emitted as the storefront's ISO-8601 UTC ending in Z.
 */
export const WireTimestampSchema = z.string().transform((text, context) => {
  const candidate = OFFSET_FREE.test(text) ? `${text}Z` : WITH_OFFSET.test(text) ? text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2') : null
  const millis = candidate === null ? Number.NaN : Date.parse(candidate)
  if (Number.isNaN(millis)) {
    context.addIssue({ code: 'custom', message: 'must be an ISO-8601 date-time' })
    return z.NEVER
  }
  return new Date(millis).toISOString()
})

const Count = z.number().int().min(0)

const SyncRunSchema = z.looseObject({
  status: z.string(),
  last_run_at: WireTimestampSchema.nullable().optional(),
  item_count: Count.nullable().optional(),
  error: z.string().nullable().optional(),
  last_success_at: WireTimestampSchema.nullable().optional(),
})

export const TenantSetupTaskWireSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  // The reference's Literals: the storefront recounts by severity, so another value is not a status it can show.
  severity: z.enum(SETUP_TASK_SEVERITIES),
  scope: z.enum(TENANT_SETUP_TASK_SCOPES),
  description: z.string(),
  is_complete: z.boolean(),
  configure_path: z.string().nullable().optional(),
})

export const TenantStatusWireSchema = z.looseObject({
  adapter: z.looseObject({
    type: z.string(),
    connected: z.boolean(),
    last_tested_at: WireTimestampSchema.nullable().optional(),
    last_test_error: z.string().nullable().optional(),
  }),
  // Newer agents add sync types (reporting, signal_coverage, pricing_availability): each is a run block too.
  syncs: z.object({ inventory: SyncRunSchema, custom_targeting: SyncRunSchema, advertisers: SyncRunSchema }).catchall(SyncRunSchema),
  workflows: z.looseObject({
    open_count: Count,
    oldest_opened_at: WireTimestampSchema.nullable().optional(),
    by_kind: z.record(z.string(), Count),
  }),
  media_buys: z.looseObject({ active_count: Count, pending_approval_count: Count }).optional(),
  packages: z.looseObject({ active_count: Count, paused_count: Count, last_24h_impressions: Count.optional() }),
  products: z.looseObject({ active_count: Count, draft_count: Count, archived_count: Count }).optional(),
  creatives: z.looseObject({ active_count: Count, pending_review_count: Count, rejected_last_24h_count: Count }),
  webhooks: z
    .looseObject({
      last_24h: z.looseObject({ delivered: Count.optional(), failed: Count.optional(), success_rate: z.number().optional() }),
      last_failure_at: WireTimestampSchema.nullable().optional(),
    })
    .nullable()
    .optional(),
  setup_tasks: z
    .looseObject({ blocker_count: Count, warning_count: Count, items: z.array(TenantSetupTaskWireSchema) })
    .optional(),
  // The reference's own /status has it (interchange-api §2.8); an agent that sends it is checked like the rest.
  operational: z
    .looseObject({
      is_live: z.boolean(),
      discovery_degraded: z.boolean(),
      delivery_degraded: z.boolean(),
      summary: z.string(),
      issues: z.array(z.looseObject({
        code: z.string(),
        severity: z.enum(OPERATIONAL_ISSUE_SEVERITIES),
        message: z.string(),
        affects: z.array(z.enum(OPERATIONAL_ISSUE_AFFECTS)),
      })),
    })
    .optional(),
  fetched_at: WireTimestampSchema,
})

export type TenantStatusWire = z.output<typeof TenantStatusWireSchema>
export type TenantSetupTaskWire = z.output<typeof TenantSetupTaskWireSchema>

/**
 * Keys whose values are maps keyed by data (workflow kinds are the agent's tool names, such as
 * create_media_buy), not by field names: their keys are kept as sent.
 */
export const DATA_KEYED_MAPS: ReadonlySet<string> = new Set(['workflows.by_kind'])
