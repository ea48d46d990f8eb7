import { sql, type RawBuilder } from 'kysely'
import type { ModuleInstanceRow } from '../db/tables.ts'
import { agenticAvailsFeedProvider } from './catalog/agentic-avails-feed/index.ts'
import { agenticBookingLedgerProvider } from './catalog/agentic-booking-ledger/index.ts'
import { cadentProvider } from './catalog/cadent/index.ts'
import { manualProvider } from './catalog/manual/index.ts'
import { uploadProvider } from './catalog/upload/index.ts'
import {
  contractWorkItemKinds,
  deriveModuleStatus,
  MODULE_KINDS,
  needsNoSetup,
  ModuleContractSchema,
  type ModuleConfig,
  type ModuleContract,
  type ModuleKind,
  type ModuleStatus,
  type ModuleStatusOverride,
  type WorkItemKind,
} from './contract.ts'
import type { SpotFormat } from './creative-formats/index.ts'
import type { CompletionEffect, FollowUpPlanner, Provider } from './provider.ts'
import { declareWorkItemKinds, isDeclaredWorkItemKind, PLATFORM_WORK_ITEM_KINDS } from './work-queue/index.ts'

/**
 * The module catalog: every installed provider, its contract and its behaviour. Adding a
 * provider is one folder under catalog/ (contract.ts and an index.ts exporting its Provider)
 * and one line in BUILT_IN_PROVIDERS; docs/modules.md, "Writing a provider".
 */

const providers: Provider[] = []
const contracts: ModuleContract[] = []
const byKindAndProvider = new Map<string, Provider>()
const effectsByKind = new Map<WorkItemKind, CompletionEffect>()
const followUpsByKind = new Map<WorkItemKind, FollowUpPlanner>()
const handOffKinds: WorkItemKind[] = []

/** Every installed contract, in registration order; the readiness projection and the docs table read it. */
export const moduleCatalog: readonly ModuleContract[] = contracts

/**
 * Installs a provider: its contract is validated, the work-item kinds it declares join the one
 * list, and its completion effects answer for those kinds. A provider only defines behaviour for
 * kinds it declares, and a kind has one completion effect.
 */
export function registerProvider(provider: Provider): void {
  const contract = ModuleContractSchema.parse(provider.contract)
  const key = `${contract.moduleType}/${contract.provider}`
  if (byKindAndProvider.has(key)) throw new Error(`Two catalog contracts share a kind and provider (${key})`)
  const kinds = [...contractWorkItemKinds(contract), ...(provider.extraWorkItemKinds ?? [])]
  const owned = (kind: WorkItemKind) => kinds.includes(kind) || (PLATFORM_WORK_ITEM_KINDS as readonly string[]).includes(kind)
  const effects = Object.entries(provider.completionEffects ?? {}).filter((entry): entry is [string, CompletionEffect] => entry[1] !== undefined)
  for (const [kind] of effects) {
    if (!owned(kind)) throw new Error(`Provider ${key} defines a completion effect for ${kind}, a kind it does not declare`)
    if (effectsByKind.has(kind)) throw new Error(`Two providers define the completion effect of ${kind}`)
  }
  for (const kind of provider.handOffKinds ?? []) {
    if (!owned(kind)) throw new Error(`Provider ${key} names ${kind} a hand-off kind but does not declare it`)
  }
  const followUps = Object.entries(provider.followUps ?? {}).filter((entry): entry is [string, FollowUpPlanner] => entry[1] !== undefined)
  for (const [kind] of followUps) {
    if (!kinds.includes(kind)) throw new Error(`Provider ${key} plans follow-ups of ${kind}, a kind it does not declare`)
    if (followUpsByKind.has(kind)) throw new Error(`Two providers plan the follow-up of ${kind}`)
  }
  declareWorkItemKinds(kinds)
  for (const [kind, effect] of effects) effectsByKind.set(kind, effect)
  for (const [kind, planner] of followUps) followUpsByKind.set(kind, planner)
  for (const kind of provider.handOffKinds ?? []) if (!handOffKinds.includes(kind)) handOffKinds.push(kind)
  providers.push({ ...provider, contract })
  contracts.push(contract)
  byKindAndProvider.set(key, providers.at(-1)!)
}

const BUILT_IN_PROVIDERS: readonly Provider[] = [
  agenticAvailsFeedProvider,
  agenticBookingLedgerProvider,
  cadentProvider,
  manualProvider,
  uploadProvider,
]
for (const provider of BUILT_IN_PROVIDERS) registerProvider(provider)

export function findProvider(kind: string, provider: string): Provider | undefined {
  return byKindAndProvider.get(`${kind}/${provider}`)
}

export function findContract(kind: string, provider: string): ModuleContract | undefined {
  return findProvider(kind, provider)?.contract
}

/**
 * The creative formats a source's trafficking module can really carry, as data: each provider
 * says which (`Provider.creativeFormats`, e.g. catalog/cadent/creative-formats.ts). A provider
 * that names none (the manual module) lists none: a format is listed only when a module says it
 * can carry it. [] without a module.
 */
export function formatsOfTraffickingModule(module: Pick<ModuleInstanceRow, 'provider' | 'config'> | undefined): SpotFormat[] {
  if (!module) return []
  return findProvider('TRAFFICKING', module.provider)?.creativeFormats?.(module.config) ?? []
}

export function installedProviders(): readonly Provider[] {
  return providers
}

/** What completing an item of this kind does besides closing it; undefined: nothing. */
export function completionEffectOf(kind: string): CompletionEffect | undefined {
  return isDeclaredWorkItemKind(kind) ? effectsByKind.get(kind) : undefined
}

/** How the next item of a line is made from a closed one of this kind; undefined: the kind is done once. */
export function followUpPlannerOf(kind: string): FollowUpPlanner | undefined {
  return isDeclaredWorkItemKind(kind) ? followUpsByKind.get(kind) : undefined
}

/** Kinds whose completion books their reservation, over every installed provider. */
export function bookingHandOffKinds(): readonly WorkItemKind[] {
  return handOffKinds
}

export function isModuleKind(kind: string): kind is ModuleKind {
  return (MODULE_KINDS as readonly string[]).includes(kind)
}

/** The status of a stored module row, read against its catalog contract. */
export function moduleStatusOf(row: { kind: string; provider: string; status_override: ModuleStatusOverride | null; config: ModuleConfig }): ModuleStatus {
  return deriveModuleStatus(row, findContract(row.kind, row.provider))
}

/**
 * `moduleStatusOf(row) === 'ACTIVE'` as an SQL condition on a `module_instance` row, for a kind whose
 * every catalog provider needs no setup: such a row is ACTIVE exactly when its provider is in the
 * catalog and nothing overrides its status. Throws for any other kind, whose status depends on
 * config values (read it with moduleStatusOf), so a provider that adds setup fails at load, not quietly.
 */
export function activeModuleSql(kind: ModuleKind): RawBuilder<boolean> {
  const contracts = moduleCatalog.filter((contract) => contract.moduleType === kind)
  if (contracts.length === 0 || !contracts.every(needsNoSetup)) {
    throw new Error(`activeModuleSql: every ${kind} provider must need no setup`)
  }
  const providers = contracts.map((contract) => contract.provider)
  return sql<boolean>`(module_instance.kind = ${kind} AND module_instance.status_override IS NULL
    AND module_instance.provider IN (${sql.join(providers)}))`
}
