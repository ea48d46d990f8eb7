import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import ExcelJS from 'exceljs'
import type { Page } from 'playwright-core'
import { chromiumMissing, seriousViolations, startConsoleHarness, type ConsoleHarness } from './harness.ts'

const DEMO = 'talpa-cadent-demo'
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }

function day(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10)
}

/** An avails export with a header row (spreadsheet row 1); `impressions3` is the third row's capacity. */
function availsCsv(impressions3: string): string {
  return [
    'Avail ID,Collection,Name,Channel,Start Date,End Date,Impressions,CPM,Currency,Market',
    `console-ctv-prime,Connected TV,Prime time CTV,CTV,${day(2)},${day(40)},"2,000,000",20,EUR,Netherlands`,
    `console-ctv-late,Connected TV,Late night CTV,CTV,${day(2)},${day(40)},${impressions3},12,EUR,Netherlands`,
    '',
  ].join('\n')
}

async function callTool(client: Client, name: string, args: Record<string, unknown>): Promise<{ isError: boolean; payload: Record<string, unknown> }> {
  const result = await client.callTool({ name, arguments: args })
  const payload = (result.structuredContent ?? JSON.parse((result.content as Array<{ text: string }>)[0]!.text)) as Record<string, unknown>
  return { isError: result.isError === true, payload }
}

async function noSeriousViolations(page: Page, what: string): Promise<void> {
  assert.deepEqual(await seriousViolations(page), [], `axe on ${what}`)
}

/**
 * The judged walk through the whole modular lifecycle (issue 13 "How it is judged"): sign in with the
 * printed link, create the demo source, upload a feed with one bad row and see the error at its row
 * and column, fix and confirm it, buy through /mcp as a buyer agent, complete the trafficking item
 * from the queue page, upload the final report and see the delivery chart; every page checked by axe.
 */
