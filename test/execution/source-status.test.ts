import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { json } from '../../src/db/database.ts'
import type { SourceStatus } from '../../src/modules/source-status/modular-status.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { createFeedSource } from '../modular/helpers.ts'
import { createDemo, DEMO, errorOf, finalize, ok, reserve } from './helpers.ts'

async function insertSource(ctx: TestContext, sourceId: string, executionType: 'AGENT'): Promise<void> {
  const storefront = await ctx.db.selectFrom('storefront').select('id').where('name', '=', 'acme').executeTakeFirstOrThrow()
  const now = ctx.clock.now()
  await ctx.db.insertInto('inventory_source').values({
    storefront_id: storefront.id, source_id: sourceId, name: sourceId, execution_type: executionType, status: 'PENDING',
    setup_metadata: json({}), created_at: now, updated_at: now,
  }).execute()
}

describe('GET /inventory-sources/{sourceId}/status', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
    await createDemo(ctx)
    await reserve(ctx, {})
    ok(await finalize(ctx))
    await createFeedSource(ctx)
    await insertSource(ctx, 'some-agent', 'AGENT')
  })
  after(async () => ctx.close())

  it('computes the managed-status shape from local state for a modular source', async () => {
    const status = ok<SourceStatus>(await ctx.api('GET', `/inventory-sources/${DEMO}/status`))
    assert.deepEqual(status.adapter, { type: 'cadent', connected: true, lastTestedAt: null, lastTestError: null })
    assert.equal(status.syncs.inventory.status, 'success')
    assert.equal(status.syncs.inventory.itemCount, 5)
    assert.equal(status.syncs.customTargeting.status, 'not_applicable')
    assert.deepEqual(status.workflows, {
      openCount: 3,
      oldestOpenedAt: '2026-11-22T12:00:00.000Z',
      byKind: { MAP_CREATIVE_REF: 1, TRAFFIC_TO_CADENT: 1, UPLOAD_FINAL_REPORT: 1 },
    })
    assert.deepEqual(status.packages, { activeCount: 1, pausedCount: 0, last24hImpressions: 0 })
    assert.deepEqual(status.creatives, { activeCount: 1, pendingReviewCount: 1, rejectedLast24hCount: 0 })
    assert.deepEqual(status.products, { activeCount: 5, draftCount: 0, archivedCount: 0 })
    assert.equal(status.fetchedAt, '2026-11-22T12:00:00.000Z')
    assert.equal(status.setupTasks.blockerCount, 0)
    assert.ok(status.setupTasks.items.every((task) => task.isComplete))
    assert.equal(status.operational.isLive, true)
    assert.equal(status.operational.deliveryDegraded, false)
  })

  it('lists the setup gaps of a fresh feed source as blockers', async () => {
    const status = ok<SourceStatus>(await ctx.api('GET', '/inventory-sources/retail-modular/status'))
    const open = status.setupTasks.items.filter((task) => !task.isComplete).map((task) => [task.id, task.severity])
    assert.deepEqual(open, [['source:avails', 'blocker'], ['source:trafficking', 'warning']])
    assert.equal(status.setupTasks.blockerCount, 1)
    assert.equal(status.setupTasks.warningCount, 1)
    assert.equal(status.adapter.type, 'none')
    assert.equal(status.operational.isLive, false)
    assert.equal(status.operational.discoveryDegraded, true)
    assert.equal(status.syncs.inventory.status, 'never_run', 'the managed agents\' word, so every source kind answers one vocabulary')
  })

  it('answers an AGENT source from what the storefront knows, and 404 for strangers', async () => {
    const agent = ok<Record<string, unknown>>(await ctx.api('GET', '/inventory-sources/some-agent/status'))
    assert.deepEqual(agent.adapter, { type: 'adcp_mcp', connected: false, lastTestedAt: null, lastTestError: null })
    assert.ok(!('packages' in agent), 'no buyer traffic is routed to agents yet')
    errorOf(await ctx.api('GET', '/inventory-sources/nope/status'), 404)
    errorOf(await ctx.api('GET', `/inventory-sources/${DEMO}/status`, undefined, { key: ctx.otherKey }), 404)
  })
})
