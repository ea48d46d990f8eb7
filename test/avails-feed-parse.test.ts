import assert from 'node:assert/strict'
import fs, { createReadStream, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { describe, it } from 'node:test'
import ExcelJS from 'exceljs'
import { AvailInputSchema, NormalizedAvailSchema, noTvTerms } from '../src/modules/avails-feed/avail.schema.ts'
import type { NormalizedAvail, RowError } from '../src/modules/avails-feed/avail.schema.ts'
import { feedColumnsOf, parseAvailsFeed, parseAvailsFeedAll } from '../src/modules/avails-feed/parse-feed.ts'
import type { FeedInput, ParseOptions } from '../src/modules/avails-feed/parse-feed.ts'
import { isStorefrontError } from '../src/shared/errors.ts'
import { watchEventLoop } from './helpers/event-loop.ts'

const fixtures = new URL('./fixtures/avails/', import.meta.url)
const fixturePath = (name: string) => new URL(name, fixtures)
// The seed's July 2026 avail has ended by this date.
const now = new Date('2026-11-22T00:00:00.000Z')
const options: ParseOptions = { now }

/** The seed's example avail (public guide, step 2), normalized. */
const seedAvail: NormalizedAvail = {
  availId: 'sports-week-2026-07',
  collectionId: 'connected-tv',
  collectionName: 'Connected TV',
  collectionDescription: null,
  name: 'Sports week CTV impressions',
  channel: null,
  startTime: '2026-07-01T00:00:00.000Z',
  endTime: '2026-07-31T23:59:59.000Z',
  impressionsCapacity: 1_500_000,
  upstreamBookedImpressions: 300_000,
  cpm: 22,
  currency: 'USD',
  ...noTvTerms(),
  targeting: { market: 'South Africa', screen: 'CTV' },
  sourceMetadata: { publisher: 'Example Network', upstreamBookedImpressions: 300_000 },
}

function csv(text: string): FeedInput {
  return { kind: 'csv', text }
}

function errorAt(errors: RowError[], row: number, field: string): RowError {
  const found = errors.find((error) => error.row === row && error.field === field)
  assert.ok(found, `expected an error on row ${row}, field ${field}; got ${JSON.stringify(errors)}`)
  return found
}

const header = 'Avail ID,Collection,Name,Start Date,End Date,Impressions,CPM'

describe('parseAvailsFeed', () => {
  describe('JSON rows', () => {
    it('normalizes the seed example and reads upstreamBookedImpressions from sourceMetadata', async () => {
      const body = JSON.parse(readFileSync(fixturePath('seed-sports-week.json'), 'utf8')) as { avails: unknown[] }

      const feed = await parseAvailsFeedAll({ kind: 'rows', rows: body.avails }, options)

      assert.deepEqual(feed.errors, [])
      assert.deepEqual(feed.avails, [seedAvail])
      assert.equal(feed.parsedAvailCount, 1)
      assert.ok(NormalizedAvailSchema.safeParse(feed.avails[0]).success)
      assert.ok(AvailInputSchema.safeParse(body.avails[0]).success, 'the published input schema accepts the seed row')
    })

    it('warns AVAIL_ENDED for the seed July 2026 avail when now is 2026-11-22, without blocking it', async () => {
      const body = JSON.parse(readFileSync(fixturePath('seed-sports-week.json'), 'utf8')) as { avails: unknown[] }

      const feed = await parseAvailsFeedAll({ kind: 'rows', rows: body.avails }, options)

      assert.equal(feed.avails.length, 1)
      assert.deepEqual(
        feed.warnings.map(({ row, availId, code }) => ({ row, availId, code })),
        [{ row: 1, availId: 'sports-week-2026-07', code: 'AVAIL_ENDED' }],
      )
    })

    it('does not warn AVAIL_ENDED while the flight is still running', async () => {
      const body = JSON.parse(readFileSync(fixturePath('seed-sports-week.json'), 'utf8')) as { avails: unknown[] }

      const feed = await parseAvailsFeedAll({ kind: 'rows', rows: body.avails }, { now: new Date('2026-07-15T00:00:00Z') })

      assert.deepEqual(feed.warnings, [])
    })

    it('prefers a top-level upstreamBookedImpressions over the one in sourceMetadata', async () => {
      const row = { ...seedAvail, upstreamBookedImpressions: 100, sourceMetadata: { upstreamBookedImpressions: 300_000 } }

      const feed = await parseAvailsFeedAll({ kind: 'rows', rows: [row] }, options)

      assert.equal(feed.avails[0]?.upstreamBookedImpressions, 100)
    })

    it('numbers JSON rows from 1 and reports non-object rows and wrong targeting types', async () => {
      const rows = [seedAvail, 'not an avail', { ...seedAvail, availId: 'other', targeting: ['CTV'] }]

      const feed = await parseAvailsFeedAll({ kind: 'rows', rows }, options)

      assert.equal(feed.avails.length, 1)
      assert.match(errorAt(feed.errors, 2, 'row').message, /JSON object/)
      assert.match(errorAt(feed.errors, 3, 'targeting').message, /object/)
    })

    it('understands spreadsheet-style keys from an assistant and keeps unknown keys as source metadata', async () => {
      const row = {
        'Avail ID': 'a-1',
        collection: 'Connected TV',
        name: 'Row from an assistant',
        start_date: '2026-12-01',
        end_date: '2026-12-31',
        Impressions: '1,500,000',
        rate: '$12.50',
        'targeting.market': 'NL',
        publisher: 'Example Network',
      }

      const feed = await parseAvailsFeedAll({ kind: 'rows', rows: [row] }, options)

      assert.deepEqual(feed.errors, [])
      assert.deepEqual(feed.avails[0], {
        availId: 'a-1',
        collectionId: 'connected-tv',
        collectionName: 'Connected TV',
        collectionDescription: null,
        name: 'Row from an assistant',
        channel: null,
        startTime: '2026-12-01T00:00:00.000Z',
        endTime: '2026-12-31T23:59:59.000Z',
        impressionsCapacity: 1_500_000,
        upstreamBookedImpressions: 0,
        cpm: 12.5,
        currency: 'USD',
        ...noTvTerms(),
        targeting: { market: 'NL' },
        sourceMetadata: { publisher: 'Example Network' },
      })
    })

    it('reports a missing name instead of defaulting it, and a missing collection', async () => {
      const { name: _name, ...withoutName } = seedAvail
      const { collectionId: _id, collectionName: _collection, ...withoutCollection } = seedAvail

      const feed = await parseAvailsFeedAll({ kind: 'rows', rows: [withoutName, { ...withoutCollection, availId: 'b' }] }, options)

      assert.equal(feed.avails.length, 0)
      assert.equal(errorAt(feed.errors, 1, 'name').message, 'name is required')
      assert.match(errorAt(feed.errors, 2, 'collectionId').message, /collectionId or collectionName is required/)
    })

    it('defaults collectionName to collectionId and collectionId to the slug of collectionName', async () => {
      const { collectionName: _name, ...idOnly } = seedAvail
      const { collectionId: _id, ...nameOnly } = { ...seedAvail, availId: 'b', collectionName: 'Télé Sports & News' }

      const feed = await parseAvailsFeedAll({ kind: 'rows', rows: [idOnly, nameOnly] }, options)

      assert.deepEqual(feed.errors, [])
      assert.equal(feed.avails[0]?.collectionName, 'connected-tv')
      assert.equal(feed.avails[1]?.collectionId, 'tele-sports-news')
    })

    it('reports an empty avails array as a feed error', async () => {
      const feed = await parseAvailsFeedAll({ kind: 'rows', rows: [] }, options)

      assert.equal(feed.parsedAvailCount, 0)
      assert.equal(errorAt(feed.errors, 1, 'row').message, 'The feed has no avails')
    })
  })

  describe('CSV', () => {
    it('reads a European export: BOM, semicolons, 1.500.000, 22,50, day-first dates, CRLF and blank rows', async () => {
      const feed = await parseAvailsFeedAll(
        { kind: 'csv-file', stream: createReadStream(fixturePath('european-semicolon.csv')) },
        options,
      )

      assert.deepEqual(feed.errors, [])
      assert.equal(feed.parsedAvailCount, 3)
      const [sports, news, kids] = feed.avails
      assert.deepEqual(sports, { ...seedAvail, channel: 'CTV', upstreamBookedImpressions: 0, sourceMetadata: { publisher: 'Example Network' } })
      assert.equal(news?.name, 'Evening news; prime')
      assert.equal(news?.impressionsCapacity, 250_000)
      assert.equal(news?.cpm, 1234.5)
      assert.equal(news?.currency, 'EUR')
      // After a blank line the row numbers still match the sheet: kids is on row 5.
      assert.equal(kids?.impressionsCapacity, 2_000_000)
      assert.equal(kids?.cpm, 9.5)
      assert.equal(kids?.endTime, '2026-12-15T23:59:59.000Z')
      assert.deepEqual(kids?.sourceMetadata, {})
      assert.deepEqual(feed.warnings.map(({ row, code }) => ({ row, code })), [{ row: 2, code: 'AVAIL_ENDED' }])
    })

    it('reports row numbers as the spreadsheet shows them, counting blank lines', async () => {
      const text = `${header}\n\nx-1,CTV,Blank line above,2026-12-01,2026-12-31,-1,1\n`

      const feed = await parseAvailsFeedAll(csv(text), options)

      errorAt(feed.errors, 3, 'impressionsCapacity')
    })

    it('reads header spellings, thousands separators, currency symbols, offsets and unambiguous dates', async () => {
      const feed = await parseAvailsFeedAll(
        { kind: 'csv-file', stream: readFileSync(fixturePath('us-header-spellings.csv')) },
        options,
      )

      assert.deepEqual(feed.errors, [])
      const [newYork, losAngeles, sanFrancisco] = feed.avails
      assert.deepEqual(newYork, {
        availId: 'ctv-ny-q1',
        collectionId: 'ctv-premium',
        collectionName: 'Premium CTV',
        collectionDescription: 'Top shows, all screens',
        name: 'NY premium CTV',
        channel: null,
        startTime: '2027-01-01T00:00:00.000Z',
        endTime: '2027-03-31T23:59:59.000Z',
        impressionsCapacity: 1_500_000,
        upstreamBookedImpressions: 300_000,
        cpm: 22.5,
        currency: 'USD',
        ...noTvTerms(),
        targeting: { dma: 'New York' },
        sourceMetadata: { salesNotes: 'Quoted "note", with comma' },
      })
      assert.equal(losAngeles?.startTime, '2027-01-01T16:00:00.000Z')
      assert.equal(losAngeles?.endTime, '2027-03-31T23:59:59.000Z')
      assert.equal(sanFrancisco?.collectionId, 'san-francisco-ctv')
      assert.equal(sanFrancisco?.startTime, '2027-01-13T00:00:00.000Z', '13/01/2027 can only be day-first')
      assert.equal(sanFrancisco?.endTime, '2027-03-31T23:59:59.000Z', '03/31/2027 can only be month-first')
      assert.equal(sanFrancisco?.impressionsCapacity, 1_500_000, '1.5E+06 as Excel writes it')
      assert.equal(sanFrancisco?.cpm, null)
    })

    it('detects tab separators and reads space-grouped thousands', async () => {
      const text = 'availId\tcollectionId\tname\tstartTime\tendTime\timpressionsCapacity\n' +
        't-1\tctv\tTabbed\t2026-12-01T00:00:00Z\t2026-12-02T00:00:00Z\t1 500 000\n'

      const feed = await parseAvailsFeedAll(csv(text), options)

      assert.deepEqual(feed.errors, [])
      assert.equal(feed.avails[0]?.impressionsCapacity, 1_500_000)
      assert.equal(feed.avails[0]?.endTime, '2026-12-02T00:00:00.000Z', 'an explicit midnight time is kept')
    })

    it('reports every row error with its row number and field', async () => {
      const feed = await parseAvailsFeedAll({ kind: 'csv-file', stream: createReadStream(fixturePath('row-errors.csv')) }, options)

      assert.deepEqual(feed.avails.map((avail) => avail.availId), ['a-1'])
      assert.equal(feed.parsedAvailCount, 12)
      assert.match(errorAt(feed.errors, 3, 'impressionsCapacity').message, /must not be negative/)
      assert.match(errorAt(feed.errors, 4, 'impressionsCapacity').message, /whole number/)
      assert.match(errorAt(feed.errors, 5, 'endTime').message, /must be after startTime/)
      assert.equal(errorAt(feed.errors, 6, 'availId').message, 'availId "a-1" is already used on row 2')
      assert.equal(errorAt(feed.errors, 7, 'name').message, 'name is required')
      assert.equal(errorAt(feed.errors, 8, 'impressionsCapacity').message, 'impressionsCapacity is required')
      assert.match(errorAt(feed.errors, 9, 'startTime').message, /is not a date: "next monday"/)
      assert.match(errorAt(feed.errors, 10, 'endTime').message, /ambiguous: "07\/01\/2027"/)
      assert.match(errorAt(feed.errors, 11, 'cpm').message, /must not be negative/)
      assert.equal(errorAt(feed.errors, 12, 'availId').message, 'availId is required')
      assert.match(errorAt(feed.errors, 13, 'impressionsCapacity').message, /must be a number, got "lots"/)
      assert.equal(feed.errors.length, 11)
    })

    it('reads a lone separator before three digits by the file convention, and never shrinks a count to a decimal', async () => {
      const commaFile = `${header}\nc-1,CTV,N,2026-12-01,2026-12-31,"1,000","12.500"\nc-2,CTV,N,2026-12-01,2026-12-31,1.000,1\n`
      const semicolonFile = `${header.replaceAll(',', ';')}\ns-1;CTV;N;2026-12-01;2026-12-31;1.000;12,500\ns-2;CTV;N;2026-12-01;2026-12-31;1,000;1\n`

      const comma = await parseAvailsFeedAll(csv(commaFile), options)
      const semicolon = await parseAvailsFeedAll(csv(semicolonFile), options)

      assert.deepEqual(comma.avails.map(({ impressionsCapacity, cpm }) => ({ impressionsCapacity, cpm })), [{ impressionsCapacity: 1000, cpm: 12.5 }])
      assert.match(errorAt(comma.errors, 3, 'impressionsCapacity').message, /ambiguous: "1.000"/)
      assert.deepEqual(semicolon.avails.map(({ impressionsCapacity, cpm }) => ({ impressionsCapacity, cpm })), [{ impressionsCapacity: 1000, cpm: 12.5 }])
      assert.match(errorAt(semicolon.errors, 3, 'impressionsCapacity').message, /ambiguous: "1,000"/)
    })

    it('treats an end date equal to the start date as a one-day flight, and an end time equal to the start as an error', async () => {
      const text = `${header}\nday,CTV,One day,2026-12-01,2026-12-01,1,1\nzero,CTV,Zero length,2026-12-01T10:00:00Z,2026-12-01T10:00:00Z,1,1\n`

      const feed = await parseAvailsFeedAll(csv(text), options)

      assert.equal(feed.avails[0]?.endTime, '2026-12-01T23:59:59.000Z')
      errorAt(feed.errors, 3, 'endTime')
    })

    it('rejects an unknown currency code and a cpm symbol that contradicts the currency column', async () => {
      const text = 'Avail ID,Collection,Name,Start,End,Capacity,CPM,Currency\n' +
        'c-1,CTV,Bad code,2026-12-01,2026-12-31,1,1,dollars\n' +
        'c-2,CTV,Contradiction,2026-12-01,2026-12-31,1,€5,USD\n' +
        'c-3,CTV,Symbol implies,2026-12-01,2026-12-31,1,£5,\n'

      const feed = await parseAvailsFeedAll(csv(text), options)

      assert.match(errorAt(feed.errors, 2, 'currency').message, /3-letter/)
      assert.match(errorAt(feed.errors, 3, 'cpm').message, /EUR but currency is USD/)
      assert.equal(feed.avails[0]?.currency, 'GBP')
    })

    it('reports a header without a required column once, on row 1, and reads no rows', async () => {
      const text = 'Avail ID,Collection,Name,Start Date,End Date\nx,CTV,No capacity,2026-12-01,2026-12-31\n'

      const feed = await parseAvailsFeedAll(csv(text), options)

      assert.equal(feed.parsedAvailCount, 0)
      assert.equal(feed.errors.length, 1)
      assert.match(errorAt(feed.errors, 1, 'impressionsCapacity').message, /No column for impressionsCapacity/)
    })

    it('reports two equally specific columns for one field, and lets a specific spelling beat a generic one', async () => {
      const ambiguous = await parseAvailsFeedAll(
        csv('Avail ID,Collection,Name,Start Date,Flight Start,End,Impressions\nx,CTV,N,2026-12-01,2026-12-01,2026-12-31,1\n'),
        options,
      )
      assert.match(errorAt(ambiguous.errors, 1, 'startTime').message, /"Start Date" \(D\) and "Flight Start" \(E\)/)

      const resolved = await parseAvailsFeedAll(
        csv('ID,Avail ID,Collection,Name,Start,End,Impressions,Capacity Impressions\n7,x,CTV,N,2026-12-01,2026-12-31,1,2\n'),
        options,
      )
      assert.deepEqual(resolved.errors, [])
      assert.equal(resolved.avails[0]?.availId, 'x')
      assert.equal(resolved.avails[0]?.impressionsCapacity, 2)
      assert.deepEqual(resolved.avails[0]?.sourceMetadata, { id: '7', impressions: '1' })
    })

    it('keeps both of two identically named free-form columns', async () => {
      const feed = await parseAvailsFeedAll(csv(`${header},Notes,Market,notes\nx,CTV,N,2026-12-01,2026-12-31,1,1,first,NL,second\n`), options)

      assert.deepEqual(feed.errors, [])
      assert.deepEqual(feed.avails[0]?.sourceMetadata, { notes: 'first', notes2: 'second' })
      assert.deepEqual(feed.avails[0]?.targeting, { market: 'NL' })
    })

    it('lets columnMapping name the field of any header, overriding built-in spellings', async () => {
      const text = 'Line Name,Flight,Net Imps,From,To,Rate,Spot Rate,Zone,Internal,Spot\n' +
        'L-1,CTV Sports,"1,000",2026-12-01,2026-12-31,list price,"$9.99",North,do not publish,Sports spots\n'
      const columnMapping = {
        'line name': 'availId',
        Flight: 'collectionName',
        'NET_IMPS': 'impressions_capacity',
        From: 'Start Date',
        To: 'endTime',
        Rate: 'sourceMetadata.listRate',
        'Spot Rate': 'cpm',
        zone: 'targeting.zone',
        Internal: 'ignore',
        Spot: 'name',
      }

      const feed = await parseAvailsFeedAll(csv(text), { ...options, columnMapping })

      assert.deepEqual(feed.errors, [])
      assert.deepEqual(feed.avails[0], {
        availId: 'L-1',
        collectionId: 'ctv-sports',
        collectionName: 'CTV Sports',
        collectionDescription: null,
        name: 'Sports spots',
        channel: null,
        startTime: '2026-12-01T00:00:00.000Z',
        endTime: '2026-12-31T23:59:59.000Z',
        impressionsCapacity: 1000,
        upstreamBookedImpressions: 0,
        cpm: 9.99,
        currency: 'USD',
        ...noTvTerms(),
        targeting: { zone: 'North' },
        sourceMetadata: { listRate: 'list price' },
      })
    })

    it('throws a validation error for a columnMapping target that is not a field', async () => {
      await assert.rejects(
        parseAvailsFeedAll(csv(`${header}\n`), { ...options, columnMapping: { Name: 'nickname' } }),
        (error) => isStorefrontError(error) && error.code === 'VALIDATION_ERROR' && error.details?.issues?.[0]?.path === 'columnMapping.Name',
      )
    })

    it('reports a value in a column without a header, and keeps a symbol-only header as metadata', async () => {
      const feed = await parseAvailsFeedAll(
        csv(`#,${header},,\n1,x,CTV,N,2026-12-01,2026-12-31,1,1,,\n2,y,CTV,N,2026-12-01,2026-12-31,1,1,,stray\n`),
        options,
      )

      assert.deepEqual(feed.avails[0]?.sourceMetadata, { '#': '1' })
      assert.equal(errorAt(feed.errors, 3, 'row').message, 'Column J has a value but no header')
      assert.equal(feed.errors.length, 1)
    })

    it('reports an unclosed quote on the row where reading stopped', async () => {
      const feed = await parseAvailsFeedAll(csv(`${header}\nx,CTV,N,2026-12-01,2026-12-31,1,1\ny,CTV,"Broken,2026-12-01\n`), options)

      assert.equal(feed.avails.length, 1)
      assert.match(errorAt(feed.errors, 3, 'row').message, /quoted value is never closed/)
    })

    it('reports an empty file and a header without rows', async () => {
      const empty = await parseAvailsFeedAll(csv('\ufeff\r\n\r\n'), options)
      assert.match(errorAt(empty.errors, 1, 'row').message, /empty/)

      const headerOnly = await parseAvailsFeedAll(csv(`${header}\r\n,,,,,,\r\n`), options)
      assert.match(errorAt(headerOnly.errors, 2, 'row').message, /no avail rows/)
    })

    it('stops with a clear error past maxRows', async () => {
      const rows = Array.from({ length: 5 }, (_, index) => `a-${index},CTV,N,2026-12-01,2026-12-31,1,1`)

      const feed = await parseAvailsFeedAll(csv([header, ...rows].join('\n')), { ...options, maxRows: 3 })

      assert.equal(feed.parsedAvailCount, 3)
      assert.equal(feed.avails.length, 3)
      assert.match(errorAt(feed.errors, 5, 'row').message, /more than 3 avail rows/)
    })

    it('releases the source stream when the consumer stops early', async () => {
      async function* endlessFile() {
        yield `${header}\n`
        for (let index = 0; ; index += 1) yield `a-${index},CTV,N,2026-12-01,2026-12-31,1,1\n`
      }
      const source = Readable.from(endlessFile())
      // Stopping an iteration destroys the stream with an AbortError, so wait for 'close'.
      const closed = new Promise((resolve) => source.once('close', resolve))

      for await (const parsed of parseAvailsFeed({ kind: 'csv-file', stream: source }, options)) {
        assert.equal(parsed.row, 2)
        break
      }

      await closed
      assert.equal(source.destroyed, true)
    })

    it('streams a 100,000-row CSV file, reading ahead only a little of the source', async () => {
      const totalRows = 100_000
      let linesProduced = 0
      async function* generatedFile() {
        yield `${header}\r\n`
        for (let first = 0; first < totalRows; first += 1000) {
          let batch = ''
          for (let index = first; index < first + 1000; index += 1) {
            batch += `avail-${index},Connected TV,Avail ${index},2027-01-01,2027-01-31,"${(index + 1) * 1000}",12.50\r\n`
          }
          linesProduced += 1000
          yield batch
        }
      }

      let linesProducedAtFirstRow = -1
      let avails = 0
      let lastRow = 0
      const rows = parseAvailsFeed({ kind: 'csv-file', stream: Readable.from(generatedFile()) }, { ...options, maxRows: 150_000 })
      for await (const parsed of rows) {
        if (linesProducedAtFirstRow === -1) linesProducedAtFirstRow = linesProduced
        assert.deepEqual(parsed.errors, [])
        if (parsed.avail) avails += 1
        lastRow = parsed.row
      }

      assert.equal(avails, totalRows)
      assert.equal(lastRow, totalRows + 1)
      assert.ok(linesProducedAtFirstRow < totalRows / 2, `read ${linesProducedAtFirstRow} lines before the first row`)
    })
  })

  describe('XLSX', () => {
    async function buildWorkbook(): Promise<Buffer> {
      const workbook = new ExcelJS.Workbook()
      const avails = workbook.addWorksheet('Avails')
      avails.addRow(['Avail ID', 'Collection', 'Name', 'Start Date', 'End Date', 'Impressions', 'CPM', 'Market', 'Screen', 'Publisher'])
      avails.addRow([
        'sports-week-2026-07',
        'Connected TV',
        { richText: [{ text: 'Sports week ' }, { font: { bold: true }, text: 'CTV impressions' }] },
        new Date(Date.UTC(2026, 6, 1)),
        new Date(Date.UTC(2026, 6, 31)),
        1_500_000,
        22,
        'South Africa',
        'CTV',
        'Example Network',
      ])
      // Serial day numbers (unformatted and date-formatted) and formulas with cached results.
      avails.addRow([1001, 'Connected TV', 'Serial dates', 46204, 46234, { formula: 'F2*2', result: 3_000_000 }, { formula: 'G2/2', result: 11 }, 'ZA'])
      avails.getCell('E3').numFmt = 'dd/mm/yyyy'
      avails.addRow(['late-night', 'Connected TV', 'Timed', new Date(Date.UTC(2026, 11, 1, 22, 30)), new Date(Date.UTC(2026, 11, 2, 2, 0)), '1,000', 5])
      avails.addRow(['broken', 'Connected TV', 'Error cells', { error: '#REF!' }, 46234, { formula: 'VLOOKUP(A1,B:B,2)', result: { error: '#N/A' } }, 1])
      // Trailing rows that look empty but exist in the file.
      avails.getRow(8).getCell(1).value = ''
      avails.getRow(9).getCell(2).value = '   '
      avails.getRow(10).getCell(3).value = null
      avails.getRow(10).getCell(3).numFmt = '0.00'

      const july = workbook.addWorksheet('July')
      july.addRow(['availId', 'collectionId', 'name', 'startTime', 'endTime', 'impressionsCapacity'])
      july.addRow(['j-1', 'ctv', 'July only', '2026-07-01', '2026-07-31', 5])
      return Buffer.from(await workbook.xlsx.writeBuffer())
    }

    it('reads the first sheet: Date cells, serials, formula results, rich text, and trailing blank rows', async () => {
      const feed = await parseAvailsFeedAll({ kind: 'xlsx', data: await buildWorkbook() }, options)

      assert.equal(feed.parsedAvailCount, 4)
      assert.deepEqual(feed.avails[0], { ...seedAvail, upstreamBookedImpressions: 0, sourceMetadata: { publisher: 'Example Network' } })
      const serial = feed.avails[1]
      assert.equal(serial?.availId, '1001')
      assert.equal(serial?.startTime, '2026-07-01T00:00:00.000Z')
      assert.equal(serial?.endTime, '2026-07-31T23:59:59.000Z')
      assert.equal(serial?.impressionsCapacity, 3_000_000)
      assert.equal(serial?.cpm, 11)
      const timed = feed.avails[2]
      assert.equal(timed?.startTime, '2026-12-01T22:30:00.000Z')
      assert.equal(timed?.endTime, '2026-12-02T02:00:00.000Z')
      assert.equal(timed?.impressionsCapacity, 1000)
      assert.equal(errorAt(feed.errors, 5, 'startTime').message, 'startTime holds the spreadsheet error #REF!')
      assert.equal(errorAt(feed.errors, 5, 'impressionsCapacity').message, 'impressionsCapacity is a formula without a usable result (an error such as #N/A, or never calculated in Excel)')
      assert.equal(feed.errors.length, 2)
    })

    it('reads the sheet named by the option, case-insensitively, from a stream', async () => {
      const buffer = await buildWorkbook()
      const chunks = Array.from({ length: Math.ceil(buffer.length / 1000) }, (_, index) => buffer.subarray(index * 1000, (index + 1) * 1000))

      const feed = await parseAvailsFeedAll({ kind: 'xlsx', data: Readable.from(chunks), sheet: 'july' }, options)

      assert.deepEqual(feed.errors, [])
      assert.deepEqual(feed.avails.map((avail) => avail.availId), ['j-1'])
    })

    it('reads every part of a valid workbook while the disk is slow', async (t) => {
      // exceljs's forward-pass reader spooled worksheets to temp files and, when those writes
      // were slow (a loaded CI machine), lost xl/workbook.xml, the last entry (exceljs#3064).
      const createWriteStream = fs.createWriteStream
      t.after(() => {
        fs.createWriteStream = createWriteStream
      })
      fs.createWriteStream = ((...args: Parameters<typeof createWriteStream>) => {
        const file = createWriteStream(...args)
        return new Writable({
          write: (chunk, encoding, done) => void setTimeout(() => file.write(chunk, encoding, done), 20),
          final: (done) => void file.end(done),
        })
      }) as typeof createWriteStream

      const feed = await parseAvailsFeedAll({ kind: 'xlsx', data: await buildWorkbook() }, options)

      assert.deepEqual(feed.avails.map((avail) => avail.availId), ['sports-week-2026-07', '1001', 'late-night'])
    })

    it('reads a workbook file whole and up to its header, and leaves the file closed', async (t) => {
      const directory = mkdtempSync(join(tmpdir(), 'xlsx-'))
      t.after(() => rmSync(directory, { recursive: true, force: true }))
      const path = join(directory, 'feed.xlsx')
      // Large enough that a half-read entry cannot have read the file to its end.
      const workbook = new ExcelJS.Workbook()
      const sheet = workbook.addWorksheet('Avails')
      sheet.addRow(['availId', 'collectionId', 'name', 'startTime', 'endTime', 'impressionsCapacity'])
      for (let row = 1; row <= 20_000; row++) sheet.addRow([`a-${row}`, 'ctv', `Avail ${row * 7919}`, '2026-07-01', '2026-07-31', row])
      workbook.addWorksheet('July').addRow(['j-1'])
      await workbook.xlsx.writeFile(path)
      const openOnFile = () => readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === path
        } catch {
          return false // the directory's own descriptor, gone once listed
        }
      }).length

      const [feed, columns] = await Promise.all([
        parseAvailsFeedAll({ kind: 'xlsx', data: { path } }, options),
        feedColumnsOf({ kind: 'xlsx', data: { path } }),
      ])
      await new Promise((resolve) => setImmediate(resolve))

      assert.equal(feed.avails.length, 20_000)
      assert.equal(columns[0]?.field, 'availId')
      assert.equal(openOnFile(), 0)
    })

    it('rejects a missing sheet name and a file that is not a workbook', async () => {
      const buffer = await buildWorkbook()
      await assert.rejects(
        parseAvailsFeedAll({ kind: 'xlsx', data: buffer, sheet: 'August' }, options),
        (error) => isStorefrontError(error) && /no worksheet named "August"; the workbook has "Avails", "July"/.test(error.message),
      )
      for (const notAWorkbook of [Buffer.from('Avail ID,Name\n'), buffer.subarray(0, buffer.length / 2)]) {
        await assert.rejects(
          parseAvailsFeedAll({ kind: 'xlsx', data: notAWorkbook }, options),
          (error) => isStorefrontError(error) && error.code === 'VALIDATION_ERROR' && /not a readable .xlsx/.test(error.message),
        )
      }
    })

    it('passes a failing upload stream error through instead of blaming the file', async () => {
      const failingUpload = new Readable({
        read() {
          this.destroy(new Error('client aborted the upload'))
        },
      })

      await assert.rejects(parseAvailsFeedAll({ kind: 'xlsx', data: failingUpload }, options), /client aborted the upload/)
    })
  })

  it('gives the same normalized avail for the seed row as JSON, CSV and XLSX', async () => {
    const fromJson = await parseAvailsFeedAll({ kind: 'rows', rows: [seedAvail] }, options)
    const csvText =
      'availId,collectionId,collectionName,name,startTime,endTime,impressionsCapacity,cpm,currency,targeting.market,targeting.screen,sourceMetadata.publisher,sourceMetadata.upstreamBookedImpressions\n' +
      'sports-week-2026-07,connected-tv,Connected TV,Sports week CTV impressions,2026-07-01,2026-07-31,1500000,22,USD,South Africa,CTV,Example Network,300000\n'
    const fromCsv = await parseAvailsFeedAll(csv(csvText), options)

    const workbook = new ExcelJS.Workbook()
    const sheet = workbook.addWorksheet('Feed')
    for (const line of csvText.trim().split('\n')) sheet.addRow(line.split(','))
    const fromXlsx = await parseAvailsFeedAll({ kind: 'xlsx', data: Buffer.from(await workbook.xlsx.writeBuffer()) }, options)

    assert.deepEqual(fromJson.avails, [seedAvail])
    // Spreadsheet cells are text, so sourceMetadata keeps the text the seller wrote.
    const asText = { ...seedAvail, sourceMetadata: { publisher: 'Example Network', upstreamBookedImpressions: '300000' } }
    assert.deepEqual(fromCsv.avails, [asText])
    assert.deepEqual(fromXlsx.avails, [asText])
  })
})

