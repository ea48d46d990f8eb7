import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { sql } from 'kysely'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

interface AdcpProduct {
  product_id: string
  channels?: string[]
  format_ids: Array<{ agent_url: string; id: string }>
  pricing_options: Array<{ pricing_option_id: string; pricing_model: string; currency: string; fixed_price: number }>
}

const SPORTS = { product_id: 'sports_preroll_q2_guaranteed', fixture: { delivery_type: 'guaranteed', channels: ['video'], format_ids: [{ id: 'video_30s' }] } }
const SPORTS_PRICE = { product_id: 'sports_preroll_q2_guaranteed', pricing_option_id: 'cpm_guaranteed_fixed', fixture: { pricing_model: 'cpm', currency: 'USD', fixed_price: 35 } }
const RUNNER_ACCOUNT = { brand: { domain: 'test.example' }, operator: 'test.example', sandbox: true }

async function controller(client: Client, scenario: string, params: Record<string, unknown>, account: Record<string, unknown> = RUNNER_ACCOUNT) {
  return (await callTool(client, 'comply_test_controller', { scenario, params, account })).payload
}

async function products(client: Client): Promise<AdcpProduct[]> {
  const { isError, payload } = await callTool(client, 'get_products', { buying_mode: 'wholesale', pagination: { max_results: 100 } })
  assert.equal(isError, false, JSON.stringify(payload))
  return payload.products as AdcpProduct[]
}

