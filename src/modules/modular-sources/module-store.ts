import { sql } from 'kysely'
import type { Queryable, Transaction } from '../../db/database.ts'
import { isUniqueViolation, json } from '../../db/database.ts'
import type { InventorySourceRow, ModuleInstanceRow } from '../../db/tables.ts'
import { fail, StorefrontError } from '../../shared/errors.ts'
import { refuseClearTextSecrets } from '../../shared/secret-names.ts'
import { lookupSourceRow } from '../../sources/source-store.ts'
import type { ModuleConfig, ModuleContract, ModuleKind, ModuleStatus, SetupField } from '../contract.ts'
import { hasValue } from '../contract.ts'
import { OPEN_WORK_ITEM_STATUSES } from '../work-queue/index.ts'
import { findContract, moduleStatusOf } from '../registry.ts'

/** Module instances of modular sources: attach, configure, remove, and find the one doing a job. */


/** The storefront's MODULAR_SOURCE row; any other source, missing or another storefront's, is the same 404. */
export async function findModularSourceRow(db: Queryable, storefrontId: number, sourceId: string): Promise<InventorySourceRow> {
  const row = await lookupSourceRow(db, storefrontId, sourceId)
  if (row?.execution_type !== 'MODULAR_SOURCE') throw fail.notFound(`Modular inventory source ${sourceId}`)
  return row
}

/**
 * The storefront's ACTIVE modular sources a buyer key can discover and buy, in sourceId order:
 * a live key sees the live sources, a sandbox key only the sandbox source (its buys never touch
 * live capacity, and live keys never see sandbox inventory).
 */
export async function listActiveModularSources(db: Queryable, storefrontId: number, options: { sandbox: boolean }): Promise<InventorySourceRow[]> {
  return db
    .selectFrom('inventory_source')
    .selectAll()
    .where('storefront_id', '=', storefrontId)
    .where('execution_type', '=', 'MODULAR_SOURCE')
    .where('status', '=', 'ACTIVE')
    .where('sandbox', '=', options.sandbox)
    .orderBy('source_id')
    .execute()
}

/** The storefront's sandbox source, if it has one yet. */
export async function findSandboxSource(db: Queryable, storefrontId: number): Promise<InventorySourceRow | undefined> {
  return db
    .selectFrom('inventory_source')
    .selectAll()
    .where('storefront_id', '=', storefrontId)
    .where('sandbox', '=', true)
    .executeTakeFirst()
}

export interface NewModularSource {
  storefrontId: number
  sourceId: string
  name: string
  description: string | null
  setupMetadata: Record<string, unknown>
  now: Date
  /** The storefront's sandbox source (at most one: a second insert is the duplicate null). */
  sandbox?: boolean | undefined
}

