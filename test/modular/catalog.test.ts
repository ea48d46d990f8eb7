import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { CADENT_AD_CLASSES, CADENT_AD_TYPES, CADENT_DELIVERY_TYPES } from '../../src/modules/catalog/cadent/contract.ts'
import { withModuleCatalog } from '../../src/modules/catalog-doc.ts'
import { deriveModuleStatus, resolveStageMode, stageWorkItemKinds } from '../../src/modules/contract.ts'
import { cadentAdClasses, cadentAdTypes, cadentDeliveryTypes } from '../../src/modules/cadent/render-campaign-xml.ts'
import { activeModuleSql, findContract, moduleCatalog } from '../../src/modules/registry.ts'

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

  it('uses the closed sets of the Cadent campaign XML', () => {
    assert.deepEqual(CADENT_DELIVERY_TYPES, cadentDeliveryTypes)
    assert.deepEqual(CADENT_AD_TYPES, cadentAdTypes)
    assert.deepEqual(CADENT_AD_CLASSES, cadentAdClasses)
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
