import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { openWorkItem } from '../../src/modules/work-queue/index.ts'
import { createDemo, DEMO, finalize, ok, reserve } from '../execution/helpers.ts'
import { openSse, workItemEvents, type SseStream } from '../helpers/sse.ts'
import { callTool, createMcpTestContext, type McpTestContext } from '../mcp/helpers.ts'

const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }
const PATH = '/api/v2/storefront/work-items/events'

let keySeq = 0
function idempotencyKey(): string {
  return `live-events-test-${String(++keySeq).padStart(8, '0')}`
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('GET /work-items/events', () => {
  let ctx: McpTestContext
  let buyer: Client
  const streams: SseStream[] = []

  async function stream(key: string | null = ctx.key): Promise<SseStream> {
    const opened = await openSse(`${ctx.baseUrl}${PATH}`, key)
    streams.push(opened)
    return opened
  }

  /** A frame the stream sends once it is subscribed: every later change reaches it. */
  async function connected(key?: string | null): Promise<SseStream> {
    const opened = await stream(key)
    assert.equal(opened.status, 200, opened.body)
    await opened.next((frame) => frame.retry !== undefined)
    return opened
  }

  async function itemOf(kind: string, mediaBuyId: string): Promise<{ id: string }> {
    const { items } = ok<{ items: Array<{ id: string }> }>(await ctx.api('GET', `/inventory-sources/${DEMO}/modular/work-items?kind=${kind}&mediaBuyId=${mediaBuyId}`))
    assert.equal(items.length, 1, `one open ${kind} item of ${mediaBuyId}`)
    return items[0]!
  }

  async function storefrontIdOf(name: string): Promise<number> {
    return (await ctx.db.selectFrom('storefront').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id
  }

  before(async () => {
    ctx = await createMcpTestContext({ liveEventsHeartbeatMs: 100 })
    await createDemo(ctx)
    buyer = await ctx.connect(ctx.buyerKey)
    const synced = await callTool(buyer, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: idempotencyKey() })
    assert.equal(synced.isError, false, JSON.stringify(synced.payload))
  })
  after(async () => {
    for (const opened of streams) opened.close()
    await ctx.close()
  })

  it('answers text/event-stream with a retry hint and heartbeat comments', async () => {
    const opened = await connected()
    assert.match(opened.headers.get('content-type') ?? '', /^text\/event-stream/)
    assert.equal(opened.headers.get('cache-control'), 'no-cache, no-transform')
    assert.equal(opened.frames[0]!.retry, 3000)
    await opened.next((frame) => frame.comments.includes('heartbeat'), { from: 1 })
    opened.close()
  })

  it('refuses a buyer key with 403 WRONG_KEY_ROLE and a missing key with 401, as the work-item routes do', async () => {
    const asBuyer = await stream(ctx.buyerKey)
    assert.equal(asBuyer.status, 403)
    assert.equal(JSON.parse(asBuyer.body).error.details.reason, 'WRONG_KEY_ROLE')
    const anonymous = await stream(null)
    assert.equal(anonymous.status, 401)
    // HEAD would hold a subscriber with a stream that never ends: there is none.
    assert.equal((await fetch(`${ctx.baseUrl}${PATH}`, { method: 'HEAD', headers: { authorization: `Bearer ${ctx.key}` } })).status, 404)
    assert.equal(ctx.services.liveEvents.subscriberCount, 0)
  })

  it('sends an event for each work item a buyer\'s media buy opens, with only the public fields', async () => {
    const opened = await connected()
    const products = (await ctx.api('GET', `/inventory-sources/${DEMO}/modular/products`)).json().products as Array<{ availId: string; cpm: number }>
    const start = new Date(Date.now() + 86_400_000)
    const { isError, payload } = await callTool(buyer, 'create_media_buy', {
      account: ACCOUNT,
      brand: ACCOUNT.brand,
      start_time: start.toISOString(),
      end_time: new Date(start.getTime() + 7 * 86_400_000).toISOString(),
      packages: [{ product_id: `${DEMO}:${products[0]!.availId}`, pricing_option_id: 'cpm_fixed', budget: products[0]!.cpm * 2 }],
      idempotency_key: idempotencyKey(),
    })
    assert.equal(isError, false, JSON.stringify(payload))
    const frame = await opened.next((candidate) => candidate.event === 'work-item')
    const event = JSON.parse(frame.data) as Record<string, string>
    assert.deepEqual(Object.keys(event).sort(), ['changedAt', 'kind', 'sourceId', 'status', 'workItemId'])
    assert.equal(event.sourceId, DEMO)
    assert.equal(event.status, 'OPEN')
    assert.equal(event.changedAt, '2026-11-22T12:00:00.000Z')
    // The event names an item the list shows, of the buy's hand-off.
    const items = (await ctx.api('GET', `/inventory-sources/${DEMO}/modular/work-items?status=OPEN&limit=100`)).json().items as Array<{ id: string; kind: string; mediaBuyId: string | null }>
    const item = items.find((candidate) => candidate.id === event.workItemId)
    assert.ok(item, `work item ${event.workItemId} is listed`)
    assert.equal(item.kind, event.kind)
    assert.ok(item.mediaBuyId)
    opened.close()
  })

  it('sends an event when an operator starts an item and when it completes it', async () => {
    await reserve(ctx, { mediaBuyId: 'mb_live_1' })
    ok(await finalize(ctx, { mediaBuyId: 'mb_live_1' }))
    const item = await itemOf('TRAFFIC_TO_CADENT', 'mb_live_1')
    const opened = await connected()
    ctx.clock.advance(60_000)
    ok(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/work-items/${item.id}/start`, { assignedTo: 'ana@seller.example' }))
    const started = JSON.parse((await opened.next((frame) => frame.event === 'work-item')).data)
    assert.deepEqual(started, { workItemId: item.id, sourceId: DEMO, kind: 'TRAFFIC_TO_CADENT', status: 'IN_PROGRESS', changedAt: '2026-11-22T12:01:00.000Z' })
    ok(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/work-items/${item.id}/complete`, { result: { cadentCampaignId: 'CAD-LIVE-1' } }))
    await opened.next((frame) => frame.event === 'work-item' && JSON.parse(frame.data).status === 'COMPLETED')
    const mine = workItemEvents(opened).filter((event) => event.workItemId === item.id).map((event) => event.status)
    assert.deepEqual(mine, ['IN_PROGRESS', 'COMPLETED'])
    opened.close()
  })

  it('delivers nothing of a transaction that rolled back', async () => {
    const opened = await connected()
    const storefrontId = await storefrontIdOf('acme')
    const source = await ctx.db.selectFrom('inventory_source').select('id').where('storefront_id', '=', storefrontId).where('source_id', '=', DEMO).executeTakeFirstOrThrow()
    let openedId: number | undefined
    await assert.rejects(ctx.db.transaction().execute(async (trx) => {
      const row = await openWorkItem(trx, { storefrontId, inventorySourceId: source.id, moduleRowId: null, kind: 'TRAFFIC_TO_CADENT', title: 'rolled back' }, { type: 'SYSTEM', id: null }, ctx.clock.now())
      openedId = row.id
      throw new Error('abort the transaction')
    }), /abort the transaction/)
    assert.ok(openedId)
    // A committed change after it is the first and only thing the stream hears.
    const item = await itemOf('UPLOAD_FINAL_REPORT', 'mb_live_1')
    ok(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/work-items/${item.id}/block`, { blockedReason: 'Waiting for the report' }))
    await opened.next((frame) => frame.event === 'work-item')
    assert.deepEqual(workItemEvents(opened).map((event) => [event.workItemId, event.status]), [[item.id, 'BLOCKED']])
    opened.close()
  })

  it('does not deliver another storefront\'s changes', async () => {
    const acmeId = await storefrontIdOf('acme')
    const globexId = await storefrontIdOf('globex')
    assert.equal((await ctx.api('POST', '/inventory-sources/modular/cadent-demo', {}, { key: ctx.otherKey })).statusCode, 201)
    const acme = await connected()
    const globex = await connected(ctx.otherKey)
    const acmeItem = await itemOf('MAP_CREATIVE_REF', 'mb_live_1')
    ok(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/work-items/${acmeItem.id}/start`, { assignedTo: 'ana@seller.example' }))
    await acme.next((frame) => frame.event === 'work-item')

    // globex's own change, made after acme's, reaches globex and not acme.
    const globexSource = await ctx.db.selectFrom('inventory_source').select('id').where('storefront_id', '=', globexId).where('source_id', '=', DEMO).executeTakeFirstOrThrow()
    const globexItem = await ctx.db.transaction().execute((trx) => openWorkItem(trx, {
      storefrontId: globexId, inventorySourceId: globexSource.id, moduleRowId: null, kind: 'TRAFFIC_TO_CADENT', title: 'globex work',
    }, { type: 'SYSTEM', id: null }, ctx.clock.now()))
    await globex.next((frame) => frame.event === 'work-item')
    assert.deepEqual(workItemEvents(globex).map((event) => event.workItemId), [String(globexItem.id)])
    // A change reaches every subscriber at once, so a heartbeat acme hears after it comes after anything misrouted.
    await acme.next((frame) => frame.comments.includes('heartbeat'), { from: acme.frames.length })
    const acmeIds = workItemEvents(acme).map((event) => Number(event.workItemId))
    assert.ok(acmeIds.includes(Number(acmeItem.id)))
    const owners = await ctx.db.selectFrom('work_item').select('storefront_id').where('id', 'in', acmeIds).execute()
    assert.ok(owners.every((row) => row.storefront_id === acmeId))
    acme.close()
    globex.close()
  })

  it('frees the subscriber when the client disconnects', async () => {
    for (const earlier of streams) earlier.close()
    await waitUntil(() => ctx.services.liveEvents.subscriberCount === 0, 'earlier streams are released')
    const opened = await connected()
    assert.equal(ctx.services.liveEvents.subscriberCount, 1)
    opened.close()
    await waitUntil(() => ctx.services.liveEvents.subscriberCount === 0, 'the closed stream is released')
  })
})

