import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { HOLD_MINUTES_DEFAULT } from '../../src/modules/booking-ledger/index.ts'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

// A demo source whose trafficking module was removed: nothing can execute its lines, so the seller approves them.
const SOURCE = 'demo-approval'
const SANDBOX = 'adcp-sandbox'
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }

interface RestProduct {
  productId: string
  availId: string
  cpm: number
  currency: string
  availableImpressions: number
}

interface WorkItem {
  id: string
  kind: string
  status: string
  moduleId: string | null
  resourceType: string | null
  resourceId: string | null
  mediaBuyId: string | null
  buyerCustomerId: number | null
  dueAt: string | null
  payload: Record<string, unknown>
  requiredResultFields: string[]
}

let keySeq = 0
const idempotencyKey = () => `seller-approval-test-${String(++keySeq).padStart(8, '0')}`

async function removeTrafficking(ctx: McpTestContext, sourceId: string): Promise<void> {
  const projection = (await ctx.api('GET', `/inventory-sources/${sourceId}/modular`)).json() as { modules: Array<{ kind: string; moduleInstanceId: string }> }
  const trafficking = projection.modules.find((module) => module.kind === 'TRAFFICKING')!
  const removed = await ctx.api('DELETE', `/inventory-sources/${sourceId}/modular/modules/${trafficking.moduleInstanceId}`)
  assert.equal(removed.statusCode, 200, removed.body)
}

