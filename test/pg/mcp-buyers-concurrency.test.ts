import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { sql } from 'kysely'
import { createAccessService } from '../../src/access/access-service.ts'
import { systemClock } from '../../src/shared/clock.ts'
import { assertLedgerConsistent } from '../ledger/ledger-fixtures.ts'
import { callTool } from '../mcp/helpers.ts'
import { BOOTSTRAP_KEY, skipWithoutPostgres, useServerCluster } from './pg-harness.ts'

/**
 * Goal: the buyer surface keeps the ledger's promise across processes. 32 live buyer agents, each
 * with its own key and MCP client, half on each of two real `storefront serve` processes on one
 * PostgreSQL database, buy the same avail at once for more than it has. Never over capacity;
 * every `submitted` answer has its hold under its buy; every refusal is the AdCP capacity error
 * and leaves nothing; a cancel gives the capacity back exactly once; no buyer sees another's buys.
 * The outcome does not depend on timing: with equal sizes exactly floor(available / size) fit,
 * whichever requests win.
 */

const DEMO = 'talpa-cadent-demo'
const BUYERS = 32
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }
const EVERY_STATUS = ['pending_creatives', 'pending_start', 'active', 'paused', 'completed', 'rejected', 'canceled']

interface Buyer {
  index: number
  apiKeyId: number
  client: Client
  serverUrl: string
}

interface Attempt {
  buyer: Buyer
  isError: boolean
  payload: Record<string, unknown>
}

interface AdcpError {
  code: string
  field?: string
  recovery?: string
  details?: { available_impressions?: number; requested_impressions?: number }
}

function idempotencyKey(): string {
  return `pg-buyers-${randomBytes(8).toString('hex')}`
}

function flight(): { start_time: string; end_time: string } {
  const start = new Date(Date.now() + 86_400_000)
  return { start_time: start.toISOString(), end_time: new Date(start.getTime() + 7 * 86_400_000).toISOString() }
}

function adcpErrorOf(payload: Record<string, unknown>): AdcpError | undefined {
  return payload.adcp_error as AdcpError | undefined
}

