import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sql } from 'kysely'
import { createLedgerService, type ReserveInput } from '../../src/modules/booking-ledger/ledger-service.ts'
import { StorefrontError } from '../../src/shared/errors.ts'
import { systemClock } from '../../src/shared/clock.ts'
import { startServerProcess } from '../helpers/processes.ts'
import { assertLoadOutcome, fireAttempts, type LoadPlan, type ReservationAttempt } from '../ledger/concurrency-scenario.ts'
import { assertLedgerConsistent, seedModularSource } from '../ledger/ledger-fixtures.ts'
import { sendOverHttp, serverEnv, skipWithoutPostgres, useServerCluster } from './pg-harness.ts'

/**
 * Goal: grouping concurrent holds on one avail into one transaction (hold-groups.ts) changes how
 * many commits they cost and nothing else. Method: two real `storefront serve` processes on one
 * PostgreSQL database take an oversubscribed load on one hot avail from 64 clients; every
 * request asks the same size, so the exact outcome is known (the avail fills to the last whole
 * hold, accepted x size == held); that the holds really shared transactions is read from the rows'
 * xmin. Then one process is SIGKILLed mid-load. In-process cases pin what a group answers: the
 * arrival-order walk, and a member whose key another process committed meanwhile.
 */

const SIZE = 3

function hotPlan(prefix: string, attempts: number, holds: number): LoadPlan {
  const availId = `${prefix}-hot`
  return {
    // One impression short of another whole hold, so the last refusals see 2 available.
    capacities: new Map([[availId, holds * SIZE + 2]]),
    attempts: Array.from({ length: attempts }, (_, i): ReservationAttempt => ({ availId, mediaBuyId: `${prefix}-mb-${i}`, requestedImpressions: SIZE })),
  }
}

async function seedPlan(db: Parameters<typeof seedModularSource>[0], sourceId: string, plan: LoadPlan) {
  return seedModularSource(db, { sourceId, avails: [...plan.capacities].map(([availId, capacity]) => ({ availId, capacity })), now: new Date() })
}

function input(sourceRowId: number, availId: string, mediaBuyId: string, requestedImpressions: number): ReserveInput {
  return { sourceRowId, availId, mediaBuyId, packageId: null, buyerCustomerId: null, requestedImpressions, holdMinutes: 60 }
}