/** Inserts the MODULAR_SOURCE row (ACTIVE: its health is read from its modules, not a probe). Returns null on a duplicate sourceId. */
export async function insertModularSource(trx: Transaction, input: NewModularSource): Promise<InventorySourceRow | null> {
  refuseSecrets(input.setupMetadata, 'setupMetadata')
  try {
    return await trx
      .insertInto('inventory_source')
      .values({
        storefront_id: input.storefrontId,
        source_id: input.sourceId,
        name: input.name,
        execution_type: 'MODULAR_SOURCE',
        status: 'ACTIVE',
        description: input.description,
        setup_metadata: json(input.setupMetadata),
        sandbox: input.sandbox ?? false,
        created_at: input.now,
        updated_at: input.now,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
  } catch (error) {
    if (isUniqueViolation(error)) return null
    throw error
  }
}

/** Where a module's credentials go: config and setup answers are stored and shown in clear. */
export const MODULE_CREDENTIAL_HINT = 'credentials are write-only and never go in module config or setup answers (shown in clear): use the credential flow of the module'

/** Refuses secret-looking keys and URLs with credentials: module config and setup answers are shown in clear. */
export function refuseSecrets(value: unknown, pathPrefix: string): void {
  refuseClearTextSecrets(value, { pathPrefix, where: pathPrefix || 'setup answers', credentialHint: MODULE_CREDENTIAL_HINT })
}

const CRON = /^\S+(\s+\S+){4,5}$/

function checkFieldValue(field: SetupField, value: unknown): string | null {
  switch (field.valueType) {
    case 'ENUM':
      return typeof value === 'string' && field.enumValues.includes(value) ? null : `must be one of ${field.enumValues.join(', ')}`
    case 'URL': {
      if (typeof value !== 'string') return 'must be an http(s) URL'
      try {
        const url = new URL(value)
        // Credentials in the URL were refused before, with every other clear-text secret (refuseSecrets).
        return url.protocol !== 'http:' && url.protocol !== 'https:' ? 'must be an http(s) URL' : null
      } catch {
        return 'must be an http(s) URL'
      }
    }
    case 'CRON':
      return typeof value === 'string' && CRON.test(value.trim()) ? null : 'must be a cron expression of 5 or 6 fields'
    case 'OBJECT':
      return typeof value === 'object' && !Array.isArray(value) ? null : 'must be an object'
    case 'STRING':
      return typeof value === 'string' ? null : 'must be a string'
  }
}

/**
 * Checks a config against its contract: no secrets, and every known MODULE_CONFIG field that has
 * a value has the right type. Unknown keys are kept, for notes and fields of a newer contract.
 */
export function validateModuleConfig(contract: ModuleContract, config: ModuleConfig, pathPrefix = 'config'): void {
  refuseSecrets(config, pathPrefix)
  const issues = contract.setupFields.flatMap((field) => {
    if (field.source !== 'MODULE_CONFIG' || !hasValue(config[field.key])) return []
    const message = checkFieldValue(field, config[field.key])
    return message ? [{ path: `${pathPrefix}.${field.key}`, message }] : []
  })
  if (issues.length > 0) {
    throw fail.validation(`Invalid module config: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}`, { issues })
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** JSON merge patch (RFC 7386): objects merge deeply, arrays and scalars replace, null removes a key. */
export function mergeConfig(target: ModuleConfig, patch: ModuleConfig): ModuleConfig {
  const out: ModuleConfig = { ...target }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else if (isPlainObject(value)) out[key] = mergeConfig(isPlainObject(out[key]) ? out[key] : {}, value)
    else out[key] = value
  }
  return out
}

export interface AttachModuleInput {
  moduleInstanceId?: string | undefined
  kind: ModuleKind
  provider: string
  config?: ModuleConfig | undefined
}

/** Attaches a catalog module; its status is then derived from its config. */
export async function attachModule(trx: Transaction, source: InventorySourceRow, input: AttachModuleInput, now: Date): Promise<ModuleInstanceRow> {
  const contract = findContract(input.kind, input.provider)
  if (!contract) {
    throw new StorefrontError('VALIDATION_ERROR', `No built-in module has kind ${input.kind} and provider ${input.provider}`, {
      reason: 'MODULE_NOT_IN_CATALOG',
      issues: [{ path: 'provider', message: `not in the catalog for kind ${input.kind}` }],
    })
  }
  const config = mergeConfig({}, input.config ?? {})
  validateModuleConfig(contract, config)
  const moduleInstanceId = input.moduleInstanceId ?? contract.defaultModuleInstanceId
  try {
    return await trx
      .insertInto('module_instance')
      .values({
        inventory_source_id: source.id,
        module_instance_id: moduleInstanceId,
        kind: contract.moduleType,
        provider: contract.provider,
        name: contract.displayName,
        config: json(config),
        status_override: null,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw fail.conflict('DUPLICATE_MODULE_INSTANCE_ID', `Source ${source.source_id} already has a module ${moduleInstanceId}`, { moduleInstanceId })
    }
    throw error
  }
}

async function findModuleRow(db: Queryable, source: InventorySourceRow, moduleInstanceId: string): Promise<ModuleInstanceRow> {
  const row = await db
    .selectFrom('module_instance')
    .selectAll()
    .where('inventory_source_id', '=', source.id)
    .where('module_instance_id', '=', moduleInstanceId)
    .forUpdate()
    .executeTakeFirst()
  if (!row) throw fail.notFound(`Module ${moduleInstanceId} on source ${source.source_id}`)
  return row
}

export interface UpdateModuleConfigInput {
  config: ModuleConfig
  /** true (default): JSON merge patch; false: replace the whole config. */
  merge?: boolean | undefined
  /** CONFIGURING clears an override; DISABLED and ERROR set it; ACTIVE is derived and refused. */
  status?: ModuleStatus | undefined
}

export async function updateModuleConfig(
  trx: Transaction,
  source: InventorySourceRow,
  moduleInstanceId: string,
  input: UpdateModuleConfigInput,
  now: Date,
): Promise<ModuleInstanceRow> {
  if (input.status === 'ACTIVE') {
    throw new StorefrontError('VALIDATION_ERROR', 'ACTIVE is derived from the module setup and cannot be set', {
      reason: 'STATUS_IS_DERIVED',
      issues: [{ path: 'status', message: 'allowed: CONFIGURING, DISABLED, ERROR' }],
    })
  }
  const row = await findModuleRow(trx, source, moduleInstanceId)
  const config = input.merge === false ? mergeConfig({}, input.config) : mergeConfig(row.config, input.config)
  const contract = findContract(row.kind, row.provider)
  if (contract) validateModuleConfig(contract, config)
  else refuseSecrets(config, 'config')

  const changes: { config: string; updated_at: Date; status_override?: 'DISABLED' | 'ERROR' | null; last_error?: null } = {
    config: json(config),
    updated_at: now,
  }
  if (input.status === 'CONFIGURING') {
    changes.status_override = null
    // Clearing ERROR by hand is the operator saying the error is resolved.
    if (row.status_override === 'ERROR') changes.last_error = null
  } else if (input.status === 'DISABLED' || input.status === 'ERROR') {
    changes.status_override = input.status
  }
  return trx.updateTable('module_instance').set(changes).where('id', '=', row.id).returningAll().executeTakeFirstOrThrow()
}

/** Removes a module; refused while it has open work items (they would lose their owner). */
export async function removeModule(trx: Transaction, source: InventorySourceRow, moduleInstanceId: string): Promise<void> {
  const row = await findModuleRow(trx, source, moduleInstanceId)
  const open = await trx
    .selectFrom('work_item')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('module_row_id', '=', row.id)
    .where('status', 'in', OPEN_WORK_ITEM_STATUSES)
    .executeTakeFirstOrThrow()
  const openWorkItemCount = Number(open.count)
  if (openWorkItemCount > 0) {
    throw fail.conflict('MODULE_HAS_OPEN_WORK', `Module ${moduleInstanceId} still has ${openWorkItemCount} open work item(s); complete or cancel them first`, {
      moduleInstanceId,
      openWorkItemCount,
    })
  }
  await trx.deleteFrom('module_instance').where('id', '=', row.id).execute()
}

export async function listModules(db: Queryable, inventorySourceId: number): Promise<ModuleInstanceRow[]> {
  return db.selectFrom('module_instance').selectAll().where('inventory_source_id', '=', inventorySourceId).orderBy('id').execute()
}

export interface ActiveModule {
  row: ModuleInstanceRow
  contract: ModuleContract
}

/**
 * The source's ACTIVE module of a kind (derived status), the oldest first when several are; undefined
 * when none is. What the ledger and the hand-off call before doing the module's job.
 */
export async function findActiveModule(db: Queryable, inventorySourceId: number, kind: ModuleKind): Promise<ActiveModule | undefined> {
  return (await findActiveModules(db, inventorySourceId, [kind])).get(kind)
}

/** The source's ACTIVE module of each of several kinds, as `findActiveModule` picks it, in one statement. */
export async function findActiveModules<K extends ModuleKind>(db: Queryable, inventorySourceId: number, kinds: readonly K[]): Promise<Map<K, ActiveModule>> {
  return (await findActiveModulesOfSources(db, [inventorySourceId], kinds)).get(inventorySourceId) ?? new Map()
}

/** `findActiveModules` of several sources (by row id) in one statement; a source with none maps to an empty map. */
export async function findActiveModulesOfSources<K extends ModuleKind>(
  db: Queryable,
  inventorySourceIds: readonly number[],
  kinds: readonly K[],
): Promise<Map<number, Map<K, ActiveModule>>> {
  const found = new Map(inventorySourceIds.map((id) => [id, new Map<K, ActiveModule>()]))
  if (kinds.length === 0 || inventorySourceIds.length === 0) return found
  const rows = await db
    .selectFrom('module_instance')
    .selectAll()
    .where('inventory_source_id', 'in', [...new Set(inventorySourceIds)])
    .where('kind', 'in', [...kinds])
    .orderBy('id')
    .execute()
  for (const row of rows) {
    const ofSource = found.get(row.inventory_source_id)!
    const kind = row.kind as K
    if (ofSource.has(kind)) continue
    const contract = findContract(row.kind, row.provider)
    if (contract && moduleStatusOf(row) === 'ACTIVE') ofSource.set(kind, { row, contract })
  }
  return found
}

/** One module row by its id; undefined once it was removed. */
export async function findModuleById(db: Queryable, moduleRowId: number): Promise<ModuleInstanceRow | undefined> {
  return db.selectFrom('module_instance').selectAll().where('id', '=', moduleRowId).executeTakeFirst()
}

/** A runtime failure of the module's job, kept as its lastError (status stays derived). */
export async function recordModuleError(trx: Queryable, moduleRowId: number, message: string, now: Date): Promise<void> {
  await trx.updateTable('module_instance').set({ last_error: message, last_checked_at: now, updated_at: now }).where('id', '=', moduleRowId).execute()
}

/** The module's job just worked. */
export async function markModuleChecked(trx: Queryable, moduleRowId: number, now: Date): Promise<void> {
  await trx.updateTable('module_instance').set({ last_checked_at: now }).where('id', '=', moduleRowId).execute()
}

/**
 * An operator resolved the module's error: lastError and an ERROR override are cleared (an
 * operator's DISABLED stays). Returns the module's instance id, undefined when it is gone.
 */
export async function clearModuleError(trx: Queryable, inventorySourceId: number, moduleRowId: number, now: Date): Promise<string | undefined> {
  const module = await trx
    .updateTable('module_instance')
    .set({
      last_error: null,
      last_checked_at: now,
      status_override: sql<'DISABLED' | null>`CASE WHEN status_override = 'ERROR' THEN NULL ELSE status_override END`,
      updated_at: now,
    })
    .where('id', '=', moduleRowId)
    .where('inventory_source_id', '=', inventorySourceId)
    .returning(['module_instance_id'])
    .executeTakeFirst()
  return module?.module_instance_id
}

/** A source row by its id, for work that starts from a booking rather than a request. */
export async function findSourceRowById(db: Queryable, inventorySourceId: number): Promise<InventorySourceRow> {
  return db.selectFrom('inventory_source').selectAll().where('id', '=', inventorySourceId).executeTakeFirstOrThrow()
}
