import { z } from 'zod'
import { WORK_ITEM_KIND_PATTERN, type WorkItemKind } from './work-queue/index.ts'

/**
 * A module contract is data: which setup fields a provider needs (grouped by where the value
 * comes from) and which lifecycle stages it fulfils, in which mode. The readiness projection,
 * the docs table and the work queue all read the same contract; no code path branches on a
 * provider name to learn what it can do.
 */

export const MODULE_KINDS = ['INVENTORY_FEED', 'BOOKING_LEDGER', 'TRAFFICKING', 'STATUS_SYNC', 'REPORTING_IMPORT'] as const
export type ModuleKind = (typeof MODULE_KINDS)[number]

export const MODULE_STATUSES = ['CONFIGURING', 'ACTIVE', 'DISABLED', 'ERROR'] as const
export type ModuleStatus = (typeof MODULE_STATUSES)[number]

/** What an operator or a runtime failure may pin; ACTIVE and CONFIGURING are derived. */
export const MODULE_STATUS_OVERRIDES = ['DISABLED', 'ERROR'] as const
export type ModuleStatusOverride = (typeof MODULE_STATUS_OVERRIDES)[number]

export const LIFECYCLE_MODES = ['AUTOMATED', 'HITL', 'UNSUPPORTED'] as const
export type LifecycleMode = (typeof LIFECYCLE_MODES)[number]

/** Every stage a built-in module can fulfil, in lifecycle order (the summary keeps this order). */
export const LIFECYCLE_STAGES = [
  'INGEST_AVAILS',
  'CONFIRM_AVAILS',
  'HOLD_CAPACITY',
  'RENDER_TRAFFICKING_PAYLOAD',
  'TRAFFIC_CAMPAIGN',
  'MAP_CREATIVES',
  'EXECUTE_UPSTREAM_BOOKING',
  'IMPORT_FINAL_REPORT',
] as const
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number]

/**
 * Where a setup value comes from: MODULE_CONFIG values are written with PATCH .../config;
 * INVENTORY_FEED values arrive with each avail (e.g. its targeting) and never block module setup.
 */
export const SETUP_FIELD_SOURCES = ['MODULE_CONFIG', 'INVENTORY_FEED'] as const
export type SetupFieldSource = (typeof SETUP_FIELD_SOURCES)[number]

export const SETUP_VALUE_TYPES = ['STRING', 'URL', 'ENUM', 'CRON', 'OBJECT'] as const
export type SetupValueType = (typeof SETUP_VALUE_TYPES)[number]

/** Work-item kinds are declared by the contracts that open them (work-queue/work-item-kinds.ts). */
export type { WorkItemKind } from './work-queue/index.ts'
const WorkItemKindSchema = z.string().regex(WORK_ITEM_KIND_PATTERN)

/**
 * Runtime inputs a stage needs beyond its setup. Closed: the readiness projection knows how to
 * check each one. Per-booking inputs (a creative, a final report) arrive as HITL work items and
 * show as HITL_PENDING while one is open; FINAL_REPORTS catches a report owed with no item open.
 */
export const RUNTIME_INPUTS = {
  ACTIVE_AVAILS: 'At least one ACTIVE avail whose flight has not ended.',
  FINAL_REPORTS: 'A final report imported for every BOOKED line whose flight has ended.',
} as const
export type RuntimeInput = keyof typeof RUNTIME_INPUTS

export const SetupFieldSchema = z
  .object({
    key: z.string(),
    label: z.string(),
    description: z.string(),
    required: z.boolean(),
    /** Stages that cannot run without the field; empty with `required: true` means every stage of the module. */
    requiredFor: z.array(z.enum(LIFECYCLE_STAGES)),
    /** Where the value lands downstream (e.g. the Cadent XML element it fills). */
    mapsTo: z.string().nullable(),
    enumValues: z.array(z.string()),
    source: z.enum(SETUP_FIELD_SOURCES),
    valueType: z.enum(SETUP_VALUE_TYPES),
  })
  .meta({ id: 'ModuleSetupField' })
export type SetupField = z.infer<typeof SetupFieldSchema>

export const OperatorActionSchema = z
  .object({
    label: z.string(),
    instructions: z.string(),
  })
  .meta({ id: 'ModuleOperatorAction' })

export const TaskContractSchema = z
  .object({
    taskId: z.string(),
    requiredInputKeys: z.array(z.string()),
    requiredResultKeys: z.array(z.string()),
    outputKeys: z.array(z.string()),
    retryable: z.boolean(),
    blocksStage: z.boolean(),
    workItemKind: WorkItemKindSchema.nullable(),
    fallbackWorkItemKind: WorkItemKindSchema.nullable(),
    operatorAction: OperatorActionSchema.nullable(),
  })
  .meta({ id: 'ModuleTaskContract' })
export type TaskContract = z.infer<typeof TaskContractSchema>

/** The stage's mode switches to `mode` while config `configKey` holds a value. */
export const ModeWhenSchema = z.object({ configKey: z.string(), mode: z.enum(LIFECYCLE_MODES) })
export type ModeWhen = z.infer<typeof ModeWhenSchema>

