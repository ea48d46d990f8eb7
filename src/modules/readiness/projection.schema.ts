import { z } from 'zod'
import { TimestampSchema } from '../../shared/common.schema.ts'
import { MEDIA_BUY_STATUSES } from '../media-buys/index.ts'
import {
  LIFECYCLE_MODES,
  LIFECYCLE_STAGES,
  MODULE_KINDS,
  MODULE_STATUSES,
  SETUP_FIELD_SOURCES,
  SetupFieldSchema,
  TaskContractSchema,
} from '../contract.ts'

/** The runtime projection of a modular source (reference §2.9, plus SPEC §3 additions). */

export const LIFECYCLE_SUMMARY_STATUSES = [
  'UNSUPPORTED',
  'BLOCKED',
  'MISSING_SETUP',
  'HITL_PENDING',
  'RUNTIME_INPUTS_REQUIRED',
  'READY',
] as const
export type LifecycleSummaryStatus = (typeof LIFECYCLE_SUMMARY_STATUSES)[number]

export const HEALTH_STATUSES = ['healthy', 'degraded', 'unhealthy'] as const
export type HealthStatus = (typeof HEALTH_STATUSES)[number]

/**
 * Issue codes. Closed, like the error reasons: add a line (saying when it is raised) before
 * emitting a new one.
 */
export const projectionIssueCodes = {
  MODULE_ERROR: 'The module is in ERROR (set by an operator or a runtime failure).',
  MODULE_DISABLED: 'The module is DISABLED and fulfils no stage.',
  MISSING_SETUP: 'Required module config fields have no value yet.',
  UNKNOWN_PROVIDER: 'No catalog contract matches the module kind and provider.',
  NO_ACTIVE_AVAILS: 'The source has no ACTIVE avail whose flight has not ended, so it has nothing to sell.',
  NO_BOOKING_LEDGER: 'The source has no ACTIVE booking ledger, so it cannot hold capacity.',
  SOURCE_DISABLED: 'The inventory source is DISABLED.',
  STAGE_BLOCKED: 'A lifecycle stage is BLOCKED by a module error or an open RESOLVE_SOURCE_HEALTH item.',
} as const
export type ProjectionIssueCode = keyof typeof projectionIssueCodes

export const ProjectionIssueSchema = z
  .object({
    code: z.enum(Object.keys(projectionIssueCodes) as [ProjectionIssueCode, ...ProjectionIssueCode[]]),
    severity: z.enum(['warning', 'critical']),
    message: z.string(),
    moduleInstanceId: z.string().nullable(),
    stage: z.enum(LIFECYCLE_STAGES).nullable(),
  })
  .meta({ id: 'ModularProjectionIssue' })
export type ProjectionIssue = z.infer<typeof ProjectionIssueSchema>

export const SetupFieldViewSchema = SetupFieldSchema.omit({ source: true }).meta({ id: 'ModularSetupFieldView' })
export type SetupFieldView = z.infer<typeof SetupFieldViewSchema>

export const SetupFieldGroupSchema = z
  .object({ source: z.enum(SETUP_FIELD_SOURCES), fields: z.array(SetupFieldViewSchema) })
  .meta({ id: 'ModularSetupFieldGroup' })
export type SetupFieldGroup = z.infer<typeof SetupFieldGroupSchema>

export const ModuleContractSummarySchema = z
  .object({
    contractId: z.string(),
    version: z.string(),
    moduleType: z.enum(MODULE_KINDS),
    displayName: z.string(),
    description: z.string(),
    constraints: z.array(z.string()),
    provider: z.string(),
  })
  .meta({ id: 'ModuleContractSummary' })

export const ModuleLifecycleStageSchema = z
  .object({
    stage: z.enum(LIFECYCLE_STAGES),
    mode: z.enum(LIFECYCLE_MODES),
    description: z.string(),
    outputKeys: z.array(z.string()),
    requiredFieldsBySource: z.array(SetupFieldGroupSchema),
    missingSetupFieldsBySource: z.array(SetupFieldGroupSchema),
    moduleConfigReady: z.boolean(),
    workItemKind: z.string().optional(),
    taskContract: TaskContractSchema.optional(),
  })
  .meta({ id: 'ModuleLifecycleStage' })
