import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { withModuleCatalog } from '../../src/modules/catalog-doc.ts'
import { contractWorkItemKinds, deriveModuleStatus, resolveStageMode, stageWorkItemKinds } from '../../src/modules/contract.ts'
import { activeModuleSql, bookingHandOffKinds, findContract, installedProviders, moduleCatalog, registerProvider } from '../../src/modules/registry.ts'
import { PLATFORM_WORK_ITEM_KINDS, WIRE_WORK_ITEM_KINDS, workItemKinds } from '../../src/modules/work-queue/work-item-kinds.ts'

describe('module catalog', () => {
  it('states "ACTIVE" in SQL only for a kind whose every provider needs no setup', () => {
    assert.ok(activeModuleSql('BOOKING_LEDGER'))
    assert.throws(() => activeModuleSql('TRAFFICKING'), /every TRAFFICKING provider must need no setup/)
    assert.throws(() => activeModuleSql('STATUS_SYNC'), /every STATUS_SYNC provider must need no setup/)
  })

  it('has one contract per kind and provider, each with a default instance id', () => {
    assert.deepEqual(moduleCatalog.map((contract) => `${contract.moduleType}/${contract.provider}/${contract.defaultModuleInstanceId}`), [
      'INVENTORY_FEED/agentic/static-avails-feed',
      'BOOKING_LEDGER/agentic/booking-ledger',
      'TRAFFICKING/cadent/cadent-trafficking',
      'TRAFFICKING/manual/manual-execution',
      'REPORTING_IMPORT/upload/report-upload',
    ])
    assert.equal(findContract('TRAFFICKING', 'freewheel'), undefined)
  })

  it('gives every HITL stage a work-item kind and a task contract', () => {
    for (const contract of moduleCatalog) {
      for (const stage of contract.stages.filter((candidate) => candidate.mode === 'HITL')) {
        assert.ok(stage.workItemKind, `${contract.contractId} ${stage.stage}`)
        assert.equal(stage.taskContract?.workItemKind, stage.workItemKind)
      }
    }
  })

  it('offers the Cadent XML enumerations as the enum values of its setup fields', () => {
    const cadent = findContract('TRAFFICKING', 'cadent')!
    const enumOf = (key: string) => cadent.setupFields.find((field) => field.key === key)!.enumValues
    assert.deepEqual(enumOf('campaignDeliveryType'), ['GUARANTEED', 'NON_GUARANTEED'])
    assert.deepEqual(enumOf('lineDeliveryType'), ['GUARANTEED', 'NON_GUARANTEED'])
    assert.deepEqual(enumOf('adType'), ['VIDEO', 'AUDIO', 'DISPLAY'])
    assert.deepEqual(enumOf('adClass'), ['COMMERCIAL', 'PROMO', 'PSA', 'SPONSORSHIP'])
  })

  it('gathers the work-item kinds from the contracts: each installed kind is opened by a stage, a provider or the platform', () => {
    const declaredByProviders = installedProviders().flatMap((provider) => [...contractWorkItemKinds(provider.contract), ...(provider.extraWorkItemKinds ?? [])])
    assert.deepEqual(new Set(workItemKinds()), new Set([...PLATFORM_WORK_ITEM_KINDS, ...declaredByProviders]))
    // The built-in catalog, read through that one list.
    assert.deepEqual([...workItemKinds()].filter((kind) => WIRE_WORK_ITEM_KINDS.includes(kind as never)).sort(), [
      'APPROVE_MEDIA_BUY', 'CONFIRM_AVAILS', 'EXECUTE_UPSTREAM_BOOKING', 'MAP_CREATIVE_REF', 'RESOLVE_SOURCE_HEALTH',
      'RESOLVE_TRAFFICKING_ERROR', 'TRAFFIC_TO_CADENT', 'UPLOAD_FINAL_REPORT',
    ])
  })

  it('defines completion effects and hand-off kinds only for kinds a provider declares', () => {
    for (const provider of installedProviders()) {
      const own = [...contractWorkItemKinds(provider.contract), ...(provider.extraWorkItemKinds ?? [])]
      for (const kind of [...Object.keys(provider.completionEffects ?? {}), ...(provider.handOffKinds ?? [])]) {
        assert.ok(own.includes(kind), `${provider.contract.contractId} ${kind}`)
      }
    }
    assert.deepEqual([...bookingHandOffKinds()].sort(), ['EXECUTE_UPSTREAM_BOOKING', 'TRAFFIC_TO_CADENT'])
  })

  it('refuses a provider whose effect names a kind it does not declare, or a second contract of a kind and provider', () => {
    const contract = findContract('TRAFFICKING', 'manual')!
    assert.throws(() => registerProvider({ contract: { ...contract, provider: 'stray' }, completionEffects: { GENERAL: async () => ({}) } }), /GENERAL, a kind it does not declare/)
    assert.throws(() => registerProvider({ contract }), /share a kind and provider/)
    assert.equal(findContract('TRAFFICKING', 'stray'), undefined)
  })

  it('keeps docs/modules.md and README.md in step with the contracts (run scripts/generate-module-docs.ts)', async () => {
    for (const name of ['docs/modules.md', 'README.md']) {
      const document = await readFile(new URL(`../../${name}`, import.meta.url), 'utf8')
      assert.equal(withModuleCatalog(document, moduleCatalog), document, `${name} is stale: run npx tsx scripts/generate-module-docs.ts`)
    }
  })
})

describe('deriveModuleStatus', () => {
  const cadent = findContract('TRAFFICKING', 'cadent')!
  const complete = { campaignDeliveryType: 'GUARANTEED', lineDeliveryType: 'GUARANTEED', adType: 'VIDEO', adClass: 'PSA' }

  it('lets an override win over the derived status', () => {
    assert.equal(deriveModuleStatus({ status_override: 'DISABLED', config: complete }, cadent), 'DISABLED')
    assert.equal(deriveModuleStatus({ status_override: 'ERROR', config: {} }, cadent), 'ERROR')
  })

  it('is CONFIGURING until every required config field has a value, then ACTIVE', () => {
    assert.equal(deriveModuleStatus({ status_override: null, config: { ...complete, adClass: '  ' } }, cadent), 'CONFIGURING')
    assert.equal(deriveModuleStatus({ status_override: null, config: { ...complete, adClass: null } }, cadent), 'CONFIGURING')
    assert.equal(deriveModuleStatus({ status_override: null, config: complete }, cadent), 'ACTIVE')
    assert.equal(deriveModuleStatus({ status_override: null, config: {} }, findContract('BOOKING_LEDGER', 'agentic')), 'ACTIVE')
  })

  it('never derives ACTIVE for a provider outside the catalog', () => {
    assert.equal(deriveModuleStatus({ status_override: null, config: {} }, undefined), 'CONFIGURING')
  })
})

describe('resolveStageMode', () => {
  it('makes Cadent trafficking AUTOMATED only while cadentEndpointUrl is set', () => {
    const stage = findContract('TRAFFICKING', 'cadent')!.stages.find((candidate) => candidate.stage === 'TRAFFIC_CAMPAIGN')!
    assert.equal(resolveStageMode(stage, {}), 'HITL')
    assert.equal(resolveStageMode(stage, { cadentEndpointUrl: '' }), 'HITL')
    assert.equal(resolveStageMode(stage, { cadentEndpointUrl: 'https://cadent.example.com' }), 'AUTOMATED')
    assert.deepEqual(stageWorkItemKinds(stage), ['TRAFFIC_TO_CADENT'])
  })
})