describe('the AdCP sandbox over MCP', () => {
  let ctx: McpTestContext
  let live: Client
  let sandbox: Client
  let otherSandbox: Client
  let sandboxKeyId: number
  let principal: { storefrontId: number; apiKeyId: number; sandbox: boolean }

  before(async () => {
    ctx = await createMcpTestContext()
    assert.equal((await ctx.api('POST', '/inventory-sources/modular/cadent-demo', {})).statusCode, 201)
    const created = await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'runner' })
    sandboxKeyId = Number(created.id)
    const caller = await ctx.services.access.authenticate(created.key)
    principal = { storefrontId: caller.storefrontId, apiKeyId: caller.apiKeyId, sandbox: caller.sandbox }
    const other = await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'runner 2' })
    live = await ctx.connect(ctx.buyerKey)
    sandbox = await ctx.connect(created.key)
    otherSandbox = await ctx.connect(other.key)
  })
  after(async () => {
    await ctx.close()
  })

  /** Every avail's counters equal the sums of its ledger entries (the ledger's invariant). */
  async function assertCountersMatchEntries() {
    const { rows } = await sql<{ id: number; held: number; booked: number; held_sum: number; booked_sum: number }>`
      select a.id, a.held_impressions as held, a.booked_impressions as booked,
        coalesce(sum(e.held_delta), 0)::bigint as held_sum, coalesce(sum(e.booked_delta), 0)::bigint as booked_sum
      from avail a left join ledger_entry e on e.avail_row_id = a.id group by a.id`.execute(ctx.db)
    for (const row of rows) assert.deepEqual([Number(row.held), Number(row.booked)], [Number(row.held_sum), Number(row.booked_sum)], `avail ${row.id}`)
    return rows.length
  }

  /** A buy of the sandbox key with one package held on the sandbox avail `availId` (what create_media_buy writes). */
  async function sandboxBuy(mediaBuyId: string, availId: string, budget: number) {
    const account = (await ctx.services.buyer.resolveAccount(principal, { brandDomain: 'test.example', operator: 'test.example' }))!
    const source = await ctx.services.sandbox.ensureSource(account.storefront_id)
    const now = ctx.clock.now()
    const buy = await ctx.db.insertInto('media_buy').values({
      storefront_id: account.storefront_id, api_key_id: sandboxKeyId, buyer_account_id: account.id, media_buy_id: mediaBuyId,
      idempotency_key: `k-${mediaBuyId}`, sandbox: true, status: 'pending_creatives', currency: 'USD',
      start_time: now, end_time: new Date(now.getTime() + 7 * 86_400_000), created_at: now, updated_at: now,
    }).returningAll().executeTakeFirstOrThrow()
    const avail = await ctx.db.selectFrom('avail').selectAll().where('inventory_source_id', '=', source.id).where('avail_id', '=', availId).executeTakeFirstOrThrow()
    const impressions = Math.round((budget / avail.cpm!) * 1000)
    await ctx.db.insertInto('media_buy_package').values({
      media_buy_row_id: buy.id, package_id: 'pkg_1', inventory_source_id: source.id, avail_row_id: avail.id, product_id: availId,
      pricing_option_id: 'cpm_guaranteed_fixed', budget, impressions, cpm: avail.cpm!, created_at: now, updated_at: now,
    }).execute()
    await ctx.services.ledger.reserve({ sourceRowId: source.id, availId, mediaBuyId, packageId: 'pkg_1', buyerCustomerId: account.id, requestedImpressions: impressions, holdMinutes: 60 })
    return { buy, account, source }
  }

  it('lists the sandbox source to a sandbox key and the live sources to a live key, never the other', async () => {
    const liveIds = (await products(live)).map((product) => product.product_id)
    const sandboxIds = (await products(sandbox)).map((product) => product.product_id)
    assert.ok(liveIds.length > 0 && liveIds.every((id) => id.startsWith('talpa-cadent-demo:')), liveIds.join())
    // The sandbox's own demo avails, named by their avail id alone.
    assert.ok(sandboxIds.length > 0 && sandboxIds.every((id) => !id.includes(':')), sandboxIds.join())
    const sandboxRow = await ctx.db.selectFrom('inventory_source').selectAll().where('sandbox', '=', true).executeTakeFirstOrThrow()
    assert.equal(sandboxRow.source_id, 'adcp-sandbox')
  })

  it('registers comply_test_controller for sandbox keys only, and declares only enum-legal scenarios', async () => {
    assert.ok(!(await live.listTools()).tools.some((tool) => tool.name === 'comply_test_controller'))
    assert.ok((await sandbox.listTools()).tools.some((tool) => tool.name === 'comply_test_controller'))
    const caps = (await callTool(sandbox, 'get_adcp_capabilities', {})).payload as { status?: string; compliance_testing?: { scenarios: string[] } }
    // The v3 envelope's status and our other additions survive the controller's capability block.
    assert.equal(caps.status, 'completed')
    assert.deepEqual(caps.compliance_testing?.scenarios, ['force_creative_status', 'force_account_status', 'force_media_buy_status', 'simulate_delivery', 'simulate_budget_spend'])
    const liveCaps = (await callTool(live, 'get_adcp_capabilities', {})).payload
    assert.equal(liveCaps.compliance_testing, undefined)
  })

  it('makes seeded products buyable under exactly the fixture ids, replacing the demo catalog', async () => {
    assert.equal((await controller(sandbox, 'seed_product', SPORTS)).success, true)
    // Unpriced, a product has nothing a buyer could accept: it is not offered yet.
    assert.deepEqual((await products(sandbox)).map((product) => product.product_id), [])
    assert.equal((await controller(sandbox, 'seed_pricing_option', SPORTS_PRICE)).success, true)
    const [product, ...rest] = await products(sandbox)
    assert.equal(rest.length, 0)
    assert.equal(product!.product_id, 'sports_preroll_q2_guaranteed')
    assert.deepEqual(product!.pricing_options.map((option) => [option.pricing_option_id, option.pricing_model, option.currency, option.fixed_price]), [['cpm_guaranteed_fixed', 'cpm', 'USD', 35]])
    assert.deepEqual(product!.format_ids.map((format) => format.id), ['video_30s'])
    assert.deepEqual(product!.channels, ['olv'])
    // The format it names is in the catalog, with the same agent_url.
    const formats = (await callTool(sandbox, 'list_creative_formats', { format_ids: [product!.format_ids[0]] })).payload.formats as Array<{ format_id: unknown }>
    assert.deepEqual(formats.map((format) => format.format_id), [product!.format_ids[0]])
    // The seed is a real avail of the sandbox source, on the real ledger.
    const avail = await ctx.db.selectFrom('avail').innerJoin('inventory_source', 'inventory_source.id', 'avail.inventory_source_id')
      .select(['avail.cpm', 'avail.status', 'inventory_source.sandbox']).where('avail.avail_id', '=', 'sports_preroll_q2_guaranteed').executeTakeFirstOrThrow()
    assert.deepEqual([Number(avail.cpm), avail.status, avail.sandbox], [35, 'ACTIVE', true])
    // A live key never sees it.
    assert.ok(!(await products(live)).some((p) => p.product_id.includes('sports_preroll')))
  })

  it('refuses fixtures the storefront cannot sell, naming the field', async () => {
    const refused = await controller(sandbox, 'seed_product', { product_id: 'auction_thing', fixture: { delivery_type: 'non_guaranteed' } })
    assert.deepEqual([refused.success, refused.error], [false, 'INVALID_PARAMS'])
    assert.match(String(refused.error_detail), /fixture.delivery_type/)
    const unknown = await controller(sandbox, 'seed_pricing_option', { product_id: 'never_seeded', pricing_option_id: 'x', fixture: { pricing_model: 'cpm', currency: 'USD', fixed_price: 5 } })
    assert.deepEqual([unknown.success, unknown.error], [false, 'NOT_FOUND'])
  })

  it('lists exactly the seeded creative formats once formats are seeded', async () => {
    for (const [id, name] of [['pagination_integrity_format_1', 'A'], ['pagination_integrity_format_2', 'B']] as const) {
      assert.equal((await controller(sandbox, 'seed_creative_format', { format_id: id, fixture: { name, type: 'display' } })).success, true)
    }
    const { payload } = await callTool(sandbox, 'list_creative_formats', { pagination: { max_results: 10 } })
    const ids = (payload.formats as Array<{ format_id: { id: string } }>).map((format) => format.format_id.id)
    assert.deepEqual(ids, ['pagination_integrity_format_1', 'pagination_integrity_format_2', 'video_30s'])
    // The live key's formats are the live sources' trafficking formats.
    const liveIds = ((await callTool(live, 'list_creative_formats', {})).payload.formats as Array<{ format_id: { id: string } }>).map((format) => format.format_id.id)
    assert.deepEqual(liveIds, ['video_spot_15s', 'video_spot_30s'])
  })

  it('forces a sandbox account through its statuses; another key\'s account is not found', async () => {
    await callTool(sandbox, 'sync_accounts', { accounts: [{ ...RUNNER_ACCOUNT, billing: 'operator' }], idempotency_key: 'sync-runner-account-0001' })
    const [account] = (await callTool(sandbox, 'list_accounts', {})).payload.accounts as Array<{ account_id: string }>
    const suspended = await controller(sandbox, 'force_account_status', { account_id: account!.account_id, status: 'suspended' })
    assert.deepEqual([suspended.success, suspended.previous_state, suspended.current_state], [true, 'active', 'suspended'])
    const active = await controller(sandbox, 'force_account_status', { account_id: account!.account_id, status: 'active' })
    assert.equal(active.current_state, 'active')
    const foreign = await controller(otherSandbox, 'force_account_status', { account_id: account!.account_id, status: 'suspended' })
    assert.deepEqual([foreign.success, foreign.error], [false, 'NOT_FOUND'])
  })

  it('forces media-buy statuses along the AdCP graph only', async () => {
    assert.equal((await controller(sandbox, 'seed_media_buy', { media_buy_id: 'seeded_mb_1', fixture: { status: 'pending_start', currency: 'USD' } })).success, true)
    const activated = await controller(sandbox, 'force_media_buy_status', { media_buy_id: 'seeded_mb_1', status: 'active' })
    assert.deepEqual([activated.success, activated.previous_state, activated.current_state], [true, 'pending_start', 'active'])
    assert.equal((await controller(sandbox, 'force_media_buy_status', { media_buy_id: 'seeded_mb_1', status: 'completed' })).current_state, 'completed')
    const illegal = await controller(sandbox, 'force_media_buy_status', { media_buy_id: 'seeded_mb_1', status: 'active' })
    assert.deepEqual([illegal.success, illegal.error], [false, 'INVALID_TRANSITION'])
    const foreign = await controller(otherSandbox, 'force_media_buy_status', { media_buy_id: 'seeded_mb_1', status: 'paused' })
    assert.deepEqual([foreign.success, foreign.error], [false, 'NOT_FOUND'])
    // Another sandbox key cannot seed over it either.
    const clash = await controller(otherSandbox, 'seed_media_buy', { media_buy_id: 'seeded_mb_1', fixture: { status: 'active' } })
    assert.deepEqual([clash.success, clash.error], [false, 'INVALID_PARAMS'])
  })

  it('keeps a forced create arm for the key\'s next create, once', async () => {
    const forced = await controller(sandbox, 'force_create_media_buy_arm', { arm: 'submitted', task_id: 'task_async_signed_io_q2', message: 'Awaiting IO' })
    assert.deepEqual(forced.forced, { arm: 'submitted', task_id: 'task_async_signed_io_q2' })
    const taken = await ctx.db.transaction().execute((trx) => ctx.services.sandbox.takeCreateDirective(trx, principal))
    assert.deepEqual([taken?.arm, taken?.task_id], ['submitted', 'task_async_signed_io_q2'])
    assert.equal(await ctx.db.transaction().execute((trx) => ctx.services.sandbox.takeCreateDirective(trx, principal)), undefined)
  })

  it('reports simulated delivery by package, to the buying key only', async () => {
    await sandboxBuy('sandbox_mb_delivery', 'sports_preroll_q2_guaranteed', 7000)
    const simulated = await controller(sandbox, 'simulate_delivery', { media_buy_id: 'sandbox_mb_delivery', impressions: 5000, clicks: 150, reported_spend: { amount: 250, currency: 'USD' } })
    assert.equal(simulated.success, true, JSON.stringify(simulated))
    const { isError, payload } = await callTool(sandbox, 'get_media_buy_delivery', { media_buy_ids: ['sandbox_mb_delivery'], include_package_daily_breakdown: true })
    assert.equal(isError, false, JSON.stringify(payload))
    const [delivery] = payload.media_buy_deliveries as Array<{ totals: Record<string, number>; by_package: Array<Record<string, unknown>>; daily_breakdown: unknown[] }>
    assert.deepEqual([delivery!.totals.impressions, delivery!.totals.spend, delivery!.totals.clicks], [5000, 250, 150])
    const [pkg] = delivery!.by_package
    assert.deepEqual([pkg!.package_id, pkg!.spend, pkg!.impressions, pkg!.pricing_model, pkg!.rate, pkg!.currency], ['pkg_1', 250, 5000, 'cpm', 35, 'USD'])
    assert.equal((pkg!.daily_breakdown as unknown[]).length, 1)
    // The rows are in the table the final-report import writes.
    const rows = await ctx.db.selectFrom('delivery_row').selectAll().where('media_buy_id', '=', 'sandbox_mb_delivery').execute()
    assert.deepEqual(rows.map((row) => [row.impressions, Number(row.spend)]), [[5000, 250]])
    // Budget spend: 95 % of the 7000 budget, then all of it.
    assert.equal((await controller(sandbox, 'simulate_budget_spend', { media_buy_id: 'sandbox_mb_delivery', spend_percentage: 95 })).success, true)
    const spent = ((await callTool(sandbox, 'get_media_buy_delivery', { media_buy_ids: ['sandbox_mb_delivery'] })).payload.media_buy_deliveries as Array<{ totals: { spend: number } }>)[0]!.totals.spend
    assert.equal(spent, 6650)
    // Another key's buy answers exactly like a missing one.
    const foreign = await callTool(otherSandbox, 'get_media_buy_delivery', { media_buy_ids: ['sandbox_mb_delivery'] })
    const missing = await callTool(otherSandbox, 'get_media_buy_delivery', { media_buy_ids: ['no_such_buy'] })
    assert.equal(foreign.isError, true)
    assert.equal((foreign.payload.adcp_error as { code: string }).code, 'MEDIA_BUY_NOT_FOUND')
    assert.equal((missing.payload.adcp_error as { code: string }).code, 'MEDIA_BUY_NOT_FOUND')
    assert.equal((await callTool(live, 'get_media_buy_delivery', { media_buy_ids: ['sandbox_mb_delivery'] })).isError, true)
  })

  it('refuses a reversed reporting window naming the field', async () => {
    const { isError, payload } = await callTool(sandbox, 'get_media_buy_delivery', { start_date: '2027-02-01', end_date: '2027-01-01' })
    assert.equal(isError, true)
    assert.deepEqual([(payload.adcp_error as { code: string }).code, (payload.adcp_error as { field: string }).field], ['INVALID_REQUEST', 'end_date'])
  })

  it('cancels a forced buy by releasing its holds through the ledger', async () => {
    const { source } = await sandboxBuy('sandbox_mb_cancel', 'sports_preroll_q2_guaranteed', 3500)
    const canceled = await controller(sandbox, 'force_media_buy_status', { media_buy_id: 'sandbox_mb_cancel', status: 'canceled' })
    assert.equal(canceled.current_state, 'canceled')
    const live = await ctx.db.selectFrom('reservation').select('status').where('inventory_source_id', '=', source.id).where('media_buy_id', '=', 'sandbox_mb_cancel').execute()
    assert.deepEqual(live.map((row) => row.status), ['RELEASED'])
    await assertCountersMatchEntries()
  })

  it('resets the sandbox with an operator key: sandbox buys, holds, accounts and replay rows go, live data stays', async () => {
    // A live hold and a live account that must survive.
    const liveSource = await ctx.db.selectFrom('inventory_source').selectAll().where('source_id', '=', 'talpa-cadent-demo').executeTakeFirstOrThrow()
    const liveAvail = await ctx.db.selectFrom('avail').selectAll().where('inventory_source_id', '=', liveSource.id).orderBy('avail_id').executeTakeFirstOrThrow()
    await ctx.services.ledger.reserve({ sourceRowId: liveSource.id, availId: liveAvail.avail_id, mediaBuyId: 'live_mb', packageId: null, buyerCustomerId: null, requestedImpressions: 1000, holdMinutes: 60 })
    await callTool(live, 'sync_accounts', { accounts: [{ brand: { domain: 'live.example' }, operator: 'live.example', billing: 'operator' }], idempotency_key: 'sync-live-account-00001' })
    const before = await ctx.db.selectFrom('adcp_idempotency').select('scoped_key').execute()
    assert.ok(before.some((row) => row.scoped_key.startsWith(`api_key:${sandboxKeyId}\u001f`)))

    // A sandbox event left in the outbox (and a live one that must stay): the next run reuses the
    // storyboards' fixed buy and task ids, so a kept event would swallow the next run's.
    const storefrontId = principal.storefrontId
    for (const [operationId, sandboxEvent] of [['create_media_buy.task_reused_by_runs', true], ['create_media_buy.task_of_a_live_buy', false]] as const) {
      await ctx.db.insertInto('webhook_outbox').values({
        storefront_id: storefrontId, operation_id: operationId, idempotency_key: `key-${operationId}`, destination_sealed: 'x', destination_origin: 'https://buyer.example',
        sandbox: sandboxEvent, payload: '{}', next_attempt_at: ctx.clock.now(), created_at: ctx.clock.now(), updated_at: ctx.clock.now(),
      }).execute()
    }

    assert.equal((await ctx.api('POST', '/api/v2/storefront/sandbox/reset', {}, { key: ctx.buyerKey })).statusCode, 403)
    const reset = await ctx.api('POST', '/api/v2/storefront/sandbox/reset', {})
    assert.equal(reset.statusCode, 200, reset.body)
    const body = reset.json()
    assert.equal(body.sourceId, 'adcp-sandbox')
    assert.ok(body.deleted.mediaBuys >= 3 && body.deleted.accounts >= 1 && body.deleted.idempotencyRecords >= 1, reset.body)

    assert.equal((await ctx.db.selectFrom('media_buy').select('id').where('sandbox', '=', true).execute()).length, 0)
    assert.deepEqual((await ctx.db.selectFrom('webhook_outbox').select('operation_id').where('operation_id', 'like', 'create_media_buy.task_%').execute()).map((row) => row.operation_id), ['create_media_buy.task_of_a_live_buy'])
    assert.equal((await ctx.db.selectFrom('buyer_account').select('id').where('sandbox', '=', true).execute()).length, 0)
    assert.equal((await ctx.db.selectFrom('delivery_row').select('id').where('media_buy_id', 'like', 'sandbox_mb%').execute()).length, 0)
    const after = await ctx.db.selectFrom('adcp_idempotency').select('scoped_key').execute()
    assert.ok(!after.some((row) => row.scoped_key.startsWith(`api_key:${sandboxKeyId}\u001f`)))
    assert.ok(after.some((row) => !row.scoped_key.startsWith('api_key:' + sandboxKeyId)), 'the live key\'s replay rows stay')
    // Live rows are untouched and every counter still equals its entries.
    assert.equal((await ctx.db.selectFrom('buyer_account').select('id').where('brand_domain', '=', 'live.example').execute()).length, 1)
    const liveHold = await ctx.db.selectFrom('reservation').select('status').where('media_buy_id', '=', 'live_mb').executeTakeFirstOrThrow()
    assert.equal(liveHold.status, 'HELD')
    assert.ok((await assertCountersMatchEntries()) > 0)
    // The sandbox is back to its demo catalog: the fixtures are gone.
    const ids = (await products(sandbox)).map((product) => product.product_id)
    assert.ok(ids.length > 0 && !ids.includes('sports_preroll_q2_guaranteed'), ids.join())
  })

  it('keeps the product catalog when only creative formats are seeded', async () => {
    // After the reset above the sandbox has its demo catalog again. Before, a format seed replaced
    // the demo catalog like a product seed, and a later run that seeded no product found none.
    const before = (await products(sandbox)).map((product) => product.product_id)
    assert.ok(before.length > 0)
    assert.equal((await controller(sandbox, 'seed_creative_format', { format_id: 'only_a_format', fixture: { name: 'Only a format', type: 'display' } })).success, true)
    assert.deepEqual((await products(sandbox)).map((product) => product.product_id), before)
    const { payload } = await callTool(sandbox, 'list_creative_formats', {})
    assert.deepEqual((payload.formats as Array<{ format_id: { id: string } }>).map((format) => format.format_id.id), ['only_a_format'])
  })
})