describe('create_media_buy on a source without an execution module: the seller approves', () => {
  let ctx: McpTestContext
  let live: Client
  let products: RestProduct[]

  before(async () => {
    ctx = await createMcpTestContext()
    assert.equal((await ctx.api('POST', '/inventory-sources/modular/cadent-demo', { sourceId: SOURCE, name: 'Approval demo' })).statusCode, 201)
    await removeTrafficking(ctx, SOURCE)
    live = await ctx.connect(ctx.buyerKey)
    const synced = await callTool(live, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: idempotencyKey() })
    assert.equal(synced.isError, false, JSON.stringify(synced.payload))
    products = await productsOf(SOURCE)
  })
  after(async () => {
    await ctx.close()
  })

  async function productsOf(sourceId: string): Promise<RestProduct[]> {
    const rows = (await ctx.api('GET', `/inventory-sources/${sourceId}/modular/products`)).json().products as RestProduct[]
    return rows.map((row) => ({ ...row, productId: sourceId === SANDBOX ? row.availId : `${sourceId}:${row.availId}` }))
  }

  async function available(availId: string, sourceId = SOURCE): Promise<number> {
    return (await productsOf(sourceId)).find((row) => row.availId === availId)!.availableImpressions
  }

  function flight() {
    const start = new Date(ctx.clock.now().getTime() + 86_400_000)
    return { start_time: start.toISOString(), end_time: new Date(start.getTime() + 7 * 86_400_000).toISOString() }
  }

  /** A live buy of packages a and b: submitted, with its task and its buy row. */
  async function buy(budgets: [number, number] = [products[0]!.cpm * 2, products[1]!.cpm * 3]) {
    const packages = budgets.map((budget, index) => ({ product_id: products[index]!.productId, pricing_option_id: 'cpm_fixed', budget }))
    const { isError, payload } = await callTool(live, 'create_media_buy', { account: ACCOUNT, brand: ACCOUNT.brand, ...flight(), po_number: 'PO-7', packages, idempotency_key: idempotencyKey() })
    assert.equal(isError, false, JSON.stringify(payload))
    assert.equal(payload.status, 'submitted')
    const taskId = String(payload.task_id)
    const row = await ctx.db.selectFrom('media_buy').selectAll().where('task_id', '=', taskId).executeTakeFirstOrThrow()
    return { taskId, row }
  }

  async function holdsOf(mediaBuyId: string) {
    return ctx.db.selectFrom('reservation').selectAll().where('media_buy_id', '=', mediaBuyId).orderBy('id').execute()
  }

  async function itemsOf(mediaBuyId: string, status = 'OPEN,IN_PROGRESS,BLOCKED,COMPLETED,CANCELLED'): Promise<WorkItem[]> {
    const response = await ctx.api('GET', `/inventory-sources/${SOURCE}/modular/work-items?mediaBuyId=${encodeURIComponent(mediaBuyId)}&status=${status}`)
    assert.equal(response.statusCode, 200, response.body)
    return response.json().items as WorkItem[]
  }

  async function task(taskId: string) {
    const { isError, payload } = await callTool(live, 'tasks_get', { task_id: taskId, account: ACCOUNT, include_result: true })
    assert.equal(isError, false, JSON.stringify(payload))
    return payload
  }

  function workItem(id: string, action: 'complete' | 'cancel', body: Record<string, unknown>) {
    return ctx.api('POST', `/inventory-sources/${SOURCE}/modular/work-items/${id}/${action}`, body)
  }

  it('a line booked by another path closes its approval, so a later cancel of that item cannot take a booked line back', async () => {
    const { row } = await buy()
    const [first] = await holdsOf(row.media_buy_id)
    await ctx.db.transaction().execute((trx) => ctx.services.ledger.book(trx, { sourceRowId: first!.inventory_source_id, reservationId: String(first!.id) }))
    const approval = (await itemsOf(row.media_buy_id)).find((item) => item.resourceId === String(first!.id))!
    assert.equal(approval.status, 'CANCELLED')
    const cancel = await workItem(approval.id, 'cancel', { reason: 'clean-up' })
    assert.equal(cancel.statusCode, 409, cancel.body)
    assert.equal((await holdsOf(row.media_buy_id))[0]!.status, 'BOOKED')
  })

  it('answers submitted with a task and opens one APPROVE_MEDIA_BUY item per package, on its hold, naming the buy', async () => {
    const { taskId, row } = await buy()
    assert.equal((await task(taskId)).status, 'submitted')
    const holds = await holdsOf(row.media_buy_id)
    assert.deepEqual(holds.map((hold) => [hold.status, hold.expires_at]), [['HELD', null], ['HELD', null]])

    const items = await itemsOf(row.media_buy_id)
    assert.deepEqual(items.map((item) => [item.kind, item.status]), [['APPROVE_MEDIA_BUY', 'OPEN'], ['APPROVE_MEDIA_BUY', 'OPEN']])
    const packages = await ctx.db.selectFrom('media_buy_package').selectAll().where('media_buy_row_id', '=', row.id).orderBy('package_id').execute()
    for (const item of items) {
      const hold = holds.find((candidate) => String(candidate.id) === item.resourceId)!
      const pkg = packages.find((candidate) => candidate.package_id === hold.package_id)!
      assert.deepEqual(
        [item.resourceType, item.mediaBuyId, item.buyerCustomerId, item.moduleId, item.requiredResultFields, item.dueAt],
        ['reservation', row.media_buy_id, row.buyer_account_id, null, [], row.start_time.toISOString()],
      )
      assert.deepEqual({
        reservationId: item.payload.reservationId,
        mediaBuyId: item.payload.mediaBuyId,
        packageId: item.payload.packageId,
        productId: item.payload.productId,
        availId: item.payload.availId,
        requestedImpressions: item.payload.requestedImpressions,
        buyerAccountId: item.payload.buyerAccountId,
        advertiserName: item.payload.advertiserName,
        campaignName: item.payload.campaignName,
        poNumber: item.payload.poNumber,
        pricing: item.payload.pricing,
        mediaBuyFlight: item.payload.mediaBuyFlight,
      }, {
        reservationId: String(hold.id),
        mediaBuyId: row.media_buy_id,
        packageId: pkg.package_id,
        productId: pkg.product_id,
        availId: hold.avail_id,
        requestedImpressions: pkg.impressions,
        buyerAccountId: (await ctx.db.selectFrom('buyer_account').select('account_id').where('id', '=', row.buyer_account_id).executeTakeFirstOrThrow()).account_id,
        advertiserName: ACCOUNT.brand.domain,
        campaignName: `${ACCOUNT.brand.domain} PO-7`,
        poNumber: 'PO-7',
        pricing: { model: 'cpm', cpm: pkg.cpm, budget: pkg.budget, currency: row.currency },
        mediaBuyFlight: { startTime: row.start_time.toISOString(), endTime: row.end_time.toISOString() },
      })
      assert.match(String(item.payload.reservationId), /^\d+$/)
    }
  })

  it('keeps the holds while the seller decides: past the hold time neither the sweeper nor a lazy expiry takes them', async () => {
    const { taskId, row } = await buy()
    ctx.clock.advance((HOLD_MINUTES_DEFAULT + 120) * 60_000)
    await ctx.services.ledger.expireDue()
    // A read of the source's reservations expires its due holds first (the lazy path).
    const listed = await ctx.api('GET', `/inventory-sources/${SOURCE}/modular/reservations?mediaBuyId=${row.media_buy_id}`)
    assert.equal(listed.statusCode, 200, listed.body)
    assert.deepEqual((listed.json().reservations as Array<{ status: string }>).map((r) => r.status), ['HELD', 'HELD'])
    assert.deepEqual((await holdsOf(row.media_buy_id)).map((hold) => hold.status), ['HELD', 'HELD'])
    assert.deepEqual((await itemsOf(row.media_buy_id)).map((item) => [item.kind, item.status]), [['APPROVE_MEDIA_BUY', 'OPEN'], ['APPROVE_MEDIA_BUY', 'OPEN']])
    assert.equal((await task(taskId)).status, 'submitted')
  })

  it('books each hold when its item is completed over REST; the task completes with the media_buy_id once all are', async () => {
    const { taskId, row } = await buy()
    const [first, second] = await itemsOf(row.media_buy_id)
    const approved = await workItem(first!.id, 'complete', { notes: 'Fits the July plan' })
    assert.equal(approved.statusCode, 200, approved.body)
    assert.equal(approved.json().item.status, 'COMPLETED')
    assert.deepEqual((await holdsOf(row.media_buy_id)).map((hold) => [hold.id, hold.status]).sort(), [[Number(first!.resourceId), 'BOOKED'], [Number(second!.resourceId), 'HELD']].sort())
    assert.equal((await task(taskId)).status, 'submitted')
    const detail = (await ctx.api('GET', `/inventory-sources/${SOURCE}/modular/work-items/${first!.id}`)).json() as { events: Array<{ eventType: string; payload: { effect?: Record<string, unknown> } | null }> }
    assert.deepEqual(detail.events.at(-1)!.payload?.effect, { reservationId: first!.resourceId, reservationStatus: 'BOOKED', booked: true })

    assert.equal((await workItem(second!.id, 'complete', {})).statusCode, 200)
    assert.deepEqual((await holdsOf(row.media_buy_id)).map((hold) => hold.status), ['BOOKED', 'BOOKED'])
    const done = await task(taskId)
    assert.equal(done.status, 'completed', JSON.stringify(done))
    const result = done.result as { media_buy_id: string; status: string; packages: unknown[] }
    assert.deepEqual([result.media_buy_id, result.status, result.packages.length], [row.media_buy_id, 'pending_creatives', 2])
    const got = await callTool(live, 'get_media_buys', { account: ACCOUNT, media_buy_ids: [row.media_buy_id] })
    assert.equal((got.payload.media_buys as Array<{ status: string }>)[0]!.status, 'pending_creatives')
  })

  it('takes a cancelled item as the seller declining: every hold of the buy is released, the buy rejected, its task failed', async () => {
    const [a, b] = products
    const before = [await available(a!.availId), await available(b!.availId)]
    const { taskId, row } = await buy()
    assert.notDeepEqual([await available(a!.availId), await available(b!.availId)], before)
    const [first] = await itemsOf(row.media_buy_id)
    const declined = await workItem(first!.id, 'cancel', { reason: 'No outdoor brands in prime time' })
    assert.equal(declined.statusCode, 200, declined.body)

    const holds = await holdsOf(row.media_buy_id)
    assert.deepEqual(holds.map((hold) => [hold.status, hold.release_reason]), [
      ['RELEASED', 'declined by the seller: No outdoor brands in prime time'],
      ['RELEASED', 'declined by the seller: No outdoor brands in prime time'],
    ])
    assert.deepEqual([await available(a!.availId), await available(b!.availId)], before)
    // The other line's item is closed by its hold's release, not left for the seller to approve.
    assert.deepEqual((await itemsOf(row.media_buy_id)).map((item) => item.status), ['CANCELLED', 'CANCELLED'])
    const other = (await ctx.api('GET', `/inventory-sources/${SOURCE}/modular/work-items/${(await itemsOf(row.media_buy_id))[1]!.id}`)).json() as { events: Array<{ eventType: string; actorType: string; notes: string | null }> }
    assert.deepEqual(other.events.at(-1), { ...other.events.at(-1), eventType: 'CANCELLED', actorType: 'SYSTEM', notes: 'Reservation released: declined by the seller: No outdoor brands in prime time' })

    const failed = await task(taskId)
    assert.equal(failed.status, 'failed', JSON.stringify(failed))
    assert.match(JSON.stringify(failed), /declined by the seller: No outdoor brands in prime time/)
    assert.equal((await ctx.db.selectFrom('media_buy').select('status').where('id', '=', row.id).executeTakeFirstOrThrow()).status, 'rejected')
  })

  it('closes a hold\'s open approval when the hold is released over REST; the rejected buy\'s other line can then only be declined', async () => {
    const { taskId, row } = await buy()
    const [first, second] = await itemsOf(row.media_buy_id)
    const released = await ctx.api('POST', `/inventory-sources/${SOURCE}/modular/bookings/release`, { reservationId: first!.resourceId, reason: 'avail withdrawn' })
    assert.equal(released.statusCode, 200, released.body)
    const items = await itemsOf(row.media_buy_id)
    assert.deepEqual(items.map((item) => [item.id, item.status]), [[first!.id, 'CANCELLED'], [second!.id, 'OPEN']])
    assert.equal((await task(taskId)).status, 'failed')

    const late = await workItem(second!.id, 'complete', {})
    assert.equal(late.statusCode, 409, late.body)
    assert.equal(late.json().error.details.reason, 'INVALID_MEDIA_BUY_TRANSITION')
    assert.equal((await holdsOf(row.media_buy_id)).find((hold) => String(hold.id) === second!.resourceId)!.status, 'HELD')
    assert.equal((await workItem(second!.id, 'cancel', { reason: 'buy rejected' })).statusCode, 200)
    assert.deepEqual((await holdsOf(row.media_buy_id)).map((hold) => hold.status), ['RELEASED', 'RELEASED'])
  })

  it('asks nobody for a sandbox buy booked at once; a sandbox buy forced onto the submitted arm waits on the seller too', async () => {
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'sandbox' })
    const sandbox = await ctx.connect(key)
    const account = { ...ACCOUNT, sandbox: true }
    assert.equal((await callTool(sandbox, 'get_products', { buying_mode: 'wholesale' })).isError, false)
    await removeTrafficking(ctx, SANDBOX)
    const [product] = await productsOf(SANDBOX)
    const create = () => callTool(sandbox, 'create_media_buy', {
      account, brand: ACCOUNT.brand, ...flight(), idempotency_key: idempotencyKey(),
      packages: [{ product_id: product!.productId, pricing_option_id: 'cpm_fixed', budget: product!.cpm * 2 }],
    })
    const sandboxItems = async (mediaBuyId: string) => (await ctx.api('GET', `/inventory-sources/${SANDBOX}/modular/work-items?mediaBuyId=${mediaBuyId}`)).json().items as WorkItem[]

    const confirmed = await create()
    assert.equal(confirmed.payload.status, 'pending_creatives', JSON.stringify(confirmed.payload))
    const mediaBuyId = String(confirmed.payload.media_buy_id)
    assert.deepEqual((await holdsOf(mediaBuyId)).map((hold) => hold.status), ['BOOKED'])
    assert.deepEqual(await sandboxItems(mediaBuyId), [])

    const forced = await callTool(sandbox, 'comply_test_controller', { scenario: 'force_create_media_buy_arm', params: { arm: 'submitted', task_id: 'task_seller_approval_1' }, account })
    assert.equal(forced.isError, false, JSON.stringify(forced.payload))
    const submitted = await create()
    assert.deepEqual([submitted.payload.status, submitted.payload.task_id], ['submitted', 'task_seller_approval_1'])
    const row = await ctx.db.selectFrom('media_buy').selectAll().where('task_id', '=', 'task_seller_approval_1').executeTakeFirstOrThrow()
    assert.deepEqual((await sandboxItems(row.media_buy_id)).map((item) => [item.kind, item.status]), [['APPROVE_MEDIA_BUY', 'OPEN']])

    // Forcing a task_id that already names a task is refused at once, naming the field, and leaves
    // no directive behind: before, the next create failed on the unique task id (SERVICE_UNAVAILABLE)
    // and kept the directive, so every later create of the key failed the same way.
    const reused = await callTool(sandbox, 'comply_test_controller', { scenario: 'force_create_media_buy_arm', params: { arm: 'submitted', task_id: 'task_seller_approval_1' }, account })
    assert.deepEqual([reused.payload.success, reused.payload.error], [false, 'INVALID_PARAMS'], JSON.stringify(reused.payload))
    assert.match(String(reused.payload.error_detail), /task_id/)
    const next = await create()
    assert.equal(next.payload.status, 'pending_creatives', JSON.stringify(next.payload))
  })
})
