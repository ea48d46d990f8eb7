import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLedgerService } from '../../src/modules/booking-ledger/ledger-service.ts'
import { ManualClock } from '../../src/shared/clock.ts'
import { assertLoadOutcome, buildLoadPlan, fireAttempts } from '../ledger/concurrency-scenario.ts'
import { assertLedgerConsistent, seedModularSource } from '../ledger/ledger-fixtures.ts'
import { sendOverHttp, skipWithoutPostgres, useServerCluster } from './pg-harness.ts'

/**
 * Goal: the ledger's invariants hold on PostgreSQL with several server processes taking
 * reservations at once: never over capacity, every 201 durable, every refusal
 * INSUFFICIENT_CAPACITY, counters equal to the entries. Method: two real `storefront serve`
 * processes on one database, 2,200 oversubscribed attempts from 64 concurrent clients spread
 * over both, then every check from the database. Sweepers in several processes are raced too.
 */

describe('POST /inventory-sources/{sourceId}/modular/reservations across server processes', { skip: skipWithoutPostgres }, () => {
  const cluster = useServerCluster('sf_ledger_conc')

  it('never overbooks a hot avail or a spread of avails with 64 clients on two processes', async () => {
    const plan = buildLoadPlan({ hotAttempts: 1_200, spreadAttempts: 1_000, spreadAvails: 40, seed: 7 })
    await seedModularSource(cluster.db, {
      sourceId: 'load',
      avails: [...plan.capacities].map(([availId, capacity]) => ({ availId, capacity })),
      now: new Date(),
    })
    const started = Date.now()
    const results = await fireAttempts(plan.attempts, sendOverHttp('load', (i) => cluster.servers[i % cluster.servers.length]!.url), 64)
    const elapsedMs = Date.now() - started
    const summary = await assertLoadOutcome(cluster.db, plan, results)
    assert.ok(summary.created > 0 && summary.refused > 0, JSON.stringify(summary))
    assert.equal(summary.created + summary.refused, plan.attempts.length)
    console.log(`# ${plan.attempts.length} attempts over ${cluster.servers.length} processes in ${elapsedMs} ms: ${JSON.stringify(summary)}`)
  })

  it('answers identical requests racing on both processes with one 201 and replays of it', async () => {
    await seedModularSource(cluster.db, { sourceId: 'dupes', avails: [{ availId: 'd', capacity: 1_000 }], now: new Date() })
    const attempt = { availId: 'd', mediaBuyId: 'mb-dup', requestedImpressions: 7 }
    const results = await fireAttempts(Array.from({ length: 64 }, () => attempt), sendOverHttp('dupes', (i) => cluster.servers[i % 2]!.url), 64)
    assert.equal(results.filter((r) => r.status === 201).length, 1)
    assert.ok(results.every((r) => r.status === 201 || r.status === 200), JSON.stringify(results.find((r) => r.status !== 201 && r.status !== 200)))
    assert.equal(new Set(results.map((r) => r.body?.reservation?.reservationId)).size, 1)
    const avail = await cluster.db.selectFrom('avail').select('held_impressions').where('avail_id', '=', 'd').executeTakeFirstOrThrow()
    assert.equal(avail.held_impressions, 7)
    await assertLedgerConsistent(cluster.db)
  })

  it('lets several sweepers run at once and expires every due hold exactly once', async () => {
    const avails = Array.from({ length: 10 }, (_, i) => ({ availId: `sw-${i}`, capacity: 10_000 }))
    await seedModularSource(cluster.db, { sourceId: 'sweep', avails, now: new Date() })
    const attempts = Array.from({ length: 1_000 }, (_, i) => ({ availId: `sw-${i % 10}`, mediaBuyId: `mb-sweep-${i}`, requestedImpressions: 3, holdMinutes: 1 }))
    const held = await fireAttempts(attempts, sendOverHttp('sweep', (i) => cluster.servers[i % 2]!.url), 64)
    assert.ok(held.every((r) => r.status === 201))
    // Four "processes" (own pools, own clocks past the holds' expiry) sweep at once.
    const clock = new ManualClock(new Date(Date.now() + 2 * 60_000))
    const sweepers = await Promise.all(Array.from({ length: 4 }, () => cluster.scratch.open()))
    try {
      const counts = await Promise.all(sweepers.map((s) => createLedgerService({ db: s.db, clock }).expireDue({ batchSize: 37, maxBatches: 1_000 })))
      const expired = counts.reduce((sum, c) => sum + c.expired, 0)
      assert.ok(counts.filter((c) => c.expired > 0).length >= 2, `more than one sweeper did work: ${JSON.stringify(counts)}`)
      const rows = await cluster.db.selectFrom('reservation').select('status').where('media_buy_id', 'like', 'mb-sweep-%').execute()
      assert.equal(rows.filter((r) => r.status === 'EXPIRED').length, 1_000)
      // Exactly once: the sweepers' counts add up to the holds, none expired twice.
      assert.equal(expired, 1_000)
    } finally {
      for (const s of sweepers) await s.close()
    }
    const entries = await cluster.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll<number>().as('n')).where('kind', '=', 'EXPIRE').executeTakeFirstOrThrow()
    assert.equal(Number(entries.n), 1_000)
    await assertLedgerConsistent(cluster.db)
  })
})
