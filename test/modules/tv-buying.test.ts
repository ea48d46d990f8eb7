import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { json } from '../../src/db/database.ts'
import { parseAvailsFeedAll } from '../../src/modules/avails-feed/parse-feed.ts'
import { isAdId } from '../../src/modules/creative-formats/index.ts'
import { assertProductWindow, flatRateLineOf } from '../../src/modules/media-buys/media-buy-rules.ts'
import { pricingOptionsOf } from '../../src/modules/products/index.ts'
import { isStorefrontError } from '../../src/shared/errors.ts'
import type { MediaBuyPackageRow, MediaBuyRow } from '../../src/db/tables.ts'
import { parseDeliveryReport } from '../../src/modules/delivery/parse-report.ts'
import type { PackageDeliveryRow } from '../../src/modules/delivery/index.ts'
import { deliveryOf } from '../../src/workflows/buyer-delivery-workflows.ts'
import { buyFirstProduct, callTool, lineDaysOf, createMcpTestContext, type McpTestContext } from '../mcp/helpers.ts'

const now = new Date('2026-11-22T00:00:00.000Z')
const header = 'Avail ID,Name,Collection,Start Date,End Date,Impressions,CPM,Flat Rate,Flat Rate Unit,Spot Count,Measurement Windows'

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    return isStorefrontError(error) ? error.details?.reason ?? error.code : String(error)
  }
  return undefined
}

describe('TV buying: the avails feed', () => {
  it('reads a flat rate per spot or per package and the measurement windows next to the CPM', async () => {
    const result = await parseAvailsFeedAll({ kind: 'csv', text: [
      header,
      'nfl-1,NFL Sunday,Linear,2026-12-01,2026-12-31,"1,000,000",25,5000,per spot,4,"Live+C3+C7"',
      'takeover,Home takeover,Linear,2026-12-01,2026-12-31,500000,,20000,Package,,c7; live',
      'ctv-1,CTV prime,CTV,2026-12-01,2026-12-31,500000,22,,,,',
    ].join('\n') }, { now })
    assert.deepEqual(result.errors, [])
    const [nfl, takeover, ctv] = result.avails
    assert.deepEqual([nfl!.flatRate, nfl!.flatRateUnit, nfl!.spotCount, nfl!.measurementWindows], [5000, 'spot', 4, ['live', 'c3', 'c7']])
    assert.deepEqual([takeover!.cpm, takeover!.flatRate, takeover!.flatRateUnit, takeover!.spotCount, takeover!.measurementWindows], [null, 20000, 'package', null, ['live', 'c7']])
    assert.deepEqual([ctv!.flatRate, ctv!.flatRateUnit, ctv!.spotCount, ctv!.measurementWindows], [null, null, null, []])
  })

  it('names the field of a flat rate without its unit, a per-spot rate without spots, a bad unit and an unknown window', async () => {
    const result = await parseAvailsFeedAll({ kind: 'csv', text: [
      header,
      'a,A,Linear,2026-12-01,2026-12-31,1000,,5000,,,',
      'b,B,Linear,2026-12-01,2026-12-31,1000,,5000,spot,,',
      'c,C,Linear,2026-12-01,2026-12-31,1000,,5000,per week,,',
      'd,D,Linear,2026-12-01,2026-12-31,1000,20,,,,c5',
      'e,E,Linear,2026-12-01,2026-12-31,1000,,0,package,,',
      'f,F,Linear,2026-12-01,2026-12-31,1000,20,,,3,',
    ].join('\n') }, { now })
    assert.deepEqual(result.errors.map((error) => [error.row, error.field]), [
      [2, 'flatRateUnit'], [3, 'spotCount'], [4, 'flatRateUnit'], [5, 'measurementWindows'], [6, 'flatRate'], [7, 'spotCount'],
    ])
    assert.match(result.errors[0]!.message, /flatRateUnit is required with flatRate: spot or package/)
    assert.match(result.errors[3]!.message, /live, c3, c7/)
  })
})

