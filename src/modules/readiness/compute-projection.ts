import type { InventorySourceRow, ModuleInstanceRow } from '../../db/tables.ts'
import { toIso } from '../../shared/clock.ts'
import { MEDIA_BUY_STATUSES } from '../media-buys/index.ts'
import {
  deriveModuleStatus,
  hasValue,
  LIFECYCLE_STAGES,
  missingConfigFields,
  requiredFieldsForStage,
  resolveStageMode,
  RUNTIME_INPUTS,
  SETUP_FIELD_SOURCES,
  stageWorkItemKinds,
  type LifecycleStage,
  type ModuleContract,
  type ModuleKind,
  type ModuleStatus,
  type RuntimeInput,
  type SetupField,
  type StageContract,
  type WorkItemKind,
} from '../contract.ts'
import { workItemKinds } from '../work-queue/index.ts'
import type {
  HealthStatus,
  LifecycleSummaryRow,
  ModuleLifecycleStage,
  ModuleProjection,
  ProjectionIssue,
  RuntimeProjection,
  SetupFieldGroup,
} from './projection.schema.ts'

/** Open (OPEN, IN_PROGRESS or BLOCKED) work items of one kind on one module, or on the source when moduleRowId is null. */
export interface OpenWorkItemCount {
  kind: WorkItemKind
  moduleRowId: number | null
  count: number
  /** When the oldest of them was opened. */
  oldestOpenedAt: Date
}

export interface ProjectionInput {
  source: InventorySourceRow
  modules: readonly ModuleInstanceRow[]
  contractFor: (kind: string, provider: string) => ModuleContract | undefined
  /** ACTIVE avails whose end_time is after now. */
  activeAvailCount: number
  /** The source's other avails: INACTIVE, or their flight has ended (what /status shows beside the sellable count). */
  archivedAvailCount: number
  /** The last change any avail of the source saw (the last feed commit that touched one). */
  lastFeedAt: Date | null
  openWorkItems: readonly OpenWorkItemCount[]
  /** BOOKED bookings whose flight has ended with no delivery imported (docs/execution-and-work-queue.md). */
  endedBookingsWithoutReport?: number
  /** AdCP media buys with a package on the source, per media-buy status. */
  mediaBuyCountsByStatus?: Record<string, number>
}

interface ModuleView {
  row: ModuleInstanceRow
  contract: ModuleContract | undefined
  status: ModuleStatus
}

export function groupFieldsBySource(fields: readonly SetupField[]): SetupFieldGroup[] {
  return SETUP_FIELD_SOURCES.flatMap((source) => {
    const group = fields.filter((field) => field.source === source).map(({ source: _source, ...view }) => view)
    return group.length > 0 ? [{ source, fields: group }] : []
  })
}

const RUNTIME_INPUT_CHECKS: Record<RuntimeInput, (input: ProjectionInput) => boolean> = {
  ACTIVE_AVAILS: (input) => input.activeAvailCount > 0,
  FINAL_REPORTS: (input) => (input.endedBookingsWithoutReport ?? 0) === 0,
}

function issue(code: ProjectionIssue['code'], severity: ProjectionIssue['severity'], message: string, moduleInstanceId: string | null = null, stage: LifecycleStage | null = null): ProjectionIssue {
  return { code, severity, message, moduleInstanceId, stage }
}

function moduleIssues(view: ModuleView): ProjectionIssue[] {
  const id = view.row.module_instance_id
  if (!view.contract) {
    return [issue('UNKNOWN_PROVIDER', 'critical', `No catalog module has kind ${view.row.kind} and provider ${view.row.provider}`, id)]
  }
  if (view.status === 'ERROR') return [issue('MODULE_ERROR', 'critical', view.row.last_error ?? 'The module was set to ERROR', id)]
  if (view.status === 'DISABLED') return [issue('MODULE_DISABLED', 'warning', 'The module is DISABLED and fulfils no stage', id)]
  const missing = missingConfigFields(view.contract.setupFields, view.row.config)
  if (missing.length > 0) {
    return [issue('MISSING_SETUP', 'warning', `Missing required config: ${missing.map((field) => field.key).join(', ')}`, id)]
  }
  return []
}

