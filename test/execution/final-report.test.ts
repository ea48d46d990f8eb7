import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { parseDeliveryReport } from '../../src/modules/delivery/parse-report.ts'
import { isStorefrontError, type RowIssue } from '../../src/shared/errors.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { complete, createDemo, DEMO, errorOf, finalize, itemOfKind, ok, projectionOf, reserve, stage } from './helpers.ts'

function rowErrors(report: unknown): RowIssue[] {
  try {
    parseDeliveryReport(report)
  } catch (error) {
    assert.ok(isStorefrontError(error))
    assert.equal(error.code, 'VALIDATION_ERROR')
    assert.equal(error.details?.reason, 'REPORT_ROW_ERRORS')
    return error.details!.rows!
  }
  assert.fail('expected row errors')
}

describe('parseDeliveryReport', () => {
  it('reads CSV with header spellings, thousands separators and optional columns, sorted by date', () => {
    const rows = parseDeliveryReport('Date,Impressions,Spend,Clicks,Completed Views,Campaign\n2026-12-02,"120,000",3360.50,12,90000,x\n2026-12-01,100000,2800,,,x\n')
    assert.deepEqual(rows, [
      { date: '2026-12-01', impressions: 100_000, spend: 2800, clicks: null, completedViews: null },
      { date: '2026-12-02', impressions: 120_000, spend: 3360.5, clicks: 12, completedViews: 90_000 },
    ])
  })

  it('reads semicolon CSV with decimal commas', () => {
    assert.deepEqual(parseDeliveryReport('day;imps;cost\n2026-12-01;1.200.000;33600,75\n'), [
      { date: '2026-12-01', impressions: 1_200_000, spend: 33600.75, clicks: null, completedViews: null },
    ])
  })

  it('reads JSON rows', () => {
    assert.deepEqual(parseDeliveryReport([{ date: '2026-12-01', impressions: 5, completed_views: 4 }]), [
      { date: '2026-12-01', impressions: 5, spend: null, clicks: null, completedViews: 4 },
    ])
  })

  it('reports every bad row as {row, field, message}, numbered as a spreadsheet shows them', () => {
    const errors = rowErrors('date,impressions,spend,clicks\n2026-12-01,100,1,1\n2026-02-30,100,,\n2026-12-03,-5,,\n2026-12-01,10,-1,1.5\n,7,,\n')
    assert.deepEqual(errors, [
      { row: 3, field: 'date', message: 'must be a date (YYYY-MM-DD)' },
      { row: 4, field: 'impressions', message: 'must be a whole number of at least 0' },
      { row: 5, field: 'date', message: 'repeats the date of row 2; send one row per day' },
      { row: 5, field: 'spend', message: 'must be a number of at least 0' },
      { row: 5, field: 'clicks', message: 'must be a whole number of at least 0' },
      { row: 6, field: 'date', message: 'is required' },
    ])
  })

  it('refuses a row outside the flight it is given, numbered as the operator sees it', () => {
    try {
      parseDeliveryReport([{ date: '2026-12-31', impressions: 1 }, { date: '2027-01-01', impressions: 1 }], { firstDate: '2026-12-01', lastDate: '2026-12-31' })
      assert.fail('expected row errors')
    } catch (error) {
      assert.ok(isStorefrontError(error))
      assert.deepEqual(error.details?.rows, [{ row: 2, field: 'date', message: 'is outside the line\'s flight (2026-12-01 to 2026-12-31)' }])
    }
  })

  it('refuses a missing column, an empty report and a non-report', () => {
    assert.deepEqual(rowErrors('date,spend\n2026-12-01,4\n').map((error) => [error.row, error.field]), [[1, 'impressions']])
    assert.deepEqual(rowErrors('date,impressions\n').map((error) => error.message), ['has no rows'])
    assert.deepEqual(rowErrors([]).map((error) => error.message), ['has no rows'])
    assert.deepEqual(rowErrors(42).map((error) => error.field), ['report'])
    assert.deepEqual(rowErrors([{ date: '2026-12-01' }, 'x']).map((error) => [error.row, error.field]), [[1, 'impressions'], [2, 'row']])
  })
})

