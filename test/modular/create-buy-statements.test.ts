import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Database } from '../../src/db/database.ts'
import { createServices, type Services } from '../../src/services.ts'
import { ManualClock } from '../../src/shared/clock.ts'
import { SecretBox } from '../../src/shared/secret-box.ts'
import { refuseUnprobedAgents } from '../../src/sources/agent-probe.ts'
import type { BuyPrincipal } from '../../src/workflows/media-buy-workflows.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { statementCounter } from '../helpers/source-at-scale.ts'

/**
 * What one live create_media_buy sends the database (issue 15, target 3): the buy, its packages,
 * each package's hold and its hand-off (booking, the trafficking and final-report items), the task
 * and the buy's view. The hold it just inserted is not looked up, locked or re-read again, the
 * packages' avails and their sources' modules are read in one statement each, and the work items
 * of all packages are opened together, so the count is a small fixed number per package (the hold
 * and the booking) and per buy; a statement per lookup or per item shows up here.
 * BEGIN and COMMIT do not pass through Kysely's plugins and are not counted.
 */
describe('create_media_buy of a live key in statements', () => {
  const counter = statementCounter()
  const clock = new ManualClock('2026-11-22T12:00:00.000Z')
  let close: () => Promise<void>
  let db: Database
  let services: Services
  let principal: BuyPrincipal
  const products: string[] = []

  before(async () => {
    const database = await openTestDatabase()
    close = database.close
    db = database.db.withPlugin(counter.plugin)
    services = createServices({ db, engine: database.engine, notifications: database.notifications, clock, secrets: new SecretBox('test-secret-key-not-for-production'), probeAgent: refuseUnprobedAgents })
    const key = await services.access.createKey({ storefront: 'acme', role: 'buyer', label: 'statement count' })
    const keyRow = await db.selectFrom('api_key').select(['id', 'storefront_id']).where('id', '=', Number(key.id)).executeTakeFirstOrThrow()
    for (const sourceId of ['demo-a', 'demo-b']) {
      await services.modularSources.createCadentDemo(keyRow.storefront_id, { sourceId, reset: false, seedAvails: true })
      products.push(`${sourceId}:${(await availIdsOf(sourceId))[0]!}`)
    }
    const buyer = { storefrontId: keyRow.storefront_id, apiKeyId: keyRow.id, sandbox: false }
    const [synced] = await services.buyer.syncAccounts(buyer, [{ brandDomain: 'acmeoutdoor.example', operator: 'pinnacle-agency.example', billing: 'operator', paymentTerms: null }])
    assert.ok(synced?.ok)
    principal = { ...buyer, accountRowId: synced.row.id, accountId: synced.row.account_id }
  })
  after(async () => close())

  async function buyTwoPackages(productIds: string[], idempotencyKey: string) {
    counter.reset()
    const outcome = await services.mediaBuys.create(principal, {
      idempotencyKey,
      brandDomain: 'acmeoutdoor.example',
      startTime: '2026-12-01T00:00:00.000Z',
      endTime: '2026-12-08T00:00:00.000Z',
      packages: productIds.map((productId) => ({ productId, pricingOptionId: 'cpm_fixed', budget: 100, impressions: 10_000 })),
    })
    return { outcome, statements: counter.count() }
  }

  it('creates a submitted 2-package buy on two sources in at most 13 statements', async () => {
    const { outcome, statements } = await buyTwoPackages(products, 'statements-two-sources')
    assert.equal(outcome.kind, 'submitted')
    assert.equal(outcome.buy.packages.length, 2)
    assert.ok(statements <= 13, `${statements} statements`)
  })

  it('reads the avails and the sources\' modules once per buy, whether its packages share a source or not', async () => {
    const { statements: twoSources } = await buyTwoPackages(products, 'statements-two-sources-again')
    const { outcome, statements: oneSource } = await buyTwoPackages([products[0]!, products[0]!.replace(/:.*$/, ':') + (await secondAvailOf('demo-a'))], 'statements-one-source')
    assert.equal(outcome.kind, 'submitted')
    assert.equal(oneSource, twoSources)
  })

  it('opens each package\'s hand-off with its booking and both work items, the hold no longer expiring', async () => {
    const { outcome } = await buyTwoPackages(products, 'statements-handoff')
    const mediaBuyId = outcome.buy.row.media_buy_id
    const holds = await db.selectFrom('reservation').selectAll().where('media_buy_id', '=', mediaBuyId).orderBy('id').execute()
    assert.equal(holds.length, 2)
    for (const hold of holds) {
      assert.equal(hold.status, 'HELD')
      assert.equal(hold.expires_at, null)
    }
    const entries = await db.selectFrom('ledger_entry').select(['reservation_id', 'kind']).where('reservation_id', 'in', holds.map((hold) => hold.id)).orderBy('id').execute()
    assert.deepEqual(entries.map((entry) => entry.kind), ['HOLD', 'HOLD'])
    const bookings = await db.selectFrom('booking').select('reservation_id').where('media_buy_id', '=', mediaBuyId).execute()
    assert.equal(bookings.length, 2)
    const items = await db.selectFrom('work_item').select(['id', 'kind', 'resource_id']).where('media_buy_id', '=', mediaBuyId).orderBy('id').execute()
    assert.deepEqual(items.map((item) => item.kind).sort(), ['TRAFFIC_TO_CADENT', 'TRAFFIC_TO_CADENT', 'UPLOAD_FINAL_REPORT', 'UPLOAD_FINAL_REPORT'])
    const events = await db.selectFrom('work_item_event').select(['work_item_id', 'event_type']).where('work_item_id', 'in', items.map((item) => item.id)).orderBy('id').execute()
    assert.deepEqual(events.map((event) => [event.work_item_id, event.event_type]), items.map((item) => [item.id, 'CREATED']))
  })

  it('writes the buy\'s packages in order and its submitted task with it; a second create with its idempotency_key writes nothing and answers the first buy', async () => {
    const { outcome: first } = await buyTwoPackages(products, 'statements-same-key')
    const mediaBuyId = first.buy.row.media_buy_id
    assert.equal(first.kind, 'submitted')
    assert.deepEqual(first.buy.packages.map((pkg) => pkg.product_id), products)
    const task = await db.selectFrom('adcp_decisioning_tasks').selectAll().where('task_id', '=', first.buy.row.task_id!).executeTakeFirstOrThrow()
    assert.deepEqual([task.tool, task.account_id, task.status, task.has_webhook], ['create_media_buy', principal.accountId, 'submitted', false])
    const counts = async () => Promise.all(['media_buy', 'media_buy_package', 'adcp_decisioning_tasks', 'reservation'].map(async (table) =>
      Number((await db.selectFrom(table as 'media_buy').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n)))
    const before = await counts()
    const { outcome: second } = await buyTwoPackages(products, 'statements-same-key')
    assert.equal(second.kind, 'submitted')
    assert.equal(second.buy.row.media_buy_id, mediaBuyId)
    assert.deepEqual(await counts(), before)
  })

  it('records the placed buy in the diagnostics with one statement: its packages know their sources\' rows', async () => {
    const { outcome } = await buyTwoPackages(products, 'statements-served-record')
    const sources = outcome.buy.packages.map((pkg) => ({ sourceId: pkg.source_id, sourceRowId: pkg.inventory_source_id, packages: 1 }))
    counter.reset()
    services.sourceDiagnostics.served(principal.storefrontId, {
      tool: 'create_media_buy', outcome: 'input_required', errorCode: null, latencyMs: 12, at: clock.now(), sources, mediaBuyIds: [],
    })
    await services.sourceDiagnostics.flush()
    assert.equal(counter.count(), 1)
    const recorded = await db.selectFrom('source_call').select(['inventory_source_id', 'media_buy_id']).where('tool', '=', 'create_media_buy').orderBy('inventory_source_id').execute()
    assert.deepEqual(recorded.map((row) => row.inventory_source_id), sources.map((source) => source.sourceRowId).sort((a, b) => a - b))
  })

  /** The source's avail ids in order. */
  async function availIdsOf(sourceId: string): Promise<string[]> {
    const avails = await db
      .selectFrom('avail')
      .innerJoin('inventory_source', 'inventory_source.id', 'avail.inventory_source_id')
      .select('avail.avail_id')
      .where('inventory_source.source_id', '=', sourceId)
      .orderBy('avail.avail_id')
      .execute()
    return avails.map((avail) => avail.avail_id)
  }

  async function secondAvailOf(sourceId: string): Promise<string> {
    return (await availIdsOf(sourceId))[1]!
  }
})