describe('TV buying: pricing options and flat-rate packages', () => {
  it('offers the CPM and the flat rate side by side, the flat rate alone, or nothing', () => {
    assert.deepEqual(pricingOptionsOf({ cpm: 25, flatRate: 5000, flatRateUnit: 'spot', spotCount: 4 }).map((option) => [option.id, option.model, option.price]), [
      ['cpm_fixed', 'cpm', 25], ['flat_rate_spot', 'flat_rate', 5000],
    ])
    assert.deepEqual(pricingOptionsOf({ cpm: null, flatRate: 20000, flatRateUnit: 'package', spotCount: null }).map((option) => option.id), ['flat_rate_package'])
    assert.deepEqual(pricingOptionsOf({ cpm: null, flatRate: null, flatRateUnit: null, spotCount: null }), [])
  })

  it('buys whole spots with the budget, holding each spot\'s share of the avail, at an effective CPM', () => {
    const line = flatRateLineOf({ budget: 12_000, flatRate: 5000, unit: 'spot', impressionsPerSpot: 250_000, packageImpressions: 1_000_000 }, 'packages[0]')
    assert.deepEqual(line, { impressions: 500_000, spots: 2, cost: 10_000, cpm: 20 })
  })

  it('buys the whole avail for a budget of at least the package rate', () => {
    assert.deepEqual(flatRateLineOf({ budget: 20_000, flatRate: 20_000, unit: 'package', impressionsPerSpot: null, packageImpressions: 500_000 }, 'packages[0]'), { impressions: 500_000, spots: null, cost: 20_000, cpm: 40 })
  })

  it('refuses a budget below one spot or the package as BUDGET_TOO_LOW, and an impressions figure naming the field', () => {
    assert.equal(reasonOf(() => flatRateLineOf({ budget: 4999, flatRate: 5000, unit: 'spot', impressionsPerSpot: 10, packageImpressions: 40 }, 'packages[0]')), 'BUDGET_TOO_LOW')
    assert.equal(reasonOf(() => flatRateLineOf({ budget: 19_999, flatRate: 20_000, unit: 'package', impressionsPerSpot: null, packageImpressions: 40 }, 'packages[0]')), 'BUDGET_TOO_LOW')
    assert.equal(reasonOf(() => flatRateLineOf({ budget: 5000, flatRate: 5000, unit: 'spot', impressionsPerSpot: 10, packageImpressions: 40, impressions: 10 }, 'packages[0]')), 'VALIDATION_ERROR')
  })

  it('bills only on a window the product reports in, when its feed names any', () => {
    assert.equal(reasonOf(() => assertProductWindow({ billingMeasurement: { measurementWindow: 'c3' } }, ['live', 'c7'], 'packages[0]')), 'TERMS_REJECTED')
    assert.equal(reasonOf(() => assertProductWindow({ billingMeasurement: { measurementWindow: 'c7' } }, ['live', 'c7'], 'packages[0]')), undefined)
    assert.equal(reasonOf(() => assertProductWindow({ billingMeasurement: { measurementWindow: 'c3' } }, [], 'packages[0]')), undefined)
  })
})

describe('TV buying: Ad-ID', () => {
  it('takes the Cadent XSD\'s AdId type: a 4-letter prefix, 7 letters or digits, an optional H or D', () => {
    assert.deepEqual(['ACME0042000H', 'ABCD1234567', 'ABCD123456D'].map(isAdId), [true, true, true])
    // Accepted before the one rule: digits in the prefix, which the campaign XML then refused.
    assert.deepEqual(['1234ABCD567', 'acme0042000h', 'ACME0042000X', 'ACME004200'].map(isAdId), [false, false, false, false])
  })
})

