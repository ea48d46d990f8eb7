import type { Database, Transaction } from '../db/database.ts'
import type { InventorySourceRow } from '../db/tables.ts'
import { upsertAvails } from '../modules/avails-feed/index.ts'
import type { ModuleConfig } from '../modules/contract.ts'
import {
  attachModule,
  DEMO_SOURCE_ID,
  findModularSourceRow,
  insertModularSource,
  refuseSecrets,
  removeModule,
  updateModuleConfig,
  type AttachModuleInput,
  type CadentDemoRequest,
  type CreateFeedSource,
  type UpdateModuleConfigInput,
} from '../modules/modular-sources/index.ts'
import { loadProjection, type ModularSourceCreated, type RuntimeProjection } from '../modules/readiness/index.ts'
import type { Clock } from '../shared/clock.ts'
import { fail } from '../shared/errors.ts'
import { duplicateSourceId, resolveSourceId } from '../sources/source-rules.ts'
import { deleteSourceRow, lookupSourceRow } from '../sources/source-store.ts'
import { demoAvails } from './cadent-demo-avails.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'

export interface ModularSourceWorkflowDeps {
  db: Database
  clock: Clock
}

/** Demo Cadent config: a guaranteed video campaign, the common addressable-TV case. */
const DEMO_CADENT_CONFIG: ModuleConfig = {
  campaignDeliveryType: 'GUARANTEED',
  lineDeliveryType: 'GUARANTEED',
  adType: 'VIDEO',
  adClass: 'COMMERCIAL',
}

export type CadentDemoOutcome = 'created' | 'reset' | 'existing'

/**
 * Creating a modular source composes the source row, its modules and (for the demo) its avails
 * in one transaction; every answer carries the readiness projection read in that transaction.
 */
export function createModularSourceWorkflows({ db, clock }: ModularSourceWorkflowDeps) {
  async function created(trx: Transaction, row: InventorySourceRow, now: Date): Promise<ModularSourceCreated> {
    return { inventorySourceId: String(row.id), sourceId: row.source_id, projection: await loadProjection(trx, row, now) }
  }

  /** POST /inventory-sources/modular/feed: the avails feed and, unless opted out, the booking ledger. */
  async function createFeedSource(storefrontId: number, input: CreateFeedSource): Promise<ModularSourceCreated> {
    const sourceId = resolveSourceId(input.sourceId, input.name)
    const { name, sourceId: _sourceId, includeBookingLedger, ...answers } = input
    refuseSecrets(answers, '')
    const setupMetadata = { ...answers, includeBookingLedger }
    return outcomeTransaction(db, async (trx) => {
      const now = clock.now()
      const row = await insertModularSource(trx, { storefrontId, sourceId, name, description: null, setupMetadata, now })
      if (!row) throw duplicateSourceId(sourceId)
      await attachModule(trx, row, { kind: 'INVENTORY_FEED', provider: 'agentic' }, now)
      if (includeBookingLedger) await attachModule(trx, row, { kind: 'BOOKING_LEDGER', provider: 'agentic' }, now)
      return created(trx, row, now)
    })
  }

  /**
   * POST /inventory-sources/modular/cadent-demo. An existing demo source is returned as it is
   * ('existing') unless `reset` asks to delete and rebuild it ('reset'); a non-modular source
   * with the id is never touched (409).
   */
  async function createCadentDemo(storefrontId: number, input: CadentDemoRequest): Promise<{ outcome: CadentDemoOutcome; result: ModularSourceCreated }> {
    const sourceId = input.sourceId ?? DEMO_SOURCE_ID
    if (sourceId !== DEMO_SOURCE_ID && !sourceId.startsWith('demo-')) {
      throw fail.invalidField('sourceId', `must be ${DEMO_SOURCE_ID} or start with demo-`, 'DEMO_SOURCE_ID')
    }
    // Named as the request names it; the module config check would call it config.cadentEndpointUrl.
    refuseSecrets({ cadentEndpointUrl: input.cadentEndpointUrl }, '')
    return outcomeTransaction(db, async (trx) => {
      const now = clock.now()
      const existing = await lookupSourceRow(trx, storefrontId, sourceId, { forUpdate: true })
      if (existing && existing.execution_type !== 'MODULAR_SOURCE') throw duplicateSourceId(sourceId)
      if (existing && !input.reset) return { outcome: 'existing' as const, result: await created(trx, existing, now) }
      // A demo reset drops everything the source owns (modules, avails, work items) with the row.
      if (existing) await deleteSourceRow(trx, existing.id)

      const row = await insertModularSource(trx, {
        storefrontId,
        sourceId,
        name: input.name ?? 'Talpa Cadent demo',
        description: 'Demo-only source: static CTV avails, a booking ledger, Cadent trafficking and report upload.',
        setupMetadata: {
          demo: true,
          availsSource: { type: 'manual', description: 'Seeded demo avails' },
          booking: { mode: 'booking_ledger' },
          execution: { mode: 'upstream_system', systemName: 'Cadent' },
          reporting: { mode: 'upload' },
        },
        now,
      })
      if (!row) throw duplicateSourceId(sourceId)
      await attachModule(trx, row, { kind: 'INVENTORY_FEED', provider: 'agentic' }, now)
      await attachModule(trx, row, { kind: 'BOOKING_LEDGER', provider: 'agentic' }, now)
      const cadentConfig = input.cadentEndpointUrl ? { ...DEMO_CADENT_CONFIG, cadentEndpointUrl: input.cadentEndpointUrl } : DEMO_CADENT_CONFIG
      await attachModule(trx, row, { kind: 'TRAFFICKING', provider: 'cadent', config: cadentConfig }, now)
      await attachModule(trx, row, { kind: 'REPORTING_IMPORT', provider: 'upload' }, now)
      if (input.seedAvails) {
        await upsertAvails(trx, { inventorySourceId: row.id, avails: demoAvails(now), now, replaceMissing: false })
      }
      return { outcome: existing ? ('reset' as const) : ('created' as const), result: await created(trx, row, now) }
    })
  }

  /** GET /inventory-sources/{sourceId}/modular */
  async function getProjection(storefrontId: number, sourceId: string): Promise<RuntimeProjection> {
    const row = await findModularSourceRow(db, storefrontId, sourceId)
    return loadProjection(db, row, clock.now())
  }

  /** Runs a module change and answers with the projection read in the same transaction. */
  async function changeModules(storefrontId: number, sourceId: string, change: (trx: Transaction, row: InventorySourceRow, now: Date) => Promise<unknown>) {
    return outcomeTransaction(db, async (trx) => {
      const now = clock.now()
      const row = await findModularSourceRow(trx, storefrontId, sourceId)
      await change(trx, row, now)
      return loadProjection(trx, row, now)
    })
  }

  return {
    createFeedSource,
    createCadentDemo,
    getProjection,
    attachModule: (storefrontId: number, sourceId: string, input: AttachModuleInput) =>
      changeModules(storefrontId, sourceId, (trx, row, now) => attachModule(trx, row, input, now)),
    updateModuleConfig: (storefrontId: number, sourceId: string, moduleInstanceId: string, input: UpdateModuleConfigInput) =>
      changeModules(storefrontId, sourceId, (trx, row, now) => updateModuleConfig(trx, row, moduleInstanceId, input, now)),
    removeModule: (storefrontId: number, sourceId: string, moduleInstanceId: string) =>
      changeModules(storefrontId, sourceId, (trx, row) => removeModule(trx, row, moduleInstanceId)),
  }
}

export type ModularSourceWorkflows = ReturnType<typeof createModularSourceWorkflows>
