import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { sql } from 'kysely'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

const DEMO = 'talpa-cadent-demo'
// What sandbox keys buy: the storefront's sandbox source, whose products are named by avail id alone.
const SANDBOX = 'adcp-sandbox'
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }

interface RestProduct {
  /** The AdCP product_id of this avail (set by productsOf). */
  productId: string
  availId: string
  cpm: number
  currency: string
  availableImpressions: number
  startTime: string
  endTime: string
}

interface WorkItem {
  id: string
  kind: string
  status: string
  mediaBuyId: string | null
}

async function productsOf(ctx: McpTestContext, sourceId: string): Promise<RestProduct[]> {
  const rows = (await ctx.api('GET', `/inventory-sources/${sourceId}/modular/products`)).json().products as RestProduct[]
  return rows.map((row) => ({ ...row, productId: sourceId === SANDBOX ? row.availId : `${sourceId}:${row.availId}` }))
}

/** The sandbox source is built on a sandbox key's first need: a discovery call. */
async function openSandbox(client: Client): Promise<void> {
  const { isError, payload } = await callTool(client, 'get_products', { buying_mode: 'wholesale' })
  assert.equal(isError, false, JSON.stringify(payload))
}

let keySeq = 0
function idempotencyKey(): string {
  return `media-buys-test-${String(++keySeq).padStart(8, '0')}`
}

function flight(): { start_time: string; end_time: string } {
  const start = new Date(Date.now() + 86_400_000)
  return { start_time: start.toISOString(), end_time: new Date(start.getTime() + 7 * 86_400_000).toISOString() }
}

function errorCode(payload: Record<string, unknown>): string | undefined {
  return (payload.adcp_error as { code?: string } | undefined)?.code
}

