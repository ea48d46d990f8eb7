import { z } from 'zod'
import { TimestampSchema } from '../shared/common.schema.ts'
import { EXECUTION_TYPES, SOURCE_STATUSES } from './source.schema.ts'

/**
 * GET /inventory-sources/{sourceId}/diagnostics (reference §2.7): an AGENT or MODULAR_SOURCE
 * source's traffic over a window, every figure computed from the storefront's record of it
 * (source_call, migration 0020). docs/sources.md "Diagnostics" describes each field.
 */

/** The service window when windowHours is not given. */
export const DEFAULT_DIAGNOSTICS_WINDOW_HOURS = 24
export const MAX_DIAGNOSTICS_WINDOW_HOURS = 720
/** How many of the latest calls recentActivity shows. */
export const RECENT_ACTIVITY_LIMIT = 20

export const DiagnosticsQuerySchema = z.object({
  windowHours: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_DIAGNOSTICS_WINDOW_HOURS)
    .optional()
    .describe(`Hours back from now, 1..${MAX_DIAGNOSTICS_WINDOW_HOURS}; default ${DEFAULT_DIAGNOSTICS_WINDOW_HOURS}.`),
})
export type DiagnosticsQuery = z.output<typeof DiagnosticsQuerySchema>

const Count = z.number().int().min(0)
const Rate = z.number().min(0).max(1).nullable().describe('Share of the requests, 0..1 (4 decimals); null when there were none.')
const Millis = z.number().min(0).nullable()

export const CAPABILITY_SUPPORT = ['supported', 'unknown', 'unsupported'] as const
export const CALL_OUTCOMES = ['completed', 'failed', 'input_required', 'timeout'] as const
export const DIAGNOSIS_SEVERITIES = ['ok', 'info', 'warning', 'critical'] as const
export const HEALTH_STATES = ['healthy', 'degraded', 'unhealthy', 'unknown'] as const

const Support = z.enum(CAPABILITY_SUPPORT)

export const CallCountsSchema = z.object({
  requestCount: Count,
  responseCount: Count.describe('Requests the source answered (an answer or an AdCP error): not timed out, not unreachable.'),
  completedCount: Count,
  failedCount: Count,
  inputRequiredCount: Count,
  timeoutCount: Count,
  completionRate: Rate,
  failureRate: Rate,
  inputRequiredRate: Rate,
  timeoutRate: Rate,
  latencyMs: z.object({ p50: Millis, p95: Millis, p99: Millis, max: Millis }).describe('percentile_cont over the recorded latencies; null without requests.'),
})

export const ThresholdSchema = z.object({
  name: z.enum(['latencyP95Ms', 'errorRate']),
  limit: z.number(),
  observed: z.number().nullable(),
  breached: z.boolean(),
})

export const SourceDiagnosticsSchema = z
  .object({
    source: z.object({
      id: z.string(),
      sourceId: z.string(),
      name: z.string(),
      executionType: z.enum(EXECUTION_TYPES),
      status: z.enum(SOURCE_STATUSES),
      endpoint: z.string().nullable(),
      protocol: z.string().nullable(),
      auth: z.object({ type: z.string().nullable(), required: z.boolean(), configured: z.boolean() }),
      capabilities: z.object({
        tools: z.array(z.string()).describe('AGENT: the tools the last passed probe required and found; MODULAR: the buyer tools the storefront serves for it.'),
        products: Support,
        createMediaBuy: Support,
        updateMediaBuy: Support,
        signals: Support,
        basis: z.string().describe('Where these values come from.'),
        probedAt: TimestampSchema.nullable(),
      }),
      health: z.object({ status: z.enum(HEALTH_STATES), lastCheckedAt: TimestampSchema.nullable(), lastError: z.string().nullable() }),
    }),
    window: z.object({ hours: Count, from: TimestampSchema, to: TimestampSchema, isDefault: z.boolean() }),
    performance: CallCountsSchema.extend({
      thresholds: z.array(ThresholdSchema),
      thresholdBreached: z.boolean(),
      lastCallAt: TimestampSchema.nullable(),
    }),
    toolBreakdown: z.array(CallCountsSchema.extend({ tool: z.string(), lastCallAt: TimestampSchema.nullable() })),
    discoveryParticipation: z.object({
      getProductsCalls: Count.describe('Buyer get_products calls that asked this source (AGENT) or whose catalog read it (modular).'),
      contributedCalls: Count.describe('Of those, the calls it contributed at least one product to.'),
      productsContributed: Count,
      contributionRate: Rate,
    }),
    outcomeMix: z.array(z.object({
      outcome: z.enum(CALL_OUTCOMES),
      errorCode: z.string().nullable(),
      count: Count,
      share: z.number().min(0).max(1),
      lastAt: TimestampSchema,
    })),
    demandImpact: z.object({
      mediaBuysConfirmed: Count.describe('create_media_buy calls answered with a buy.'),
      mediaBuysSubmitted: Count.describe('create_media_buy calls answered with a task (people or the upstream still on it).'),
      packages: Count,
      budget: z.array(z.object({ currency: z.string().nullable().describe('null: not stated in the answer (an upstream task).'), amount: z.number().min(0) })),
    }),
    recentActivity: z.array(z.object({
      callId: z.string(),
      tool: z.string(),
      outcome: z.enum(CALL_OUTCOMES),
      errorCode: z.string().nullable(),
      errorMessage: z.string().nullable(),
      latencyMs: Count,
      products: Count.nullable(),
      packages: Count.nullable(),
      budget: z.number().nullable(),
      currency: z.string().nullable(),
      mediaBuyId: z.string().nullable(),
      at: TimestampSchema,
    })),
    diagnosis: z.object({
      severity: z.enum(DIAGNOSIS_SEVERITIES),
      summary: z.string(),
      likelyCause: z.string().nullable(),
      nextSteps: z.array(z.string()),
      handoffIds: z.array(z.string()).describe('callIds of the latest failed or timed-out calls (and media_buy_ids they were about), to quote to whoever runs the source.'),
    }),
    generatedAt: TimestampSchema,
  })
  .meta({ id: 'SourceDiagnostics' })
export type SourceDiagnostics = z.output<typeof SourceDiagnosticsSchema>
