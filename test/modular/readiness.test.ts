import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { workItemKinds } from '../../src/modules/work-queue/work-item-kinds.ts'
import type { RuntimeProjection } from '../../src/modules/readiness/projection.schema.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { CADENT_CONFIG, createFeedSource, insertAvail, insertWorkItem, moduleOf, readProjection, stageStatus } from './helpers.ts'

describe('GET /inventory-sources/{sourceId}/modular', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
  })
  after(async () => {
    await ctx.close()
  })
  beforeEach(async () => {
    await ctx.db.deleteFrom('inventory_source').execute()
    ctx.clock.set('2026-11-22T12:00:00.000Z')
  })

  async function attach(body: Record<string, unknown>): Promise<RuntimeProjection> {
    const response = await ctx.api('POST', '/inventory-sources/retail-modular/modular/modules', body)
    assert.equal(response.statusCode, 201, response.body)
    return response.json()
  }

  async function patch(moduleInstanceId: string, body: Record<string, unknown>): Promise<RuntimeProjection> {
    const response = await ctx.api('PATCH', `/inventory-sources/retail-modular/modular/modules/${moduleInstanceId}/config`, body)
    assert.equal(response.statusCode, 200, response.body)
    return response.json()
  }

  it('returns the reference shape with a summary row for every stage', async () => {
    await createFeedSource(ctx)
    const projection = await readProjection(ctx)
    assert.equal(projection.inventorySource.sourceId, 'retail-modular')
    assert.equal(projection.inventorySource.executionType, 'MODULAR_SOURCE')
    assert.equal(projection.inventorySource.status, 'ACTIVE')
    assert.deepEqual(projection.modules.map((m) => [m.moduleInstanceId, m.kind, m.provider, m.status]), [
      ['static-avails-feed', 'INVENTORY_FEED', 'agentic', 'ACTIVE'],
      ['booking-ledger', 'BOOKING_LEDGER', 'agentic', 'ACTIVE'],
    ])
    const feed = moduleOf(projection, 'static-avails-feed')
    assert.equal(feed.contractId, 'agentic.inventory-feed.avails')
    assert.equal(feed.contract?.moduleType, 'INVENTORY_FEED')
    assert.deepEqual(feed.lifecycle.map((stage) => [stage.stage, stage.mode, stage.moduleConfigReady]), [
      ['INGEST_AVAILS', 'AUTOMATED', true],
      ['CONFIRM_AVAILS', 'HITL', true],
    ])
    assert.equal(feed.lifecycle[1]?.workItemKind, 'CONFIRM_AVAILS')
    assert.deepEqual(projection.lifecycleSummary.map((row) => row.stage), [
      'INGEST_AVAILS', 'CONFIRM_AVAILS', 'HOLD_CAPACITY', 'RENDER_TRAFFICKING_PAYLOAD',
      'TRAFFIC_CAMPAIGN', 'MAP_CREATIVES', 'EXECUTE_UPSTREAM_BOOKING', 'IMPORT_FINAL_REPORT',
    ])
    assert.deepEqual(Object.keys(projection.openWorkItemCountsByKind).sort(), [...workItemKinds()].sort())
    assert.ok(Object.values(projection.openWorkItemCountsByKind).every((count) => count === 0))
  })

  it('marks a stage UNSUPPORTED when no enabled module fulfils it', async () => {
    await createFeedSource(ctx)
    let projection = await readProjection(ctx)
    assert.equal(stageStatus(projection, 'TRAFFIC_CAMPAIGN'), 'UNSUPPORTED')
    assert.equal(stageStatus(projection, 'IMPORT_FINAL_REPORT'), 'UNSUPPORTED')
    projection = await patch('static-avails-feed', { config: {}, status: 'DISABLED' })
    assert.equal(moduleOf(projection, 'static-avails-feed').status, 'DISABLED')
    const ingest = projection.lifecycleSummary.find((row) => row.stage === 'INGEST_AVAILS')
    assert.equal(ingest?.status, 'UNSUPPORTED')
    assert.deepEqual(ingest?.moduleInstanceIds, [])
  })

  it('marks a stage BLOCKED when its module is in ERROR, ahead of missing setup', async () => {
    await createFeedSource(ctx)
    await insertAvail(ctx)
    await attach({ kind: 'TRAFFICKING', provider: 'cadent' })
    const projection = await patch('cadent-trafficking', { config: {}, status: 'ERROR' })
    assert.equal(moduleOf(projection, 'cadent-trafficking').status, 'ERROR')
    assert.equal(stageStatus(projection, 'RENDER_TRAFFICKING_PAYLOAD'), 'BLOCKED')
    assert.equal(stageStatus(projection, 'TRAFFIC_CAMPAIGN'), 'BLOCKED')
    assert.equal(stageStatus(projection, 'INGEST_AVAILS'), 'READY')
    assert.equal(projection.inventorySource.healthStatus, 'degraded')
    assert.ok(projection.issues.some((issue) => issue.code === 'STAGE_BLOCKED' && issue.stage === 'TRAFFIC_CAMPAIGN'))
    assert.ok(moduleOf(projection, 'cadent-trafficking').issues.some((issue) => issue.code === 'MODULE_ERROR'))
  })

  it('marks every stage BLOCKED while a source-level RESOLVE_SOURCE_HEALTH item is open', async () => {
    await createFeedSource(ctx)
    await insertAvail(ctx)
    await insertWorkItem(ctx, { kind: 'RESOLVE_SOURCE_HEALTH' })
    const projection = await readProjection(ctx)
    assert.equal(stageStatus(projection, 'INGEST_AVAILS'), 'BLOCKED')
    assert.equal(stageStatus(projection, 'HOLD_CAPACITY'), 'BLOCKED')
    assert.equal(projection.inventorySource.healthStatus, 'degraded')
    assert.equal(projection.openWorkItemCountsByKind.RESOLVE_SOURCE_HEALTH, 1)
  })

  it('blocks only the stages of the module a RESOLVE_SOURCE_HEALTH item names', async () => {
    await createFeedSource(ctx)
    await insertAvail(ctx)
    await insertWorkItem(ctx, { kind: 'RESOLVE_SOURCE_HEALTH', moduleInstanceId: 'booking-ledger' })
    const projection = await readProjection(ctx)
    assert.equal(stageStatus(projection, 'HOLD_CAPACITY'), 'BLOCKED')
    assert.equal(stageStatus(projection, 'INGEST_AVAILS'), 'READY')
    assert.equal(moduleOf(projection, 'booking-ledger').openWorkItemCount, 1)
    assert.equal(moduleOf(projection, 'static-avails-feed').openWorkItemCount, 0)
  })

  it('marks stages MISSING_SETUP while required config is missing, grouped by source', async () => {
    await createFeedSource(ctx)
    await insertAvail(ctx)
    const projection = await attach({ kind: 'TRAFFICKING', provider: 'cadent', config: { adType: 'VIDEO' } })
    const cadent = moduleOf(projection, 'cadent-trafficking')
    assert.equal(cadent.status, 'CONFIGURING')
    assert.deepEqual(cadent.configuredFieldKeys, ['adType'])
    assert.deepEqual(cadent.missingSetupFieldsBySource.map((group) => [group.source, group.fields.map((field) => field.key)]), [
      ['MODULE_CONFIG', ['campaignDeliveryType', 'lineDeliveryType', 'adClass']],
    ])
    const delivery = cadent.missingSetupFieldsBySource[0]?.fields[0]
    assert.deepEqual(delivery?.enumValues, ['GUARANTEED', 'NON_GUARANTEED'])
    assert.equal(delivery?.required, true)
    const traffic = cadent.lifecycle.find((stage) => stage.stage === 'TRAFFIC_CAMPAIGN')
    assert.equal(traffic?.moduleConfigReady, false)
    assert.equal(stageStatus(projection, 'RENDER_TRAFFICKING_PAYLOAD'), 'MISSING_SETUP')
    assert.match(projection.lifecycleSummary.find((row) => row.stage === 'TRAFFIC_CAMPAIGN')?.reason ?? '', /cadent-trafficking: campaignDeliveryType/)
    assert.equal(projection.moduleConfigReady, false)
    // MISSING_SETUP outranks HITL_PENDING.
    await insertWorkItem(ctx, { kind: 'TRAFFIC_TO_CADENT', moduleInstanceId: 'cadent-trafficking' })
    assert.equal(stageStatus(await readProjection(ctx), 'TRAFFIC_CAMPAIGN'), 'MISSING_SETUP')
  })

  it('marks a stage HITL_PENDING while a work item of its kind is open, and READY once it is done', async () => {
    await createFeedSource(ctx)
    await insertAvail(ctx)
    await insertWorkItem(ctx, { kind: 'CONFIRM_AVAILS', status: 'IN_PROGRESS' })
    let projection = await readProjection(ctx)
    assert.equal(stageStatus(projection, 'CONFIRM_AVAILS'), 'HITL_PENDING')
    assert.equal(stageStatus(projection, 'INGEST_AVAILS'), 'READY')
    assert.equal(projection.openWorkItemCount, 1)
    assert.equal(projection.openWorkItemCountsByKind.CONFIRM_AVAILS, 1)
    await ctx.db.updateTable('work_item').set({ status: 'COMPLETED' }).execute()
    projection = await readProjection(ctx)
    assert.equal(stageStatus(projection, 'CONFIRM_AVAILS'), 'READY')
    assert.equal(projection.openWorkItemCount, 0)
  })

  it('marks HITL_PENDING ahead of RUNTIME_INPUTS_REQUIRED', async () => {
    await createFeedSource(ctx)
    await insertWorkItem(ctx, { kind: 'CONFIRM_AVAILS', moduleInstanceId: 'static-avails-feed' })
    const projection = await readProjection(ctx)
    assert.equal(stageStatus(projection, 'CONFIRM_AVAILS'), 'HITL_PENDING')
    assert.equal(stageStatus(projection, 'INGEST_AVAILS'), 'RUNTIME_INPUTS_REQUIRED')
    assert.equal(moduleOf(projection, 'static-avails-feed').openWorkItemCount, 1)
  })

  it('marks INGEST_AVAILS and HOLD_CAPACITY RUNTIME_INPUTS_REQUIRED until an avail is sellable', async () => {
    await createFeedSource(ctx)
    await insertAvail(ctx, { availId: 'ended', startTime: '2026-07-01T00:00:00.000Z', endTime: '2026-07-31T23:59:59.000Z' })
    await insertAvail(ctx, { availId: 'inactive', status: 'INACTIVE' })
    let projection = await readProjection(ctx)
    assert.equal(projection.activeAvailCount, 0)
    assert.equal(stageStatus(projection, 'INGEST_AVAILS'), 'RUNTIME_INPUTS_REQUIRED')
    assert.equal(stageStatus(projection, 'HOLD_CAPACITY'), 'RUNTIME_INPUTS_REQUIRED')
    assert.equal(projection.inventorySource.healthStatus, 'unhealthy')
    assert.ok(projection.issues.some((issue) => issue.code === 'NO_ACTIVE_AVAILS'))

    await insertAvail(ctx, { availId: 'december' })
    projection = await readProjection(ctx)
    assert.equal(projection.activeAvailCount, 1)
    assert.equal(stageStatus(projection, 'INGEST_AVAILS'), 'READY')
    assert.equal(stageStatus(projection, 'HOLD_CAPACITY'), 'READY')
    assert.equal(projection.inventorySource.healthStatus, 'healthy')
    assert.deepEqual(projection.issues, [])
  })

  it('counts an avail as active only until its flight ends on the clock', async () => {
    await createFeedSource(ctx)
    await insertAvail(ctx, { endTime: '2026-12-31T23:59:59.000Z' })
    assert.equal((await readProjection(ctx)).activeAvailCount, 1)
    ctx.clock.set('2027-01-01T00:00:00.000Z')
    const projection = await readProjection(ctx)
    assert.equal(projection.activeAvailCount, 0)
    assert.equal(stageStatus(projection, 'INGEST_AVAILS'), 'RUNTIME_INPUTS_REQUIRED')
  })

  it('marks the trafficking stages READY once cadent is configured, TRAFFIC_CAMPAIGN AUTOMATED with an endpoint', async () => {
    await createFeedSource(ctx)
    await insertAvail(ctx)
    let projection = await attach({ kind: 'TRAFFICKING', provider: 'cadent', config: CADENT_CONFIG })
    let cadent = moduleOf(projection, 'cadent-trafficking')
    assert.equal(cadent.status, 'ACTIVE')
    assert.equal(cadent.lifecycle.find((stage) => stage.stage === 'TRAFFIC_CAMPAIGN')?.mode, 'HITL')
    assert.equal(cadent.lifecycle.find((stage) => stage.stage === 'TRAFFIC_CAMPAIGN')?.taskContract?.requiredResultKeys[0], 'cadentCampaignId')
    for (const stage of ['RENDER_TRAFFICKING_PAYLOAD', 'TRAFFIC_CAMPAIGN', 'MAP_CREATIVES']) assert.equal(stageStatus(projection, stage), 'READY')

    projection = await patch('cadent-trafficking', { config: { cadentEndpointUrl: 'https://cadent.example.com/campaigns' } })
    cadent = moduleOf(projection, 'cadent-trafficking')
    assert.equal(cadent.lifecycle.find((stage) => stage.stage === 'TRAFFIC_CAMPAIGN')?.mode, 'AUTOMATED')
    // A fallback item still means a human is on it.
    await insertWorkItem(ctx, { kind: 'TRAFFIC_TO_CADENT', moduleInstanceId: 'cadent-trafficking' })
    assert.equal(stageStatus(await readProjection(ctx), 'TRAFFIC_CAMPAIGN'), 'HITL_PENDING')
    assert.equal(stageStatus(await readProjection(ctx), 'RENDER_TRAFFICKING_PAYLOAD'), 'READY')
  })

  it('marks IMPORT_FINAL_REPORT READY with report upload attached and HITL_PENDING while a report is due', async () => {
    await createFeedSource(ctx)
    await insertAvail(ctx)
    const projection = await attach({ kind: 'REPORTING_IMPORT', provider: 'upload' })
    assert.equal(stageStatus(projection, 'IMPORT_FINAL_REPORT'), 'READY')
    await insertWorkItem(ctx, { kind: 'UPLOAD_FINAL_REPORT', moduleInstanceId: 'report-upload' })
    const pending = await readProjection(ctx)
    assert.equal(stageStatus(pending, 'IMPORT_FINAL_REPORT'), 'HITL_PENDING')
    assert.equal(pending.openWorkItemCountsByKind.UPLOAD_FINAL_REPORT, 1)
  })

  it('reports the source unhealthy without an ACTIVE booking ledger', async () => {
    await createFeedSource(ctx, { includeBookingLedger: false })
    await insertAvail(ctx)
    const projection = await readProjection(ctx)
    assert.deepEqual(projection.modules.map((module) => module.moduleInstanceId), ['static-avails-feed'])
    assert.equal(stageStatus(projection, 'HOLD_CAPACITY'), 'UNSUPPORTED')
    assert.equal(projection.inventorySource.healthStatus, 'unhealthy')
    assert.ok(projection.issues.some((issue) => issue.code === 'NO_BOOKING_LEDGER'))
  })

  it('reports a DISABLED source unhealthy whatever its modules say', async () => {
    await createFeedSource(ctx)
    await insertAvail(ctx)
    await ctx.db.updateTable('inventory_source').set({ status: 'DISABLED' }).execute()
    const projection = await readProjection(ctx)
    assert.equal(projection.inventorySource.status, 'DISABLED')
    assert.equal(projection.inventorySource.healthStatus, 'unhealthy')
    assert.ok(projection.issues.some((issue) => issue.code === 'SOURCE_DISABLED'))
  })

  it('shows a stored module whose provider left the catalog as CONFIGURING with no contract', async () => {
    await createFeedSource(ctx)
    const source = await ctx.db.selectFrom('inventory_source').select('id').executeTakeFirstOrThrow()
    await ctx.db
      .insertInto('module_instance')
      .values({ inventory_source_id: source.id, module_instance_id: 'legacy', kind: 'STATUS_SYNC', provider: 'retired', name: 'Legacy', config: '{}', created_at: ctx.clock.now(), updated_at: ctx.clock.now() })
      .execute()
    const legacy = moduleOf(await readProjection(ctx), 'legacy')
    assert.equal(legacy.status, 'CONFIGURING')
    assert.equal(legacy.contract, null)
    assert.deepEqual(legacy.lifecycle, [])
    assert.equal(legacy.issues[0]?.code, 'UNKNOWN_PROVIDER')
  })

  it('answers 404 for an unknown source, a non-modular source and another storefront\'s source', async () => {
    await createFeedSource(ctx)
    assert.equal((await ctx.api('GET', '/inventory-sources/nope/modular')).statusCode, 404)
    const agent = await ctx.api('POST', '/inventory-sources', {
      name: 'Agent',
      sourceId: 'plain-agent',
      type: 'SALES',
      endpointUrl: 'https://agent.example.com/mcp',
      protocol: 'MCP',
      authenticationType: 'API_KEY',
    })
    assert.equal(agent.statusCode, 201, agent.body)
    const notModular = await ctx.api('GET', '/inventory-sources/plain-agent/modular')
    assert.equal(notModular.statusCode, 404)
    const other = await ctx.api('GET', '/inventory-sources/retail-modular/modular', undefined, { key: ctx.otherKey })
    assert.equal(other.statusCode, 404)
    assert.equal(other.json().error.code, 'NOT_FOUND')
    assert.equal((await ctx.api('GET', '/inventory-sources/retail-modular/modular', undefined, { key: null })).statusCode, 401)
  })
})