describe('TV buying: windowed final reports', () => {
  const flight = { firstDate: '2026-12-01', lastDate: '2026-12-31' }
  const rowErrorsOf = (report: unknown) => {
    try {
      parseDeliveryReport(report, flight)
    } catch (error) {
      return (error as { details: { rows: Array<{ row: number; field: string; message: string }> } }).details.rows
    }
    return []
  }

  it('reads measurement_window, is_final and supersedes_window, and a report without them exactly as before', () => {
    assert.deepEqual(parseDeliveryReport('date,impressions,measurement_window,is_final,supersedes_window\n2026-12-01,100,C7,true,live\n2026-12-02,90,c7,no,\n', flight), [
      { date: '2026-12-01', impressions: 100, spend: null, clicks: null, completedViews: null, measurementWindow: 'c7', isFinal: true, supersedesWindow: 'live' },
      { date: '2026-12-02', impressions: 90, spend: null, clicks: null, completedViews: null, measurementWindow: 'c7', isFinal: false },
    ])
    assert.deepEqual(parseDeliveryReport([{ date: '2026-12-01', impressions: 5, measurementWindow: 'live', isFinal: false }], flight)[0]!.measurementWindow, 'live')
    const plain = parseDeliveryReport('date,impressions\n2026-12-01,100\n', flight)
    assert.deepEqual(plain, [{ date: '2026-12-01', impressions: 100, spend: null, clicks: null, completedViews: null }])
  })

  it('names the field and row of an unknown window, a bad is_final, a supersedes_window not narrower, and a report mixing windows', () => {
    const rows = rowErrorsOf([
      'date,impressions,measurement_window,is_final,supersedes_window',
      '2026-12-01,1,c5,,',
      '2026-12-02,1,c7,maybe,',
      '2026-12-03,1,c7,,c7',
      '2026-12-04,1,live,,',
      '2026-12-05,1,,true,',
      '2026-12-06,1,,,',
    ].join('\n'))
    assert.deepEqual(rows.map((issue) => [issue.row, issue.field]), [
      [2, 'measurementWindow'], [3, 'isFinal'], [4, 'supersedesWindow'], [5, 'measurementWindow'], [6, 'measurementWindow'], [6, 'isFinal'], [7, 'measurementWindow'],
    ])
    assert.match(rows[0]!.message, /live, c3, c7/)
    assert.match(rows[2]!.message, /narrower window than c7/)
    assert.match(rows[3]!.message, /is live but row 3 is c7; one report is one measurement window/)
  })
})

describe('TV buying: get_media_buy_delivery of flat-rate and windowed packages', () => {
  const buy = { media_buy_id: 'mb_tv', status: 'active', currency: 'USD' } as unknown as MediaBuyRow
  const pkg = (packageId: string, extra: Partial<MediaBuyPackageRow>) => ({ package_id: packageId, cpm: 25, paused: false, pricing_model: 'cpm', flat_rate: null, ...extra }) as unknown as MediaBuyPackageRow
  const row = (packageId: string, date: string, extra: Partial<PackageDeliveryRow>): PackageDeliveryRow => ({
    reservation_id: 1, package_id: packageId, delivery_date: date, impressions: 100, spend: 10, clicks: null, completed_views: null,
    measurement_window: null, is_final: null, supersedes_window: null, work_item_id: 7, ...extra,
  })

  it('reports flat_rate at the package\'s flat rate, and the window, finality and superseded window of its rows', () => {
    const delivery = deliveryOf({
      buy,
      packages: [pkg('p_flat', { pricing_model: 'flat_rate', flat_rate: 5000 }), pkg('p_cpm', {})],
      rows: [
        row('p_flat', '2026-12-01', { measurement_window: 'c7', is_final: true, supersedes_window: 'live' }),
        row('p_flat', '2026-12-02', { measurement_window: 'c7', is_final: true, supersedes_window: 'live' }),
        row('p_cpm', '2026-12-01', {}),
      ],
    }, false)
    const [flat, cpm] = delivery.by_package
    assert.deepEqual([flat!.pricing_model, flat!.rate, flat!.measurement_window, flat!.is_final, flat!.supersedes_window], ['flat_rate', 5000, 'c7', true, 'live'])
    assert.deepEqual([cpm!.pricing_model, cpm!.rate], ['cpm', 25])
    assert.ok(!('measurement_window' in cpm!) && !('is_final' in cpm!) && !('supersedes_window' in cpm!), 'rows without windows add nothing')
    assert.equal(delivery.pricing_model, 'cpm', 'a buy mixing models reads as cpm')
  })

  it('is not final while any row is not, and reads flat_rate for a buy of flat-rate packages only', () => {
    const delivery = deliveryOf({
      buy,
      packages: [pkg('p_flat', { pricing_model: 'flat_rate', flat_rate: 20000 })],
      rows: [row('p_flat', '2026-12-01', { measurement_window: 'live', is_final: true }), row('p_flat', '2026-12-02', { measurement_window: 'live', is_final: false })],
    }, false)
    assert.deepEqual([delivery.pricing_model, delivery.by_package[0]!.is_final, delivery.by_package[0]!.supersedes_window], ['flat_rate', false, undefined])
  })
})