function lifecycleOf(view: ModuleView): ModuleLifecycleStage[] {
  if (!view.contract) return []
  const contract = view.contract
  return contract.stages.map((stage) => {
    const required = requiredFieldsForStage(contract, stage.stage)
    const missing = missingConfigFields(required, view.row.config)
    return {
      stage: stage.stage,
      mode: resolveStageMode(stage, view.row.config),
      description: stage.description,
      outputKeys: stage.outputKeys,
      requiredFieldsBySource: groupFieldsBySource(required),
      missingSetupFieldsBySource: groupFieldsBySource(missing),
      moduleConfigReady: missing.length === 0,
      ...(stage.workItemKind ? { workItemKind: stage.workItemKind } : {}),
      ...(stage.taskContract ? { taskContract: stage.taskContract } : {}),
    }
  })
}

/**
 * One summary row per stage; SPEC §3 precedence, first match wins:
 * UNSUPPORTED > BLOCKED > MISSING_SETUP > HITL_PENDING > RUNTIME_INPUTS_REQUIRED > READY.
 * The rules read every enabled module that fulfils the stage, so one module in ERROR blocks
 * the stage even when another could serve it: the operator has to look either way.
 */
function summarizeStage(stage: LifecycleStage, views: readonly ModuleView[], input: ProjectionInput): LifecycleSummaryRow {
  const fulfilling: { view: ModuleView; stage: StageContract }[] = []
  for (const view of views) {
    if (view.status === 'DISABLED') continue
    const contractStage = view.contract?.stages.find((candidate) => candidate.stage === stage)
    if (contractStage && resolveStageMode(contractStage, view.row.config) !== 'UNSUPPORTED') {
      fulfilling.push({ view, stage: contractStage })
    }
  }
  const moduleInstanceIds = fulfilling.map(({ view }) => view.row.module_instance_id)
  const row = (status: LifecycleSummaryRow['status'], reason: string | null): LifecycleSummaryRow => ({ stage, status, moduleInstanceIds, reason })

  if (fulfilling.length === 0) return row('UNSUPPORTED', `No enabled module fulfils ${stage}.`)

  const moduleRowIds = new Set(fulfilling.map(({ view }) => view.row.id))
  // Items not tied to a module belong to the whole source, so they count against every stage.
  const openOf = (kinds: readonly WorkItemKind[]) =>
    input.openWorkItems
      .filter((item) => kinds.includes(item.kind) && (item.moduleRowId === null || moduleRowIds.has(item.moduleRowId)))
      .reduce((sum, item) => sum + item.count, 0)

  const inError = fulfilling.filter(({ view }) => view.status === 'ERROR').map(({ view }) => view.row.module_instance_id)
  if (inError.length > 0) return row('BLOCKED', `Module ${inError.join(', ')} is in ERROR.`)
  const health = openOf(['RESOLVE_SOURCE_HEALTH'])
  if (health > 0) return row('BLOCKED', `${health} open RESOLVE_SOURCE_HEALTH work item(s).`)

  const missing = fulfilling.flatMap(({ view }) => {
    const fields = missingConfigFields(requiredFieldsForStage(view.contract!, stage), view.row.config)
    return fields.length > 0 ? [`${view.row.module_instance_id}: ${fields.map((field) => field.key).join(', ')}`] : []
  })
  if (missing.length > 0) return row('MISSING_SETUP', `Missing required config (${missing.join('; ')}).`)

  const hitlKinds = [...new Set(fulfilling.flatMap(({ stage: contractStage }) => stageWorkItemKinds(contractStage)))]
  const pending = openOf(hitlKinds)
  if (pending > 0) return row('HITL_PENDING', `${pending} open ${hitlKinds.join('/')} work item(s).`)

  const unmet = [...new Set(fulfilling.flatMap(({ stage: contractStage }) => contractStage.runtimeInputs))].filter(
    (need) => !RUNTIME_INPUT_CHECKS[need](input),
  )
  if (unmet.length > 0) return row('RUNTIME_INPUTS_REQUIRED', unmet.map((need) => `Needs ${RUNTIME_INPUTS[need].charAt(0).toLowerCase()}${RUNTIME_INPUTS[need].slice(1)}`).join(' '))

  return row('READY', null)
}

function isActiveOfKind(views: readonly ModuleView[], kind: ModuleKind): boolean {
  return views.some((view) => view.row.kind === kind && view.status === 'ACTIVE')
}

/**
 * The readiness projection of a modular source, a pure function of its rows. It measures
 * configuration completeness and the runtime state it can see; it does not promise that an
 * upstream booking happened.
 */
