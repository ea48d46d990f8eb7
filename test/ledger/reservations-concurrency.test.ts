import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { skipOnPglite } from '../helpers/database.ts'
import { assertLoadOutcome, buildLoadPlan, fireAttempts, type ReservationAttempt } from './concurrency-scenario.ts'
import { assertLedgerConsistent, seedModularSource } from './ledger-fixtures.ts'

/**
 * Goal: many clients reserving at once never overbook and never lose an acknowledged hold, in
 * one process on PostgreSQL (test/pg/ runs the same load across server processes). Skipped on
 * PGlite, whose one serialized connection lets no two requests race. Method: 2,200 oversubscribed attempts at one hot avail and 40 others, 64 in
 * flight through the real HTTP stack, then every check is made from the database.
 */

let ctx: TestContext

before(async () => {
  if (!skipOnPglite) ctx = await createTestContext()
})
after(async () => {
  await ctx?.close()
})

function send(sourceId: string) {
  return async (attempt: ReservationAttempt) => {
    const response = await ctx.api('POST', `/inventory-sources/${sourceId}/modular/reservations`, attempt)
    return { status: response.statusCode, body: response.json() }
  }
}

describe('POST /inventory-sources/{sourceId}/modular/reservations under concurrent load', { skip: skipOnPglite }, () => {
  it('never overbooks a hot avail or a spread of avails, and every 201 is in the ledger', async () => {
    const plan = buildLoadPlan({ hotAttempts: 1_200, spreadAttempts: 1_000, spreadAvails: 40 })
    await seedModularSource(ctx.db, {
      sourceId: 'load',
      avails: [...plan.capacities].map(([availId, capacity]) => ({ availId, capacity })),
    })
    const results = await fireAttempts(plan.attempts, send('load'), 64)
    const summary = await assertLoadOutcome(ctx.db, plan, results)
    assert.ok(summary.created > 0 && summary.refused > 0, JSON.stringify(summary))
    assert.equal(summary.created + summary.refused, plan.attempts.length)
  })

  it('answers concurrent identical requests with one 201 and 200 replays of the same reservation', async () => {
    await seedModularSource(ctx.db, { sourceId: 'dupes', avails: [{ availId: 'd', capacity: 1_000 }] })
    const attempt = { availId: 'd', mediaBuyId: 'mb-dup', requestedImpressions: 7 }
    const results = await fireAttempts(Array.from({ length: 32 }, () => attempt), send('dupes'), 32)
    const created = results.filter((r) => r.status === 201)
    assert.equal(created.length, 1)
    assert.ok(results.every((r) => r.status === 201 || r.status === 200))
    const ids = new Set(results.map((r) => r.body?.reservation?.reservationId))
    assert.equal(ids.size, 1)
    const avail = await ctx.db.selectFrom('avail').select('held_impressions').where('avail_id', '=', 'd').executeTakeFirstOrThrow()
    assert.equal(avail.held_impressions, 7)
    await assertLedgerConsistent(ctx.db)
  })

  it('keeps the ledger consistent while the sweeper and new reservations race for expired holds', async () => {
    await seedModularSource(ctx.db, { sourceId: 'sweep', avails: [{ availId: 's', capacity: 500 }] })
    const first = Array.from({ length: 100 }, (_, i) => ({ availId: 's', mediaBuyId: `mb-first-${i}`, requestedImpressions: 5, holdMinutes: 1 }))
    const held = await fireAttempts(first, send('sweep'), 16)
    assert.ok(held.every((r) => r.status === 201))
    ctx.clock.advance(60_000)
    const second = Array.from({ length: 100 }, (_, i) => ({ availId: 's', mediaBuyId: `mb-second-${i}`, requestedImpressions: 5 }))
    const [results] = await Promise.all([
      fireAttempts(second, send('sweep'), 16),
      ctx.services.ledger.expireDue({ batchSize: 7 }),
      ctx.services.ledger.expireDue({ batchSize: 11 }),
    ])
    // The expired holds never block: all 100 new holds fit in the freed capacity.
    assert.ok(results.every((r) => r.status === 201), JSON.stringify(results.find((r) => r.status !== 201)))
    const expired = await ctx.db.selectFrom('reservation').select('id').where('status', '=', 'EXPIRED').where('media_buy_id', 'like', 'mb-first-%').execute()
    assert.equal(expired.length, 100)
    await assertLedgerConsistent(ctx.db)
  })
})
