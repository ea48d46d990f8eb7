/**
 * Regenerates the console screenshots in docs/console/ (1280x800, referenced from docs/console.md):
 * `npm run console:screenshots`. It starts the real `storefront serve` on a fresh embedded database,
 * signs in with the printed link, walks the Cadent demo through one buy (a buyer agent over /mcp) and
 * photographs each page. Needs Debian's chromium (CHROMIUM_PATH to override /usr/bin/chromium).
 */
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { chromiumMissing, startConsoleHarness } from '../test/console/harness.ts'

const DEMO = 'talpa-cadent-demo'
const ACCOUNT = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' }
const outDir = path.join(import.meta.dirname, '..', 'docs', 'console')

function day(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10)
}

async function main(): Promise<void> {
  if (chromiumMissing) throw new Error(chromiumMissing)
  await mkdir(outDir, { recursive: true })
  const h = await startConsoleHarness()
  try {
    const { page } = await h.newPage({ width: 1280, height: 800 })
    const shot = async (name: string) => {
      await page.screenshot({ path: path.join(outDir, `${name}.png`) })
      console.log(`docs/console/${name}.png`)
    }
    await page.goto(h.signInLink)
    await shot('sign-in-link')
    await page.getByRole('button', { name: 'Continue to the console' }).click()
    await page.getByRole('button', { name: 'Create or reset the Cadent demo' }).click()
    await page.waitForURL(new RegExp(`/console/sources/${DEMO}$`))
    await shot('readiness')
    await page.goto(`${h.baseUrl}/console/sources`)
    await shot('sources')

    const csv = (capacity: string) => [
      'Avail ID,Collection,Name,Channel,Start Date,End Date,Impressions,CPM,Currency,Market',
      `console-ctv-prime,Connected TV,Prime time CTV,CTV,${day(2)},${day(40)},"2,000,000",20,EUR,Netherlands`,
      `console-ctv-late,Connected TV,Late night CTV,CTV,${day(2)},${day(40)},${capacity},12,EUR,Netherlands`,
      '',
    ].join('\n')
    for (const [capacity, name] of [['lots', 'avails-preview-error'], ['"1,000,000"', 'avails-preview']] as const) {
      await page.goto(`${h.baseUrl}/console/sources/${DEMO}/avails`)
      await page.getByLabel(/Feed file/).setInputFiles({ name: 'avails.csv', mimeType: 'text/csv', buffer: Buffer.from(csv(capacity)) })
      await page.getByRole('button', { name: 'Upload and preview' }).click()
      await page.locator('#preview-rows').waitFor()
      await shot(name)
    }
    await page.getByRole('button', { name: 'Confirm and commit these avails' }).click()
    await page.waitForURL(new RegExp(`/console/sources/${DEMO}/avails$`))

    await page.goto(`${h.baseUrl}/console/keys`)
    await page.getByLabel('Label').fill('buyer agent')
    await page.getByLabel('Role').selectOption('buyer')
    await page.getByRole('button', { name: 'Create key' }).click()
    const buyerKey = (await page.locator('#created-key').innerText()).trim()
    await shot('keys')

    const buyer = new Client({ name: 'console-screenshots', version: '0.0.0' })
    await buyer.connect(new StreamableHTTPClientTransport(new URL(`${h.baseUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${buyerKey}` } } }))
    await buyer.callTool({ name: 'sync_accounts', arguments: { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: 'screenshots-sync-00001' } })
    await buyer.callTool({
      name: 'create_media_buy',
      arguments: {
        account: ACCOUNT,
        brand: ACCOUNT.brand,
        start_time: `${day(3)}T00:00:00Z`,
        end_time: `${day(20)}T00:00:00Z`,
        packages: [{ product_id: `${DEMO}:console-ctv-prime`, pricing_option_id: 'cpm_fixed', budget: 5000 }],
        idempotency_key: 'screenshots-buy-000001',
      },
    })
    await buyer.close()
    await page.goto(`${h.baseUrl}/console/sources/${DEMO}/avails`)
    await shot('products')

    await page.goto(`${h.baseUrl}/console/work?sourceId=${DEMO}`)
    await shot('work-queue')
    await page.goto(`${h.baseUrl}/console/work?sourceId=${DEMO}&kind=TRAFFIC_TO_CADENT`)
    const row = await page.locator('tbody tr').first().innerText()
    const mediaBuyId = /mb_[A-Za-z0-9_-]+/.exec(row)?.[0]
    await page.getByRole('link', { name: /TRAFFIC_TO_CADENT #/ }).click()
    await shot('work-item-cadent')
    await page.getByLabel('cadentCampaignId (required)').fill('CAD-88213')
    await page.getByRole('button', { name: 'Complete TRAFFIC_TO_CADENT' }).click()

    await page.goto(`${h.baseUrl}/console/work?sourceId=${DEMO}&kind=UPLOAD_FINAL_REPORT`)
    await page.getByRole('link', { name: /UPLOAD_FINAL_REPORT #/ }).click()
    const report = ['date,impressions,spend,completedViews', ...[3, 4, 5, 6, 7].map((d, i) => `${day(d)},${40000 + i * 5000},${(800 + i * 100).toFixed(2)},${30000 + i * 4000}`), ''].join('\n')
    await page.getByLabel('…or upload report as a file').setInputFiles({ name: 'final-report.csv', mimeType: 'text/csv', buffer: Buffer.from(report) })
    await page.getByRole('button', { name: 'Complete UPLOAD_FINAL_REPORT' }).click()

    await page.goto(`${h.baseUrl}/console/reservations`)
    await shot('reservations')
    await page.goto(`${h.baseUrl}/console/delivery/${DEMO}/${mediaBuyId}`)
    await page.locator('#delivery-chart canvas').first().waitFor()
    await shot('delivery')
  } finally {
    await h.close()
  }
}

await main()
