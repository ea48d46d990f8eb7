import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { noTvTerms, type NormalizedAvail } from '../../src/modules/avails-feed/avail.schema.ts'
import { countActiveAvails, upsertAvails, type UpsertAvailsInput } from '../../src/modules/avails-feed/avails-store.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { createFeedSource, sourceRowId } from './helpers.ts'

function avail(availId: string, fields: Partial<NormalizedAvail> = {}): NormalizedAvail {
  return {
    availId,
    collectionId: 'connected-tv',
    collectionName: 'Connected TV',
    collectionDescription: null,
    name: `Avail ${availId}`,
    channel: 'CTV',
    startTime: '2026-12-01T00:00:00.000Z',
    endTime: '2026-12-31T23:59:59.000Z',
    impressionsCapacity: 1_000_000,
    upstreamBookedImpressions: 0,
    cpm: 22.5,
    currency: 'USD',
    ...noTvTerms(),
    targeting: { market: 'ZA', screen: 'CTV' },
    sourceMetadata: {},
    ...fields,
  }
}

describe('upsertAvails', () => {
  let ctx: TestContext
  let sourceId: number
  before(async () => {
    ctx = await createTestContext()
    await createFeedSource(ctx)
    sourceId = await sourceRowId(ctx)
  })
  after(async () => {
    await ctx.close()
  })
  beforeEach(async () => {
    await ctx.db.deleteFrom('avail').execute()
  })

  const upsert = (avails: NormalizedAvail[], options: Partial<UpsertAvailsInput> = {}) =>
    ctx.db.transaction().execute((trx) => upsertAvails(trx, { inventorySourceId: sourceId, avails, now: ctx.clock.now(), replaceMissing: false, ...options }))

  it('creates new avails, then reports an identical feed as unchanged', async () => {
    const b = avail('b', { cpm: null, channel: null, collectionDescription: 'Quotes "and" \\ backslashes, {braces}', sourceMetadata: { note: 'a "quoted" \\ value' } })
    assert.deepEqual(await upsert([avail('a'), b]), { created: 2, updated: 0, unchanged: 0, deactivated: 0, flooredWarnings: [] })
    const stored = await ctx.db.selectFrom('avail').selectAll().where('avail_id', '=', 'b').executeTakeFirstOrThrow()
    assert.deepEqual([stored.cpm, stored.channel, stored.collection_description, stored.source_metadata], [null, null, b.collectionDescription, b.sourceMetadata])
    // Key order of targeting does not make a change.
    const again = await upsert([avail('a', { targeting: { screen: 'CTV', market: 'ZA' } }), b])
    assert.deepEqual(again, { created: 0, updated: 0, unchanged: 2, deactivated: 0, flooredWarnings: [] })
  })

  it('updates changed avails by availId and reactivates an inactive one', async () => {
    await upsert([avail('a'), avail('b')])
    await ctx.db.updateTable('avail').set({ status: 'INACTIVE' }).where('avail_id', '=', 'b').execute()
    const result = await upsert([avail('a', { cpm: 25, name: 'Renamed' }), avail('b')])
    assert.deepEqual(result, { created: 0, updated: 2, unchanged: 0, deactivated: 0, flooredWarnings: [] })
    const rows = await ctx.db.selectFrom('avail').select(['avail_id', 'cpm', 'name', 'status']).orderBy('avail_id').execute()
    assert.deepEqual(rows, [
      { avail_id: 'a', cpm: 25, name: 'Renamed', status: 'ACTIVE' },
      { avail_id: 'b', cpm: 22.5, name: 'Avail b', status: 'ACTIVE' },
    ])
  })

  it('stores the seller\'s figure below held + booked as given and reports the floor', async () => {
    await upsert([avail('a')])
    await ctx.db.updateTable('avail').set({ held_impressions: 300_000, booked_impressions: 100_000 }).execute()
    const result = await upsert([avail('a', { impressionsCapacity: 250_000 })])
    assert.equal(result.updated, 1)
    assert.deepEqual(result.flooredWarnings, [{ availId: 'a', requested: 250_000, floor: 400_000 }])
    const row = await ctx.db.selectFrom('avail').select(['feed_capacity', 'held_impressions']).executeTakeFirstOrThrow()
    assert.deepEqual(row, { feed_capacity: 250_000, held_impressions: 300_000 })
    // The same feed again changes nothing but still tells the operator.
    const again = await upsert([avail('a', { impressionsCapacity: 250_000 })])
    assert.equal(again.unchanged, 1)
    assert.equal(again.flooredWarnings.length, 1)
  })

  it('deactivates ACTIVE avails missing from the feed with replaceMissing, keeping their holds', async () => {
    await upsert([avail('a'), avail('b'), avail('c')])
    await ctx.db.updateTable('avail').set({ held_impressions: 10 }).where('avail_id', '=', 'c').execute()
    const result = await upsert([avail('a')], { replaceMissing: true })
    assert.equal(result.deactivated, 2)
    assert.equal(result.unchanged, 1)
    const rows = await ctx.db.selectFrom('avail').select(['avail_id', 'status', 'held_impressions']).orderBy('avail_id').execute()
    assert.deepEqual(rows.map((row) => [row.avail_id, row.status, row.held_impressions]), [['a', 'ACTIVE', 0], ['b', 'INACTIVE', 0], ['c', 'INACTIVE', 10]])
    assert.equal((await upsert([avail('a')], { replaceMissing: true })).deactivated, 0)
  })

  it('leaves other sources alone', async () => {
    await createFeedSource(ctx, { sourceId: 'other-source', name: 'Other' })
    const otherId = await sourceRowId(ctx, 'other-source')
    await ctx.db.transaction().execute((trx) => upsertAvails(trx, { inventorySourceId: otherId, avails: [avail('a')], now: ctx.clock.now(), replaceMissing: false }))
    const result = await upsert([avail('z')], { replaceMissing: true })
    assert.deepEqual([result.created, result.deactivated], [1, 0])
    assert.equal(await countActiveAvails(ctx.db, otherId, ctx.clock.now()), 1)
  })

  it('writes nothing when the caller\'s transaction fails', async () => {
    await assert.rejects(
      ctx.db.transaction().execute(async (trx) => {
        await upsertAvails(trx, { inventorySourceId: sourceId, avails: [avail('a')], now: ctx.clock.now(), replaceMissing: false })
        throw new Error('later step failed')
      }),
      /later step failed/,
    )
    assert.equal(await countActiveAvails(ctx.db, sourceId, ctx.clock.now()), 0)
  })

  it('handles feeds larger than one batch', async () => {
    const feed = Array.from({ length: 2_500 }, (_, index) => avail(`bulk-${index}`))
    assert.equal((await upsert(feed)).created, 2_500)
    feed[1_700] = avail('bulk-1700', { impressionsCapacity: 5 })
    const result = await upsert(feed, { replaceMissing: true })
    assert.deepEqual([result.created, result.updated, result.unchanged, result.deactivated], [0, 1, 2_499, 0])
    assert.equal(await countActiveAvails(ctx.db, sourceId, ctx.clock.now()), 2_500)
  })

  it('counts only ACTIVE avails whose flight has not ended', async () => {
    await upsert([avail('future'), avail('ended', { startTime: '2026-07-01T00:00:00.000Z', endTime: '2026-07-31T23:59:59.000Z' }), avail('off')])
    await ctx.db.updateTable('avail').set({ status: 'INACTIVE' }).where('avail_id', '=', 'off').execute()
    assert.equal(await countActiveAvails(ctx.db, sourceId, ctx.clock.now()), 1)
    assert.equal(await countActiveAvails(ctx.db, sourceId, new Date('2027-01-01T00:00:00.000Z')), 0)
  })
})