describe('UPLOAD_FINAL_REPORT and GET .../modular/delivery', () => {
  let ctx: TestContext
  beforeEach(async () => {
    ctx = await createTestContext()
    await createDemo(ctx)
    await reserve(ctx, {})
    ok(await finalize(ctx))
    ok(await complete(ctx, (await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')).id, { result: { cadentCampaignId: 'CAD-1' } }))
  })
  afterEach(async () => ctx.close())

  it('refuses a bad report with 400 and every row error, and imports nothing', async () => {
    const item = await itemOfKind(ctx, 'UPLOAD_FINAL_REPORT')
    const error = errorOf(await complete(ctx, item.id, { result: { report: 'date,impressions\n2026-12-01,10\nlater,5\n2026-12-03,x\n' } }), 400)
    assert.equal(error.details?.reason, 'REPORT_ROW_ERRORS')
    assert.deepEqual(error.details?.rows, [
      { row: 3, field: 'date', message: 'must be a date (YYYY-MM-DD)' },
      { row: 4, field: 'impressions', message: 'must be a whole number of at least 0' },
    ])
    assert.equal((await ctx.db.selectFrom('delivery_row').select('id').execute()).length, 0)
    assert.equal((await itemOfKind(ctx, 'UPLOAD_FINAL_REPORT')).status, 'OPEN')
  })

  it('refuses rows dated outside the line\'s flight (December 2026) with row errors, and imports nothing', async () => {
    const item = await itemOfKind(ctx, 'UPLOAD_FINAL_REPORT')
    // The test clock is 2026-11-22: a row of today would otherwise count as last24hImpressions.
    const report = 'date,impressions\n2026-11-22,5000\n2026-12-01,10\n2026-12-31,20\n2027-01-01,30\n'
    const error = errorOf(await complete(ctx, item.id, { result: { report } }), 400)
    assert.equal(error.details?.reason, 'REPORT_ROW_ERRORS')
    assert.deepEqual(error.details?.rows, [
      { row: 2, field: 'date', message: 'is outside the line\'s flight (2026-12-01 to 2026-12-31)' },
      { row: 5, field: 'date', message: 'is outside the line\'s flight (2026-12-01 to 2026-12-31)' },
    ])
    assert.equal((await ctx.db.selectFrom('delivery_row').select('id').execute()).length, 0)
    assert.equal((await itemOfKind(ctx, 'UPLOAD_FINAL_REPORT')).status, 'OPEN')
    const status = ok<{ packages: { last24hImpressions: number } }>(await ctx.api('GET', `/inventory-sources/${DEMO}/status`))
    assert.equal(status.packages.last24hImpressions, 0)
  })

  it('imports the CSV as the media buy\'s delivery: totals, daily rows and lines', async () => {
    const item = await itemOfKind(ctx, 'UPLOAD_FINAL_REPORT')
    ok(await complete(ctx, item.id, { result: { report: 'date,impressions,spend,clicks,completedViews\n2026-12-01,100000,2800,10,80000\n2026-12-02,150000,4200.25,,120000\n' } }))
    const delivery = ok<Record<string, unknown>>(await ctx.api('GET', `/inventory-sources/${DEMO}/modular/delivery?mediaBuyId=mb_123`))
    assert.deepEqual(delivery.totals, { impressions: 250_000, spend: 7000.25, clicks: 10, completedViews: 200_000, days: 2 })
    assert.deepEqual(delivery.daily, [
      { date: '2026-12-01', impressions: 100_000, spend: 2800, clicks: 10, completedViews: 80_000 },
      { date: '2026-12-02', impressions: 150_000, spend: 4200.25, clicks: null, completedViews: 120_000 },
    ])
    const lines = delivery.lines as Record<string, unknown>[]
    assert.equal(lines.length, 1)
    assert.equal(lines[0]!.availId, 'kijk-ctv-prime-2026-12')
    assert.equal(lines[0]!.firstDate, '2026-12-01')
    errorOf(await ctx.api('GET', `/inventory-sources/${DEMO}/modular/delivery?mediaBuyId=mb_unknown`), 404)
    errorOf(await ctx.api('GET', `/inventory-sources/${DEMO}/modular/delivery`), 400)
    // /status counts what was delivered yesterday and today (UTC dates).
    ctx.clock.set('2026-12-02T12:00:00.000Z')
    const status = ok<{ packages: { activeCount: number; last24hImpressions: number } }>(await ctx.api('GET', `/inventory-sources/${DEMO}/status`))
    assert.deepEqual(status.packages, { activeCount: 1, pausedCount: 0, last24hImpressions: 250_000 })
    ctx.clock.set('2026-12-03T12:00:00.000Z')
    const nextDay = ok<{ packages: { last24hImpressions: number } }>(await ctx.api('GET', `/inventory-sources/${DEMO}/status`))
    assert.equal(nextDay.packages.last24hImpressions, 150_000)
  })

  it('shows IMPORT_FINAL_REPORT as RUNTIME_INPUTS_REQUIRED when a BOOKED line ended without a report and no item is open', async () => {
    const item = await itemOfKind(ctx, 'UPLOAD_FINAL_REPORT')
    assert.equal(stage(await projectionOf(ctx), 'IMPORT_FINAL_REPORT'), 'HITL_PENDING')
    ok(await ctx.api('POST', `/inventory-sources/${DEMO}/modular/work-items/${item.id}/cancel`, { reason: 'will upload later' }))
    assert.equal(stage(await projectionOf(ctx), 'IMPORT_FINAL_REPORT'), 'READY')
    ctx.clock.set('2027-01-02T00:00:00.000Z')
    const projection = await projectionOf(ctx)
    assert.equal(stage(projection, 'IMPORT_FINAL_REPORT'), 'RUNTIME_INPUTS_REQUIRED')
    assert.match(projection.lifecycleSummary.find((row) => row.stage === 'IMPORT_FINAL_REPORT')!.reason!, /final report/)
  })

  it('leaves IMPORT_FINAL_REPORT READY once the report is imported after the flight', async () => {
    ctx.clock.set('2027-01-01T10:00:00.000Z')
    const item = await itemOfKind(ctx, 'UPLOAD_FINAL_REPORT')
    assert.equal(item.dueAt, '2027-01-01T23:59:59.000Z')
    ok(await complete(ctx, item.id, { result: { report: [{ date: '2026-12-31', impressions: 250000 }] } }))
    assert.equal(stage(await projectionOf(ctx), 'IMPORT_FINAL_REPORT'), 'READY')
  })
})
