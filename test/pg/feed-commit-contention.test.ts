import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { DB } from '../../src/db/tables.ts'
import { createLedgerService } from '../../src/modules/booking-ledger/ledger-service.ts'
import { ManualClock } from '../../src/shared/clock.ts'
import type { ServerProcess } from '../helpers/processes.ts'
import { assertLedgerConsistent } from '../ledger/ledger-fixtures.ts'
import { BOOTSTRAP_KEY, skipWithoutPostgres, useServerCluster } from './pg-harness.ts'

/**
 * Goal: a 100k-row feed commit does not block reservations and cannot deadlock with the expiry
 * sweeper. Method: two `storefront serve` processes on one PostgreSQL database; 100k avails and
 * a stored 100k-row preview of them in which every tenth row changes, listed in descending avail
 * id (the reverse of the order the sweeper locks avails in); 2,000 holds on changed avails that
 * a sweeper in this process (its clock two hours ahead) expires in batches while the commit runs;
 * 8 clients reserving unchanged avails on both processes meanwhile. Reservations must keep being
 * answered with p99 under 250 ms (or twice the p99 the same clients see just before the commit,
 * on a machine too loaded for the absolute figure), the commit must succeed, and no statement may be a deadlock
 * victim (the sweeper's retry would hide one, so its errors are counted at the driver).
 */

const AVAILS = 100_000
const CHANGED_EVERY = 10
const HOLDS = 2_000
const CLIENTS = 8
/** The budget; on a machine whose own p99 (measured first) is above half of it, twice that. */
const P99_BUDGET_MS = 250
const API = '/api/v2/storefront'

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

