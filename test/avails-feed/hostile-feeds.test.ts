import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { after, before, beforeEach, describe, it } from 'node:test'
import ExcelJS from 'exceljs'
import { API_PREFIX, buildApp } from '../../src/http/app.ts'
import { spoolDirectory } from '../../src/http/feed-uploads.ts'
import type { TestContext } from '../helpers/context.ts'
import { watchEventLoop } from '../helpers/event-loop.ts'
import { availIds, clearFeedState, errorOf, FEED, feedOk, multipart, openFeedSourceContext, postCsv, upload } from './helpers.ts'

const header = 'Avail ID,Collection,Name,Start,End,Impressions,CPM'
const goodRow = (id: string) => `${id},CTV,Avail ${id},2026-12-01,2026-12-31,1000,20`

function wideCsv(columns: number, rows: number): string {
  const extra = Array.from({ length: columns - 7 }, (_, index) => `Extra ${index}`).join(',')
  const filler = Array.from({ length: columns - 7 }, (_, index) => `value-${index}`).join(',')
  const lines = [`${header},${extra}`]
  for (let index = 0; index < rows; index += 1) lines.push(`${goodRow(`w-${index}`)},${filler}`)
  return `${lines.join('\n')}\n`
}

describe('POST /inventory-sources/{sourceId}/modular/avails-feed: hostile feeds', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await openFeedSourceContext()
  })
  after(() => ctx.close())
  beforeEach(async () => {
    await clearFeedState(ctx)
  })

  it('refuses a 16,384-column CSV upload at its header with a short 400 naming the row and column, keeping nothing', async () => {
    const response = await upload(ctx, {}, { name: 'wide.csv', content: wideCsv(16_384, 20), type: 'text/csv' })

    const error = errorOf(response, 400)
    assert.equal(error.details?.reason, 'FEED_TOO_WIDE')
    assert.deepEqual(error.details?.rows, [{ row: 1, field: 'IW', message: 'more than 256 columns' }])
    assert.ok(response.body.length < 2000, `answered ${response.body.length} bytes`)
    assert.equal((await ctx.db.selectFrom('avails_preview').select('id').execute()).length, 0)
  })

  it('refuses a wide XLSX upload the same way', async () => {
    const workbook = new ExcelJS.Workbook()
    const sheet = workbook.addWorksheet('Avails')
    sheet.addRow([...header.split(','), ...Array.from({ length: 1000 }, (_, index) => `Extra ${index}`)])
    sheet.addRow(goodRow('x').split(','))
    const response = await upload(ctx, {}, { name: 'wide.xlsx', content: Buffer.from(await workbook.xlsx.writeBuffer()) })

    assert.equal(errorOf(response, 400).details?.reason, 'FEED_TOO_WIDE')
  })

  it('answers cells the database cannot store with row errors, never a 500, and commits nothing', async () => {
    const csv = [
      header,
      goodRow('ok'),
      'nul,CTV,Bad\u0000name,2026-12-01,2026-12-31,1000,20',
      'big-cpm,CTV,Dear,2026-12-01,2026-12-31,1000,10000000000',
      ' ,CTV,Blank id,2026-12-01,2026-12-31,1000,20',
    ].join('\n')
    const preview = feedOk(await postCsv(ctx, csv))
    assert.deepEqual(preview.errors.map(({ row, field }) => ({ row, field })), [
      { row: 3, field: 'name' },
      { row: 4, field: 'cpm' },
      { row: 5, field: 'availId' },
    ])
    assert.equal(preview.errorCount, 3)

    const commit = errorOf(await postCsv(ctx, csv, '?confirmed=true'), 400)
    assert.equal(commit.details?.reason, 'FEED_ROW_ERRORS')
    const json = errorOf(await ctx.api('POST', FEED, {
      confirmed: true,
      avails: [{ availId: 'j', collectionId: 'ctv', name: 'N', startTime: '2026-12-01', endTime: '2026-12-31', impressionsCapacity: 5, targeting: { market: 'Z\udc00A' } }],
    }), 400)
    // A JSON body is checked once at the edge: the answer names the field's path in the body.
    assert.deepEqual((json.details?.issues as Array<{ path: string }>).map(({ path }) => path), ['avails[0].targeting.market'])
    assert.deepEqual(await availIds(ctx), [])
  })

  it('keeps the preview answer near 1 MB however wide the echoed avails are, with exact counts', async () => {
    const filler = Array.from({ length: 40 }, () => 'x'.repeat(1000)).join(',')
    const extra = Array.from({ length: 40 }, (_, index) => `Note ${index}`).join(',')
    const lines = [`${header},${extra}`]
    for (let index = 0; index < 150; index += 1) lines.push(`${goodRow(`e-${index}`)},${filler}`)
    const response = await postCsv(ctx, lines.join('\n'))

    const preview = feedOk(response)
    assert.equal(preview.parsedAvailCount, 150)
    assert.equal(preview.availsTruncated, true)
    assert.ok(preview.avails.length > 0 && preview.avails.length < 30, `echoed ${preview.avails.length} avails`)
    assert.ok(response.body.length < 1.2 * 1024 * 1024, `answered ${response.body.length} bytes`)
  })

  it('keeps answering other requests while it reads a large upload', async () => {
    const lines = [header]
    for (let index = 0; index < 20_000; index += 1) lines.push(goodRow(`big-${index}`))
    // Warm up first: compiling the parser and the embedded database's code runs on background
    // threads whose CPU time the watch would count against the event loop.
    feedOk(await postCsv(ctx, `${lines.slice(0, 5000).join('\n')}\n`))
    const form = await multipart({}, { name: 'big.csv', content: `${lines.join('\n')}\n`, type: 'text/csv' })

    const loop = watchEventLoop()
    let healthAnswers = 0
    let uploading = true
    const feed = ctx.api('POST', FEED, form.payload, { headers: form.headers }).finally(() => {
      uploading = false
    })
    while (uploading) {
      const health = await ctx.app.inject({ method: 'GET', url: '/healthz' })
      assert.equal(health.statusCode, 200)
      healthAnswers += 1
      await new Promise((resolve) => setImmediate(resolve))
    }
    const hold = loop.stop()
    assert.equal(feedOk(await feed).parsedAvailCount, 20_000)
    assert.ok(healthAnswers > 10, `only ${healthAnswers} health checks were answered during the upload`)
    // CPU time between two event-loop turns: without yields the parse of each batch is one turn.
    assert.ok(hold.longestCpuMs < 250, `the event loop was held for ${Math.round(hold.longestCpuMs)} ms of CPU (${Math.round(hold.longestWallMs)} ms wall)`)
  })

  it('reads at most FEED_MAX_CONCURRENT feeds at once and refuses the next with 429 and Retry-After', async () => {
    const app = await buildApp({ services: ctx.services, feedMaxConcurrent: 1 })
    try {
      const url = `${API_PREFIX}${FEED}`
      const headers = { authorization: `Bearer ${ctx.key}`, 'content-type': 'text/csv' }
      // A slow upload holds the one slot until its body is complete.
      const body = new PassThrough()
      const slow = app.inject({ method: 'POST', url, headers, payload: body })
      body.write(`${header}\n`)
      // Its body is read only once it has been admitted: wait until the first chunk is taken.
      while (body.readableLength > 0) await new Promise((resolve) => setImmediate(resolve))

      const refused = await app.inject({ method: 'POST', url, headers, payload: `${header}\n${goodRow('b')}\n` })
      assert.equal(refused.statusCode, 429, refused.body)
      assert.equal(refused.headers['retry-after'], '5')
      assert.equal(refused.json().error.code, 'RATE_LIMITED')
      assert.equal(refused.json().error.details.reason, 'FEED_PARSES_BUSY')

      body.end(`${goodRow('a')}\n`)
      assert.equal((await slow).statusCode, 200)
      const next = await app.inject({ method: 'POST', url, headers, payload: `${header}\n${goodRow('c')}\n` })
      assert.equal(next.statusCode, 200, next.body)
      const products = await app.inject({ method: 'GET', url: `${API_PREFIX}/inventory-sources/retail-modular/modular/products`, headers })
      assert.equal(products.statusCode, 200, 'other routes are not gated')
    } finally {
      await app.close()
    }
  })

  it('removes spooled uploads of processes that are gone when it starts, and keeps those of live ones', async () => {
    const directory = spoolDirectory()
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
    const deadSpool = path.join(directory, `${gone.stdout}-abandoned`)
    const ownSpool = path.join(directory, `${process.pid}-in-flight`)
    writeFileSync(deadSpool, 'left by a crash')
    writeFileSync(ownSpool, 'still uploading')
    try {
      const app = await buildApp({ services: ctx.services })
      await app.close()
      assert.equal(existsSync(deadSpool), false)
      assert.equal(existsSync(ownSpool), true)
    } finally {
      rmSync(deadSpool, { force: true })
      rmSync(ownSpool, { force: true })
    }
  })
})