describe('holds on one hot avail grouped per process, across server processes', { skip: skipWithoutPostgres }, () => {
  const cluster = useServerCluster('sf_hot_groups')

  it('fills the avail exactly with 64 clients on two processes: accepted x size == held, never over', async () => {
    const plan = hotPlan('conc', 900, 600)
    await seedPlan(cluster.db, 'conc', plan)
    const results = await fireAttempts(plan.attempts, sendOverHttp('conc', (i) => cluster.servers[i % 2]!.url), 64)
    const summary = await assertLoadOutcome(cluster.db, plan, results)
    assert.equal(summary.created, 600)
    assert.equal(summary.refused, 300)
    const avail = await cluster.db.selectFrom('avail').select(['held_impressions', 'feed_capacity']).where('avail_id', '=', 'conc-hot').executeTakeFirstOrThrow()
    assert.equal(avail.held_impressions, summary.created * SIZE)
    // Every refusal came after the avail was full, with what it had left.
    for (const result of results.filter((r) => r.status === 409)) {
      assert.equal((result.body?.error?.details as { availableImpressions?: number }).availableImpressions, 2)
    }
    const commits = await sql<{ holds: number; transactions: number }>`
      SELECT count(*)::int AS holds, count(DISTINCT xmin::text)::int AS transactions
      FROM reservation WHERE avail_id = 'conc-hot'
    `.execute(cluster.db)
    const { holds, transactions } = commits.rows[0]!
    // How many share one depends on how the requests' arrivals overlap on this machine (the walk
    // case below pins the grouping itself); that some did shows the HTTP path groups at all.
    console.log(`# ${holds} holds in ${transactions} transactions`)
    assert.ok(transactions < holds, `holds shared transactions: ${holds} holds, ${transactions} transactions`)
  })

  it('answers a group in arrival order, as one-by-one holds in that order would be answered', async () => {
    const fixture = await seedModularSource(cluster.db, { sourceId: 'walk', avails: [{ availId: 'w', capacity: 5 }], now: new Date() })
    const ledger = createLedgerService({ db: cluster.db, clock: systemClock })
    // Submitted in one turn of the event loop, so they leave as one group.
    const answers = await Promise.allSettled([
      ledger.reserve(input(fixture.sourceRowId, 'w', 'walk-1', 3)),
      ledger.reserve(input(fixture.sourceRowId, 'w', 'walk-2', 4)),
      ledger.reserve(input(fixture.sourceRowId, 'w', 'walk-3', 1)),
      ledger.reserve(input(fixture.sourceRowId, 'w', 'walk-4', 2)),
    ])
    assert.equal(answers[0]!.status, 'fulfilled')
    assert.equal(answers[2]!.status, 'fulfilled')
    for (const i of [1, 3]) {
      const refusal = (answers[i] as PromiseRejectedResult).reason as StorefrontError
      assert.ok(refusal instanceof StorefrontError)
      assert.equal(refusal.details?.reason, 'INSUFFICIENT_CAPACITY')
      assert.deepEqual(refusal.details?.availableImpressions, i === 1 ? 2 : 1)
      assert.equal(refusal.details?.requestedImpressions, i === 1 ? 4 : 2)
    }
    const first = (answers[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof ledger.reserve>>>).value
    const third = (answers[2] as PromiseFulfilledResult<Awaited<ReturnType<typeof ledger.reserve>>>).value
    assert.equal(first.avail.held_impressions, 4)
    assert.equal(third.avail.held_impressions, 4)
    const xmins = await sql<{ n: number }>`SELECT count(DISTINCT xmin::text)::int AS n FROM reservation WHERE avail_id = 'w'`.execute(cluster.db)
    assert.equal(xmins.rows[0]!.n, 1, 'the two holds committed in one transaction')
    await assertLedgerConsistent(cluster.db)
  })

  it('does not fail a group for one member whose key another process committed while it waited', async () => {
    const fixture = await seedModularSource(cluster.db, { sourceId: 'clash', avails: [{ availId: 'k', capacity: 100 }], now: new Date() })
    const ledger = createLedgerService({ db: cluster.db, clock: systemClock })
    const other = await cluster.scratch.open()
    try {
      const otherLedger = createLedgerService({ db: other.db, clock: systemClock })
      let group: Array<Promise<unknown>> = []
      const winner = await other.db.transaction().execute(async (trx) => {
        // Another process holds the avail's row lock: the group's statement takes its snapshot and waits.
        await trx.selectFrom('avail').select('id').where('avail_id', '=', 'k').forNoKeyUpdate().execute()
        group = ['clash-a', 'clash-b', 'clash-c'].map((mediaBuyId) => ledger.reserve(input(fixture.sourceRowId, 'k', mediaBuyId, 5)))
        await new Promise((resolve) => setTimeout(resolve, 500))
        const waiting = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()
        `.execute(trx)
        assert.ok(waiting.rows[0]!.n >= 1, 'the group statement waits on the avail row')
        // ... and commits clash-b first, after the group's snapshot: its INSERT meets the live key.
        return (await otherLedger.reserve(input(fixture.sourceRowId, 'k', 'clash-b', 5), trx)).reservation
      })
      const [a, b, c] = (await Promise.all(group)) as Array<Awaited<ReturnType<typeof ledger.reserve>>>
      assert.equal(a!.created, true)
      assert.equal(c!.created, true)
      assert.equal(b!.created, false, 'the replay of the hold the other process committed')
      assert.equal(b!.reservation.reservationId, winner.reservationId)
      const avail = await cluster.db.selectFrom('avail').select('held_impressions').where('avail_id', '=', 'k').executeTakeFirstOrThrow()
      assert.equal(avail.held_impressions, 15)
      await assertLedgerConsistent(cluster.db)
    } finally {
      await other.close()
    }
  })

})

describe('grouped holds on one hot avail when a server process is killed mid-load', { skip: skipWithoutPostgres }, () => {
  const cluster = useServerCluster('sf_hot_groups_crash')

  it('keeps every acknowledged hold when a server process is SIGKILLed mid-load', async () => {
    const plan = hotPlan('crash', 900, 600)
    await seedPlan(cluster.db, 'crash', plan)
    const targets = [cluster.servers[0]!.url, cluster.servers[1]!.url]
    let answered = 0
    let restart: Promise<void> | undefined
    const killAt = 300
    const http = sendOverHttp('crash', (i) => targets[i % 2]!)
    async function killAndRestart() {
      const victim = cluster.servers[0]!
      targets[0] = cluster.servers[1]!.url
      victim.child.kill('SIGKILL')
      await victim.stop()
      const replacement = await startServerProcess(serverEnv(cluster.scratch.url))
      cluster.servers[0] = replacement
      targets[0] = replacement.url
    }
    const results = await fireAttempts(plan.attempts, async (attempt, index) => {
      const answer = await http(attempt, index)
      answered += 1
      if (answered === killAt) restart = killAndRestart()
      return answer
    }, 64)
    await restart
    assert.ok(restart, 'the kill happened')
    const summary = await assertLoadOutcome(cluster.db, plan, results, { allowUnanswered: true })
    console.log(`# crash run: ${JSON.stringify(summary)}`)
    // Every acknowledged hold is there (assertLoadOutcome); the avail holds whole holds only, and
    // at most the acknowledged ones plus those whose answer died with the process.
    const rows = await cluster.db.selectFrom('reservation').select(['requested_impressions']).where('avail_id', '=', 'crash-hot').execute()
    const avail = await cluster.db.selectFrom('avail').select('held_impressions').where('avail_id', '=', 'crash-hot').executeTakeFirstOrThrow()
    assert.equal(avail.held_impressions, rows.length * SIZE)
    assert.ok(rows.length >= summary.created && rows.length <= summary.created + summary.unanswered)
    assert.ok(rows.length <= 600)
  })
})
