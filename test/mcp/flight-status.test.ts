import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { sql } from 'kysely'
import type { MediaBuyStatus } from '../../src/db/tables.ts'
import { insertMediaBuyFixture } from '../helpers/media-buy-fixture.ts'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

const ACCOUNT = { brand: { domain: 'test.example' }, operator: 'test.example', sandbox: true }
const DAY = 86_400_000

/** A buyer's webhook receiver on loopback: every POST answered 200. */
async function startReceiver(): Promise<{ url: string; received: Array<{ url: string; body: string }>; close(): Promise<void> }> {
  const received: Array<{ url: string; body: string }> = []
  const server: Server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      received.push({ url: request.url ?? '/', body })
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('receiver not listening')
  return { url: `http://127.0.0.1:${address.port}`, received, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

interface StatusEvent {
  status: string
  revision: number
  message: string
  taskType: string
}

describe('media buys move along their flights when the sweep runs', () => {
  let ctx: McpTestContext
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  let client: Client
  let keySeq = 0
  const idempotencyKey = () => `flight-status-${String(++keySeq).padStart(8, '0')}`

  before(async () => {
    ctx = await createMcpTestContext()
    receiver = await startReceiver()
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', label: 'flight buyer', role: 'buyer', sandbox: true })
    client = await ctx.connect(key)
    const synced = await callTool(client, 'sync_creatives', {
      account: ACCOUNT,
      idempotency_key: idempotencyKey(),
      creatives: [{
        creative_id: 'flight-spot-30',
        name: 'Flight spot',
        format_id: { agent_url: ctx.mcpUrl, id: 'video_spot_30s' },
        assets: { video_file: { asset_type: 'video', url: 'https://cdn.example.com/flight-spot-30.mp4', width: 1920, height: 1080, duration_ms: 30_000 } },
        industry_identifiers: [{ type: 'ad_id', value: 'ACME0042000H' }],
      }],
    })
    assert.equal(synced.isError, false, JSON.stringify(synced.payload))
  })
  after(async () => {
    await receiver.close()
    await ctx.close()
  })

  const row = (id: number) => ctx.db.selectFrom('media_buy').selectAll().where('id', '=', id).executeTakeFirstOrThrow()

  /** The buy's status-change events in the outbox, oldest first. */
  async function statusEventsOf(buyRowId: number): Promise<StatusEvent[]> {
    const events = await ctx.db.selectFrom('webhook_outbox').selectAll().where('media_buy_row_id', '=', buyRowId).where('operation_id', 'like', 'media_buy_status.%').orderBy('id').execute()
    return events.map((event) => {
      const payload = JSON.parse(event.payload) as { task_type: string; message: string; result: { status: string; revision: number } }
      return { status: payload.result.status, revision: payload.result.revision, message: payload.message, taskType: payload.task_type }
    })
  }

  /**
   * A sandbox buy confirmed at once whose flight starts a day from the test clock and runs a week,
   * with the creative put on its package: pending_start, as a buyer's agent would leave it.
   */
  async function readyBuy(path: string) {
    const listed = await callTool(client, 'get_products', { buying_mode: 'wholesale' })
    const product = (listed.payload.products as Array<{ product_id: string; pricing_options: Array<{ pricing_option_id: string; fixed_price: number }> }>)[0]!
    const start = new Date(ctx.clock.now().getTime() + DAY)
    const end = new Date(start.getTime() + 7 * DAY)
    const created = await callTool(client, 'create_media_buy', {
      account: ACCOUNT,
      brand: ACCOUNT.brand,
      start_time: start.toISOString(),
      end_time: end.toISOString(),
      packages: [{ product_id: product.product_id, pricing_option_id: product.pricing_options[0]!.pricing_option_id, budget: product.pricing_options[0]!.fixed_price * 2 }],
      push_notification_config: { url: `${receiver.url}${path}`, token: 'flight-token-0001' },
      idempotency_key: idempotencyKey(),
    })
    assert.equal(typeof created.payload.media_buy_id, 'string', JSON.stringify(created.payload))
    const mediaBuyId = created.payload.media_buy_id as string
    const packageId = (created.payload.packages as Array<{ package_id: string }>)[0]!.package_id
    const attached = await callTool(client, 'update_media_buy', {
      account: ACCOUNT, media_buy_id: mediaBuyId, idempotency_key: idempotencyKey(),
      packages: [{ package_id: packageId, creative_assignments: [{ creative_id: 'flight-spot-30' }] }],
    })
    assert.equal(attached.isError, false, JSON.stringify(attached.payload))
    const buy = await ctx.db.selectFrom('media_buy').selectAll().where('media_buy_id', '=', mediaBuyId).executeTakeFirstOrThrow()
    assert.equal(buy.status, 'pending_start')
    return { ...buy, start, end }
  }

  async function listedStatus(mediaBuyId: string): Promise<{ status: string; revision: number }> {
    const listed = await callTool(client, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
    const [buy] = listed.payload.media_buys as Array<{ status: string; revision: number }>
    return { status: buy!.status, revision: buy!.revision }
  }

  it('makes a pending_start buy active once its start_time passes and completed once its end_time passes, each move a new revision announced once', async () => {
    const buy = await readyBuy('/flight')
    const announced = (await statusEventsOf(buy.id)).length
    assert.equal(announced, 1, 'the move out of pending_creatives was announced when the creative went on')

    assert.deepEqual(await ctx.services.flights.advanceFlights(), { moved: 0, failed: 0 }, 'nothing is due before the start')
    assert.equal((await row(buy.id)).status, 'pending_start')

    ctx.clock.set(buy.start)
    assert.deepEqual(await ctx.services.flights.advanceFlights(), { moved: 1, failed: 0 })
    const started = await row(buy.id)
    assert.deepEqual([started.status, started.revision], ['active', buy.revision + 1])
    assert.deepEqual(await listedStatus(buy.media_buy_id), { status: 'active', revision: buy.revision + 1 })
    const [, activeEvent] = await statusEventsOf(buy.id)
    assert.deepEqual(activeEvent, { status: 'active', revision: buy.revision + 1, message: `Media buy ${buy.media_buy_id} is now active (was pending_start)`, taskType: 'update_media_buy' })

    ctx.clock.set(new Date(buy.end.getTime() - 1))
    assert.deepEqual(await ctx.services.flights.advanceFlights(), { moved: 0, failed: 0 }, 'a running buy is active until its end_time')
    ctx.clock.set(buy.end)
    assert.deepEqual(await ctx.services.flights.advanceFlights(), { moved: 1, failed: 0 })
    assert.deepEqual(await listedStatus(buy.media_buy_id), { status: 'completed', revision: buy.revision + 2 })
    assert.deepEqual(await ctx.services.flights.advanceFlights(), { moved: 0, failed: 0 }, 'completed is terminal')

    const events = await statusEventsOf(buy.id)
    assert.deepEqual(events.map((event) => event.status), ['pending_start', 'active', 'completed'])
    assert.deepEqual(events.slice(1).map((event) => event.revision), [buy.revision + 1, buy.revision + 2])
    assert.match(events[2]!.message, /now completed \(was active\)$/)

    // The app's own sender may have taken some of them already: wait for all three, each once.
    await ctx.services.webhookOutbox.deliverDue()
    // Status changes are named by the buy (task_id = media_buy_id); the create's own completion is not one of them.
    const flightPosts = () => receiver.received.filter((captured) => captured.url === '/flight' && captured.body.includes(`"task_id":"${buy.media_buy_id}"`))
    for (let waited = 0; flightPosts().length < 3 && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50))
    const bodies = flightPosts().map((captured) => JSON.parse(captured.body) as { task_id: string; token: string; result: { status: string } })
    // Each event is its own delivery: the outbox promises each one once, not their order.
    assert.deepEqual(bodies.map((body) => [body.task_id, body.token, body.result.status]).sort(), ['active', 'completed', 'pending_start'].map((status) => [buy.media_buy_id, 'flight-token-0001', status]))
  })

  it('completes a paused buy once its end_time passes: it has finished running', async () => {
    const buy = await readyBuy('/paused')
    ctx.clock.set(buy.start)
    await ctx.services.flights.advanceFlights()
    const paused = await callTool(client, 'update_media_buy', { account: ACCOUNT, media_buy_id: buy.media_buy_id, paused: true, idempotency_key: idempotencyKey() })
    assert.equal(paused.isError, false, JSON.stringify(paused.payload))
    ctx.clock.set(buy.end)
    assert.deepEqual(await ctx.services.flights.advanceFlights(), { moved: 1, failed: 0 })
    assert.equal((await listedStatus(buy.media_buy_id)).status, 'completed')
    const events = await statusEventsOf(buy.id)
    assert.deepEqual(events.map((event) => event.status), ['pending_start', 'active', 'paused', 'completed'])
    assert.match(events.at(-1)!.message, /now completed \(was paused\)$/)
  })

  it('takes a buy whose whole flight passed between sweeps through active to completed, two legal moves, each announced', async () => {
    const buy = await readyBuy('/unswept')
    ctx.clock.set(new Date(buy.end.getTime() + DAY))
    assert.deepEqual(await ctx.services.flights.advanceFlights(), { moved: 2, failed: 0 })
    const done = await row(buy.id)
    assert.deepEqual([done.status, done.revision], ['completed', buy.revision + 2])
    const events = await statusEventsOf(buy.id)
    assert.deepEqual(events.map((event) => event.status), ['pending_start', 'active', 'completed'])
    assert.deepEqual(events.slice(1).map((event) => event.revision), [buy.revision + 1, buy.revision + 2])
    assert.match(events[1]!.message, /now active \(was pending_start\)$/)
    assert.match(events[2]!.message, /now completed \(was active\)$/)
  })

  it('moves each buy once when two sweeps run at once, and announces each move once', async () => {
    const buys = [await readyBuy('/race'), await readyBuy('/race'), await readyBuy('/race')]
    ctx.clock.set(buys[0]!.start)
    const sweeps = await Promise.all([ctx.services.flights.advanceFlights(), ctx.services.flights.advanceFlights()])
    assert.equal(sweeps[0].moved + sweeps[1].moved, buys.length, JSON.stringify(sweeps))
    assert.equal(sweeps[0].failed + sweeps[1].failed, 0)
    for (const buy of buys) {
      const moved = await row(buy.id)
      assert.deepEqual([moved.status, moved.revision], ['active', buy.revision + 1])
      assert.deepEqual((await statusEventsOf(buy.id)).map((event) => event.status), ['pending_start', 'active'])
    }

    ctx.clock.set(buys[0]!.end)
    const ends = await Promise.all([ctx.services.flights.advanceFlights(), ctx.services.flights.advanceFlights(), ctx.services.flights.advanceFlights()])
    assert.equal(ends.reduce((sum, sweep) => sum + sweep.moved, 0), buys.length, JSON.stringify(ends))
    for (const buy of buys) assert.deepEqual((await statusEventsOf(buy.id)).map((event) => event.status), ['pending_start', 'active', 'completed'])
  })

  it('leaves submitted, pending_creatives, rejected, canceled and completed buys as they are, however far past their flight', async () => {
    const { buyer_account_id: accountRowId } = await readyBuy('/others')
    const { account_id: accountId } = await ctx.db.selectFrom('buyer_account').select('account_id').where('id', '=', accountRowId).executeTakeFirstOrThrow()
    const now = ctx.clock.now()
    const statuses: MediaBuyStatus[] = ['submitted', 'pending_creatives', 'rejected', 'canceled', 'completed']
    const rows: number[] = []
    for (const status of statuses) {
      const { mediaBuyRowId } = await insertMediaBuyFixture(ctx.db, {
        accountId, mediaBuyId: `mb_flight_${status}`, status, packages: [],
        startTime: new Date(now.getTime() - 10 * DAY).toISOString(), endTime: new Date(now.getTime() - DAY).toISOString(),
      }, now)
      rows.push(mediaBuyRowId)
    }
    ctx.clock.set(new Date(now.getTime() + 30 * DAY))
    // The ready buy above is the only one the clock moves (started, then completed).
    assert.deepEqual(await ctx.services.flights.advanceFlights(), { moved: 2, failed: 0 })
    for (const [index, id] of rows.entries()) {
      const left = await row(id)
      assert.deepEqual([left.status, left.revision], [statuses[index], 1])
      assert.deepEqual(await statusEventsOf(id), [])
    }
  })

  it('retries a buy whose move failed at the next sweep, and moves the other due buys meanwhile', async () => {
    const buys = [await readyBuy('/retry'), await readyBuy('/retry')]
    // The first buy's move fails in the database (as a lost connection's would).
    await sql.raw(`CREATE FUNCTION refuse_move() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
      CREATE TRIGGER refuse_move BEFORE UPDATE ON media_buy FOR EACH ROW WHEN (OLD.id = ${buys[0]!.id}) EXECUTE FUNCTION refuse_move()`).execute(ctx.db)
    ctx.clock.set(buys[0]!.start)
    const failures: string[] = []
    try {
      assert.deepEqual(await ctx.services.flights.advanceFlights({ pageSize: 1, onError: (mediaBuyId) => failures.push(mediaBuyId) }), { moved: 1, failed: 1 })
    } finally {
      await sql.raw('DROP TRIGGER refuse_move ON media_buy; DROP FUNCTION refuse_move()').execute(ctx.db)
    }
    assert.deepEqual(failures, [buys[0]!.media_buy_id])
    assert.deepEqual([(await row(buys[0]!.id)).status, (await row(buys[1]!.id)).status], ['pending_start', 'active'])
    assert.deepEqual((await statusEventsOf(buys[0]!.id)).map((event) => event.status), ['pending_start'], 'the failed move announced nothing')
    assert.deepEqual(await ctx.services.flights.advanceFlights(), { moved: 1, failed: 0 })
    assert.equal((await row(buys[0]!.id)).status, 'active')
  })
})