export type ModuleLifecycleStage = z.infer<typeof ModuleLifecycleStageSchema>

export const ModuleProjectionSchema = z
  .object({
    moduleRowId: z.string(),
    inventorySourceId: z.string(),
    moduleInstanceId: z.string(),
    kind: z.enum(MODULE_KINDS),
    name: z.string(),
    provider: z.string().nullable(),
    status: z.enum(MODULE_STATUSES),
    contractId: z.string().nullable(),
    contractVersion: z.string().nullable(),
    contract: ModuleContractSummarySchema.nullable(),
    config: z.record(z.string(), z.unknown()).describe('Non-secret module config as stored.'),
    configuredFieldKeys: z.array(z.string()),
    missingSetupFieldsBySource: z.array(SetupFieldGroupSchema),
    lifecycle: z.array(ModuleLifecycleStageSchema),
    openWorkItemCount: z.number().int().min(0),
    lastError: z.string().nullable(),
    lastCheckedAt: TimestampSchema.nullable(),
    issues: z.array(ProjectionIssueSchema),
  })
  .meta({ id: 'ModularModuleProjection' })
export type ModuleProjection = z.infer<typeof ModuleProjectionSchema>

export const LifecycleSummaryRowSchema = z
  .object({
    stage: z.enum(LIFECYCLE_STAGES),
    status: z.enum(LIFECYCLE_SUMMARY_STATUSES),
    moduleInstanceIds: z.array(z.string()),
    reason: z.string().nullable(),
  })
  .meta({ id: 'LifecycleSummaryRow' })
export type LifecycleSummaryRow = z.infer<typeof LifecycleSummaryRowSchema>

/** One count per declared work-item kind (work-queue/work-item-kinds.ts), zeros included. */
const workItemKindCounts = z.record(z.string(), z.number().int().min(0))

export const RuntimeProjectionSchema = z
  .object({
    inventorySource: z.object({
      id: z.string(),
      storefrontId: z.string(),
      sourceId: z.string(),
      name: z.string(),
      executionType: z.literal('MODULAR_SOURCE'),
      status: z.enum(['PENDING', 'ACTIVE', 'DISABLED']),
      healthStatus: z.enum(HEALTH_STATUSES),
      lastError: z.string().nullable(),
      lastCheckedAt: TimestampSchema.nullable(),
    }),
    modules: z.array(ModuleProjectionSchema),
    openWorkItemCount: z.number().int().min(0),
    lifecycleSummary: z.array(LifecycleSummaryRowSchema),
    activeAvailCount: z.number().int().min(0),
    mediaBuyCountsByStatus: z
      .object(Object.fromEntries(MEDIA_BUY_STATUSES.map((status) => [status, z.number().int().min(0)])) as Record<(typeof MEDIA_BUY_STATUSES)[number], z.ZodNumber>)
      .describe('AdCP media buys with a package on this source, per status (submitted: its task is open), zero included.'),
    openWorkItemCountsByKind: workItemKindCounts.describe('Every work-item kind, zero included.'),
    moduleConfigReady: z.boolean().describe('Every enabled module has all its required config.'),
    setupMetadata: z.record(z.string(), z.unknown()).describe('Non-secret questionnaire answers given at creation.'),
    issues: z.array(ProjectionIssueSchema),
  })
  .meta({ id: 'InventorySourceRuntimeProjection' })
export type RuntimeProjection = z.infer<typeof RuntimeProjectionSchema>

/** What every endpoint that creates a modular source answers (feed, cadent-demo). */
export const ModularSourceCreatedSchema = z
  .object({ inventorySourceId: z.string(), sourceId: z.string(), projection: RuntimeProjectionSchema })
  .meta({ id: 'ModularSourceCreated' })
export type ModularSourceCreated = z.infer<typeof ModularSourceCreatedSchema>