describe('the operator console runs the modular lifecycle end to end in Chromium', { skip: chromiumMissing }, () => {
  let h: ConsoleHarness
  let page: Page
  let consoleErrors: string[]
  let buyerKey: string
  let buyer: Client
  let mediaBuyId: string

  before(async () => {
    h = await startConsoleHarness()
    ;({ page, consoleErrors } = await h.newPage())
  })
  after(async () => {
    await buyer?.close().catch(() => {})
    await h?.close()
  })

  it('signs in with the link npm start printed', async () => {
    await page.goto(h.signInLink)
    await page.getByRole('button', { name: 'Continue to the console' }).click()
    await page.waitForURL(/\/console\/sources$/)
    await noSeriousViolations(page, 'the empty sources page')
  })

  it('creates the Cadent demo and shows its readiness board with the lifecycle pipeline', async () => {
    await page.getByRole('button', { name: 'Create or reset the Cadent demo' }).click()
    await page.waitForURL(new RegExp(`/console/sources/${DEMO}$`))
    assert.match(await page.getByRole('status').innerText(), /Cadent demo source talpa-cadent-demo created/)
    const stages = await page.locator('ol.pipeline li .stage-name').allInnerTexts()
    assert.ok(stages.includes('INGEST_AVAILS') && stages.includes('TRAFFIC_CAMPAIGN'), stages.join(', '))
    await noSeriousViolations(page, 'the readiness board')

    // Setup fields come from the contract; enums are selects. Saving goes through the module config workflow.
    const adType = page.getByLabel(/^Ad type/)
    assert.deepEqual(await adType.locator('option').allInnerTexts(), ['(choose)', 'VIDEO', 'AUDIO', 'DISPLAY'])
    await adType.selectOption('VIDEO')
    await page.getByRole('button', { name: 'Save setup of cadent-trafficking' }).click()
    assert.match(await page.getByRole('status').innerText(), /Setup of cadent-trafficking saved/)
    assert.equal(await page.getByLabel(/^Ad type/).inputValue(), 'VIDEO')
  })

  it('lists sources with kind, status and health, and creates a feed source and an AGENT source from forms', async () => {
    await page.goto(`${h.baseUrl}/console/sources`)
    await page.getByLabel('Name', { exact: true }).first().fill('Retail Modular')
    await page.getByLabel('Execution mode').selectOption('manual')
    await page.getByRole('button', { name: 'Create feed source' }).click()
    await page.waitForURL(/\/console\/sources\/retail-modular$/)
    await page.goto(`${h.baseUrl}/console/sources`)
    await page.locator('#agent-name').fill('Retail Network Agent')
    await page.getByLabel('Endpoint URL').fill('https://agent.retail-network.example.com/mcp')
    await page.getByLabel('Authentication').selectOption('API_KEY')
    await page.getByLabel(/Bearer token/).fill('agent-secret-token')
    await page.getByRole('button', { name: 'Register agent' }).click()
    assert.match(await page.locator('main').innerText(), /AGENT source retail-network-agent registered \(PENDING\)/)
    const rows = await page.locator('tbody tr').allInnerTexts()
    assert.equal(rows.length, 3)
    assert.ok(rows.some((row) => /talpa-cadent-demo/.test(row) && /MODULAR_SOURCE/.test(row) && /ACTIVE/.test(row) && /healthy/.test(row)), rows.join('\n'))
    assert.ok(rows.some((row) => /retail-network-agent/.test(row) && /AGENT/.test(row) && /PENDING/.test(row) && /not checked yet/.test(row)), rows.join('\n'))
    await noSeriousViolations(page, 'the sources page')
  })

  it('shows a bad feed row at its spreadsheet row and column, then commits exactly the corrected preview', async () => {
    await page.goto(`${h.baseUrl}/console/sources/${DEMO}/avails`)
    await noSeriousViolations(page, 'the avails page')
    await page.getByLabel(/Feed file/).setInputFiles({ name: 'avails.csv', mimeType: 'text/csv', buffer: Buffer.from(availsCsv('lots')) })
    await page.getByRole('button', { name: 'Upload and preview' }).click()
    await page.locator('#row-errors').waitFor()
    const errorRows = await page.locator('#row-errors tbody tr').allInnerTexts()
    assert.equal(errorRows.length, 1, errorRows.join('\n'))
    const [row, column, field] = errorRows[0]!.split('\t')
    assert.equal(row, '3')
    assert.equal(column, 'G (Impressions)')
    assert.equal(field, 'impressionsCapacity')
    assert.equal(await page.getByRole('button', { name: /Confirm/ }).count(), 0, 'a preview with row errors cannot be committed')
    await noSeriousViolations(page, 'a preview with a row error')

    await page.goto(`${h.baseUrl}/console/sources/${DEMO}/avails`)
    await page.getByLabel(/Feed file/).setInputFiles({ name: 'avails.csv', mimeType: 'text/csv', buffer: Buffer.from(availsCsv('"1,000,000"')) })
    await page.getByRole('button', { name: 'Upload and preview' }).click()
    await page.locator('#preview-rows').waitFor()
    assert.equal(await page.locator('#row-errors').count(), 0)
    assert.deepEqual(await page.locator('#preview-rows tbody tr code').allInnerTexts(), ['console-ctv-prime', 'console-ctv-late'])
    assert.match(await page.getByLabel('Diff against the committed avails').innerText(), /2\s*created/)
    await noSeriousViolations(page, 'a clean preview')
    await page.getByRole('button', { name: 'Confirm and commit these avails' }).click()
    await page.waitForURL(new RegExp(`/console/sources/${DEMO}/avails$`))
    assert.match(await page.getByRole('status').innerText(), /2 avails \(2 created, 0 updated/)
    const bar = page.getByRole('img', { name: /2,000,000 available/ })
    assert.equal(await bar.count(), 1, 'the new product has a capacity bar')
  })

  it('a buyer agent buys the new product through /mcp and the trafficking item appears live in the queue', async () => {
    await page.goto(`${h.baseUrl}/console/keys`)
    await page.getByLabel('Label').fill('buyer agent')
    await page.getByLabel('Role').selectOption('buyer')
    await page.getByRole('button', { name: 'Create key' }).click()
    buyerKey = (await page.locator('#created-key').innerText()).trim()
    await noSeriousViolations(page, 'the keys page with a new key')

    buyer = new Client({ name: 'console-test-buyer', version: '0.0.0' })
    await buyer.connect(new StreamableHTTPClientTransport(new URL(`${h.baseUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${buyerKey}` } } }))
    // The operator watches the queue while the buyer buys: the trafficking item appears without a reload.
    await page.goto(`${h.baseUrl}/console/work?sourceId=${DEMO}&kind=TRAFFIC_TO_CADENT`)
    assert.equal(await page.getByRole('link', { name: /TRAFFIC_TO_CADENT #/ }).count(), 0)
    const loads: string[] = []
    page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) loads.push(frame.url()) })
    const synced = await callTool(buyer, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: 'console-test-sync-0001' })
    assert.equal(synced.isError, false, JSON.stringify(synced.payload))
    const created = await callTool(buyer, 'create_media_buy', {
      account: ACCOUNT,
      brand: ACCOUNT.brand,
      start_time: `${day(3)}T00:00:00Z`,
      end_time: `${day(20)}T00:00:00Z`,
      packages: [{ product_id: `${DEMO}:console-ctv-prime`, pricing_option_id: 'cpm_fixed', budget: 20 * 250 }],
      idempotency_key: 'console-test-buy-000001',
    })
    assert.equal(created.isError, false, JSON.stringify(created.payload))
    assert.equal(created.payload.status, 'submitted')
    await page.getByRole('link', { name: /TRAFFIC_TO_CADENT #/ }).waitFor({ timeout: 20_000 })
    assert.deepEqual(loads, [], 'the queue updated in place, from the live event stream')
  })

  it('completes the trafficking item from the queue page, with the Cadent XML viewable and downloadable', async () => {
    await noSeriousViolations(page, 'the work queue')
    const link = page.getByRole('link', { name: /TRAFFIC_TO_CADENT #/ })
    assert.equal(await link.count(), 1)
    const row = await page.locator('tbody tr').innerText()
    mediaBuyId = /mb_[A-Za-z0-9_-]+/.exec(row)?.[0] ?? ''
    assert.ok(mediaBuyId, row)
    await link.click()
    await page.getByRole('heading', { name: 'Cadent campaign XML' }).waitFor()
    assert.match(await page.locator('pre.xml').innerText(), /<\?xml/)
    const download = await page.context().request.get(`${page.url()}/cadent.xml`)
    assert.equal(download.status(), 200)
    assert.match(download.headers()['content-disposition'] ?? '', /attachment; filename="cadent-campaign-mb_/)
    assert.match(await download.text(), /console-ctv-prime|Prime time CTV/)
    await noSeriousViolations(page, 'a trafficking work item')

    await page.getByRole('button', { name: 'Start (assign to me)' }).click()
    assert.match(await page.getByRole('status').innerText(), /started and assigned to you/)
    await page.getByRole('button', { name: 'Complete TRAFFIC_TO_CADENT' }).click()
    assert.match(await page.getByRole('heading', { level: 1 }).innerText(), /Something went wrong/)
    assert.match(await page.getByRole('alert').innerText(), /cadentCampaignId/)
    await page.goBack()
    await page.getByLabel('cadentCampaignId (required)').fill('CAD-88213')
    await page.getByRole('button', { name: 'Complete TRAFFIC_TO_CADENT' }).click()
    assert.match(await page.getByRole('status').innerText(), /completed/)
    assert.match(await page.locator('main').innerText(), /COMPLETED/)
  })

  it('previews an .xlsx upload (second sheet) and blocks and cancels its CONFIRM_AVAILS item with a reason', async () => {
    const workbook = new ExcelJS.Workbook()
    workbook.addWorksheet('Notes').addRow(['ignore me'])
    const sheet = workbook.addWorksheet('Avails')
    sheet.addRow(['Avail ID', 'Collection', 'Name', 'Start', 'End', 'Impressions'])
    sheet.addRow(['xl-weekend', 'Connected TV', 'Weekend CTV', new Date(`${day(5)}T00:00:00Z`), new Date(`${day(30)}T00:00:00Z`), 900_000])
    const xlsx = Buffer.from(await workbook.xlsx.writeBuffer())
    await page.goto(`${h.baseUrl}/console/sources/${DEMO}/avails`)
    await page.getByLabel(/Feed file/).setInputFiles({ name: 'avails.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: xlsx })
    await page.getByLabel(/Worksheet/).fill('Avails')
    await page.getByRole('button', { name: 'Upload and preview' }).click()
    await page.locator('#preview-rows').waitFor()
    assert.deepEqual(await page.locator('#preview-rows tbody tr code').allInnerTexts(), ['xl-weekend'])
    await page.goto(`${h.baseUrl}/console/work?kind=CONFIRM_AVAILS`)
    await page.getByRole('link', { name: /CONFIRM_AVAILS #/ }).click()
    await page.getByLabel('Reason it is blocked').fill('Waiting for the sales house to confirm')
    await page.getByRole('button', { name: 'Block' }).click()
    assert.match(await page.locator('main').innerText(), /Blocked: Waiting for the sales house to confirm/)
    await page.getByLabel('Reason to cancel').fill('Superseded by next week\'s feed')
    await page.getByRole('button', { name: 'Cancel item' }).click()
    assert.match(await page.getByRole('status').innerText(), /cancelled/)
    assert.match(await page.locator('main').innerText(), /CANCELLED/)
  })

  it('uploads the final report as a file and shows the delivery chart with totals', async () => {
    await page.goto(`${h.baseUrl}/console/work?sourceId=${DEMO}&kind=UPLOAD_FINAL_REPORT`)
    await page.getByRole('link', { name: /UPLOAD_FINAL_REPORT #/ }).click()
    const report = `date,impressions,spend,completedViews\n${day(3)},120000,2400.00,101000\n${day(4)},130000,2600.00,110500\n`
    await page.getByLabel('…or upload report as a file').setInputFiles({ name: 'final-report.csv', mimeType: 'text/csv', buffer: Buffer.from(report) })
    await page.getByRole('button', { name: 'Complete UPLOAD_FINAL_REPORT' }).click()
    assert.match(await page.getByRole('status').innerText(), /completed/)
    // The C7 report comes weeks after the live one: the completed item opens the line's next report.
    const completedUrl = page.url()
    await page.locator('#follow-up-notes').fill('C7 from the measurement vendor')
    await page.getByRole('button', { name: 'Open the next report' }).click()
    assert.match(await page.getByRole('status').innerText(), /opened, following work item \d+/)
    assert.notEqual(page.url(), completedUrl, 'the console shows the new item')
    const next = await page.locator('main').innerText()
    assert.match(next, /UPLOAD_FINAL_REPORT #\d+/)
    assert.match(next, /OPEN/)
    assert.match(next, /Follows work item \d+: C7 from the measurement vendor/)
    await noSeriousViolations(page, 'the follow-up report item')

    await page.goto(`${h.baseUrl}/console/delivery/${DEMO}/${mediaBuyId}`)
    await page.locator('#delivery-chart canvas').first().waitFor()
    const totals = await page.getByLabel('Totals').innerText()
    assert.match(totals, /250,000\s*impressions delivered/)
    assert.match(totals, /250,000\s*booked goal/)
    assert.match(totals, /100%/)
    assert.deepEqual(await page.locator('#delivery-days tbody th').allInnerTexts(), [day(3), day(4)])
    await noSeriousViolations(page, 'the delivery page')
  })

  it('lists reservations with their buyer and task, releases one with a reason, and every page fits a tablet', async () => {
    await page.goto(`${h.baseUrl}/console/reservations?mediaBuyId=${mediaBuyId}`)
    await noSeriousViolations(page, 'the reservations page')
    assert.equal(await page.locator('main').innerText().then((text) => /Reservations \(1\)/.test(text) || text), true)
    const row = await page.locator('table').first().locator('tbody tr').innerText()
    assert.match(row, /BOOKED/)
    assert.match(row, /buyer acc_|buyer \S+/)
    assert.match(row, /task /)
    await page.getByLabel(/Reason to release reservation/).fill('Advertiser withdrew')
    await page.getByRole('button', { name: /Release #/ }).click()
    assert.match(await page.getByRole('status').innerText(), /released/)
    await page.goto(`${h.baseUrl}/console/reservations?mediaBuyId=${mediaBuyId}`)
    assert.match(await page.locator('table').first().innerText(), /RELEASED[\s\S]*Advertiser withdrew/)
    await page.setViewportSize({ width: 768, height: 1024 })
    for (const path of ['/console/sources', `/console/sources/${DEMO}`, `/console/sources/${DEMO}/avails`, '/console/work', '/console/reservations', `/console/delivery/${DEMO}/${mediaBuyId}`, '/console/keys']) {
      await page.goto(`${h.baseUrl}${path}`)
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
      assert.ok(overflow <= 0, `${path} fits a 768px tablet without sideways scrolling (overflow ${overflow}px)`)
      await noSeriousViolations(page, `${path} at tablet width`)
    }
    // The one refused completion (no cadentCampaignId) answered 400, which Chromium logs as a failed load.
    assert.deepEqual(consoleErrors, ['Failed to load resource: the server responded with a status of 400 (Bad Request)'])
  })
})
