import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startServerProcess } from '../helpers/processes.ts'
import { assertLoadOutcome, buildLoadPlan, fireAttempts, type ReservationAttempt } from '../ledger/concurrency-scenario.ts'
import { seedModularSource } from '../ledger/ledger-fixtures.ts'
import { sendOverHttp, serverEnv, skipWithoutPostgres, useServerCluster } from './pg-harness.ts'

/**
 * Goal: an acknowledged hold is never lost, even when a server process dies right after
 * answering. Method: two `storefront serve` processes take an oversubscribed load; once a third
 * of it is answered, one process is SIGKILLed with requests in flight, the load continues on the
 * survivor, and a restarted process rejoins. Afterwards every 201 must be in the database with
 * its amount, nothing is over capacity, and the counters equal the ledger entries. Requests cut
 * off by the kill have no answer; they may or may not have committed, and the checks allow both.
 */

describe('reservations when a server process is killed mid-load', { skip: skipWithoutPostgres }, () => {
  const cluster = useServerCluster('sf_ledger_crash')

  it('keeps every acknowledged reservation after SIGKILL and restart, and the totals match the entries', async () => {
    const plan = buildLoadPlan({ hotAttempts: 1_000, spreadAttempts: 1_000, spreadAvails: 20, seed: 11, prefix: 'crash' })
    await seedModularSource(cluster.db, {
      sourceId: 'crash',
      avails: [...plan.capacities].map(([availId, capacity]) => ({ availId, capacity })),
      now: new Date(),
    })

    // Which server each new request goes to; the victim's slot points at the survivor while it is down.
    const targets = [cluster.servers[0]!.url, cluster.servers[1]!.url]
    let answered = 0
    let restart: Promise<void> | undefined
    const killAt = Math.floor(plan.attempts.length / 3)
    const http = sendOverHttp('crash', (i) => targets[i % 2]!)
    const send = async (attempt: ReservationAttempt, index: number) => {
      const answer = await http(attempt, index)
      answered += 1
      if (answered === killAt) restart = killAndRestart()
      return answer
    }
    async function killAndRestart() {
      const victim = cluster.servers[0]!
      targets[0] = cluster.servers[1]!.url
      victim.child.kill('SIGKILL')
      await victim.stop()
      const replacement = await startServerProcess(serverEnv(cluster.scratch.url))
      cluster.servers[0] = replacement
      targets[0] = replacement.url
    }

    const results = await fireAttempts(plan.attempts, send, 64)
    await restart
    const summary = await assertLoadOutcome(cluster.db, plan, results, { allowUnanswered: true })
    console.log(`# crash run: ${JSON.stringify(summary)}`)
    assert.ok(restart, 'the kill happened')
    assert.ok(summary.created > killAt / 2, JSON.stringify(summary))

    // The restarted process serves, and sees what the killed one acknowledged.
    const replay = results.find((r) => r.status === 201)!
    const again = await sendOverHttp('crash', () => cluster.servers[0]!.url)(replay.attempt, 0)
    assert.equal(again.status, 200)
    assert.equal((again.body as { reservation: { reservationId: string } }).reservation.reservationId, replay.body!.reservation!.reservationId)
  })
})
