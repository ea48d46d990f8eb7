import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { registerProvider } from '../../../src/modules/registry.ts'
import { createTestContext, type TestContext } from '../../helpers/context.ts'
import { SLOT_KIND, throwawayProvider } from './provider.ts'

// The one registry line a new provider needs, made from outside src/.
registerProvider(throwawayProvider)

const SOURCE = 'desk-source'

describe('a provider registered from a test folder', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
  })
  after(async () => {
    await ctx.close()
  })

  async function call(method: 'GET' | 'POST', url: string, body: Record<string, unknown> | undefined, status: number) {
    const response = await ctx.api(method, url, body)
    assert.equal(response.statusCode, status, response.body)
    return response.json()
  }

  it('is attached, plans the hand-off with its own HITL kind, and its completion effect books the line', async () => {
    await call('POST', '/inventory-sources/modular/feed', { name: 'Desk', sourceId: SOURCE, includeBookingLedger: true }, 201)
    const attached = await call('POST', `/inventory-sources/${SOURCE}/modular/modules`, { kind: 'TRAFFICKING', provider: 'throwaway' }, 201)
    const desk = attached.modules.find((module: { moduleInstanceId: string }) => module.moduleInstanceId === 'throwaway-desk')
    assert.equal(desk.status, 'ACTIVE')
    assert.equal(attached.openWorkItemCountsByKind[SLOT_KIND], 0)

    const now = ctx.clock.now()
    const source = await ctx.db.selectFrom('inventory_source').select('id').where('source_id', '=', SOURCE).executeTakeFirstOrThrow()
    await ctx.db.insertInto('avail').values({
      inventory_source_id: source.id, avail_id: 'late-night', collection_id: 'ctv', collection_name: 'CTV', name: 'Late night',
      start_time: '2026-12-01T00:00:00.000Z', end_time: '2026-12-31T23:59:59.000Z', feed_capacity: 1_000_000,
      targeting: '{}', source_metadata: '{}', status: 'ACTIVE', created_at: now, updated_at: now,
    }).execute()
    await call('POST', `/inventory-sources/${SOURCE}/modular/reservations`, { availId: 'late-night', mediaBuyId: 'mb_desk', requestedImpressions: 1_000, holdMinutes: 60 }, 201)

    const finalized = await call('POST', `/inventory-sources/${SOURCE}/modular/bookings/finalize`, {
      mediaBuyId: 'mb_desk', availId: 'late-night', campaignName: 'Desk test', advertiserName: 'Example',
    }, 200)
    assert.equal(finalized.booking.status, 'HELD')
    assert.equal(finalized.booking.traffickingMode, 'HITL')
    assert.deepEqual(finalized.workItems.map((item: { kind: string }) => item.kind), [SLOT_KIND])
    const item = finalized.workItems[0]
    assert.deepEqual(item.requiredResultFields, ['slotRef'])
    assert.equal(item.description, 'Approve the slot on the desk, then complete with its slotRef.')
    assert.equal(finalized.projection.openWorkItemCountsByKind[SLOT_KIND], 1)
    assert.equal(finalized.projection.lifecycleSummary.find((row: { stage: string }) => row.stage === 'TRAFFIC_CAMPAIGN').status, 'HITL_PENDING')

    const listed = await call('GET', `/inventory-sources/${SOURCE}/modular/work-items?kind=${SLOT_KIND.toLowerCase()}`, undefined, 200)
    assert.deepEqual(listed.items.map((listedItem: { id: string }) => listedItem.id), [item.id])

    const completed = await call('POST', `/inventory-sources/${SOURCE}/modular/work-items/${item.id}/complete`, { result: { slotRef: 'SLOT-7' } }, 200)
    assert.equal(completed.item.status, 'COMPLETED')
    const reservation = await ctx.db.selectFrom('reservation').select('status').where('media_buy_id', '=', 'mb_desk').executeTakeFirstOrThrow()
    assert.equal(reservation.status, 'BOOKED')
    const events = await ctx.db.selectFrom('work_item_event').select(['event_type', 'payload']).where('work_item_id', '=', Number(item.id)).orderBy('id').execute()
    assert.deepEqual(events.map((event) => event.event_type), ['CREATED', 'COMPLETED'])
    assert.deepEqual(events[1]!.payload, { resultKeys: ['slotRef'], effect: { slotRef: 'SLOT-7', booked: true, reservationStatus: 'BOOKED' } })
  })
})