describe('create_media_buy from 32 buyer agents on two server processes', { skip: skipWithoutPostgres }, () => {
  const cluster = useServerCluster('sf_mcp_buyers')
  const buyers: Buyer[] = []
  let productId: string
  let availId: string
  let availRowId: number
  let cpm: number
  let startAvailable: number
  let size: number
  /** The buyer whose buy is accepted, with the buy's media_buy_id once its task completed. */
  const bought = new Map<number, string>()
  /** Every failure of the transport or the server (5xx, dropped connection): must stay empty. */
  const transportErrors: string[] = []

  async function rest(serverUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(`${serverUrl}/api/v2/storefront${path}`, {
      method,
      headers: { authorization: `Bearer ${BOOTSTRAP_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: response.status, json: (await response.json()) as Record<string, unknown> }
  }

  async function availableOverRest(serverUrl: string): Promise<number> {
    const { status, json } = await rest(serverUrl, 'GET', `/inventory-sources/${DEMO}/modular/products`)
    assert.equal(status, 200, JSON.stringify(json))
    return (json.products as Array<{ availId: string; availableImpressions: number }>).find((row) => row.availId === availId)!.availableImpressions
  }

  /** A tool call whose transport failure is recorded rather than thrown, so one bad call fails the assertions, not the batch. */
  async function call(buyer: Buyer, name: string, args: Record<string, unknown>): Promise<Attempt | null> {
    try {
      return { buyer, ...(await callTool(buyer.client, name, args)) }
    } catch (error) {
      transportErrors.push(`buyer ${buyer.index} ${name}: ${String(error)}`)
      return null
    }
  }

  function buy(buyer: Buyer, impressions: number): Promise<Attempt | null> {
    return call(buyer, 'create_media_buy', {
      account: ACCOUNT,
      brand: ACCOUNT.brand,
      ...flight(),
      packages: [{ product_id: productId, pricing_option_id: 'cpm_fixed', budget: (impressions * cpm) / 1000, impressions }],
      idempotency_key: idempotencyKey(),
    })
  }

  /** Every create of `attempts` answered (no transport error): accepted ones carry a task_id, refused ones the AdCP capacity error. */
  function split(attempts: Array<Attempt | null>): { accepted: Attempt[]; refused: Attempt[] } {
    assert.deepEqual(transportErrors, [])
    const answered = attempts.filter((attempt): attempt is Attempt => attempt !== null)
    const accepted = answered.filter((attempt) => !attempt.isError)
    const refused = answered.filter((attempt) => attempt.isError)
    for (const attempt of accepted) {
      assert.equal(attempt.payload.status, 'submitted', JSON.stringify(attempt.payload))
      assert.match(String(attempt.payload.task_id), /\S/)
    }
    for (const attempt of refused) {
      const error = adcpErrorOf(attempt.payload)
      assert.equal(error?.code, 'PRODUCT_UNAVAILABLE', JSON.stringify(attempt.payload))
      assert.equal(error.field, 'packages[0]')
      assert.equal(error.recovery, 'correctable')
      assert.equal(error.details?.requested_impressions, size)
      const available = error.details?.available_impressions
      assert.ok(typeof available === 'number' && available >= 0 && available < size, `available_impressions ${available} is below the request`)
    }
    return { accepted, refused }
  }

  /** Held and booked impressions on the avail, summed from the live reservations. */
  async function committed(): Promise<number> {
    const row = await cluster.db.selectFrom('reservation')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('requested_impressions'), sql<number>`0`).as('n'))
      .where('avail_row_id', '=', availRowId).where('status', 'in', ['HELD', 'BOOKED'])
      .executeTakeFirstOrThrow()
    return Number(row.n)
  }

  /**
   * Replays the avail's immutable ledger entries in order: held + booked never exceeded the feed
   * figure at any point. Holds on one avail are serialized by its row lock, so entry ids follow
   * commit order for every entry that raises the sum.
   */
  async function assertNeverOverCapacity(): Promise<void> {
    const avail = await cluster.db.selectFrom('avail').select('feed_capacity').where('id', '=', availRowId).executeTakeFirstOrThrow()
    const entries = await cluster.db.selectFrom('ledger_entry').select(['id', 'held_delta', 'booked_delta']).where('avail_row_id', '=', availRowId).orderBy('id').execute()
    let sum = 0
    let peak = 0
    for (const entry of entries) {
      sum += Number(entry.held_delta) + Number(entry.booked_delta)
      peak = Math.max(peak, sum)
    }
    assert.ok(peak <= avail.feed_capacity, `held + booked peaked at ${peak}, over the capacity ${avail.feed_capacity}`)
    assert.equal(sum, await committed())
  }

  async function buyOfTask(taskId: string) {
    return cluster.db.selectFrom('media_buy').selectAll().where('task_id', '=', taskId).executeTakeFirstOrThrow()
  }

  before(async () => {
    const [first, second] = cluster.servers
    const demo = await rest(first!.url, 'POST', '/inventory-sources/modular/cadent-demo', {})
    assert.equal(demo.status, 201, JSON.stringify(demo.json))
    // The CLI's `keys create --role buyer` with DATABASE_URL does exactly this.
    const access = createAccessService(cluster.db, systemClock)
    const keys = await Promise.all(Array.from({ length: BUYERS }, (_, index) => access.createKey({ storefront: 'acme', role: 'buyer', label: `buyer ${index}` })))
    for (const [index, key] of keys.entries()) {
      const serverUrl = (index % 2 === 0 ? first : second)!.url
      const client = new Client({ name: `pg-buyer-${index}`, version: '0.0.0' })
      await client.connect(new StreamableHTTPClientTransport(new URL(`${serverUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key.key}` } } }))
      buyers.push({ index, apiKeyId: Number(key.id), client, serverUrl })
    }
  })

  after(async () => {
    for (const buyer of buyers) await buyer.client.close().catch(() => {})
  })

  it('holds exactly floor(available / size) of 32 concurrent buys, each under its buy; refuses the rest with the available impressions and writes nothing for them', async () => {
    // Every buyer opens its account and discovers the product on its own process.
    const discovered = await Promise.all(buyers.map(async (buyer) => {
      const synced = await call(buyer, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: idempotencyKey() })
      assert.equal(synced?.isError, false, JSON.stringify(synced?.payload))
      const products = await call(buyer, 'get_products', { buying_mode: 'brief', brief: 'Addressable TV in the Netherlands', pagination: { max_results: 50 } })
      assert.equal(products?.isError, false, JSON.stringify(products?.payload))
      return products!.payload.products as Array<{ product_id: string; pricing_options: Array<{ fixed_price: number }>; forecast: { points: Array<{ metrics: { impressions: { mid: number } } }> } }>
    }))
    assert.deepEqual(transportErrors, [])
    const ids = discovered.map((products) => products.map((product) => product.product_id).sort())
    assert.ok(ids.every((list) => JSON.stringify(list) === JSON.stringify(ids[0])), 'every buyer sees the same products on either process')
    const product = discovered[0]!.find((candidate) => candidate.product_id.startsWith(`${DEMO}:`))!
    productId = product.product_id
    availId = productId.slice(DEMO.length + 1)
    cpm = product.pricing_options[0]!.fixed_price
    const avail = await cluster.db.selectFrom('avail').select(['id', 'feed_capacity']).where('avail_id', '=', availId).executeTakeFirstOrThrow()
    availRowId = avail.id
    startAvailable = await availableOverRest(cluster.servers[1]!.url)
    assert.equal(product.forecast.points[0]!.metrics.impressions.mid, startAvailable)
    assert.equal(await committed(), 0)
    // Just over a tenth each: nine fit and 32 ask, so 23 must be refused whatever the order.
    size = Math.floor(startAvailable / 10) + 1
    const fits = Math.floor(startAvailable / size)
    assert.ok(fits > 1 && fits < BUYERS)

    const started = Date.now()
    const { accepted, refused } = split(await Promise.all(buyers.map((buyer) => buy(buyer, size))))
    console.log(`${BUYERS} concurrent create_media_buy of ${size} on ${availId} (${startAvailable} available) in ${Date.now() - started} ms: ${accepted.length} submitted, ${refused.length} refused`)
    assert.equal(accepted.length, fits)
    assert.equal(refused.length, BUYERS - fits)

    // Each acknowledged buy is in the database with its hold, which does not expire while its task is open.
    for (const { buyer, payload } of accepted) {
      const row = await buyOfTask(String(payload.task_id))
      assert.deepEqual([row.status, Number(row.api_key_id), row.sandbox], ['submitted', buyer.apiKeyId, false])
      const holds = await cluster.db.selectFrom('reservation').selectAll().where('media_buy_id', '=', row.media_buy_id).execute()
      assert.deepEqual(holds.map((hold) => [hold.status, hold.avail_row_id, Number(hold.requested_impressions), hold.expires_at, Number(hold.buyer_customer_id)]),
        [['HELD', availRowId, size, null, Number(row.buyer_account_id)]])
    }
    // A refused buyer left no buy and no hold: the avail's reservations are exactly the accepted buys'.
    const refusedKeys = refused.map((attempt) => attempt.buyer.apiKeyId)
    const strayBuys = await cluster.db.selectFrom('media_buy').select('media_buy_id').where('api_key_id', 'in', refusedKeys).execute()
    assert.deepEqual(strayBuys, [])
    const reservations = await cluster.db.selectFrom('reservation').select('media_buy_id').where('avail_row_id', '=', availRowId).execute()
    assert.equal(reservations.length, fits)
    assert.equal(await committed(), fits * size)
    for (const server of cluster.servers) assert.equal(await availableOverRest(server.url), startAvailable - fits * size)
    await assertNeverOverCapacity()
    await assertLedgerConsistent(cluster.db)
  })

  it('completes each accepted buy\'s task once its work item is done, and shows every buyer its own buys only', async () => {
    const buys = await cluster.db.selectFrom('media_buy').select(['media_buy_id', 'api_key_id', 'task_id']).where('status', '=', 'submitted').execute()
    for (const [n, row] of buys.entries()) {
      const server = cluster.servers[n % 2]!
      const open = await rest(server.url, 'GET', `/inventory-sources/${DEMO}/modular/work-items?mediaBuyId=${encodeURIComponent(row.media_buy_id)}&status=OPEN`)
      const items = (open.json.items as Array<{ id: string; kind: string }>).filter((item) => item.kind === 'TRAFFIC_TO_CADENT')
      assert.equal(items.length, 1, JSON.stringify(open.json))
      const done = await rest(server.url, 'POST', `/inventory-sources/${DEMO}/modular/work-items/${items[0]!.id}/complete`, { result: { cadentCampaignId: `CAD-${n}` } })
      assert.equal(done.status, 200, JSON.stringify(done.json))
      const buyer = buyers.find((candidate) => candidate.apiKeyId === Number(row.api_key_id))!
      // The task is read from the database: the buyer may be on the other process than the one that completed it.
      const task = await call(buyer, 'tasks_get', { task_id: row.task_id, account: ACCOUNT, include_result: true })
      assert.equal(task?.payload.status, 'completed', JSON.stringify(task?.payload))
      assert.equal((task!.payload.result as { media_buy_id: string }).media_buy_id, row.media_buy_id)
      bought.set(buyer.index, row.media_buy_id)
    }
    assert.equal(bought.size, buys.length)
    const booked = await cluster.db.selectFrom('reservation').select('status').where('avail_row_id', '=', availRowId).execute()
    assert.ok(booked.every((r) => r.status === 'BOOKED'))

    const everyBuyId = [...bought.values()]
    const views = await Promise.all(buyers.map(async (buyer) => {
      const all = await call(buyer, 'get_media_buys', { account: ACCOUNT, status_filter: EVERY_STATUS })
      const named = await call(buyer, 'get_media_buys', { account: ACCOUNT, media_buy_ids: everyBuyId })
      return { buyer, all, named }
    }))
    assert.deepEqual(transportErrors, [])
    for (const { buyer, all, named } of views) {
      const own = bought.has(buyer.index) ? [bought.get(buyer.index)] : []
      assert.equal(all?.isError, false, JSON.stringify(all?.payload))
      assert.deepEqual((all!.payload.media_buys as Array<{ media_buy_id: string }>).map((b) => b.media_buy_id), own)
      // Asked by id for every buyer's buy, it is given its own only.
      assert.deepEqual((named!.payload.media_buys as Array<{ media_buy_id: string }>).map((b) => b.media_buy_id), own)
    }
    await assertNeverOverCapacity()
  })

  it('gives a canceled buy\'s capacity back: of every refused buyer asking again, exactly one is held', async () => {
    const [cancelerIndex, mediaBuyId] = [...bought.entries()][0]!
    const canceler = buyers[cancelerIndex]!
    const before = await availableOverRest(canceler.serverUrl)
    // Another buyer cannot cancel it: the buy answers like a missing one.
    const intruder = buyers.find((candidate) => !bought.has(candidate.index))!
    const foreign = await call(intruder, 'update_media_buy', { account: ACCOUNT, media_buy_id: mediaBuyId, canceled: true, idempotency_key: idempotencyKey() })
    assert.equal(adcpErrorOf(foreign!.payload)?.code, 'MEDIA_BUY_NOT_FOUND')
    assert.equal(await availableOverRest(canceler.serverUrl), before)

    const canceled = await call(canceler, 'update_media_buy', { account: ACCOUNT, media_buy_id: mediaBuyId, canceled: true, cancellation_reason: 'plans changed', idempotency_key: idempotencyKey() })
    assert.equal(canceled?.isError, false, JSON.stringify(canceled?.payload))
    assert.equal(canceled!.payload.status, 'canceled')
    const released = await cluster.db.selectFrom('reservation').select('status').where('media_buy_id', '=', mediaBuyId).execute()
    assert.deepEqual(released, [{ status: 'RELEASED' }])
    for (const server of cluster.servers) assert.equal(await availableOverRest(server.url), before + size)

    // What was left before the cancel is less than one buy, so the freed buy's worth takes one more, not two.
    assert.ok(before < size)
    const again = buyers.filter((candidate) => !bought.has(candidate.index))
    const { accepted, refused } = split(await Promise.all(again.map((buyer) => buy(buyer, size))))
    assert.equal(accepted.length, 1)
    assert.equal(refused.length, again.length - 1)
    const row = await buyOfTask(String(accepted[0]!.payload.task_id))
    assert.equal(Number(row.api_key_id), accepted[0]!.buyer.apiKeyId)
    const holds = await cluster.db.selectFrom('reservation').select(['status', 'requested_impressions']).where('media_buy_id', '=', row.media_buy_id).execute()
    assert.deepEqual(holds.map((hold) => [hold.status, Number(hold.requested_impressions)]), [['HELD', size]])
    assert.equal(await availableOverRest(accepted[0]!.buyer.serverUrl), before)
    assert.equal(await committed(), startAvailable - before)
    await assertNeverOverCapacity()
    await assertLedgerConsistent(cluster.db)
    for (const server of cluster.servers) assert.doesNotMatch(server.output(), /MCP request failed|"level":50/)
  })
})
