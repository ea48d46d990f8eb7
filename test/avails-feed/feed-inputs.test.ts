import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import ExcelJS from 'exceljs'
import { buildApp, API_PREFIX } from '../../src/http/app.ts'
import type { TestContext } from '../helpers/context.ts'
import { availIds, clearFeedState, confirmItems, errorOf, FEED, feedOk, fixture, jsonAvail, multipart, openFeedSourceContext, postCsv, upload } from './helpers.ts'

/** A workbook as sellers send them: a notes sheet first, Date cells, Excel serials, thousands text, trailing blank rows. */
async function sellerWorkbook(): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook()
  const notes = workbook.addWorksheet('Read me')
  notes.addRow(['This workbook lists the December avails. Capacity is net of upstream bookings.'])
  const avails = workbook.addWorksheet('December Avails')
  avails.addRow(['Avail ID', 'Collection', 'Name', 'Flight Start', 'Flight End', 'Net Sellable Impressions', 'CPM ($)', 'Market', 'Screen', 'Sales Notes'])
  avails.addRow(['xmas-ctv', 'Connected TV', 'Christmas week CTV', new Date(Date.UTC(2026, 11, 20)), new Date(Date.UTC(2026, 11, 27)), 2_500_000, 24.5, 'Netherlands', 'CTV', 'Premium'])
  // Excel serial day numbers: 46357 is 2026-12-01, 46387 is 2026-12-31.
  avails.addRow(['dec-radio', 'Audio', 'December radio', 46357, 46387, '1,200,000', '$8.00', 'Netherlands', 'Radio', null])
  avails.getCell('D3').numFmt = 'dd/mm/yyyy'
  avails.getCell('E3').numFmt = 'dd/mm/yyyy'
  avails.getRow(6).getCell(1).value = ''
  avails.getRow(7).getCell(2).value = '   '
  return Buffer.from(await workbook.xlsx.writeBuffer())
}