describe('GET /work-items/events limits and shutdown', () => {
  it('refuses a stream beyond LIVE_EVENTS_MAX_SUBSCRIBERS with 429 LIVE_EVENTS_FULL and Retry-After', async () => {
    const ctx = await createMcpTestContext({ liveEventsMaxSubscribers: 1 })
    const first = await openSse(`${ctx.baseUrl}${PATH}`, ctx.key)
    try {
      assert.equal(first.status, 200)
      const second = await openSse(`${ctx.baseUrl}${PATH}`, ctx.key)
      assert.equal(second.status, 429)
      assert.equal(second.headers.get('retry-after'), '10')
      const error = JSON.parse(second.body).error
      assert.equal(error.code, 'RATE_LIMITED')
      assert.equal(error.details.reason, 'LIVE_EVENTS_FULL')
      first.close()
      await waitUntil(() => ctx.services.liveEvents.subscriberCount === 0, 'the first stream is released')
      const third = await openSse(`${ctx.baseUrl}${PATH}`, ctx.key)
      assert.equal(third.status, 200)
      third.close()
    } finally {
      first.close()
      await ctx.close()
    }
  })

  it('ends open streams when the server closes, instead of waiting for their clients', async () => {
    const ctx = await createMcpTestContext()
    const opened = await openSse(`${ctx.baseUrl}${PATH}`, ctx.key)
    assert.equal(opened.status, 200)
    await opened.next((frame) => frame.retry !== undefined)
    const closing = ctx.close()
    await Promise.race([
      Promise.all([closing, opened.ended]),
      new Promise((_, reject) => setTimeout(() => reject(new Error('close waited for the open stream')), 5_000)),
    ])
    assert.equal(ctx.services.liveEvents.subscriberCount, 0)
  })
})