export function computeProjection(input: ProjectionInput): RuntimeProjection {
  const { source } = input
  const views: ModuleView[] = input.modules.map((row) => {
    const contract = input.contractFor(row.kind, row.provider)
    return { row, contract, status: deriveModuleStatus(row, contract) }
  })

  const modules: ModuleProjection[] = views.map((view) => {
    const { row, contract } = view
    return {
      moduleRowId: String(row.id),
      inventorySourceId: String(row.inventory_source_id),
      moduleInstanceId: row.module_instance_id,
      kind: row.kind as ModuleKind,
      name: row.name,
      provider: row.provider,
      status: view.status,
      contractId: contract?.contractId ?? null,
      contractVersion: contract?.version ?? null,
      contract: contract
        ? {
            contractId: contract.contractId,
            version: contract.version,
            moduleType: contract.moduleType,
            displayName: contract.displayName,
            description: contract.description,
            constraints: contract.constraints,
            provider: contract.provider,
          }
        : null,
      config: row.config,
      configuredFieldKeys: Object.keys(row.config).filter((key) => hasValue(row.config[key])).sort(),
      missingSetupFieldsBySource: groupFieldsBySource(contract ? missingConfigFields(contract.setupFields, row.config) : []),
      lifecycle: lifecycleOf(view),
      openWorkItemCount: input.openWorkItems.filter((item) => item.moduleRowId === row.id).reduce((sum, item) => sum + item.count, 0),
      lastError: row.last_error,
      lastCheckedAt: toIso(row.last_checked_at),
      issues: moduleIssues(view),
    }
  })

  const lifecycleSummary = LIFECYCLE_STAGES.map((stage) => summarizeStage(stage, views, input))

  const openWorkItemCountsByKind: Record<WorkItemKind, number> = Object.fromEntries(workItemKinds().map((kind) => [kind, 0]))
  for (const item of input.openWorkItems) openWorkItemCountsByKind[item.kind] = (openWorkItemCountsByKind[item.kind] ?? 0) + item.count
  const openWorkItemCount = input.openWorkItems.reduce((sum, item) => sum + item.count, 0)

  const issues: ProjectionIssue[] = []
  if (source.status === 'DISABLED') issues.push(issue('SOURCE_DISABLED', 'critical', 'The inventory source is DISABLED'))
  if (input.activeAvailCount === 0) {
    issues.push(issue('NO_ACTIVE_AVAILS', 'critical', 'No ACTIVE avail with a future end time: ingest an avails feed'))
  }
  const hasLedger = isActiveOfKind(views, 'BOOKING_LEDGER')
  if (!hasLedger) issues.push(issue('NO_BOOKING_LEDGER', 'critical', 'No ACTIVE booking ledger: attach one to hold capacity'))
  for (const summary of lifecycleSummary) {
    if (summary.status === 'BLOCKED') issues.push(issue('STAGE_BLOCKED', 'critical', summary.reason ?? `${summary.stage} is blocked`, null, summary.stage))
  }
  issues.push(...modules.flatMap((module) => module.issues))

  const cannotSell = source.status === 'DISABLED' || input.activeAvailCount === 0 || !hasLedger
  const healthStatus: HealthStatus = cannotSell
    ? 'unhealthy'
    : lifecycleSummary.some((summary) => summary.status === 'BLOCKED')
      ? 'degraded'
      : 'healthy'

  return {
    inventorySource: {
      id: String(source.id),
      storefrontId: String(source.storefront_id),
      sourceId: source.source_id,
      name: source.name,
      executionType: 'MODULAR_SOURCE',
      status: source.status,
      healthStatus,
      lastError: source.last_error,
      lastCheckedAt: toIso(source.last_checked_at),
    },
    modules,
    openWorkItemCount,
    lifecycleSummary,
    activeAvailCount: input.activeAvailCount,
    mediaBuyCountsByStatus: Object.fromEntries(MEDIA_BUY_STATUSES.map((status) => [status, input.mediaBuyCountsByStatus?.[status] ?? 0])) as RuntimeProjection['mediaBuyCountsByStatus'],
    openWorkItemCountsByKind,
    moduleConfigReady: views
      .filter((view) => view.status !== 'DISABLED')
      .every((view) => view.contract !== undefined && missingConfigFields(view.contract.setupFields, view.row.config).length === 0),
    setupMetadata: source.setup_metadata,
    issues,
  }
}