describe('parseAvailsFeed: hostile cells and shapes', () => {
  const row = 'a-1,CTV,Name,2026-12-01,2026-12-31,1000,20'

  async function xlsx(rows: unknown[][]): Promise<Buffer> {
    const workbook = new ExcelJS.Workbook()
    const sheet = workbook.addWorksheet('Avails')
    for (const cells of rows) sheet.addRow(cells)
    return Buffer.from(await workbook.xlsx.writeBuffer())
  }

  async function refusal(input: FeedInput): Promise<{ message: string; details: Record<string, unknown> | undefined }> {
    try {
      await parseAvailsFeedAll(input, options)
    } catch (error) {
      assert.ok(isStorefrontError(error), String(error))
      assert.equal(error.statusCode, 400)
      return { message: error.message, details: error.details }
    }
    assert.fail('expected the feed to be refused')
  }

  it('reports U+0000 in a CSV cell as a row error naming the row and field, in fields and metadata alike', async () => {
    const feed = await parseAvailsFeedAll(csv(`${header},Notes\n${row},fine\na-2,CTV,Bad\u0000name,2026-12-01,2026-12-31,1000,20,x\na-3,CTV,Name,2026-12-01,2026-12-31,1000,20,bad\u0000note\n`), options)

    assert.deepEqual(feed.avails.map((avail) => avail.availId), ['a-1'])
    assert.match(errorAt(feed.errors, 3, 'name').message, /U\+0000/)
    assert.match(errorAt(feed.errors, 4, 'sourceMetadata.notes').message, /U\+0000/)
    assert.equal(feed.errors.length, 2)
  })

  it('reports a header cell with U+0000 as a header error naming the column', async () => {
    const feed = await parseAvailsFeedAll(csv(`${header},No\u0000tes\n${row},x\n`), options)

    assert.equal(feed.parsedAvailCount, 0)
    assert.match(errorAt(feed.errors, 1, 'H').message, /header of column H .*U\+0000/)
  })

  it('reports U+0000 and lone surrogates in JSON fields as row errors, nested ones included', async () => {
    const base = { collectionId: 'ctv', name: 'N', startTime: '2026-12-01', endTime: '2026-12-31', impressionsCapacity: 5 }
    const fromJson = await parseAvailsFeedAll({
      kind: 'rows',
      rows: [
        { ...base, availId: 'j-\udc00' },
        { ...base, availId: 'j-2', targeting: { market: ['NL', 'Z\u0000A'] } },
        { ...base, availId: 'j-3', sourceMetadata: { 'k\u0000ey': 1 } },
        { ...base, availId: 'j-4', notes: 'ok \ud83d\ude00 emoji' },
      ],
    }, options)
    assert.match(errorAt(fromJson.errors, 1, 'availId').message, /surrogate/)
    assert.match(errorAt(fromJson.errors, 2, 'targeting.market[1]').message, /U\+0000/)
    assert.match(errorAt(fromJson.errors, 3, 'sourceMetadata').message, /key .*U\+0000/)
    assert.equal(fromJson.errors.length, 3)
    assert.deepEqual(fromJson.avails.map((avail) => avail.sourceMetadata), [{ notes: 'ok \ud83d\ude00 emoji' }], 'a whole surrogate pair is fine')
  })

  it('reports a cpm beyond numeric(14,4) and an overflowing number as row errors', async () => {
    const feed = await parseAvailsFeedAll(csv(`${header}\na-1,CTV,N,2026-12-01,2026-12-31,1000,10000000000\na-2,CTV,N,2026-12-01,2026-12-31,1000,1e400\na-3,CTV,N,2026-12-01,2026-12-31,1e400,20\na-4,CTV,N,2026-12-01,2026-12-31,1000,9999999999.99\n`), options)

    assert.match(errorAt(feed.errors, 2, 'cpm').message, /at most 9999999999\.9999/)
    assert.match(errorAt(feed.errors, 3, 'cpm').message, /too large/)
    assert.match(errorAt(feed.errors, 4, 'impressionsCapacity').message, /too large/)
    assert.equal(feed.errors.length, 3)
    assert.deepEqual(feed.avails.map((avail) => avail.cpm), [9_999_999_999.99])
  })

  it('keeps the exact digits of a long numeric id in CSV, and refuses an XLSX or JSON number whose digits are already lost', async () => {
    const fromCsv = await parseAvailsFeedAll(csv(`${header}\n9007199254740993,CTV,N,2026-12-01,2026-12-31,1000,20\n`), options)
    assert.deepEqual(fromCsv.avails.map((avail) => avail.availId), ['9007199254740993'])

    const workbook = await xlsx([header.split(','), [Number('9007199254740993'), 'CTV', 'N', '2026-12-01', '2026-12-31', 1000, 20], [123456789, 'CTV', 'N', '2026-12-01', '2026-12-31', 1000, 20]])
    const fromXlsx = await parseAvailsFeedAll({ kind: 'xlsx', data: workbook }, options)
    assert.match(errorAt(fromXlsx.errors, 2, 'availId').message, /too large to keep its exact digits; write ids as text/)
    assert.equal(fromXlsx.errors.length, 1)
    assert.deepEqual(fromXlsx.avails.map((avail) => avail.availId), ['123456789'])

    const fromJson = await parseAvailsFeedAll({ kind: 'rows', rows: [{ availId: 2 ** 60, collectionId: 'ctv', name: 'N', startTime: '2026-12-01', endTime: '2026-12-31', impressionsCapacity: 5 }] }, options)
    assert.match(errorAt(fromJson.errors, 1, 'availId').message, /exact digits/)
  })

  it('reports whitespace-only and invisible ids as row errors', async () => {
    const base = { name: 'N', startTime: '2026-12-01', endTime: '2026-12-31', impressionsCapacity: 5 }
    const feed = await parseAvailsFeedAll({
      kind: 'rows',
      rows: [
        { ...base, availId: '   ', collectionId: 'ctv' },
        { ...base, availId: '\u200b\u200b', collectionId: 'ctv' },
        { ...base, availId: 'ok', collectionId: '\u200b', collectionName: 'x' },
        { ...base, availId: 'a\u0007b', collectionId: 'ctv' },
      ],
    }, options)

    assert.match(errorAt(feed.errors, 1, 'availId').message, /required/)
    assert.match(errorAt(feed.errors, 2, 'availId').message, /no visible characters/)
    assert.match(errorAt(feed.errors, 3, 'collectionId').message, /no visible characters/)
    assert.match(errorAt(feed.errors, 4, 'availId').message, /control character/)
    assert.equal(feed.errors.length, 4)
  })

  it('refuses a CSV wider than 256 columns at its header, naming the row and first column too many', async () => {
    const wide = `${header},${Array.from({ length: 300 }, (_, index) => `extra${index}`).join(',')}\n${row}\n`
    const { message, details } = await refusal(csv(wide))

    assert.match(message, /Row 1 has 307 columns; a feed may have at most 256 \(column IW/)
    assert.equal(details?.reason, 'FEED_TOO_WIDE')
    assert.deepEqual(details?.rows, [{ row: 1, field: 'IW', message: 'more than 256 columns' }])
  })

  it('refuses a data row wider than 256 columns, but not trailing empty separators', async () => {
    const trailing = await parseAvailsFeedAll(csv(`${header}\n${row}${','.repeat(400)}\n`), options)
    assert.deepEqual(trailing.errors, [])

    const { details } = await refusal(csv(`${header}\n${row}\n${row.replace('a-1', 'a-2')},${'x,'.repeat(300)}x\n`))
    assert.deepEqual(details?.rows, [{ row: 3, field: 'IW', message: 'more than 256 columns' }])
  })

  it('refuses an XLSX row wider than 256 columns', async () => {
    const workbook = await xlsx([[...header.split(','), ...Array.from({ length: 260 }, (_, index) => `extra${index}`)], row.split(',')])
    const { details } = await refusal({ kind: 'xlsx', data: workbook })
    assert.deepEqual(details?.rows, [{ row: 1, field: 'IW', message: 'more than 256 columns' }])
  })

  it('reports a JSON avail with more than 256 keys as a row error', async () => {
    const metadata = Object.fromEntries(Array.from({ length: 300 }, (_, index) => [`k${index}`, index]))
    const feed = await parseAvailsFeedAll({ kind: 'rows', rows: [{ availId: 'j', collectionId: 'ctv', name: 'N', startTime: '2026-12-01', endTime: '2026-12-31', impressionsCapacity: 5, sourceMetadata: metadata }] }, options)
    assert.deepEqual(feed.errors, [{ row: 1, field: 'row', message: 'The avail has 306 fields (targeting and sourceMetadata included); at most 256' }])
  })

  it('reports a cell longer than 32,767 characters as a row error naming its field', async () => {
    const feed = await parseAvailsFeedAll(csv(`${header},Notes\n${row},${'n'.repeat(40_000)}\n`), options)
    assert.deepEqual(feed.errors, [{ row: 2, field: 'sourceMetadata.notes', message: 'sourceMetadata.notes has 40000 characters; a cell may have at most 32767' }])
  })

  it('gives the event loop a turn while it parses a large in-memory CSV', async () => {
    const lines = [header]
    for (let index = 0; index < 60_000; index += 1) lines.push(`a-${index},CTV,Avail number ${index},2026-12-01,2026-12-31,${1000 + index},20`)
    const text = `${lines.join('\n')}\n`
    let parsed = 0
    const loop = watchEventLoop()
    let hold
    try {
      for await (const entry of parseAvailsFeed(csv(text), options)) if (entry.avail) parsed += 1
    } finally {
      hold = loop.stop()
    }
    assert.equal(parsed, 60_000)
    // Without the yields the whole parse (seconds of CPU) is one turn; with them about 10 ms.
    assert.ok(hold.longestCpuMs < 250, `the event loop was held for ${Math.round(hold.longestCpuMs)} ms of CPU (${Math.round(hold.longestWallMs)} ms wall)`)
  })
})
