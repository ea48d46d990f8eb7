import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { finalizeBody } from '../execution/helpers.ts'
import { openSse, workItemEvents, type SseStream } from '../helpers/sse.ts'
import { BOOTSTRAP_KEY, skipWithoutPostgres, useServerCluster, waitUntil } from './pg-harness.ts'

/**
 * Goal: the live work-item stream is one feed across processes. A change committed through
 * server process A reaches an SSE client connected to process B, through PostgreSQL's NOTIFY on
 * B's one listening connection; when that connection is cut, B reconnects, tells its clients to
 * re-read (a `resync` event), and later changes reach them again.
 */

const DEMO = 'talpa-cadent-demo'
const PATH = '/api/v2/storefront/work-items/events'

describe('GET /work-items/events across two server processes', { skip: skipWithoutPostgres }, () => {
  const cluster = useServerCluster('sf_live_events')
  const streams: SseStream[] = []
  let availId: string

  async function rest(serverUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(`${serverUrl}/api/v2/storefront${path}`, {
      method,
      headers: { authorization: `Bearer ${BOOTSTRAP_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: response.status, json: (await response.json()) as Record<string, unknown> }
  }

  async function connected(serverUrl: string): Promise<SseStream> {
    const stream = await openSse(`${serverUrl}${PATH}`, BOOTSTRAP_KEY)
    streams.push(stream)
    assert.equal(stream.status, 200, stream.body)
    await stream.next((frame) => frame.retry !== undefined)
    return stream
  }

  /** Reserves and finalizes a hold of `mediaBuyId` through `serverUrl`: three work items open. */
  async function handOff(serverUrl: string, mediaBuyId: string): Promise<Array<{ id: string; kind: string }>> {
    const held = await rest(serverUrl, 'POST', `/inventory-sources/${DEMO}/modular/reservations`, {
      availId, mediaBuyId, buyerCustomerId: 42, requestedImpressions: 10_000, holdMinutes: 60,
    })
    assert.equal(held.status, 201, JSON.stringify(held.json))
    const finalized = await rest(serverUrl, 'POST', `/inventory-sources/${DEMO}/modular/bookings/finalize`, finalizeBody({ mediaBuyId, availId }))
    assert.equal(finalized.status, 200, JSON.stringify(finalized.json.error))
    return finalized.json.workItems as Array<{ id: string; kind: string }>
  }

  before(async () => {
    const [a] = cluster.servers
    assert.equal((await rest(a!.url, 'POST', '/inventory-sources/modular/cadent-demo', {})).status, 201)
    const products = (await rest(a!.url, 'GET', `/inventory-sources/${DEMO}/modular/products`)).json.products as Array<{ availId: string; endTime: string }>
    availId = products.find((product) => new Date(product.endTime).getTime() > Date.now() + 7 * 86_400_000)!.availId
  })
  after(() => {
    for (const stream of streams) stream.close()
  })

  it('delivers a work item opened and started through process A to a client of process B', async () => {
    const [a, b] = cluster.servers
    const onB = await connected(b!.url)
    const items = await handOff(a!.url, 'mb_live_pg_1')
    assert.equal(items.length, 3)
    for (const item of items) {
      await onB.next((frame) => frame.event === 'work-item' && JSON.parse(frame.data).workItemId === item.id)
    }
    const created = workItemEvents(onB)
    assert.deepEqual(new Set(created.map((event) => event.kind)), new Set(items.map((item) => item.kind)))
    assert.ok(created.every((event) => event.sourceId === DEMO && event.status === 'OPEN'))

    const traffic = items.find((item) => item.kind === 'TRAFFIC_TO_CADENT')!
    const started = await rest(a!.url, 'POST', `/inventory-sources/${DEMO}/modular/work-items/${traffic.id}/start`, { assignedTo: 'ana@seller.example' })
    assert.equal(started.status, 200, JSON.stringify(started.json))
    const frame = await onB.next((candidate) => candidate.event === 'work-item' && JSON.parse(candidate.data).status === 'IN_PROGRESS')
    assert.equal(JSON.parse(frame.data).workItemId, traffic.id)
    // The process that made the change streams it to its own clients too.
    const onA = await connected(a!.url)
    const blocked = await rest(b!.url, 'POST', `/inventory-sources/${DEMO}/modular/work-items/${traffic.id}/block`, { blockedReason: 'Waiting for Cadent access' })
    assert.equal(blocked.status, 200, JSON.stringify(blocked.json))
    await onA.next((candidate) => candidate.event === 'work-item' && JSON.parse(candidate.data).status === 'BLOCKED')
  })

  it('after its listening connection is cut, a process says resync and streams later changes again', async () => {
    const [a, b] = cluster.servers
    const onB = await connected(b!.url)
    const cut = await sql<{ pid: number }>`
      select pg_terminate_backend(pid) as pid from pg_stat_activity
      where datname = current_database() and application_name = 'storefront-live-events'
    `.execute(cluster.db)
    assert.equal(cut.rows.length, 2, 'each process has one listening connection')
    await onB.next((frame) => frame.event === 'resync', { timeoutMs: 15_000 })
    const items = await handOff(a!.url, 'mb_live_pg_2')
    await onB.next((frame) => frame.event === 'work-item' && JSON.parse(frame.data).workItemId === items[0]!.id)
    // B is listening again (it streamed the change); A reconnects on its own backoff, maybe later.
    await waitUntil(async () => {
      const listening = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = 'storefront-live-events'
      `.execute(cluster.db)
      return listening.rows[0]!.n === 2
    }, 'both processes listening again')
  })
})