describe('create_media_buy over MCP', () => {
  let ctx: McpTestContext
  let live: Client
  let other: Client
  let sandbox: Client
  let products: RestProduct[]
  let sandboxProducts: RestProduct[]

  before(async () => {
    ctx = await createMcpTestContext()
    assert.equal((await ctx.api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
    products = await productsOf(ctx, DEMO)
    live = await ctx.connect(ctx.buyerKey)
    other = await ctx.connect(ctx.otherBuyerKey)
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'sandbox' })
    sandbox = await ctx.connect(key)
    await openSandbox(sandbox)
    sandboxProducts = await productsOf(ctx, SANDBOX)
    for (const client of [live, other]) {
      const synced = await callTool(client, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: idempotencyKey() })
      assert.equal(synced.isError, false, JSON.stringify(synced.payload))
    }
  })
  after(async () => {
    await ctx.close()
  })

  async function available(availId: string, sourceId = DEMO): Promise<number> {
    return (await productsOf(ctx, sourceId)).find((row) => row.availId === availId)!.availableImpressions
  }

  async function workItems(mediaBuyId: string): Promise<WorkItem[]> {
    const body = (await ctx.api('GET', `/inventory-sources/${DEMO}/modular/work-items?mediaBuyId=${encodeURIComponent(mediaBuyId)}&status=OPEN`)).json()
    return body.items as WorkItem[]
  }

  function pkg(product: RestProduct, budget: number) {
    return { product_id: product.productId, pricing_option_id: 'cpm_fixed', budget }
  }

  async function create(client: Client, packages: unknown[], extra: Record<string, unknown> = {}) {
    return callTool(client, 'create_media_buy', { account: ACCOUNT, brand: ACCOUNT.brand, ...flight(), packages, idempotency_key: idempotencyKey(), ...extra })
  }

  it('confirms a sandbox buy at once: every package held and booked, budget / CPM x 1000 impressions', async () => {
    const [a, b] = sandboxProducts
    const before = await available(a!.availId, SANDBOX)
    const { isError, payload } = await create(sandbox, [pkg(a!, a!.cpm * 10), pkg(b!, b!.cpm * 5)])
    assert.equal(isError, false, JSON.stringify(payload))
    assert.equal(payload.status, 'pending_creatives')
    assert.match(String(payload.media_buy_id), /^mb_/)
    assert.ok(payload.confirmed_at)
    const packages = payload.packages as Array<{ package_id: string; impressions: number }>
    assert.deepEqual(packages.map((p) => p.impressions), [10_000, 5_000])
    assert.equal(await available(a!.availId, SANDBOX), before - 10_000)
    const reservations = await ctx.db.selectFrom('reservation').selectAll().where('media_buy_id', '=', String(payload.media_buy_id)).orderBy('id').execute()
    assert.deepEqual(reservations.map((r) => r.status), ['BOOKED', 'BOOKED'])
    const buy = await ctx.db.selectFrom('media_buy').selectAll().where('media_buy_id', '=', String(payload.media_buy_id)).executeTakeFirstOrThrow()
    assert.ok(reservations.every((r) => r.buyer_customer_id === buy.buyer_account_id && packages.some((p) => p.package_id === r.package_id)))

    // The operator sees it over REST, and the source's readiness projection counts it.
    const restResponse = await ctx.api('GET', '/api/v2/storefront/media-buys?status=pending_creatives')
    assert.equal(restResponse.statusCode, 200, restResponse.body)
    const rest = restResponse.json() as { mediaBuys: Array<{ mediaBuyId: string; sandbox: boolean; packages: Array<{ reservationStatus: string; impressions: number }> }> }
    const listed = rest.mediaBuys.find((entry) => entry.mediaBuyId === payload.media_buy_id)!
    assert.equal(listed.sandbox, true)
    assert.deepEqual(listed.packages.map((p) => [p.reservationStatus, p.impressions]), [['BOOKED', 10_000], ['BOOKED', 5_000]])
    const projection = (await ctx.api('GET', `/inventory-sources/${SANDBOX}/modular`)).json()
    assert.ok(projection.mediaBuyCountsByStatus.pending_creatives >= 1)
  })

  it('submits a live buy as a task; completing its work items over REST completes the task with the media_buy_id', async () => {
    const [a, b] = products
    const { isError, payload } = await create(live, [pkg(a!, a!.cpm * 2), pkg(b!, b!.cpm * 3)])
    assert.equal(isError, false, JSON.stringify(payload))
    assert.equal(payload.status, 'submitted')
    assert.equal(payload.media_buy_id, undefined)
    const taskId = String(payload.task_id)
    const buy = await ctx.db.selectFrom('media_buy').selectAll().where('task_id', '=', taskId).executeTakeFirstOrThrow()
    assert.equal(buy.status, 'submitted')
    const holds = await ctx.db.selectFrom('reservation').selectAll().where('media_buy_id', '=', buy.media_buy_id).execute()
    assert.deepEqual(holds.map((r) => [r.status, r.expires_at]), [['HELD', null], ['HELD', null]])

    const pending = await callTool(live, 'tasks_get', { task_id: taskId, account: ACCOUNT })
    assert.equal(pending.isError, false, JSON.stringify(pending.payload))
    assert.equal(pending.payload.status, 'submitted')
    // Another buyer's task answers like a missing one.
    const foreign = await callTool(other, 'tasks_get', { task_id: taskId, account: ACCOUNT })
    const missing = await callTool(other, 'tasks_get', { task_id: 'task_does_not_exist', account: ACCOUNT })
    assert.equal(foreign.isError, true)
    assert.deepEqual(errorCode(foreign.payload), errorCode(missing.payload))

    const items = (await workItems(buy.media_buy_id)).filter((item) => item.kind === 'TRAFFIC_TO_CADENT')
    assert.equal(items.length, 2)
    const first = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/work-items/${items[0]!.id}/complete`, { result: { cadentCampaignId: 'CAD-1' } })
    assert.equal(first.statusCode, 200, first.body)
    assert.equal((await callTool(live, 'tasks_get', { task_id: taskId, account: ACCOUNT })).payload.status, 'submitted')
    const second = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/work-items/${items[1]!.id}/complete`, { result: { cadentCampaignId: 'CAD-2' } })
    assert.equal(second.statusCode, 200, second.body)

    const done = await callTool(live, 'tasks_get', { task_id: taskId, account: ACCOUNT, include_result: true })
    assert.equal(done.payload.status, 'completed', JSON.stringify(done.payload))
    const result = done.payload.result as { media_buy_id: string; status: string; confirmed_at: string; packages: unknown[] }
    assert.equal(result.media_buy_id, buy.media_buy_id)
    assert.equal(result.status, 'pending_creatives')
    assert.ok(result.confirmed_at)
    assert.equal(result.packages.length, 2)

    const got = await callTool(live, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [buy.media_buy_id] })
    assert.equal(got.isError, false, JSON.stringify(got.payload))
    const [listed] = got.payload.media_buys as Array<{ status: string; confirmed_at?: string }>
    assert.equal(listed!.status, 'pending_creatives')
    assert.ok(listed!.confirmed_at)
  })

  it('a live buy that loses one line is rejected, and the sweep releases its other lines and closes their items', async () => {
    const [a, b] = products
    const beforeA = await available(a!.availId)
    const beforeB = await available(b!.availId)
    const { isError, payload } = await create(live, [pkg(a!, a!.cpm * 2), pkg(b!, b!.cpm * 3)])
    assert.equal(isError, false, JSON.stringify(payload))
    const taskId = String(payload.task_id)
    const buy = await ctx.db.selectFrom('media_buy').selectAll().where('task_id', '=', taskId).executeTakeFirstOrThrow()
    const holds = await ctx.db.selectFrom('reservation').selectAll().where('media_buy_id', '=', buy.media_buy_id).orderBy('id').execute()

    const released = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/bookings/release`, { reservationId: String(holds[0]!.id), reason: 'line withdrawn' })
    assert.equal(released.statusCode, 200, released.body)
    const failed = await callTool(live, 'tasks_get', { task_id: taskId, account: ACCOUNT })
    assert.equal(failed.payload.status, 'failed', JSON.stringify(failed.payload))
    assert.equal((await ctx.db.selectFrom('media_buy').select('status').where('id', '=', buy.id).executeTakeFirstOrThrow()).status, 'rejected')
    // The other line waits for the sweep: it cannot be released under the first line's lock.
    assert.equal((await ctx.db.selectFrom('reservation').select('status').where('id', '=', holds[1]!.id).executeTakeFirstOrThrow()).status, 'HELD')

    assert.deepEqual(await ctx.services.mediaBuys.releaseLinesOfRejectedBuys(), { released: 1, failed: 0 })
    const after = await ctx.db.selectFrom('reservation').select(['status', 'release_reason']).where('id', '=', holds[1]!.id).executeTakeFirstOrThrow()
    assert.equal(after.status, 'RELEASED')
    assert.match(after.release_reason ?? '', /was rejected/)
    assert.deepEqual(await workItems(buy.media_buy_id), [])
    assert.equal(await available(a!.availId), beforeA)
    assert.equal(await available(b!.availId), beforeB)
    assert.equal((await ctx.db.selectFrom('media_buy').select('lines_to_release').where('id', '=', buy.id).executeTakeFirstOrThrow()).lines_to_release, false)
    assert.deepEqual(await ctx.services.mediaBuys.releaseLinesOfRejectedBuys(), { released: 0, failed: 0 })
  })

  it("the sweep releases the other rejected buys' lines when one buy's release fails, even on a page of its own, and retries that one next time", async () => {
    const [a, b] = products
    const rejected: Array<{ mediaBuyId: string; otherLine: number }> = []
    for (let n = 0; n < 2; n++) {
      const { payload } = await create(live, [pkg(a!, a!.cpm), pkg(b!, b!.cpm)])
      const buy = await ctx.db.selectFrom('media_buy').selectAll().where('task_id', '=', String(payload.task_id)).executeTakeFirstOrThrow()
      const holds = await ctx.db.selectFrom('reservation').selectAll().where('media_buy_id', '=', buy.media_buy_id).orderBy('id').execute()
      assert.equal((await ctx.api('POST', `/inventory-sources/${DEMO}/modular/bookings/release`, { reservationId: String(holds[0]!.id) })).statusCode, 200)
      rejected.push({ mediaBuyId: buy.media_buy_id, otherLine: holds[1]!.id })
    }
    // The first buy's release fails in the database (as a deadlock victim's would).
    await sql.raw(`CREATE FUNCTION refuse_line() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
      CREATE TRIGGER refuse_line BEFORE UPDATE ON reservation FOR EACH ROW WHEN (OLD.id = ${rejected[0]!.otherLine}) EXECUTE FUNCTION refuse_line()`).execute(ctx.db)
    const failures: string[] = []
    try {
      assert.deepEqual(await ctx.services.mediaBuys.releaseLinesOfRejectedBuys({ pageSize: 1, onError: (mediaBuyId) => failures.push(mediaBuyId) }), { released: 1, failed: 1 })
    } finally {
      await sql.raw('DROP TRIGGER refuse_line ON reservation; DROP FUNCTION refuse_line()').execute(ctx.db)
    }
    assert.deepEqual(failures, [rejected[0]!.mediaBuyId])
    const status = async (id: number) => (await ctx.db.selectFrom('reservation').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status
    assert.deepEqual([await status(rejected[0]!.otherLine), await status(rejected[1]!.otherLine)], ['HELD', 'RELEASED'])
    assert.deepEqual(await ctx.services.mediaBuys.releaseLinesOfRejectedBuys(), { released: 1, failed: 0 })
    assert.equal(await status(rejected[0]!.otherLine), 'RELEASED')
  })

  it('holds all packages or none: a second package without capacity leaves nothing held or inserted', async () => {
    const [a, b] = products
    const beforeA = await available(a!.availId)
    const beforeB = await available(b!.availId)
    const buys = await ctx.db.selectFrom('media_buy').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    const { isError, payload } = await create(live, [pkg(a!, a!.cpm), { ...pkg(b!, 1), impressions: beforeB + 1 }])
    assert.equal(isError, true)
    assert.equal(errorCode(payload), 'PRODUCT_UNAVAILABLE')
    const error = payload.adcp_error as { field: string; recovery: string; details: { available_impressions: number } }
    assert.equal(error.field, 'packages[1]')
    assert.equal(error.recovery, 'correctable')
    assert.equal(error.details.available_impressions, beforeB)
    assert.equal(await available(a!.availId), beforeA)
    assert.equal(await available(b!.availId), beforeB)
    const after = await ctx.db.selectFrom('media_buy').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    assert.equal(Number(after.n), Number(buys.n))
  })

  it('holds across sources all or none: packages on two sources are held together, or neither when one lacks capacity', async () => {
    const SECOND = 'demo-second'
    assert.equal((await ctx.api('POST', '/inventory-sources/modular/cadent-demo', { sourceId: SECOND, name: 'Second demo' })).statusCode, 201)
    const [a] = products
    const [c] = await productsOf(ctx, SECOND)
    const beforeA = await available(a!.availId)
    const beforeC = await available(c!.availId, SECOND)

    const refused = await create(live, [pkg(a!, a!.cpm), { ...pkg(c!, 1), impressions: beforeC + 1 }])
    assert.equal(refused.isError, true)
    assert.equal(errorCode(refused.payload), 'PRODUCT_UNAVAILABLE')
    assert.equal((refused.payload.adcp_error as { field: string }).field, 'packages[1]')
    assert.equal(await available(a!.availId), beforeA)
    assert.equal(await available(c!.availId, SECOND), beforeC)

    const { isError, payload } = await create(live, [pkg(a!, a!.cpm * 2), pkg(c!, c!.cpm * 2)])
    assert.equal(isError, false, JSON.stringify(payload))
    const buy = await ctx.db.selectFrom('media_buy').selectAll().where('task_id', '=', String(payload.task_id)).executeTakeFirstOrThrow()
    const holds = await ctx.db.selectFrom('reservation as r').innerJoin('inventory_source as s', 's.id', 'r.inventory_source_id')
      .select(['s.source_id as sourceId', 'r.status', 'r.requested_impressions as impressions']).where('r.media_buy_id', '=', buy.media_buy_id).orderBy('s.source_id').execute()
    assert.deepEqual(holds.map((hold) => [hold.sourceId, hold.status, Number(hold.impressions)]), [[SECOND, 'HELD', 2000], [DEMO, 'HELD', 2000]].sort())
    assert.equal(await available(a!.availId), beforeA - 2000)
    assert.equal(await available(c!.availId, SECOND), beforeC - 2000)
  })

  it('refuses bad input with the AdCP code naming the field, and writes nothing', async () => {
    const [a] = products
    const countBuys = async () => Number((await ctx.db.selectFrom('media_buy').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
    const buysBefore = await countBuys()
    const unknown = await create(live, [{ product_id: 'nonexistent-product-id-xyz', pricing_option_id: 'cpm_fixed', budget: 100 }])
    assert.equal(errorCode(unknown.payload), 'PRODUCT_NOT_FOUND')
    const option = await create(live, [{ ...pkg(a!, 100), pricing_option_id: 'cpp' }])
    assert.deepEqual([errorCode(option.payload), (option.payload.adcp_error as { field: string }).field], ['INVALID_REQUEST', 'packages[0].pricing_option_id'])
    const reversed = await create(live, [pkg(a!, 100)], { start_time: flight().end_time, end_time: flight().start_time })
    assert.deepEqual([errorCode(reversed.payload), (reversed.payload.adcp_error as { field: string }).field], ['INVALID_REQUEST', 'end_time'])
    const past = await create(live, [pkg(a!, 100)], { start_time: '2020-01-01T00:00:00Z' })
    assert.deepEqual([errorCode(past.payload), (past.payload.adcp_error as { field: string }).field], ['INVALID_REQUEST', 'start_time'])
    const low = await create(live, [pkg(a!, 0)])
    assert.equal(errorCode(low.payload), 'BUDGET_TOO_LOW')
    const terms = (window: string, variance: number) => ({ billing_measurement: { vendor: { domain: 'videoamp.example' }, measurement_window: window, max_variance_percent: variance } })
    const aggressive = await create(live, [{ ...pkg(a!, 100), measurement_terms: terms('c30', 0) }])
    assert.deepEqual([errorCode(aggressive.payload), (aggressive.payload.adcp_error as { field: string }).field], ['TERMS_REJECTED', 'packages[0].measurement_terms.billing_measurement.measurement_window'])
    const tight = await create(live, [{ ...pkg(a!, 100), measurement_terms: terms('c7', 1) }])
    assert.equal(errorCode(tight.payload), 'TERMS_REJECTED')
    assert.equal(await countBuys(), buysBefore)
    const s = sandboxProducts[0]!
    const relaxed = await create(sandbox, [{ ...pkg(s, s.cpm), measurement_terms: terms('c7', 10) }])
    assert.equal(relaxed.isError, false, JSON.stringify(relaxed.payload))
    const asap = await create(sandbox, [pkg(s, s.cpm)], { start_time: 'asap' })
    assert.equal(asap.isError, false, JSON.stringify(asap.payload))
  })
})

describe('get_media_buys and update_media_buy over MCP', () => {
  let ctx: McpTestContext
  let buyer: Client
  let other: Client
  let products: RestProduct[]

  before(async () => {
    ctx = await createMcpTestContext()
    assert.equal((await ctx.api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
    // Sandbox keys: the buys are confirmed at once, so they can be managed right away.
    const a = await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'sandbox a' })
    const b = await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'sandbox b' })
    buyer = await ctx.connect(a.key)
    other = await ctx.connect(b.key)
    await openSandbox(buyer)
    products = await productsOf(ctx, SANDBOX)
  })
  after(async () => {
    await ctx.close()
  })

  async function available(availId: string): Promise<number> {
    return (await productsOf(ctx, SANDBOX)).find((row) => row.availId === availId)!.availableImpressions
  }

  async function buy(budgets: number[]): Promise<{ mediaBuyId: string; packageIds: string[] }> {
    const packages = budgets.map((budget, index) => ({ product_id: products[index]!.productId, pricing_option_id: 'cpm_fixed', budget }))
    const { isError, payload } = await callTool(buyer, 'create_media_buy', { account: ACCOUNT, brand: ACCOUNT.brand, ...flight(), packages, idempotency_key: idempotencyKey() })
    assert.equal(isError, false, JSON.stringify(payload))
    return { mediaBuyId: String(payload.media_buy_id), packageIds: (payload.packages as Array<{ package_id: string }>).map((p) => p.package_id) }
  }

  function update(client: Client, args: Record<string, unknown>) {
    return callTool(client, 'update_media_buy', { account: ACCOUNT, idempotency_key: idempotencyKey(), ...args })
  }

  it('walks the status graph: pause, resume, cancel; then pause, resume and a second cancel are refused', async () => {
    const { mediaBuyId } = await buy([products[0]!.cpm * 4])
    const paused = await update(buyer, { media_buy_id: mediaBuyId, paused: true })
    assert.equal(paused.isError, false, JSON.stringify(paused.payload))
    assert.deepEqual([paused.payload.status, paused.payload.revision], ['paused', 2])
    const resumed = await update(buyer, { media_buy_id: mediaBuyId, paused: false })
    assert.equal(resumed.payload.status, 'active')
    const canceled = await update(buyer, { media_buy_id: mediaBuyId, canceled: true, cancellation_reason: 'plans changed' })
    assert.equal(canceled.payload.status, 'canceled')
    assert.equal(errorCode((await update(buyer, { media_buy_id: mediaBuyId, paused: true })).payload), 'INVALID_STATE')
    assert.equal(errorCode((await update(buyer, { media_buy_id: mediaBuyId, paused: false })).payload), 'INVALID_STATE')
    assert.equal(errorCode((await update(buyer, { media_buy_id: mediaBuyId, canceled: true })).payload), 'NOT_CANCELLABLE')

    const got = await callTool(buyer, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
    const [listed] = got.payload.media_buys as Array<{ status: string; revision: number; valid_actions: string[]; cancellation: { canceled_by: string; reason: string; canceled_at: string }; packages: Array<{ canceled: boolean }> }>
    assert.equal(listed!.status, 'canceled')
    assert.deepEqual([listed!.cancellation.canceled_by, listed!.cancellation.reason], ['buyer', 'plans changed'])
    assert.deepEqual(listed!.valid_actions, [])
    assert.equal(listed!.revision, 4)
    assert.ok(listed!.packages.every((p) => p.canceled))
  })

  it('cancel releases every hold and booking: the capacity is available again', async () => {
    const availId = products[0]!.availId
    const before = await available(availId)
    const { mediaBuyId } = await buy([products[0]!.cpm * 20])
    assert.equal(await available(availId), before - 20_000)
    assert.equal((await update(buyer, { media_buy_id: mediaBuyId, canceled: true })).isError, false)
    assert.equal(await available(availId), before)
    const reservations = await ctx.db.selectFrom('reservation').select('status').where('media_buy_id', '=', mediaBuyId).execute()
    assert.deepEqual(reservations.map((r) => r.status), ['RELEASED'])
  })

  it('resizes a package: up re-checks capacity (refused: nothing changes), down gives the difference back', async () => {
    const availId = products[0]!.availId
    const { mediaBuyId, packageIds } = await buy([products[0]!.cpm * 10])
    const held = await available(availId)
    const tooMuch = await update(buyer, { media_buy_id: mediaBuyId, packages: [{ package_id: packageIds[0], impressions: held + 10_001 }] })
    assert.equal(errorCode(tooMuch.payload), 'PRODUCT_UNAVAILABLE')
    assert.equal((tooMuch.payload.adcp_error as { details: { available_impressions: number } }).details.available_impressions, held + 10_000)
    assert.equal(await available(availId), held)
    const down = await update(buyer, { media_buy_id: mediaBuyId, packages: [{ package_id: packageIds[0], budget: products[0]!.cpm * 4 }] })
    assert.equal(down.isError, false, JSON.stringify(down.payload))
    assert.equal(await available(availId), held + 6_000)
    const up = await update(buyer, { media_buy_id: mediaBuyId, packages: [{ package_id: packageIds[0], impressions: 8_000, targeting_overlay: { geo_countries: ['NL'] } }] })
    assert.equal(up.isError, false, JSON.stringify(up.payload))
    assert.equal(await available(availId), held + 2_000)
    const [affected] = up.payload.affected_packages as Array<{ impressions: number; targeting_overlay: unknown }>
    assert.deepEqual([affected!.impressions, affected!.targeting_overlay], [8_000, { geo_countries: ['NL'] }])
    const live = await ctx.db.selectFrom('reservation').select(['status', 'requested_impressions']).where('media_buy_id', '=', mediaBuyId).where('status', 'in', ['HELD', 'BOOKED']).execute()
    assert.deepEqual(live, [{ status: 'BOOKED', requested_impressions: 8_000 }])
  })

  it('answers unknown buys, unknown packages and stale revisions with their AdCP codes', async () => {
    const { mediaBuyId } = await buy([products[0]!.cpm])
    assert.equal(errorCode((await update(buyer, { media_buy_id: 'does-not-exist', paused: true })).payload), 'MEDIA_BUY_NOT_FOUND')
    assert.equal(errorCode((await update(buyer, { media_buy_id: mediaBuyId, packages: [{ package_id: 'nope', paused: true }] })).payload), 'PACKAGE_NOT_FOUND')
    assert.equal(errorCode((await update(buyer, { media_buy_id: mediaBuyId, revision: 7, paused: true })).payload), 'CONFLICT')
  })

  it('another buyer key can neither see nor touch the buy: it answers like a missing one', async () => {
    const { mediaBuyId } = await buy([products[0]!.cpm])
    const foreign = await update(other, { media_buy_id: mediaBuyId, canceled: true })
    const missing = await update(other, { media_buy_id: 'mb_missing', canceled: true })
    assert.equal(errorCode(foreign.payload), 'MEDIA_BUY_NOT_FOUND')
    assert.deepEqual(
      { ...(foreign.payload.adcp_error as object), message: undefined },
      { ...(missing.payload.adcp_error as object), message: undefined },
    )
    const listed = await callTool(other, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
    assert.deepEqual(listed.payload.media_buys, [])
    const own = await callTool(buyer, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
    assert.equal((own.payload.media_buys as unknown[]).length, 1)
  })

  it('lists with status_filter (default active without ids) and the pagination envelope', async () => {
    const first = await buy([products[0]!.cpm])
    await update(buyer, { media_buy_id: first.mediaBuyId, paused: false })
    const defaults = await callTool(buyer, 'get_media_buys', { account: ACCOUNT })
    const statuses = (defaults.payload.media_buys as Array<{ status: string }>).map((b) => b.status)
    assert.ok(statuses.length > 0 && statuses.every((status) => status === 'active'))
    const all = ['pending_creatives', 'pending_start', 'active', 'paused', 'completed', 'rejected', 'canceled']
    const page1 = await callTool(buyer, 'get_media_buys', { account: ACCOUNT, status_filter: all, pagination: { max_results: 2 } })
    const pagination = page1.payload.pagination as { has_more: boolean; cursor: string; total_count: number }
    assert.equal(pagination.has_more, true)
    assert.equal((page1.payload.media_buys as unknown[]).length, 2)
    const page2 = await callTool(buyer, 'get_media_buys', { account: ACCOUNT, status_filter: all, pagination: { max_results: 100, cursor: pagination.cursor } })
    assert.equal((page2.payload.media_buys as unknown[]).length, pagination.total_count - 2)
    assert.equal((page2.payload.pagination as { has_more: boolean }).has_more, false)
  })

  it('attaches creatives with update_media_buy: the package\'s creatives are replaced and the buy leaves pending_creatives', async () => {
    const { mediaBuyId, packageIds } = await buy([products[0]!.cpm * 3])
    const creative = {
      creative_id: 'update-spot-30',
      name: 'Spot for update',
      format_id: { agent_url: ctx.mcpUrl, id: 'video_spot_30s' },
      assets: { video_file: { asset_type: 'video', url: 'https://cdn.example.com/update-spot-30.mp4', width: 1920, height: 1080, duration_ms: 30_000 } },
      industry_identifiers: [{ type: 'ad_id', value: 'ACME0042000H' }],
    }
    const synced = await callTool(buyer, 'sync_creatives', { account: ACCOUNT, creatives: [creative], idempotency_key: idempotencyKey() })
    assert.equal(synced.isError, false, JSON.stringify(synced.payload))

    const unknown = await update(buyer, { media_buy_id: mediaBuyId, packages: [{ package_id: packageIds[0], creative_assignments: [{ creative_id: 'never-synced' }] }] })
    assert.deepEqual([unknown.isError, (unknown.payload.adcp_error as { field?: string } | undefined)?.field], [true, 'packages[0].creative_assignments[0].creative_id'], JSON.stringify(unknown.payload))
    const untouched = await callTool(buyer, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [mediaBuyId] })
    assert.equal((untouched.payload.media_buys as Array<{ status: string }>)[0]!.status, 'pending_creatives')

    const attached = await update(buyer, { media_buy_id: mediaBuyId, packages: [{ package_id: packageIds[0], creative_assignments: [{ creative_id: 'update-spot-30' }] }] })
    assert.equal(attached.isError, false, JSON.stringify(attached.payload))
    assert.ok(['pending_start', 'active'].includes(String(attached.payload.status)), String(attached.payload.status))
    const rows = await ctx.db.selectFrom('creative_assignment').innerJoin('media_buy_package', 'media_buy_package.id', 'creative_assignment.package_row_id')
      .select('media_buy_package.package_id').where('media_buy_package.package_id', '=', packageIds[0]!).execute()
    assert.equal(rows.length, 1)
  })
})
