import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { insertMediaBuyFixture } from '../helpers/media-buy-fixture.ts'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

interface CreativeRow {
  creative_id: string
  action: string
  status?: string
  changes?: string[]
  errors?: Array<{ code: string; message: string; field?: string }>
  assigned_to?: string[]
  assignment_errors?: Record<string, string>
}

interface ListedCreative {
  creative_id: string
  name: string
  status: string
  format_id: { agent_url: string; id: string }
}

const DEMO = 'talpa-cadent-demo'
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }

let keySeq = 0
function idempotencyKey(): string {
  return `creatives-test-key-${String(++keySeq).padStart(8, '0')}`
}

describe('sync_creatives and list_creatives over MCP', () => {
  let ctx: McpTestContext
  let buyerA: Client
  let buyerB: Client
  let accountA: string
  let accountB: string
  let availIds: string[]

  function spot(creativeId: string, overrides: Record<string, unknown> = {}) {
    return {
      creative_id: creativeId,
      name: `Spot ${creativeId}`,
      format_id: { agent_url: ctx.mcpUrl, id: 'video_spot_30s' },
      assets: { video_file: { asset_type: 'video', url: `https://cdn.example.com/${creativeId}.mp4`, width: 1920, height: 1080, duration_ms: 30_000 } },
      industry_identifiers: [{ type: 'ad_id', value: 'ACME0042000H' }],
      ...overrides,
    }
  }

  async function sync(client: Client, args: Record<string, unknown>) {
    return callTool(client, 'sync_creatives', { account: ACCOUNT, idempotency_key: idempotencyKey(), ...args })
  }

  async function syncOk(client: Client, args: Record<string, unknown>): Promise<CreativeRow[]> {
    const { isError, payload } = await sync(client, args)
    assert.equal(isError, false, JSON.stringify(payload))
    return payload.creatives as CreativeRow[]
  }

  async function list(client: Client, args: Record<string, unknown> = {}) {
    const { isError, payload } = await callTool(client, 'list_creatives', { account: ACCOUNT, ...args })
    assert.equal(isError, false, JSON.stringify(payload))
    return payload as { creatives: ListedCreative[]; pagination: { has_more: boolean; cursor?: string; total_count?: number }; query_summary: { total_matching: number; returned: number } }
  }

  async function buyStatus(mediaBuyId: string) {
    return (await ctx.db.selectFrom('media_buy').select(['status', 'revision']).where('media_buy_id', '=', mediaBuyId).executeTakeFirstOrThrow())
  }

  before(async () => {
    ctx = await createMcpTestContext()
    assert.equal((await ctx.api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
    availIds = (await ctx.api('GET', `/inventory-sources/${DEMO}/modular/products`)).json().products.map((product: { availId: string }) => product.availId)
    buyerA = await ctx.connect(ctx.buyerKey)
    buyerB = await ctx.connect(ctx.otherBuyerKey)
    for (const [client, set] of [[buyerA, (id: string) => { accountA = id }], [buyerB, (id: string) => { accountB = id }]] as const) {
      const { payload } = await callTool(client, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: idempotencyKey() })
      set((payload.accounts as Array<{ account_id: string }>)[0]!.account_id)
    }
  })
  after(async () => {
    await ctx.close()
  })

  describe('the library', () => {
    it('creates a TV spot of a served format with its Ad-ID, approved; the same spot again is unchanged; a change is an update naming the field', async () => {
      const [created] = await syncOk(buyerA, { creatives: [spot('lib_spot_1')] })
      assert.deepEqual([created!.creative_id, created!.action, created!.status], ['lib_spot_1', 'created', 'approved'])
      const [unchanged] = await syncOk(buyerA, { creatives: [spot('lib_spot_1')] })
      assert.deepEqual([unchanged!.action, unchanged!.status], ['unchanged', 'approved'])
      const [updated] = await syncOk(buyerA, { creatives: [spot('lib_spot_1', { name: 'Renamed spot' })] })
      assert.deepEqual([updated!.action, updated!.status, updated!.changes], ['updated', 'approved', ['name']])
      const stored = await ctx.db.selectFrom('creative').selectAll().where('creative_id', '=', 'lib_spot_1').executeTakeFirstOrThrow()
      assert.deepEqual([stored.name, stored.ad_id, stored.format_key, stored.buyer_account_id > 0], ['Renamed spot', 'ACME0042000H', 'video_spot_30s', true])
    })

    it('fails a live key\'s creative whose format this agent does not serve (another agent\'s, or an unknown id), naming format_id, and still takes the others of the sync', async () => {
      const rows = await syncOk(buyerA, {
        creatives: [
          spot('lib_foreign', { format_id: { agent_url: 'https://your-platform.example.com', id: 'display_300x250' } }),
          spot('lib_wrong_id', { format_id: { agent_url: ctx.mcpUrl, id: 'video_spot_45s' } }),
          spot('lib_ok_2'),
        ],
      })
      assert.deepEqual(rows.map((row) => [row.creative_id, row.action]), [['lib_foreign', 'failed'], ['lib_wrong_id', 'failed'], ['lib_ok_2', 'created']])
      assert.equal(rows[0]!.errors![0]!.field, 'creatives[0].format_id')
      assert.equal(rows[1]!.errors![0]!.field, 'creatives[1].format_id')
      assert.match(rows[0]!.errors![0]!.message, /not a format this agent serves/)
      const stored = await ctx.db.selectFrom('creative').select('creative_id').where('creative_id', 'in', ['lib_foreign', 'lib_wrong_id']).execute()
      assert.deepEqual(stored, [])
    })

    it('rejects a TV spot without an Ad-ID, or with one that is not an Ad-ID, per creative and naming industry_identifiers', async () => {
      const rows = await syncOk(buyerA, {
        creatives: [
          spot('lib_no_adid', { industry_identifiers: undefined }),
          spot('lib_isci_only', { industry_identifiers: [{ type: 'isci', value: 'ACME0042' }] }),
          spot('lib_bad_adid', { industry_identifiers: [{ type: 'ad_id', value: 'not an ad-id' }] }),
        ],
      })
      for (const [index, row] of rows.entries()) {
        assert.equal(row.action, 'failed')
        assert.deepEqual([row.errors![0]!.code, row.errors![0]!.field], ['CREATIVE_REJECTED', `creatives[${index}].industry_identifiers`])
      }
    })

    it('fails a spot without a video asset of its format, or of another length, naming assets', async () => {
      const rows = await syncOk(buyerA, {
        creatives: [
          spot('lib_image', { assets: { image: { asset_type: 'image', url: 'https://cdn.example.com/banner.png', width: 300, height: 250 } } }),
          spot('lib_15s', { assets: { video_file: { asset_type: 'video', url: 'https://cdn.example.com/15.mp4', width: 1920, height: 1080, duration_ms: 15_000 } } }),
        ],
      })
      assert.deepEqual(rows.map((row) => [row.action, row.errors?.[0]?.field]), [['failed', 'creatives[0].assets'], ['failed', 'creatives[1].assets']])
    })

    it('two concurrent syncs of one new creative both succeed: one creates it, the other finds it unchanged', async () => {
      const [first, second] = await Promise.all([syncOk(buyerA, { creatives: [spot('lib_race')] }), syncOk(buyerA, { creatives: [spot('lib_race')] })])
      assert.deepEqual([first![0]!.action, second![0]!.action].sort(), ['created', 'unchanged'])
      assert.equal((await ctx.db.selectFrom('creative').select('id').where('creative_id', '=', 'lib_race').execute()).length, 1)
    })

    it('refuses dry_run and delete_missing as unsupported, writing nothing', async () => {
      for (const flag of ['dry_run', 'delete_missing']) {
        const { isError, payload } = await sync(buyerA, { creatives: [spot(`lib_${flag}`)], [flag]: true })
        assert.equal(isError, true)
        const error = (payload.adcp_error ?? (payload.errors as unknown[])?.[0]) as { code: string; field?: string }
        assert.deepEqual([error.code, error.field], ['UNSUPPORTED_FEATURE', flag])
      }
      assert.deepEqual(await ctx.db.selectFrom('creative').select('creative_id').where('creative_id', 'like', 'lib_d%').execute(), [])
    })

    it('refuses one creative_id sent twice in a sync, naming the second', async () => {
      const { isError, payload } = await sync(buyerA, { creatives: [spot('lib_twice'), spot('lib_twice')] })
      assert.equal(isError, true)
      const error = (payload.adcp_error ?? (payload.errors as unknown[])?.[0]) as { code: string; field?: string }
      assert.deepEqual([error.code, error.field], ['INVALID_REQUEST', 'creatives[1].creative_id'])
    })

    it('syncs only the creative_ids named when creative_ids scopes the sync', async () => {
      const rows = await syncOk(buyerA, { creatives: [spot('lib_scope_in'), spot('lib_scope_out')], creative_ids: ['lib_scope_in'] })
      assert.deepEqual(rows.map((row) => row.creative_id), ['lib_scope_in'])
      assert.equal((await ctx.db.selectFrom('creative').select('id').where('creative_id', '=', 'lib_scope_out').execute()).length, 0)
    })
  })

  describe('list_creatives', () => {
    before(async () => {
      await syncOk(buyerB, { creatives: [spot('page_1'), spot('page_2'), spot('page_3')] })
    })

    it('pages the key\'s library with a cursor; total_matching stays the whole set and returned is the slice', async () => {
      const first = await list(buyerB, { pagination: { max_results: 2 } })
      assert.deepEqual(first.creatives.map((creative) => creative.creative_id), ['page_1', 'page_2'])
      assert.deepEqual([first.pagination.has_more, first.query_summary.total_matching, first.query_summary.returned, first.pagination.total_count], [true, 3, 2, 3])
      assert.ok(first.pagination.cursor)
      const last = await list(buyerB, { pagination: { max_results: 2, cursor: first.pagination.cursor } })
      assert.deepEqual(last.creatives.map((creative) => creative.creative_id), ['page_3'])
      assert.deepEqual([last.pagination.has_more, last.pagination.cursor, last.query_summary.total_matching, last.query_summary.returned], [false, undefined, 3, 1])
    })

    it('filters by creative_ids, statuses and format_ids', async () => {
      assert.deepEqual((await list(buyerB, { filters: { creative_ids: ['page_2', 'page_3'] } })).creatives.map((creative) => creative.creative_id), ['page_2', 'page_3'])
      assert.equal((await list(buyerB, { filters: { statuses: ['rejected'] } })).query_summary.total_matching, 0)
      assert.equal((await list(buyerB, { filters: { statuses: ['approved'] } })).query_summary.total_matching, 3)
      assert.equal((await list(buyerB, { filters: { format_ids: [{ agent_url: ctx.mcpUrl, id: 'video_spot_15s' }] } })).query_summary.total_matching, 0)
      const listed = await list(buyerB, { filters: { format_ids: [{ agent_url: ctx.mcpUrl, id: 'video_spot_30s' }] } })
      assert.equal(listed.query_summary.total_matching, 3)
      assert.deepEqual(listed.creatives[0]!.format_id, { agent_url: ctx.mcpUrl, id: 'video_spot_30s' })
    })

    it('never shows another key\'s creatives: asked for by id they answer like missing ones', async () => {
      const own = await list(buyerA, { filters: { creative_ids: ['page_2'] } })
      const missing = await list(buyerA, { filters: { creative_ids: ['page_never_synced'] } })
      assert.deepEqual(own, missing)
      assert.equal(own.query_summary.total_matching, 0)
    })

    it('keeps each key\'s creative_ids apart: another key may sync the same id as a creative of its own', async () => {
      const [row] = await syncOk(buyerA, { creatives: [spot('page_1', { name: 'A\'s own page_1' })] })
      assert.equal(row!.action, 'created')
      assert.deepEqual((await list(buyerB, { filters: { creative_ids: ['page_1'] } })).creatives.map((creative) => creative.name), ['Spot page_1'])
    })

    it('lists the key\'s library for a request that names no account', async () => {
      const { isError, payload } = await callTool(buyerB, 'list_creatives', { pagination: { max_results: 1 } })
      assert.equal(isError, false, JSON.stringify(payload))
      assert.equal((payload.query_summary as { total_matching: number }).total_matching, 3)
    })

    it('refuses a filter it cannot apply, naming it', async () => {
      const { isError, payload } = await callTool(buyerB, 'list_creatives', { account: ACCOUNT, filters: { tags: ['x'] } })
      assert.equal(isError, true)
      const error = (payload.adcp_error ?? (payload.errors as unknown[])?.[0]) as { code: string; field?: string }
      assert.deepEqual([error.code, error.field], ['UNSUPPORTED_FEATURE', 'filters.tags'])
    })

    it('refuses a cursor it did not hand out', async () => {
      const { isError, payload } = await callTool(buyerB, 'list_creatives', { account: ACCOUNT, pagination: { cursor: 'garbage' } })
      assert.equal(isError, true)
      const error = (payload.adcp_error ?? (payload.errors as unknown[])?.[0]) as { code: string; field?: string }
      assert.deepEqual([error.code, error.field], ['INVALID_REQUEST', 'pagination.cursor'])
    })
  })

  describe('assignments', () => {
    it('puts a creative on the key\'s own package; an unknown package and another buyer\'s package are the same assignment error', async () => {
      await insertMediaBuyFixture(ctx.db, { accountId: accountA, mediaBuyId: 'mb_assign_a', packages: [{ packageId: 'pkg_a1', sourceId: DEMO, availId: availIds[0]! }] })
      await insertMediaBuyFixture(ctx.db, { accountId: accountB, mediaBuyId: 'mb_assign_b', packages: [{ packageId: 'pkg_b1', sourceId: DEMO, availId: availIds[0]! }] })
      const [row] = await syncOk(buyerA, {
        creatives: [spot('asg_spot')],
        assignments: [
          { creative_id: 'asg_spot', package_id: 'pkg_a1', weight: 50 },
          { creative_id: 'asg_spot', package_id: 'pkg_nowhere' },
          { creative_id: 'asg_spot', package_id: 'pkg_b1' },
        ],
      })
      assert.deepEqual([row!.action, row!.assigned_to], ['created', ['pkg_a1']])
      assert.deepEqual(row!.assignment_errors, { pkg_nowhere: 'package pkg_nowhere not found', pkg_b1: 'package pkg_b1 not found' })
      const assignments = await ctx.db.selectFrom('creative_assignment').innerJoin('media_buy_package', 'media_buy_package.id', 'creative_assignment.package_row_id').select(['package_id', 'weight']).execute()
      assert.deepEqual(assignments.filter((assignment) => assignment.package_id.startsWith('pkg_a') || assignment.package_id.startsWith('pkg_b')), [{ package_id: 'pkg_a1', weight: 50 }])
    })

    it('assigns a library creative that the sync does not re-send, on a row of its own; a creative that failed its check is not assigned', async () => {
      await insertMediaBuyFixture(ctx.db, { accountId: accountA, mediaBuyId: 'mb_assign_lib', packages: [{ packageId: 'pkg_lib1', sourceId: DEMO, availId: availIds[1]! }] })
      const rows = await syncOk(buyerA, {
        creatives: [spot('asg_bad', { industry_identifiers: [] })],
        assignments: [{ creative_id: 'lib_ok_2', package_id: 'pkg_lib1' }, { creative_id: 'asg_bad', package_id: 'pkg_lib1' }],
      })
      const byId = Object.fromEntries(rows.map((row) => [row.creative_id, row]))
      assert.deepEqual([byId.lib_ok_2!.action, byId.lib_ok_2!.assigned_to], ['unchanged', ['pkg_lib1']])
      assert.equal(byId.asg_bad!.action, 'failed')
      assert.deepEqual(Object.keys(byId.asg_bad!.assignment_errors!), ['pkg_lib1'])
    })

    it('takes a pending_creatives buy to pending_start once every package has a creative (future flight), a new revision', async () => {
      await insertMediaBuyFixture(ctx.db, {
        accountId: accountA,
        mediaBuyId: 'mb_ready',
        packages: [{ packageId: 'pkg_r1', sourceId: DEMO, availId: availIds[0]! }, { packageId: 'pkg_r2', sourceId: DEMO, availId: availIds[1]! }],
      })
      await syncOk(buyerA, { creatives: [spot('ready_1')], assignments: [{ creative_id: 'ready_1', package_id: 'pkg_r1' }] })
      assert.deepEqual(await buyStatus('mb_ready'), { status: 'pending_creatives', revision: 1 })
      await syncOk(buyerA, { creatives: [spot('ready_2')], assignments: [{ creative_id: 'ready_2', package_id: 'pkg_r2' }] })
      assert.deepEqual(await buyStatus('mb_ready'), { status: 'pending_start', revision: 2 })
    })

    it('takes a buy whose flight has begun straight to active', async () => {
      await insertMediaBuyFixture(ctx.db, {
        accountId: accountA,
        mediaBuyId: 'mb_live',
        startTime: '2026-11-01T00:00:00.000Z',
        packages: [{ packageId: 'pkg_live', sourceId: DEMO, availId: availIds[2]! }],
      })
      await syncOk(buyerA, { creatives: [spot('live_1')], assignments: [{ creative_id: 'live_1', package_id: 'pkg_live' }] })
      assert.deepEqual(await buyStatus('mb_live'), { status: 'active', revision: 2 })
    })

    it('leaves the library alone when a buy is canceled, refuses the canceled buy\'s package, and reuses the creative on a new buy', async () => {
      await insertMediaBuyFixture(ctx.db, { accountId: accountA, mediaBuyId: 'mb_fate', packages: [{ packageId: 'pkg_fate', sourceId: DEMO, availId: availIds[3]! }] })
      await syncOk(buyerA, { creatives: [spot('fate_1')], assignments: [{ creative_id: 'fate_1', package_id: 'pkg_fate' }] })
      await ctx.db.updateTable('media_buy').set({ status: 'canceled', canceled_at: new Date(), canceled_by: 'buyer' }).where('media_buy_id', '=', 'mb_fate').execute()
      const listed = await list(buyerA, { filters: { creative_ids: ['fate_1'] } })
      assert.deepEqual(listed.creatives.map((creative) => [creative.creative_id, creative.status]), [['fate_1', 'approved']])
      const [refused] = await syncOk(buyerA, { creatives: [spot('fate_1')], assignments: [{ creative_id: 'fate_1', package_id: 'pkg_fate' }] })
      assert.deepEqual(refused!.assignment_errors, { pkg_fate: 'package pkg_fate belongs to a canceled media buy' })
      // The same package id on a new buy of the key is the one open for creatives.
      await insertMediaBuyFixture(ctx.db, { accountId: accountA, mediaBuyId: 'mb_fate_2', packages: [{ packageId: 'pkg_fate', sourceId: DEMO, availId: availIds[3]! }] })
      const [reused] = await syncOk(buyerA, { creatives: [spot('fate_1')], assignments: [{ creative_id: 'fate_1', package_id: 'pkg_fate' }] })
      assert.deepEqual([reused!.action, reused!.assigned_to], ['unchanged', ['pkg_fate']])
      assert.equal((await buyStatus('mb_fate_2')).status, 'pending_start')
    })
  })

  describe('MAP_CREATIVE_REF', () => {
    it('a creative put on a handed-off package opens the source\'s MAP_CREATIVE_REF item once; completing it stores the creativeRef on the booking', async () => {
      const availId = availIds[4]!
      const { mediaBuyRowId } = await insertMediaBuyFixture(ctx.db, { accountId: accountA, mediaBuyId: 'mb_map', packages: [{ packageId: 'pkg_map', sourceId: DEMO, availId }] })
      const account = await ctx.db.selectFrom('media_buy').select('buyer_account_id').where('id', '=', mediaBuyRowId).executeTakeFirstOrThrow()
      const held = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/reservations`, {
        availId, mediaBuyId: 'mb_map', packageId: 'pkg_map', buyerCustomerId: account.buyer_account_id, requestedImpressions: 1000, holdMinutes: 60,
      })
      assert.equal(held.statusCode, 201, held.body)
      const finalized = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/bookings/finalize`, {
        mediaBuyId: 'mb_map', availId, packageId: 'pkg_map', campaignName: 'Map test', advertiserName: 'Acme Outdoor',
      })
      assert.equal(finalized.statusCode, 200, finalized.body)
      // Handed off without a creative: the demo's cadent module opened no MAP_CREATIVE_REF.
      assert.deepEqual(finalized.json().workItems.map((item: { kind: string }) => item.kind), ['TRAFFIC_TO_CADENT', 'UPLOAD_FINAL_REPORT'])

      await syncOk(buyerA, { creatives: [spot('map_1')], assignments: [{ creative_id: 'map_1', package_id: 'pkg_map' }] })
      await syncOk(buyerA, { creatives: [spot('map_1')], assignments: [{ creative_id: 'map_1', package_id: 'pkg_map' }] })
      const items = (await ctx.api('GET', `/inventory-sources/${DEMO}/modular/work-items?kind=MAP_CREATIVE_REF&mediaBuyId=mb_map`)).json().items
      assert.equal(items.length, 1)
      const [item] = items
      assert.equal(item.createdByType, 'BUYER')
      assert.deepEqual(item.requiredResultFields, ['creativeRef'])
      assert.deepEqual([item.payload.creativeId, item.payload.packageId, item.payload.campaignName], ['map_1', 'pkg_map', 'Map test'])
      assert.deepEqual(item.payload.creative, { format: 'video_spot_30s', durationSeconds: 30, assetUrl: 'https://cdn.example.com/map_1.mp4', adId: 'ACME0042000H' })

      const completed = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/work-items/${item.id}/complete`, { result: { creativeRef: 'CAD-CR-991' } })
      assert.equal(completed.statusCode, 200, completed.body)
      const booking = await ctx.db.selectFrom('booking').select('external_refs').where('media_buy_id', '=', 'mb_map').executeTakeFirstOrThrow()
      assert.equal(booking.external_refs.creativeRef, 'CAD-CR-991')
    })

    it('a package with no live hold behind it gets its assignment but no work item', async () => {
      await insertMediaBuyFixture(ctx.db, { accountId: accountA, mediaBuyId: 'mb_nohold', packages: [{ packageId: 'pkg_nohold', sourceId: DEMO, availId: availIds[4]! }] })
      const [row] = await syncOk(buyerA, { creatives: [spot('nohold_1')], assignments: [{ creative_id: 'nohold_1', package_id: 'pkg_nohold' }] })
      assert.deepEqual(row!.assigned_to, ['pkg_nohold'])
      const items = (await ctx.api('GET', `/inventory-sources/${DEMO}/modular/work-items?kind=MAP_CREATIVE_REF&mediaBuyId=mb_nohold`)).json().items
      assert.equal(items.length, 0)
    })
  })
})
