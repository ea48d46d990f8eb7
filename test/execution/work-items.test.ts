import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { WorkItem, WorkItemEvent } from '../../src/modules/work-queue/work-item.schema.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { skipOnPglite } from '../helpers/database.ts'
import { availCounters, complete, createDemo, DEMO, errorOf, finalize, itemOfKind, listItems, ok, PRIME, reserve, type Finalized } from './helpers.ts'

const base = `/inventory-sources/${DEMO}/modular/work-items`

async function post(ctx: TestContext, id: string, verb: string, body: Record<string, unknown>) {
  return ctx.api('POST', `${base}/${id}/${verb}`, body)
}

async function detail(ctx: TestContext, id: string): Promise<{ item: WorkItem; events: WorkItemEvent[] }> {
  return ok(await ctx.api('GET', `${base}/${id}`))
}

describe('Work items: /inventory-sources/{sourceId}/modular/work-items', () => {
  let ctx: TestContext
  let apiKeyActor: string
  beforeEach(async () => {
    ctx = await createTestContext()
    await createDemo(ctx, {})
    await reserve(ctx, {})
    ok<Finalized>(await finalize(ctx))
    const key = await ctx.db.selectFrom('api_key').select('id').orderBy('id').executeTakeFirstOrThrow()
    apiKeyActor = `api_key:${key.id}`
  })
  afterEach(async () => ctx.close())

  describe('GET list', () => {
    it('lists open items oldest first with {items, total}', async () => {
      const { items, total } = await listItems(ctx)
      assert.equal(total, 3)
      assert.deepEqual(items.map((item) => item.kind), ['TRAFFIC_TO_CADENT', 'MAP_CREATIVE_REF', 'UPLOAD_FINAL_REPORT'])
      assert.ok(items.every((item) => item.sourceId === DEMO && item.status === 'OPEN'))
    })

    it('filters by status list, kind, resource, media buy and buyer, and bounds the page with limit', async () => {
      const traffic = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
      ok(await post(ctx, traffic.id, 'cancel', { reason: 'test' }))
      assert.equal((await listItems(ctx)).total, 2)
      assert.equal((await listItems(ctx, 'status=cancelled')).total, 1)
      assert.equal((await listItems(ctx, 'status=OPEN,CANCELLED')).total, 3)
      assert.equal((await listItems(ctx, 'kind=MAP_CREATIVE_REF')).total, 1)
      assert.equal((await listItems(ctx, `resourceType=reservation&resourceId=${traffic.resourceId}`)).total, 2)
      assert.equal((await listItems(ctx, 'mediaBuyId=mb_123&buyerCustomerId=42')).total, 2)
      assert.equal((await listItems(ctx, 'mediaBuyId=mb_other')).total, 0)
      const page = await listItems(ctx, 'limit=1')
      assert.equal(page.items.length, 1)
      assert.equal(page.total, 2)
      errorOf(await ctx.api('GET', `${base}?status=DONE`), 400)
      errorOf(await ctx.api('GET', `${base}?limit=101`), 400)
      errorOf(await ctx.api('GET', `${base}?kind=NOPE`), 400)
    })

    it('answers 404 for another storefront and for an unknown item', async () => {
      errorOf(await ctx.api('GET', base, undefined, { key: ctx.otherKey }), 404)
      errorOf(await ctx.api('GET', `${base}/999999`), 404)
      errorOf(await ctx.api('GET', `${base}/abc`), 404)
      const { items } = await listItems(ctx)
      errorOf(await ctx.api('GET', `${base}/${items[0]!.id}`, undefined, { key: ctx.otherKey }), 404)
    })
  })

  describe('transitions', () => {
    it('start assigns and moves to IN_PROGRESS, block records the reason, start again unblocks; each appends an event with the actor', async () => {
      const item = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
      const started = ok<{ ok: true; item: WorkItem }>(await post(ctx, item.id, 'start', { assignedTo: 'ana@seller.example' }))
      assert.equal(started.ok, true)
      assert.equal(started.item.status, 'IN_PROGRESS')
      assert.equal(started.item.assignedTo, 'ana@seller.example')
      const blocked = ok<{ item: WorkItem }>(await post(ctx, item.id, 'block', { blockedReason: 'Waiting for Cadent access' }))
      assert.equal(blocked.item.status, 'BLOCKED')
      assert.equal(blocked.item.blockedReason, 'Waiting for Cadent access')
      const resumed = ok<{ item: WorkItem }>(await post(ctx, item.id, 'start', { assignedTo: 'bo@seller.example' }))
      assert.equal(resumed.item.status, 'IN_PROGRESS')
      assert.equal(resumed.item.blockedReason, null)

      const { events } = await detail(ctx, item.id)
      assert.deepEqual(events.map((event) => event.eventType), ['CREATED', 'STARTED', 'BLOCKED', 'STARTED'])
      assert.deepEqual(events.slice(1).map((event) => [event.actorType, event.actorId]), Array(3).fill(['OPERATOR', apiKeyActor]))
      assert.deepEqual(events[2]!.payload, { blockedReason: 'Waiting for Cadent access' })
    })

    it('cancel moves to CANCELLED with the reason and runs no side effect', async () => {
      const item = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
      const cancelled = ok<{ item: WorkItem }>(await post(ctx, item.id, 'cancel', { reason: 'Trafficked by another team' }))
      assert.equal(cancelled.item.status, 'CANCELLED')
      const { events } = await detail(ctx, item.id)
      assert.equal(events.at(-1)!.eventType, 'CANCELLED')
      assert.equal(events.at(-1)!.notes, 'Trafficked by another team')
      assert.deepEqual(await availCounters(ctx), { held: 250_000, booked: 0 })
    })

    it('refuses bodies without their field (400)', async () => {
      const item = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
      errorOf(await post(ctx, item.id, 'start', {}), 400)
      errorOf(await post(ctx, item.id, 'block', { blockedReason: ' ' }), 400)
      errorOf(await post(ctx, item.id, 'cancel', {}), 400)
    })

    it('keeps terminal items immutable: every transition on a COMPLETED or CANCELLED item is 409 WORK_ITEM_TERMINAL', async () => {
      const traffic = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
      ok(await complete(ctx, traffic.id, { result: { cadentCampaignId: 'CAD-1' } }))
      const creative = await itemOfKind(ctx, 'MAP_CREATIVE_REF')
      ok(await post(ctx, creative.id, 'cancel', { reason: 'no creative after all' }))
      for (const id of [traffic.id, creative.id]) {
        for (const [verb, body] of [
          ['start', { assignedTo: 'ana' }],
          ['block', { blockedReason: 'x' }],
          ['cancel', { reason: 'x' }],
          ['complete', { result: { cadentCampaignId: 'CAD-2', creativeRef: 'r' } }],
        ] as const) {
          const error = errorOf(await post(ctx, id, verb, body), 409)
          assert.equal(error.details?.reason, 'WORK_ITEM_TERMINAL', `${verb} on ${id}`)
        }
      }
      const { item, events } = await detail(ctx, traffic.id)
      assert.deepEqual(item.result, { cadentCampaignId: 'CAD-1' })
      assert.deepEqual(events.map((event) => event.eventType), ['CREATED', 'COMPLETED'])
    })
  })

  describe('POST complete', () => {
    it('refuses a result without the required keys with 400 MISSING_RESULT_KEYS naming them, and changes nothing', async () => {
      const item = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
      for (const body of [{}, { result: {} }, { result: { cadentCampaignId: '  ' } }, { result: { cadentCampaignId: null } }]) {
        const error = errorOf(await complete(ctx, item.id, body), 400)
        assert.equal(error.details?.reason, 'MISSING_RESULT_KEYS')
        assert.deepEqual(error.details?.missingKeys, ['cadentCampaignId'])
        assert.match(error.message, /cadentCampaignId/)
      }
      assert.equal((await detail(ctx, item.id)).item.status, 'OPEN')
      assert.deepEqual(await availCounters(ctx), { held: 250_000, booked: 0 })
    })

    it('TRAFFIC_TO_CADENT books the reservation and records the campaign id on the booking, in the completing transaction', async () => {
      const item = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
      const done = ok<{ ok: true; item: WorkItem }>(await complete(ctx, item.id, { result: { cadentCampaignId: 'CAD-778' }, notes: 'Loaded in Cadent' }))
      assert.equal(done.item.status, 'COMPLETED')
      assert.equal(done.item.completedBy, apiKeyActor)
      assert.equal(done.item.completedAt, '2026-11-22T12:00:00.000Z')
      assert.deepEqual(await availCounters(ctx), { held: 0, booked: 250_000 })
      const again = ok<Finalized>(await finalize(ctx))
      assert.equal(again.booking.status, 'BOOKED')
      assert.deepEqual(again.booking.externalRefs, { cadentCampaignId: 'CAD-778' })
      const { events } = await detail(ctx, item.id)
      const completed = events.at(-1)!
      assert.equal(completed.notes, 'Loaded in Cadent')
      assert.equal((completed.payload?.effect as Record<string, unknown>).reservationStatus, 'BOOKED')
    })

    it('lets exactly one of two concurrent completions win; the other is 409 WORK_ITEM_TERMINAL', { skip: skipOnPglite }, async () => {
      const item = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
      const answers = await Promise.all([
        complete(ctx, item.id, { result: { cadentCampaignId: 'CAD-A' } }),
        complete(ctx, item.id, { result: { cadentCampaignId: 'CAD-B' } }),
      ])
      assert.deepEqual(answers.map((answer) => answer.statusCode).sort(), [200, 409])
      assert.deepEqual(await availCounters(ctx), { held: 0, booked: 250_000 })
      const { events } = await detail(ctx, item.id)
      assert.equal(events.filter((event) => event.eventType === 'COMPLETED').length, 1)
    })

    it('MAP_CREATIVE_REF stores the creative reference on the booking', async () => {
      const item = await itemOfKind(ctx, 'MAP_CREATIVE_REF')
      ok(await complete(ctx, item.id, { result: { creativeRef: 'CR-55' } }))
      assert.deepEqual(ok<Finalized>(await finalize(ctx)).booking.externalRefs, { creativeRef: 'CR-55' })
      errorOf(await complete(ctx, (await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')).id, { result: { cadentCampaignId: { nested: true } } }), 400)
    })

    it('rolls back the completion when the side effect fails (released reservation)', async () => {
      const item = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
      // Expire the hold behind the hand-off's back, as if a buggy path had done it.
      await ctx.db.updateTable('reservation').set({ expires_at: new Date('2026-11-22T11:00:00.000Z') }).execute()
      const error = errorOf(await complete(ctx, item.id, { result: { cadentCampaignId: 'CAD-1' } }), 409)
      assert.equal(error.details?.reason, 'NO_HELD_RESERVATION')
      assert.equal((await detail(ctx, item.id)).item.status, 'OPEN')
    })
  })

  describe('release', () => {
    it('cancels the reservation\'s open work items and releases its booking', async () => {
      const traffic = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
      ok(await post(ctx, traffic.id, 'start', { assignedTo: 'ana' }))
      const released = ok<{ reservation: { status: string } }>(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/bookings/release`, {
        mediaBuyId: 'mb_123', availId: PRIME, reason: 'Buyer cancelled',
      }))
      assert.equal(released.reservation.status, 'RELEASED')
      assert.equal((await listItems(ctx)).total, 0)
      const cancelled = await listItems(ctx, 'status=CANCELLED')
      assert.equal(cancelled.total, 3)
      const { events } = await detail(ctx, traffic.id)
      assert.deepEqual([events.at(-1)!.eventType, events.at(-1)!.actorType, events.at(-1)!.notes], ['CANCELLED', 'SYSTEM', 'Reservation released: Buyer cancelled'])
      const booking = await ctx.db.selectFrom('booking').select('status').executeTakeFirstOrThrow()
      assert.equal(booking.status, 'RELEASED')
      assert.deepEqual(await availCounters(ctx), { held: 0, booked: 0 })
      errorOf(await finalize(ctx), 409)
    })

    it('settles a completion racing a release without deadlock: either order leaves the capacity released', async () => {
      for (let round = 0; round < 5; round++) {
        const mediaBuyId = `mb_race_${round}`
        await reserve(ctx, { mediaBuyId, requestedImpressions: 1000 })
        const finalized = ok<Finalized>(await finalize(ctx, { mediaBuyId }))
        const traffic = finalized.workItems.find((item) => item.kind === 'TRAFFIC_TO_CADENT')!
        const creative = finalized.workItems.find((item) => item.kind === 'MAP_CREATIVE_REF')!
        const [completed, mapped, released] = await Promise.all([
          complete(ctx, traffic.id, { result: { cadentCampaignId: `CAD-${round}` } }),
          complete(ctx, creative.id, { result: { creativeRef: `CR-${round}` } }),
          ctx.api('POST', `/inventory-sources/${DEMO}/modular/bookings/release`, { mediaBuyId, availId: PRIME }),
        ])
        assert.equal(released.statusCode, 200, released.body)
        for (const answer of [completed, mapped]) {
          assert.ok([200, 409].includes(answer.statusCode), answer.body)
          if (answer.statusCode === 409) assert.equal(answer.json().error.details.reason, 'WORK_ITEM_TERMINAL')
        }
      }
      assert.deepEqual(await availCounters(ctx), { held: 250_000, booked: 0 })
      assert.equal((await listItems(ctx, 'mediaBuyId=mb_race_0')).total, 0)
    })

    it('releasing a BOOKED reservation returns the booked capacity and cancels the remaining items', async () => {
      ok(await complete(ctx, (await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')).id, { result: { cadentCampaignId: 'CAD-1' } }))
      ok(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/bookings/release`, { mediaBuyId: 'mb_123', availId: PRIME }))
      assert.equal((await listItems(ctx)).total, 0)
      assert.equal((await listItems(ctx, 'status=COMPLETED')).total, 1)
      assert.deepEqual(await availCounters(ctx), { held: 0, booked: 0 })
    })
  })
})