export const StageContractSchema = z.object({
  stage: z.enum(LIFECYCLE_STAGES),
  mode: z.enum(LIFECYCLE_MODES),
  /** First match wins; without a match the stage keeps `mode`. */
  modeWhen: z.array(ModeWhenSchema),
  description: z.string(),
  outputKeys: z.array(z.string()),
  workItemKind: WorkItemKindSchema.nullable(),
  runtimeInputs: z.array(z.enum(Object.keys(RUNTIME_INPUTS) as [RuntimeInput, ...RuntimeInput[]])),
  taskContract: TaskContractSchema.nullable(),
})
export type StageContract = z.infer<typeof StageContractSchema>

export const ModuleContractSchema = z.object({
  contractId: z.string(),
  version: z.string(),
  moduleType: z.enum(MODULE_KINDS),
  provider: z.string().regex(/^[a-z0-9_-]+$/),
  displayName: z.string(),
  description: z.string(),
  constraints: z.array(z.string()),
  /** The instance id used when an operator attaches the module without naming it. */
  defaultModuleInstanceId: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
  setupFields: z.array(SetupFieldSchema),
  stages: z.array(StageContractSchema),
})
export type ModuleContract = z.infer<typeof ModuleContractSchema>

/** Fills the optional parts of a field so contract files list only what matters. */
export function setupField(field: Pick<SetupField, 'key' | 'label' | 'description'> & Partial<SetupField>): SetupField {
  return {
    required: false,
    requiredFor: [],
    mapsTo: null,
    enumValues: [],
    source: 'MODULE_CONFIG',
    valueType: field.enumValues && field.enumValues.length > 0 ? 'ENUM' : 'STRING',
    ...field,
  }
}

export function stageContract(stage: Pick<StageContract, 'stage' | 'mode' | 'description'> & Partial<StageContract>): StageContract {
  return { modeWhen: [], outputKeys: [], workItemKind: null, runtimeInputs: [], taskContract: null, ...stage }
}

/** A HITL task: the work item it opens and the result keys that complete it. */
export function humanTask(
  task: Pick<TaskContract, 'taskId' | 'workItemKind'> & Partial<TaskContract>,
): TaskContract {
  return {
    requiredInputKeys: [],
    requiredResultKeys: [],
    outputKeys: [],
    retryable: true,
    blocksStage: true,
    fallbackWorkItemKind: null,
    operatorAction: null,
    ...task,
  }
}

/** A module config is a JSON object of non-secret values. */
export type ModuleConfig = Record<string, unknown>

/** A value counts as configured unless it is absent, null or an empty/blank string. */
export function hasValue(value: unknown): boolean {
  if (value === undefined || value === null) return false
  if (typeof value === 'string') return value.trim().length > 0
  return true
}

/** Fields a stage cannot run without: those naming it in requiredFor, plus required fields naming none. */
export function requiredFieldsForStage(contract: ModuleContract, stage: LifecycleStage): SetupField[] {
  return contract.setupFields.filter(
    (field) => field.required && (field.requiredFor.length === 0 || field.requiredFor.includes(stage)),
  )
}

/** Required MODULE_CONFIG fields missing from the config; other sources are not the module's to fill. */
export function missingConfigFields(fields: readonly SetupField[], config: ModuleConfig): SetupField[] {
  return fields.filter((field) => field.required && field.source === 'MODULE_CONFIG' && !hasValue(config[field.key]))
}

/** The stage's effective mode for this config (e.g. Cadent trafficking is AUTOMATED once an endpoint is set). */
export function resolveStageMode(stage: StageContract, config: ModuleConfig): LifecycleMode {
  const match = stage.modeWhen.find((rule) => hasValue(config[rule.configKey]))
  return match ? match.mode : stage.mode
}

/** Every work-item kind a contract declares: those its stages and their tasks open. */
export function contractWorkItemKinds(contract: ModuleContract): WorkItemKind[] {
  return [...new Set(contract.stages.flatMap(stageWorkItemKinds))]
}

/** Every work-item kind that means "a human is working on this stage". */
export function stageWorkItemKinds(stage: StageContract): WorkItemKind[] {
  const kinds = [stage.workItemKind, stage.taskContract?.workItemKind, stage.taskContract?.fallbackWorkItemKind]
  return [...new Set(kinds.filter((kind): kind is WorkItemKind => kind !== null && kind !== undefined))]
}

/** No required MODULE_CONFIG field: such a module is ACTIVE exactly while nothing overrides its status. */
export function needsNoSetup(contract: ModuleContract): boolean {
  return missingConfigFields(contract.setupFields, {}).length === 0
}

/**
 * Module status: an operator or runtime override (DISABLED, ERROR) wins; otherwise the module is
 * CONFIGURING until every required MODULE_CONFIG field has a value, then ACTIVE. A module whose
 * provider is not in the catalog can never become ACTIVE.
 */
export function deriveModuleStatus(
  module: { status_override: ModuleStatusOverride | null; config: ModuleConfig },
  contract: ModuleContract | undefined,
): ModuleStatus {
  if (module.status_override) return module.status_override
  if (!contract) return 'CONFIGURING'
  return missingConfigFields(contract.setupFields, module.config).length === 0 ? 'ACTIVE' : 'CONFIGURING'
}
