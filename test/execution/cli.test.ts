import assert from 'node:assert/strict'
import { writeFile, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { runCli } from '../helpers/processes.ts'
import { availCounters, createDemo, DEMO, itemOfKind, listItems, PRIME, reserve } from './helpers.ts'

describe('storefront work and storefront finalize (over the REST API)', () => {
  let ctx: TestContext
  let env: Record<string, string>
  before(async () => {
    ctx = await createTestContext()
    await ctx.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = ctx.app.server.address() as AddressInfo
    env = { STOREFRONT_URL: `http://127.0.0.1:${port}`, STOREFRONT_API_KEY: ctx.key, STOREFRONT_SOURCE: DEMO, DATA_DIR: await mkdtemp(path.join(tmpdir(), 'sf-cli-')) }
    await createDemo(ctx)
    await reserve(ctx, {})
  })
  after(async () => ctx.close())

  it('finalizes, lists, shows, starts and completes work items', async () => {
    const finalized = await runCli(['finalize', '--media-buy', 'mb_123', '--avail', PRIME, '--campaign', 'July CTV sports', '--advertiser', 'Example Advertiser',
      '--creative-url', 'https://assets.example.com/creative.mp4', '--duration', '30'], env)
    assert.equal(finalized.code, 0, finalized.stderr)
    assert.match(finalized.stdout, /Booking \d+ for media buy mb_123 .*: HELD \(cadent, HITL\)/)
    assert.match(finalized.stdout, /TRAFFIC_TO_CADENT/)

    const list = await runCli(['work', 'list'], env)
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, /MAP_CREATIVE_REF/)
    assert.match(list.stdout, /3 of 3 work item\(s\)/)

    const traffic = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT')
    const xml = await runCli(['work', 'show', traffic.id, '--xml'], env)
    assert.equal(xml.code, 0, xml.stderr)
    assert.match(xml.stdout, /^<\?xml/)

    const started = await runCli(['work', 'start', traffic.id, '--assignee', 'ana@seller.example'], env)
    assert.equal(started.code, 0, started.stderr)
    assert.match(started.stdout, /IN_PROGRESS/)

    const missing = await runCli(['work', 'complete', traffic.id], env)
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /VALIDATION_ERROR: .*cadentCampaignId/)

    const done = await runCli(['work', 'complete', traffic.id, '--set', 'cadentCampaignId=CAD-42', '--notes', 'trafficked'], env)
    assert.equal(done.code, 0, done.stderr)
    assert.match(done.stdout, /COMPLETED/)
    assert.deepEqual(await availCounters(ctx), { held: 0, booked: 250_000 })

    const show = await runCli(['work', 'show', traffic.id], env)
    assert.match(show.stdout, /STARTED\s+OPERATOR api_key:/)
    assert.match(show.stdout, /COMPLETED/)

    const again = await runCli(['work', 'cancel', traffic.id, '--reason', 'x'], env)
    assert.equal(again.code, 3)
    assert.match(again.stderr, /CONFLICT/)
  })

  it('uploads a report file and prints its row errors', async () => {
    const report = await itemOfKind(ctx, 'UPLOAD_FINAL_REPORT')
    const file = path.join(env.DATA_DIR!, 'report.csv')
    await writeFile(file, 'date,impressions\n2026-12-01,100\n2026-12-02,lots\n')
    const bad = await runCli(['work', 'complete', report.id, '--report-file', file], env)
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /row 3 impressions: must be a whole number/)
    await writeFile(file, 'date,impressions\n2026-12-01,100\n2026-12-02,200\n')
    const good = await runCli(['work', 'complete', report.id, '--report-file', file, '--json'], env)
    assert.equal(good.code, 0, good.stderr)
    assert.equal(JSON.parse(good.stdout).item.status, 'COMPLETED')
  })

  it('opens the next report of a line whose report was imported, and names the open one when asked twice', async () => {
    const [report] = (await listItems(ctx, 'kind=UPLOAD_FINAL_REPORT&status=COMPLETED')).items
    assert.ok(report, 'the report uploaded above')
    const opened = await runCli(['work', 'follow-up', report.id, '--due', '2027-01-20T00:00:00Z', '--notes', 'C7 from the vendor', '--json'], env)
    assert.equal(opened.code, 0, opened.stderr)
    const answer = JSON.parse(opened.stdout) as { item: { id: string; kind: string; status: string; dueAt: string }; followsWorkItemId: string }
    assert.deepEqual([answer.item.kind, answer.item.status, answer.item.dueAt, answer.followsWorkItemId], ['UPLOAD_FINAL_REPORT', 'OPEN', '2027-01-20T00:00:00.000Z', report.id])
    const twice = await runCli(['work', 'follow-up', report.id], env)
    assert.equal(twice.code, 3)
    assert.match(twice.stderr, new RegExp(`CONFLICT: Work item ${answer.item.id} \\(UPLOAD_FINAL_REPORT\\) of this line is OPEN`))
    await runCli(['work', 'cancel', answer.item.id, '--reason', 'vendor late'], env)
    const plain = await runCli(['work', 'follow-up', report.id], env)
    assert.equal(plain.code, 0, plain.stderr)
    assert.match(plain.stdout, new RegExp(`^Work item \\d+ \\(UPLOAD_FINAL_REPORT\\) is OPEN, following work item ${report.id}\\.$`, 'm'))
  })

  it('explains a missing API key', async () => {
    const result = await runCli(['work', 'list'], { ...env, STOREFRONT_API_KEY: '' })
    assert.equal(result.code, 2)
    assert.match(result.stderr, /STOREFRONT_API_KEY/)
  })
})
