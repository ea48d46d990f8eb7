import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import type { TestContext } from '../helpers/context.ts'
import { readProjection, stageStatus } from '../modular/helpers.ts'
import { availIds, clearFeedState, confirmItems, errorOf, FEED, feedOk, jsonAvail, openFeedSourceContext } from './helpers.ts'

const WORK_ITEMS = '/inventory-sources/retail-modular/modular/work-items'
const DAY_MS = 24 * 60 * 60 * 1000

describe('POST /inventory-sources/{sourceId}/modular/avails-feed: preview, then commit', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await openFeedSourceContext()
  })
  after(() => ctx.close())
  beforeEach(async () => {
    ctx.clock.set('2026-11-22T12:00:00.000Z')
    await clearFeedState(ctx)
  })

  const preview = async (avails: unknown[], options: Record<string, unknown> = {}) => feedOk(await ctx.api('POST', FEED, { avails, ...options }))
  const commit = (previewId: string) => ctx.api('POST', FEED, { confirmed: true, previewId })

  it('opens one CONFIRM_AVAILS item per preview; committing by previewId writes exactly its rows and completes the item', async () => {
    const shown = await preview([jsonAvail('a'), jsonAvail('b')])
    const projection = await readProjection(ctx)
    assert.equal(stageStatus(projection, 'INGEST_AVAILS'), 'RUNTIME_INPUTS_REQUIRED')
    assert.equal(stageStatus(projection, 'CONFIRM_AVAILS'), 'HITL_PENDING')
    assert.equal(projection.activeAvailCount, 0)

    const [item] = await confirmItems(ctx)
    assert.equal(String(item?.id), shown.workItemId)
    assert.equal(item?.status, 'OPEN')
    assert.equal(item?.resource_type, 'avails_preview')
    assert.equal(item?.resource_id, shown.previewId)
    assert.deepEqual(item?.required_result_keys, [])
    assert.equal(new Date(item!.due_at!).toISOString(), shown.expiresAt)
    assert.deepEqual(item?.payload, {
      previewId: shown.previewId,
      inputSource: 'api',
      parsedAvailCount: 2,
      validAvailCount: 2,
      warningCount: 0,
      replaceMissing: false,
      diff: { created: 2, updated: 0, unchanged: 0, deactivated: 0 },
      expiresAt: shown.expiresAt,
    })

    const committed = feedOk(await commit(shown.previewId))
    assert.equal(committed.previewOnly, false)
    assert.equal(committed.previewId, shown.previewId)
    assert.equal(committed.ingestedAvailCount, 2)
    assert.deepEqual(committed.diff, { created: 2, updated: 0, unchanged: 0, deactivated: 0 })
    assert.deepEqual(committed.avails.map((avail) => avail.availId), ['a', 'b'])
    assert.equal(committed.workItemId, shown.workItemId)
    assert.equal(committed.projection.activeAvailCount, 2)
    assert.equal(stageStatus(committed.projection, 'INGEST_AVAILS'), 'READY')
    assert.equal(stageStatus(committed.projection, 'CONFIRM_AVAILS'), 'READY')
    assert.deepEqual(await availIds(ctx), ['a', 'b'])

    const detail = (await ctx.api('GET', `${WORK_ITEMS}/${shown.workItemId}`)).json()
    assert.equal(detail.item.status, 'COMPLETED')
    assert.deepEqual(detail.events.map((event: { eventType: string }) => event.eventType), ['CREATED', 'COMPLETED'])
    assert.deepEqual(detail.events[1].payload.effect.diff, committed.diff)

    const again = errorOf(await commit(shown.previewId), 409)
    assert.equal(again.details?.reason, 'PREVIEW_ALREADY_COMMITTED')
  })

  it('commits the preview when its CONFIRM_AVAILS work item is completed', async () => {
    const shown = await preview([jsonAvail('from-item')])
    const completed = await ctx.api('POST', `${WORK_ITEMS}/${shown.workItemId}/complete`, { result: {}, notes: 'Rows and net capacity checked' })
    assert.equal(completed.statusCode, 200, completed.body)
    assert.equal(completed.json().item.status, 'COMPLETED')
    assert.deepEqual(await availIds(ctx), ['from-item'])
    errorOf(await commit(shown.previewId), 409)
  })

  it('answers 404 PREVIEW_NOT_FOUND for an unknown previewId and 404 for another storefront', async () => {
    const missing = errorOf(await commit('avp_000000000000000000000000'), 404)
    assert.equal(missing.details?.reason, 'PREVIEW_NOT_FOUND')
    const shown = await preview([jsonAvail('mine')])
    const foreign = errorOf(await ctx.api('POST', FEED, { confirmed: true, previewId: shown.previewId }, { key: ctx.otherKey }), 404)
    assert.equal(foreign.code, 'NOT_FOUND')
    const foreignProducts = errorOf(await ctx.api('GET', '/inventory-sources/retail-modular/modular/products', undefined, { key: ctx.otherKey }), 404)
    assert.equal(foreignProducts.code, 'NOT_FOUND')
    assert.deepEqual(await availIds(ctx), [])
  })

  it('refuses a preview after 24 hours with 409 PREVIEW_EXPIRED and writes nothing', async () => {
    const early = await preview([jsonAvail('early')])
    ctx.clock.advance(DAY_MS - 1)
    feedOk(await commit(early.previewId))

    const late = await preview([jsonAvail('late')])
    ctx.clock.advance(DAY_MS)
    const expired = errorOf(await commit(late.previewId), 409)
    assert.equal(expired.details?.reason, 'PREVIEW_EXPIRED')
    assert.deepEqual(await availIds(ctx), ['early'])
    const completeLate = errorOf(await ctx.api('POST', `${WORK_ITEMS}/${late.workItemId}/complete`, { result: {} }), 409)
    assert.equal(completeLate.details?.reason, 'PREVIEW_EXPIRED')

    // A newer preview frees the expired one's rows and replaces its item.
    await preview([jsonAvail('newer')])
    const rows = await ctx.db.selectFrom('avails_preview_row').select(['avail_id']).execute()
    assert.deepEqual(rows.map((row) => row.avail_id), ['newer'])
  })

  it('replaces the pending preview: the old item is cancelled with an event and the old preview cannot be committed', async () => {
    const first = await preview([jsonAvail('v1')])
    const second = await preview([jsonAvail('v2')])
    const items = await confirmItems(ctx)
    assert.deepEqual(items.map((item) => [String(item.id), item.status]), [[first.workItemId, 'CANCELLED'], [second.workItemId, 'OPEN']])
    const events = (await ctx.api('GET', `${WORK_ITEMS}/${first.workItemId}`)).json().events
    assert.equal(events.at(-1).eventType, 'CANCELLED')
    assert.equal(events.at(-1).notes, `Replaced by avails preview ${second.previewId}`)

    const stale = errorOf(await commit(first.previewId), 409)
    assert.equal(stale.details?.reason, 'PREVIEW_ALREADY_COMMITTED')
    feedOk(await commit(second.previewId))
    assert.deepEqual(await availIds(ctx), ['v2'])
  })

  it('lets a preview with row errors replace the pending one without opening an item', async () => {
    const good = await preview([jsonAvail('good')])
    const bad = await preview([jsonAvail('bad', { impressionsCapacity: -3 })])
    assert.equal(bad.errorCount, 1)
    assert.equal(bad.workItemId, null)
    assert.deepEqual((await confirmItems(ctx)).map((item) => item.status), ['CANCELLED'])
    errorOf(await commit(good.previewId), 409)
    const refused = errorOf(await commit(bad.previewId), 400)
    assert.deepEqual(refused.details?.rows, bad.errors)
  })

  it('a direct commit supersedes the pending preview', async () => {
    const pending = await preview([jsonAvail('pending')])
    feedOk(await ctx.api('POST', FEED, { confirmed: true, avails: [jsonAvail('direct')] }))
    assert.deepEqual((await confirmItems(ctx)).map((item) => item.status), ['CANCELLED'])
    errorOf(await commit(pending.previewId), 409)
    assert.deepEqual(await availIds(ctx), ['direct'])
  })

  it('diffs a preview against what is committed: created, updated, unchanged, deactivated', async () => {
    feedOk(await ctx.api('POST', FEED, { confirmed: true, avails: [jsonAvail('same'), jsonAvail('changed'), jsonAvail('dropped')] }))
    const shown = await preview(
      [jsonAvail('same'), jsonAvail('changed', { cpm: 25 }), jsonAvail('added')],
      { replaceMissing: true },
    )
    assert.deepEqual(shown.diff, { created: 1, updated: 1, unchanged: 1, deactivated: 1 })
    const committed = feedOk(await commit(shown.previewId))
    assert.deepEqual(committed.diff, shown.diff)
    assert.deepEqual(await availIds(ctx), ['added', 'changed', 'same'])
    assert.deepEqual(await availIds(ctx, 'INACTIVE'), ['dropped'])
  })

  it('keeps avails absent from the feed unless replaceMissing, and keeps the holds of deactivated ones', async () => {
    feedOk(await ctx.api('POST', FEED, { confirmed: true, avails: [jsonAvail('x'), jsonAvail('y'), jsonAvail('z')] }))
    const hold = await ctx.api('POST', '/inventory-sources/retail-modular/modular/reservations', { availId: 'z', mediaBuyId: 'mb-1', requestedImpressions: 1000 })
    assert.equal(hold.statusCode, 201, hold.body)

    const kept = feedOk(await ctx.api('POST', FEED, { confirmed: true, avails: [jsonAvail('x')] }))
    assert.equal(kept.diff.deactivated, 0)
    assert.deepEqual(await availIds(ctx), ['x', 'y', 'z'])

    const replaced = feedOk(await ctx.api('POST', FEED, { confirmed: true, replaceMissing: true, avails: [jsonAvail('x')] }))
    assert.deepEqual(replaced.diff, { created: 0, updated: 0, unchanged: 1, deactivated: 2 })
    assert.deepEqual(await availIds(ctx), ['x'])
    const z = await ctx.db.selectFrom('avail').select(['status', 'held_impressions']).where('avail_id', '=', 'z').executeTakeFirstOrThrow()
    assert.deepEqual(z, { status: 'INACTIVE', held_impressions: 1000 })
    const reservation = await ctx.db.selectFrom('reservation').select('status').executeTakeFirstOrThrow()
    assert.equal(reservation.status, 'HELD')
  })

  it('never shows capacity below held + booked: CAPACITY_FLOORED in the preview and the commit', async () => {
    feedOk(await ctx.api('POST', FEED, { confirmed: true, avails: [jsonAvail('floor', { impressionsCapacity: 1000 })] }))
    const hold = await ctx.api('POST', '/inventory-sources/retail-modular/modular/reservations', { productId: 'avail:floor', mediaBuyId: 'mb-2', requestedImpressions: 600 })
    assert.equal(hold.statusCode, 201, hold.body)

    const shown = await preview([jsonAvail('floor', { impressionsCapacity: 400 })])
    assert.deepEqual(shown.warnings.map(({ row, availId, code }) => ({ row, availId, code })), [{ row: 1, availId: 'floor', code: 'CAPACITY_FLOORED' }])
    assert.match(shown.warnings[0]!.message, /400 is below the 600 impressions already held or booked: they are kept, the avail will be shown at 600/)
    assert.deepEqual(shown.diff, { created: 0, updated: 1, unchanged: 0, deactivated: 0 })

    const committed = feedOk(await commit(shown.previewId))
    assert.deepEqual(committed.warnings.map(({ code }) => code), ['CAPACITY_FLOORED'])
    const products = (await ctx.api('GET', '/inventory-sources/retail-modular/modular/products')).json().products
    assert.equal(products[0].impressionsCapacity, 600)
    assert.equal(products[0].heldImpressions, 600)
    assert.equal(products[0].availableImpressions, 0)

    // The seller's figure is what is stored: the same feed again changes nothing.
    const again = await preview([jsonAvail('floor', { impressionsCapacity: 400 })])
    assert.deepEqual(again.diff, { created: 0, updated: 0, unchanged: 1, deactivated: 0 })
  })

  it('needs an ACTIVE inventory feed module: 409 NO_INVENTORY_FEED', async () => {
    const removed = await ctx.api('DELETE', '/inventory-sources/retail-modular/modular/modules/static-avails-feed')
    assert.equal(removed.statusCode, 200, removed.body)
    try {
      const refused = errorOf(await ctx.api('POST', FEED, { avails: [jsonAvail('a')] }), 409)
      assert.equal(refused.details?.reason, 'NO_INVENTORY_FEED')
      assert.match(refused.message, /"kind":"INVENTORY_FEED","provider":"agentic"/)
    } finally {
      const attached = await ctx.api('POST', '/inventory-sources/retail-modular/modular/modules', { kind: 'INVENTORY_FEED', provider: 'agentic' })
      assert.equal(attached.statusCode, 201, attached.body)
    }
  })
})
