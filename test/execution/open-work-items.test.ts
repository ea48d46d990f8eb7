import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { openWorkItems, type OpenWorkItemInput } from '../../src/modules/work-queue/index.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { statementCounter } from '../helpers/source-at-scale.ts'
import { createDemo, DEMO } from './helpers.ts'

describe('openWorkItems', () => {
  let ctx: TestContext
  let item: (kind: OpenWorkItemInput['kind'], notes: string | null) => OpenWorkItemInput
  before(async () => {
    ctx = await createTestContext()
    await createDemo(ctx, {})
    const source = await ctx.db.selectFrom('inventory_source').select(['id', 'storefront_id']).where('source_id', '=', DEMO).executeTakeFirstOrThrow()
    item = (kind, notes) => ({ storefrontId: source.storefront_id, inventorySourceId: source.id, moduleRowId: null, kind, title: `${kind} item`, mediaBuyId: 'mb_open_items', notes })
  })
  after(async () => ctx.close())

  it('opens the items with their CREATED events in one statement, and announces them in one more', async () => {
    const counter = statementCounter()
    const rows = await ctx.db.withPlugin(counter.plugin).transaction().execute((trx) =>
      openWorkItems(trx, [item('TRAFFIC_TO_CADENT', 'first'), item('UPLOAD_FINAL_REPORT', null), item('MAP_CREATIVE_REF', 'third')], { type: 'OPERATOR', id: 'api_key:7' }, ctx.clock.now()))
    assert.equal(counter.count(), 2)
    assert.deepEqual(rows.map((row) => row.kind), ['TRAFFIC_TO_CADENT', 'UPLOAD_FINAL_REPORT', 'MAP_CREATIVE_REF'])
    assert.ok(rows[0]!.id < rows[1]!.id && rows[1]!.id < rows[2]!.id)
    const events = await ctx.db.selectFrom('work_item_event').selectAll().where('work_item_id', 'in', rows.map((row) => row.id)).orderBy('id').execute()
    assert.deepEqual(
      events.map((event) => [event.work_item_id, event.event_type, event.actor_type, event.actor_id, event.notes, event.created_at.toISOString()]),
      rows.map((row, i) => [row.id, 'CREATED', 'OPERATOR', 'api_key:7', ['first', null, 'third'][i], ctx.clock.now().toISOString()]),
    )
  })

  it('writes nothing when one item of the batch cannot be written', async () => {
    const before = await ctx.db.selectFrom('work_item').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
    await assert.rejects(ctx.db.transaction().execute((trx) =>
      openWorkItems(trx, [item('TRAFFIC_TO_CADENT', 'kept?'), { ...item('UPLOAD_FINAL_REPORT', null), inventorySourceId: 999_999 }], { type: 'SYSTEM', id: null }, ctx.clock.now())))
    const afterwards = await ctx.db.selectFrom('work_item').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
    assert.equal(afterwards.n, before.n)
    assert.equal((await ctx.db.selectFrom('work_item_event').select('id').where('notes', '=', 'kept?').execute()).length, 0)
  })
})
