import { sql, type RawBuilder } from 'kysely'
import { agenticAvailsFeedContract } from './catalog/agentic-avails-feed/contract.ts'
import { agenticBookingLedgerContract } from './catalog/agentic-booking-ledger/contract.ts'
import { cadentTraffickingContract } from './catalog/cadent/contract.ts'
import { manualTraffickingContract } from './catalog/manual/contract.ts'
import { uploadReportingContract } from './catalog/upload/contract.ts'
import {
  deriveModuleStatus,
  MODULE_KINDS,
  needsNoSetup,
  ModuleContractSchema,
  type ModuleConfig,
  type ModuleContract,
  type ModuleKind,
  type ModuleStatus,
  type ModuleStatusOverride,
} from './contract.ts'

/**
 * The built-in module catalog: one line per provider. Adding a provider is one folder under
 * catalog/ with its contract.ts and one line here.
 */
export const moduleCatalog: readonly ModuleContract[] = [
  agenticAvailsFeedContract,
  agenticBookingLedgerContract,
  cadentTraffickingContract,
  manualTraffickingContract,
  uploadReportingContract,
].map((contract) => ModuleContractSchema.parse(contract))

const byKindAndProvider = new Map(moduleCatalog.map((contract) => [`${contract.moduleType}/${contract.provider}`, contract]))
if (byKindAndProvider.size !== moduleCatalog.length) throw new Error('Two catalog contracts share a kind and provider')

export function findContract(kind: string, provider: string): ModuleContract | undefined {
  return byKindAndProvider.get(`${kind}/${provider}`)
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