describe('TV buying: the live report, then the C7 report of the same line (POST .../work-items/{id}/follow-up)', () => {
  const ACCOUNT = { brand: { domain: 'test.example' }, operator: 'test.example', sandbox: true }
  const ITEMS = '/inventory-sources/adcp-sandbox/modular/work-items'
  let ctx: McpTestContext
  let client: Awaited<ReturnType<McpTestContext['connect']>>

  before(async () => {
    ctx = await createMcpTestContext()
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', label: 'tv buyer', role: 'buyer', sandbox: true })
    client = await ctx.connect(key)
  })
  after(async () => ctx.close())

  /** A sandbox buy of the first product, booked at once, that reports to a webhook; its line's report item and days. */
  async function buyLine(idempotencyKey: string) {
    const created = await buyFirstProduct(client, ACCOUNT, {
      reporting_webhook: { url: 'http://127.0.0.1:9/tv-reports', reporting_frequency: 'daily', authentication: { schemes: ['HMAC-SHA256'], credentials: 'z'.repeat(32) } },
      idempotency_key: idempotencyKey,
    })
    const mediaBuyId = created.payload.media_buy_id as string
    assert.equal(typeof mediaBuyId, 'string', JSON.stringify(created.payload))
    const items = (await ctx.api('GET', `${ITEMS}?mediaBuyId=${mediaBuyId}&kind=UPLOAD_FINAL_REPORT`)).json().items as Array<{ id: string }>
    assert.equal(items.length, 1, JSON.stringify(items))
    const day = await lineDaysOf(ctx.db, mediaBuyId)
    const buyRow = await ctx.db.selectFrom('media_buy').select('id').where('media_buy_id', '=', mediaBuyId).executeTakeFirstOrThrow()
    return { mediaBuyId, buyRowId: buyRow.id, reportItemId: items[0]!.id, day }
  }

  const complete = (itemId: string, report: unknown) => ctx.api('POST', `${ITEMS}/${itemId}/complete`, { result: { report } })
  const followUp = (itemId: string, body?: unknown, headers?: Record<string, string>) => ctx.api('POST', `${ITEMS}/${itemId}/follow-up`, body, { ...(headers ? { headers } : {}) })
  const outboxOf = (buyRowId: number) => ctx.db.selectFrom('webhook_outbox').select(['operation_id', 'payload']).where('media_buy_row_id', '=', buyRowId).orderBy('id').execute()
  const refusal = (answer: { statusCode: number; body: string; json(): unknown }) => {
    const { error } = answer.json() as { error: { code: string; details?: { reason?: string; openWorkItemId?: string } } }
    return [answer.statusCode, error.code, error.details?.reason]
  }

  it('imports the live report, opens the next report item through the route, and the C7 report supersedes the live one with a window_update', async () => {
    const { mediaBuyId, buyRowId, reportItemId: liveItem, day } = await buyLine('tv-follow-up-0001')
    const live = await complete(liveItem, `date,impressions,measurement_window,is_final\n${day(0)},1000,live,false\n${day(1)},800,live,false`)
    assert.equal(live.statusCode, 200, live.body)

    const dueAt = new Date(Date.now() + 30 * 86_400_000).toISOString()
    const opened = await followUp(liveItem, { dueAt, notes: 'C7 from the measurement vendor' }, { 'idempotency-key': 'tv-follow-up-open-0001' })
    assert.equal(opened.statusCode, 201, opened.body)
    const { item, followsWorkItemId } = opened.json() as { item: { id: string; kind: string; status: string; resourceType: string; resourceId: string; mediaBuyId: string; dueAt: string; payload: Record<string, unknown>; requiredResultFields: string[]; title: string }; followsWorkItemId: string }
    const first = (await ctx.api('GET', `${ITEMS}/${liveItem}`)).json().item as { resourceType: string; resourceId: string; payload: Record<string, unknown> }
    assert.equal(followsWorkItemId, liveItem)
    assert.deepEqual([item.kind, item.status, item.resourceType, item.resourceId, item.mediaBuyId, item.dueAt], ['UPLOAD_FINAL_REPORT', 'OPEN', first.resourceType, first.resourceId, mediaBuyId, dueAt])
    assert.deepEqual(item.requiredResultFields, ['report'])
    assert.equal(item.payload.followsWorkItemId, liveItem)
    assert.deepEqual(item.payload.reportColumns, first.payload.reportColumns, 'the later report takes the same columns')
    assert.match(item.title, new RegExp(`after work item #${liveItem}`))
    const replay = await followUp(liveItem, { dueAt, notes: 'C7 from the measurement vendor' }, { 'idempotency-key': 'tv-follow-up-open-0001' })
    assert.equal(replay.json().item.id, item.id, 'the same Idempotency-Key answers with the same item')
    const events = (await ctx.api('GET', `${ITEMS}/${item.id}`)).json().events as Array<{ eventType: string; notes: string | null }>
    assert.deepEqual(events.map((event) => [event.eventType, event.notes]), [['CREATED', `Follows work item ${liveItem}: C7 from the measurement vendor`]])

    const c7 = await complete(item.id, `date,impressions,measurement_window,is_final,supersedes_window\n${day(0)},1400,C7,true,live\n${day(1)},1100,c7,true,live`)
    assert.equal(c7.statusCode, 200, c7.body)

    const stored = await ctx.db.selectFrom('delivery_row').select(['delivery_date', 'impressions', 'measurement_window', 'is_final', 'supersedes_window', 'work_item_id']).where('media_buy_id', '=', mediaBuyId).orderBy('delivery_date').execute()
    assert.deepEqual(stored.map((row) => [row.impressions, row.measurement_window, row.is_final, row.supersedes_window, String(row.work_item_id)]), [
      [1400, 'c7', true, 'live', item.id], [1100, 'c7', true, 'live', item.id],
    ])
    const rest = await ctx.api('GET', `/inventory-sources/adcp-sandbox/modular/delivery?mediaBuyId=${mediaBuyId}`)
    assert.equal(rest.json().totals.impressions, 2500, rest.body)
    const read = await callTool(client, 'get_media_buy_delivery', { media_buy_ids: [mediaBuyId] })
    const pkg = (read.payload.media_buy_deliveries as Array<{ by_package: Array<Record<string, unknown>> }>)[0]!.by_package[0]!
    assert.deepEqual([pkg.impressions, pkg.measurement_window, pkg.is_final, pkg.supersedes_window], [2500, 'c7', true, 'live'])

    const outbox = await outboxOf(buyRowId)
    const update = outbox.find((event) => event.operation_id === `media_buy_delivery.${mediaBuyId}.window_update.w${item.id}`)
    assert.ok(update, JSON.stringify(outbox.map((event) => event.operation_id)))
    const result = (JSON.parse(update.payload) as { result: { notification_type: string; media_buy_deliveries: Array<{ totals: { impressions: number } }> } }).result
    assert.deepEqual([result.notification_type, result.media_buy_deliveries[0]!.totals.impressions], ['window_update', 2500])

    // A correction of the C7 report is a third item of the line, opened the same way.
    const third = await followUp(item.id)
    assert.equal(third.statusCode, 201, third.body)
    assert.equal(third.json().item.payload.followsWorkItemId, item.id)
    assert.equal(third.json().item.dueAt, null, 'no due date unless one is given')
  })

  it('refuses another while the line has an open report item, naming that item (409 FOLLOW_UP_ALREADY_OPEN)', async () => {
    const { reportItemId, day } = await buyLine('tv-follow-up-0002')
    const whileOpen = await followUp(reportItemId, {})
    assert.deepEqual(refusal(whileOpen), [409, 'CONFLICT', 'FOLLOW_UP_ALREADY_OPEN'])
    assert.equal(whileOpen.json().error.details.openWorkItemId, reportItemId, 'the item itself still waits for its report')
    assert.equal((await complete(reportItemId, `date,impressions\n${day(0)},500`)).statusCode, 200)
    const next = await followUp(reportItemId)
    assert.equal(next.statusCode, 201, next.body)
    const again = await followUp(reportItemId)
    assert.deepEqual(refusal(again), [409, 'CONFLICT', 'FOLLOW_UP_ALREADY_OPEN'])
    assert.equal(again.json().error.details.openWorkItemId, next.json().item.id)
    assert.match(again.json().error.message, new RegExp(`Work item ${next.json().item.id} \\(UPLOAD_FINAL_REPORT\\) of this line is OPEN`))
    // Cancelling the open one lets the operator open the line's report again.
    assert.equal((await ctx.api('POST', `${ITEMS}/${next.json().item.id}/cancel`, { reason: 'opened by mistake' })).statusCode, 200)
    assert.equal((await followUp(reportItemId)).statusCode, 201)
  })

  it('opens one item when two operators ask at once (the reservation lock serialises them on PostgreSQL)', async () => {
    const { reportItemId, day } = await buyLine('tv-follow-up-0005')
    assert.equal((await complete(reportItemId, `date,impressions\n${day(0)},500`)).statusCode, 200)
    const answers = await Promise.all([1, 2, 3].map((n) => followUp(reportItemId, { notes: `operator ${n}` }, { 'idempotency-key': `tv-follow-up-race-${n}` })))
    assert.deepEqual(answers.map((answer) => answer.statusCode).sort(), [201, 409, 409], answers.map((answer) => answer.body).join('\n'))
    const open = (await ctx.api('GET', `${ITEMS}?kind=UPLOAD_FINAL_REPORT&resourceId=${(await ctx.api('GET', `${ITEMS}/${reportItemId}`)).json().item.resourceId}`)).json().items as unknown[]
    assert.equal(open.length, 1)
  })

  it('refuses a line whose buy was canceled: its booking is released (409 LINE_ENDED)', async () => {
    const { mediaBuyId, reportItemId, day } = await buyLine('tv-follow-up-0003')
    assert.equal((await complete(reportItemId, `date,impressions,measurement_window\n${day(0)},700,live`)).statusCode, 200)
    const canceled = await callTool(client, 'update_media_buy', { account: ACCOUNT, media_buy_id: mediaBuyId, canceled: true, cancellation_reason: 'brief changed', idempotency_key: 'tv-follow-up-cancel-0003' })
    assert.equal(canceled.isError, false, JSON.stringify(canceled.payload))
    const refused = await followUp(reportItemId)
    assert.deepEqual(refusal(refused), [409, 'CONFLICT', 'LINE_ENDED'])
    assert.match(refused.json().error.message, /is RELEASED: its line takes no further report/)
    const open = (await ctx.api('GET', `${ITEMS}?mediaBuyId=${mediaBuyId}&kind=UPLOAD_FINAL_REPORT`)).json().items as unknown[]
    assert.deepEqual(open, [], 'nothing was opened')
  })

  it('refuses an item of a kind done once per line (409 NO_FOLLOW_UP_FOR_KIND), an item on no booked line (409 NO_BOOKING_FOR_ITEM), an unknown item (404) and a bad dueAt (400)', async () => {
    const { mediaBuyId } = await buyLine('tv-follow-up-0004')
    const closed = (await ctx.api('GET', `${ITEMS}?mediaBuyId=${mediaBuyId}&status=COMPLETED,CANCELLED`)).json().items as Array<{ id: string; kind: string }>
    const trafficking = closed.find((candidate) => candidate.kind === 'TRAFFIC_TO_CADENT')
    assert.ok(trafficking, JSON.stringify(closed))
    const once = await followUp(trafficking.id)
    assert.deepEqual(refusal(once), [409, 'CONFLICT', 'NO_FOLLOW_UP_FOR_KIND'])
    assert.match(once.json().error.message, /is TRAFFIC_TO_CADENT, which is done once per line/)

    // No route opens a report item off a booked line; one left without a reservation is refused, not followed.
    const source = await ctx.db.selectFrom('inventory_source').select(['id', 'storefront_id']).where('source_id', '=', 'adcp-sandbox').executeTakeFirstOrThrow()
    const now = ctx.clock.now()
    const stray = await ctx.db.insertInto('work_item').values({
      storefront_id: source.storefront_id, inventory_source_id: source.id, module_row_id: null, kind: 'UPLOAD_FINAL_REPORT', status: 'COMPLETED',
      title: 'A report item on no line', payload: json({}), required_result_keys: json(['report']), created_by_type: 'SYSTEM', created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow()
    assert.deepEqual(refusal(await followUp(String(stray.id))), [409, 'CONFLICT', 'NO_BOOKING_FOR_ITEM'])

    assert.deepEqual(refusal(await followUp('999999999')), [404, 'NOT_FOUND', undefined])
    const badDue = await followUp(trafficking.id, { dueAt: 'next week' })
    assert.equal(badDue.statusCode, 400, badDue.body)
    assert.match(badDue.body, /dueAt/)
  })
})