describe('POST /inventory-sources/{sourceId}/modular/avails-feed: input formats', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await openFeedSourceContext()
  })
  after(() => ctx.close())
  beforeEach(async () => {
    await clearFeedState(ctx)
  })

  it('previews the seed JSON example without committing, with AVAIL_ENDED for the past July flight', async () => {
    const preview = feedOk(await ctx.api('POST', FEED, JSON.parse(fixture('seed-sports-week.json').toString('utf8'))))
    assert.equal(preview.previewOnly, true)
    assert.match(preview.previewId, /^avp_[0-9a-f]{24}$/)
    assert.equal(preview.inputSource, 'api')
    assert.equal(preview.parsedAvailCount, 1)
    assert.equal(preview.ingestedAvailCount, 0)
    assert.deepEqual(preview.diff, { created: 1, updated: 0, unchanged: 0, deactivated: 0 })
    assert.equal(preview.avails[0]?.upstreamBookedImpressions, 300_000, 'read from sourceMetadata as the seed sends it')
    assert.equal(preview.avails[0]?.impressionsCapacity, 1_500_000)
    assert.deepEqual(preview.warnings.map(({ row, code }) => ({ row, code })), [{ row: 1, code: 'AVAIL_ENDED' }])
    assert.equal(preview.expiresAt, '2026-11-23T12:00:00.000Z')
    assert.deepEqual(await availIds(ctx), [], 'a preview commits nothing')
  })

  it('commits JSON avails directly with confirmed: true', async () => {
    const response = feedOk(await ctx.api('POST', FEED, { confirmed: true, avails: [jsonAvail('a'), jsonAvail('b', { impressionsCapacity: '1,500,000' })] }))
    assert.equal(response.previewOnly, false)
    assert.equal(response.ingestedAvailCount, 2)
    assert.deepEqual(response.diff, { created: 2, updated: 0, unchanged: 0, deactivated: 0 })
    assert.equal(response.expiresAt, null)
    assert.deepEqual(await availIds(ctx), ['a', 'b'])
    const capacity = await ctx.db.selectFrom('avail').select('feed_capacity').where('avail_id', '=', 'b').executeTakeFirstOrThrow()
    assert.equal(capacity.feed_capacity, 1_500_000)
  })

  it('takes pasted CSV text in JSON as inputSource paste', async () => {
    const csv = 'Avail ID,Collection,Name,Start,End,Impressions\r\npaste-1,CTV,Pasted,2026-12-01,2026-12-31,"2,000"\r\n'
    const preview = feedOk(await ctx.api('POST', FEED, { csv }))
    assert.equal(preview.inputSource, 'paste')
    assert.equal(preview.avails[0]?.impressionsCapacity, 2000)
  })

  it('takes a raw text/csv body with its options as query parameters (BOM, semicolons, decimal commas, a blank line)', async () => {
    const committed = feedOk(await postCsv(ctx, fixture('european-semicolon.csv'), '?confirmed=true&inputSource=assistant'))
    assert.equal(committed.previewOnly, false)
    assert.equal(committed.inputSource, 'assistant')
    assert.equal(committed.parsedAvailCount, 3)
    assert.deepEqual(committed.errors, [])
    assert.deepEqual(await availIds(ctx), ['kids-2026-12', 'news-2026-12', 'sports-week-2026-07'])
    const news = committed.avails.find((avail) => avail.availId === 'news-2026-12')
    assert.equal(news?.cpm, 1234.5)
    assert.equal(news?.currency, 'EUR')
    assert.equal(news?.impressionsCapacity, 250_000)
    assert.equal(committed.avails.find((avail) => avail.availId === 'kids-2026-12')?.impressionsCapacity, 2_000_000)
    assert.deepEqual(committed.warnings.map(({ row, code }) => ({ row, code })), [{ row: 2, code: 'AVAIL_ENDED' }])
  })

  it('uploads a .csv file with US header spellings and a columnMapping form field', async () => {
    const preview = feedOk(await upload(ctx, { columnMapping: JSON.stringify({ 'Sales Notes': 'ignore' }) }, { name: 'avails.csv', content: fixture('us-header-spellings.csv'), type: 'text/csv' }))
    assert.equal(preview.inputSource, 'upload')
    assert.equal(preview.parsedAvailCount, 3)
    assert.deepEqual(preview.errors, [])
    const newYork = preview.avails.find((avail) => avail.availId === 'ctv-ny-q1')
    assert.equal(newYork?.impressionsCapacity, 1_500_000)
    assert.equal(newYork?.upstreamBookedImpressions, 300_000)
    assert.equal(newYork?.cpm, 22.5)
    assert.deepEqual(newYork?.targeting, { dma: 'New York' })
    assert.deepEqual(newYork?.sourceMetadata, {}, 'Sales Notes was mapped to ignore')
  })

  it('uploads an .xlsx workbook: the named sheet, Date cells, Excel serials, trailing blank rows', async () => {
    const workbook = await sellerWorkbook()
    const committed = feedOk(await upload(ctx, { sheet: 'December Avails', confirmed: 'true' }, { name: 'December.xlsx', content: workbook }))
    assert.equal(committed.parsedAvailCount, 2)
    assert.deepEqual(committed.errors, [])
    const [xmas, radio] = committed.avails
    assert.equal(xmas?.startTime, '2026-12-20T00:00:00.000Z')
    assert.equal(xmas?.endTime, '2026-12-27T23:59:59.000Z')
    assert.equal(xmas?.cpm, 24.5)
    assert.deepEqual(xmas?.targeting, { market: 'Netherlands', screen: 'CTV' })
    assert.deepEqual(xmas?.sourceMetadata, { salesNotes: 'Premium' })
    assert.equal(radio?.startTime, '2026-12-01T00:00:00.000Z')
    assert.equal(radio?.endTime, '2026-12-31T23:59:59.000Z')
    assert.equal(radio?.impressionsCapacity, 1_200_000)
    assert.deepEqual(await availIds(ctx), ['dec-radio', 'xmas-ctv'])
  })

  it('reads the first sheet of a workbook by default, and names the sheets when the sheet option is wrong', async () => {
    const workbook = await sellerWorkbook()
    const firstSheet = errorOf(await upload(ctx, { confirmed: 'true' }, { name: 'December.xlsx', content: workbook }), 400)
    assert.equal(firstSheet.details?.reason, 'FEED_ROW_ERRORS', 'the read-me sheet has no avail columns')
    assert.ok(firstSheet.details?.rows?.some((row) => row.row === 1 && row.field === 'availId'))
    const wrong = errorOf(await upload(ctx, { sheet: 'January' }, { name: 'December.xlsx', content: workbook }), 400)
    assert.match(wrong.message, /no worksheet named "January"; the workbook has "Read me", "December Avails"/)
    assert.deepEqual(await ctx.db.selectFrom('avails_preview').select('id').execute(), [], 'a request error leaves no preview')
  })

  it('detects an .xlsx upload by its content when the name says nothing, and refuses legacy .xls', async () => {
    const preview = feedOk(await upload(ctx, { sheet: 'december avails' }, { name: 'upload.bin', content: await sellerWorkbook() }))
    assert.equal(preview.parsedAvailCount, 2)
    const legacy = errorOf(await upload(ctx, {}, { name: 'old.xls', content: 'whatever' }), 400)
    assert.match(legacy.message, /legacy \.xls/)
  })

  it('shows every row error of a messy feed in a preview that opens no work item and cannot be committed', async () => {
    const preview = feedOk(await upload(ctx, {}, { name: 'errors.csv', content: fixture('row-errors.csv') }))
    assert.equal(preview.parsedAvailCount, 12)
    assert.equal(preview.workItemId, null)
    const fields = preview.errors.map(({ row, field }) => `${row}:${field}`)
    for (const expected of ['3:impressionsCapacity', '4:impressionsCapacity', '5:endTime', '6:availId', '7:name', '8:impressionsCapacity', '9:startTime', '10:endTime', '11:cpm', '12:availId', '13:impressionsCapacity']) {
      assert.ok(fields.includes(expected), `${expected} in ${fields.join(', ')}`)
    }
    assert.match(preview.errors.find((error) => error.row === 6)!.message, /already used on row 2/)
    assert.equal(preview.errorCount, preview.errors.length)
    assert.deepEqual(preview.diff, { created: 1, updated: 0, unchanged: 0, deactivated: 0 }, 'the diff covers the good rows')
    assert.deepEqual(await confirmItems(ctx), [])

    const refused = errorOf(await ctx.api('POST', FEED, { confirmed: true, previewId: preview.previewId }), 400)
    assert.equal(refused.details?.reason, 'FEED_ROW_ERRORS')
    assert.equal(refused.details?.rows?.length, preview.errorCount)
  })

  it('commits nothing when any row of a confirmed feed is bad, listing every row error (atomic)', async () => {
    feedOk(await ctx.api('POST', FEED, { confirmed: true, avails: [jsonAvail('keep', { impressionsCapacity: 10 })] }))
    const avails = [
      jsonAvail('keep', { impressionsCapacity: 99 }),
      jsonAvail('new-good'),
      jsonAvail('negative', { impressionsCapacity: -1 }),
      jsonAvail('fraction', { impressionsCapacity: 10.5 }),
      jsonAvail('backwards', { startTime: '2026-12-31', endTime: '2026-12-01' }),
      jsonAvail('new-good'),
      'not an object',
    ]
    const failed = errorOf(await ctx.api('POST', FEED, { confirmed: true, avails }), 400)
    assert.equal(failed.code, 'VALIDATION_ERROR')
    assert.equal(failed.details?.reason, 'FEED_ROW_ERRORS')
    assert.deepEqual(
      [...new Set(failed.details?.rows?.map((row) => row.row))],
      [3, 4, 5, 6, 7],
    )
    assert.deepEqual(await availIds(ctx), ['keep'], 'nothing of the feed was written')
    const kept = await ctx.db.selectFrom('avail').select('feed_capacity').executeTakeFirstOrThrow()
    assert.equal(kept.feed_capacity, 10)
    assert.equal((await ctx.db.selectFrom('avails_preview_row').select('position').execute()).length, 0)
  })

  it('refuses a bad envelope with 400 issues, not row errors', async () => {
    const typo = errorOf(await ctx.api('POST', FEED, { avails: [], confirm: true }), 400)
    assert.match(typo.message, /unknown option\(s\): confirm/)
    const both = errorOf(await ctx.api('POST', FEED, { avails: [jsonAvail('a')], csv: 'x' }), 400)
    assert.match(both.message, /either avails or csv/)
    const badMapping = errorOf(await ctx.api('POST', FEED, { avails: [jsonAvail('a')], columnMapping: { Foo: 'nonsense' } }), 400)
    assert.match(badMapping.message, /columnMapping\.Foo/)
    const nothing = errorOf(await ctx.api('POST', FEED, {}), 400)
    assert.match(nothing.message, /no feed/)
    const previewIdOnly = errorOf(await ctx.api('POST', FEED, { previewId: 'avp_x' }), 400)
    assert.match(previewIdOnly.message, /confirmed: true/)
  })

  it('takes feeds far above the global body limit, and answers 413 above the feed limit', async () => {
    const rows = Array.from({ length: 12_000 }, (_, index) => `big-${index},CTV,Big avail number ${index} with a long descriptive name,2026-12-01,2026-12-31,1000`)
    const csv = `Avail ID,Collection,Name,Start,End,Impressions\n${rows.join('\n')}\n`
    assert.ok(csv.length > 1024 * 1024)
    const preview = feedOk(await postCsv(ctx, csv))
    assert.equal(preview.parsedAvailCount, 12_000)
    assert.equal(preview.avails.length, 100)
    assert.equal(preview.availsTruncated, true)

    const small = await buildApp({ services: ctx.services, feedBodyLimitBytes: 4096 })
    try {
      const headers = { authorization: `Bearer ${ctx.key}` }
      const url = `${API_PREFIX}${FEED}`
      const tooBig = await small.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'text/csv' }, payload: csv })
      assert.equal(tooBig.statusCode, 413, tooBig.body)
      assert.equal(tooBig.json().error.code, 'PAYLOAD_TOO_LARGE')
      const form = await multipart({}, { name: 'big.csv', content: csv })
      const tooBigFile = await small.inject({ method: 'POST', url, headers: { ...headers, ...form.headers }, payload: form.payload })
      assert.equal(tooBigFile.statusCode, 413, tooBigFile.body)
    } finally {
      await small.close()
    }
  })

  it('replays a multipart upload under the same Idempotency-Key and refuses another file under it', async () => {
    const file = { name: 'a.csv', content: 'Avail ID,Collection,Name,Start,End,Impressions\nidem,CTV,Idem,2026-12-01,2026-12-31,5\n' }
    const first = feedOk(await upload(ctx, {}, file, FEED, { 'idempotency-key': 'upload-1' }))
    const again = await upload(ctx, {}, file, FEED, { 'idempotency-key': 'upload-1' })
    assert.equal(again.headers['idempotent-replayed'], 'true')
    assert.equal(again.json().previewId, first.previewId)
    const other = errorOf(await upload(ctx, {}, { ...file, content: `${file.content}idem-2,CTV,Two,2026-12-01,2026-12-31,5\n` }, FEED, { 'idempotency-key': 'upload-1' }), 409)
    assert.equal(other.details?.reason, 'IDEMPOTENCY_KEY_REUSED')
  })
})