describe('a 100k-row avails feed commit on PostgreSQL', { skip: skipWithoutPostgres }, () => {
  const cluster = useServerCluster('sf_feed_commit')

  it('keeps answering reservations (p99 < 250 ms) and never deadlocks with the sweeper', async () => {
    const call = async (server: ServerProcess, path: string, body: unknown) => {
      const response = await fetch(`${server.url}${API}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BOOTSTRAP_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      return { status: response.status, body: await response.json() }
    }
    const created = await call(cluster.servers[0]!, '/inventory-sources/modular/feed', { name: 'Big feed', sourceId: 'big' })
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const { db } = cluster
    const source = await db.selectFrom('inventory_source').select('id').where('source_id', '=', 'big').executeTakeFirstOrThrow()
    const now = new Date()
    const start = new Date(now.getTime() + 24 * 3_600_000)
    const end = new Date(now.getTime() + 31 * 24 * 3_600_000)

    // Avail i has id order i; its preview row sits at position AVAILS - i (feed order reversed).
    await sql`
      insert into avail (inventory_source_id, avail_id, collection_id, collection_name, name, channel, start_time, end_time,
        feed_capacity, cpm, currency, targeting, source_metadata, created_at, updated_at)
      select ${source.id}, 'a' || lpad(i::text, 6, '0'), 'ctv', 'Connected TV', 'Avail ' || i, 'CTV', ${start}, ${end},
        1000000, 20, 'USD', '{"market":"ZA"}'::jsonb, '{}'::jsonb, ${now}, ${now}
      from generate_series(1, ${AVAILS}) as i order by i
    `.execute(db)
    const preview = await db.insertInto('avails_preview').values({
      preview_id: 'avp_contention', inventory_source_id: source.id, status: 'PENDING', input_source: 'api', replace_missing: false,
      parsed_avail_count: AVAILS, valid_avail_count: AVAILS, errors: '[]', expires_at: end, created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow()
    await sql`
      insert into avails_preview_row (preview_row_id, position, row_number, avail_id, collection_id, collection_name,
        collection_description, name, channel, start_time, end_time, impressions_capacity, upstream_booked_impressions, cpm,
        currency, targeting, source_metadata)
      select ${preview.id}, ${AVAILS} - i, ${AVAILS} - i + 1, a.avail_id, a.collection_id, a.collection_name, null, a.name, a.channel,
        a.start_time, a.end_time, case when i % ${CHANGED_EVERY} = 0 then 2000000 else a.feed_capacity end, 0, a.cpm, a.currency,
        a.targeting, a.source_metadata
      from generate_series(1, ${AVAILS}) as i
      join avail a on a.inventory_source_id = ${source.id} and a.avail_id = 'a' || lpad(i::text, 6, '0')
    `.execute(db)
    // Holds on changed avails, interleaved over the id range so that each sweeper batch spans
    // avails the old batch-by-batch commit locked early and late. Written like the ledger does:
    // reservation, HOLD entry and counter together.
    const expiresAt = new Date(now.getTime() + 3_600_000)
    await sql`
      with picked as (
        select h, 'a' || lpad(((((h * 7919) % ${HOLDS / 1}) + 1) * ${CHANGED_EVERY})::text, 6, '0') as avail_id
        from generate_series(0, ${HOLDS - 1}) as h
      ), inserted as (
        insert into reservation (inventory_source_id, avail_row_id, avail_id, media_buy_id, requested_impressions, status, expires_at, created_at, updated_at)
        select ${source.id}, a.id, a.avail_id, 'mb-due-' || p.h, 10, 'HELD', ${expiresAt}, ${now}, ${now}
        from picked p join avail a on a.inventory_source_id = ${source.id} and a.avail_id = p.avail_id
        order by p.h
        returning id, avail_row_id
      ), entries as (
        insert into ledger_entry (reservation_id, avail_row_id, kind, impressions, held_delta, booked_delta, created_at)
        select id, avail_row_id, 'HOLD', 10, 10, 0, ${now} from inserted
      )
      update avail set held_impressions = held_impressions + 10 from inserted where avail.id = inserted.avail_row_id
    `.execute(db)
    await sql`analyze avail`.execute(db)
    await sql`analyze avails_preview_row`.execute(db)
    await sql`analyze reservation`.execute(db)

    // The sweeper of this process, on a pool whose statement errors are counted.
    const deadlocks: string[] = []
    const sweeperPool = new pg.Pool({ connectionString: cluster.scratch.url, max: 4 })
    const sweeperDb = new Kysely<DB>({
      dialect: new PostgresDialect({ pool: sweeperPool }),
      log(event) {
        const code = (event.level === 'error' ? (event.error as { code?: string }).code : undefined)
        if (code === '40P01' || code === '40001') deadlocks.push(code)
      },
    })
    const ledger = createLedgerService({ db: sweeperDb, clock: new ManualClock(new Date(now.getTime() + 2 * 3_600_000)) })

    let committing = true
    let expired = 0
    let latencies: number[] = []
    const failures: string[] = []
    let sequence = 0
    const client = async (index: number, until: () => boolean) => {
      const server = cluster.servers[index % cluster.servers.length]!
      while (!until()) {
        const n = sequence++
        // Unchanged avails only (i % 10 != 0): the commit must not hold a lock they need.
        const i = ((n * 104_729) % (AVAILS - 1)) + 1
        const availId = `a${String(i % CHANGED_EVERY === 0 ? i + 1 : i).padStart(6, '0')}`
        const started = performance.now()
        const answer = await call(server, '/inventory-sources/big/modular/reservations', { availId, mediaBuyId: `mb-live-${n}`, requestedImpressions: 1 })
        latencies.push(performance.now() - started)
        if (answer.status !== 201) failures.push(`${answer.status} ${JSON.stringify(answer.body)}`)
      }
    }
    const sweeper = async () => {
      while (committing || expired < HOLDS) {
        const swept = await ledger.expireDue({ batchSize: 100, maxBatches: 1 })
        expired += swept.expired
        if (!committing && swept.expired === 0) break
      }
    }

    // The same clients for 3 s before the commit: the machine's own latency, for the report and
    // for the budget on a machine too loaded to meet 250 ms even with nothing else running.
    const baselineEnd = performance.now() + 3_000
    await Promise.all(Array.from({ length: CLIENTS }, (_, index) => client(index, () => performance.now() >= baselineEnd)))
    const baseline = [...latencies].sort((a, b) => a - b)
    latencies = []

    const clients = Array.from({ length: CLIENTS }, (_, index) => client(index, () => !committing))
    const sweeping = sweeper()
    const commitStarted = performance.now()
    const commit = await call(cluster.servers[0]!, '/inventory-sources/big/modular/avails-feed', { confirmed: true, previewId: 'avp_contention' })
    const commitMs = performance.now() - commitStarted
    committing = false
    await Promise.all(clients)
    await sweeping
    await sweeperDb.destroy()

    assert.equal(commit.status, 200, JSON.stringify(commit.body).slice(0, 2_000))
    assert.deepEqual(commit.body.diff, { created: 0, updated: AVAILS / CHANGED_EVERY, unchanged: AVAILS - AVAILS / CHANGED_EVERY, deactivated: 0 })
    assert.deepEqual(deadlocks, [], 'no statement of the sweeper was a deadlock victim')
    assert.equal(expired, HOLDS)
    assert.deepEqual(failures, [])
    const sorted = [...latencies].sort((a, b) => a - b)
    const p99 = percentile(sorted, 99)
    const baselineP99 = percentile(baseline, 99)
    console.log(`# commit ${commitMs.toFixed(0)} ms; ${sorted.length} reservations during it: p50 ${percentile(sorted, 50).toFixed(1)} ms, ` +
      `p99 ${p99.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms (before it: ${baseline.length}, p50 ${percentile(baseline, 50).toFixed(1)} ms, ` +
      `p99 ${baselineP99.toFixed(1)} ms); ${expired} holds swept`)
    assert.ok(sorted.length >= 2 * CLIENTS, `only ${sorted.length} reservations were answered during the commit`)
    const budget = Math.max(P99_BUDGET_MS, 2 * baselineP99)
    assert.ok(p99 < budget, `p99 ${p99.toFixed(1)} ms during the commit >= ${budget.toFixed(1)} ms`)

    const changed = await db.selectFrom('avail').select((eb) => eb.fn.countAll<number>().as('n')).where('feed_capacity', '=', 2_000_000).executeTakeFirstOrThrow()
    assert.equal(Number(changed.n), AVAILS / CHANGED_EVERY)
    await assertLedgerConsistent(db)
  })
})
