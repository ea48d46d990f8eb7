import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { InMemoryReplayStore, InMemoryRevocationStore, StaticJwksResolver, verifyWebhookSignature } from '@adcp/sdk/signing/server'
import { webhookIdempotencyKey } from '../../src/modules/buyer-webhooks/index.ts'
import { deliveryNotificationTypeOf } from '../../src/workflows/buy-notifications.ts'
import { buyFirstProduct, callTool, lineDaysOf, createMcpTestContext, type McpTestContext } from './helpers.ts'

interface Captured {
  url: string
  headers: IncomingHttpHeaders
  body: string
}

/** A buyer's webhook receiver on loopback: answers each POST with the next status of `statuses` (then 200). */
async function startReceiver(): Promise<{ url: string; received: Captured[]; answer: number[]; close(): Promise<void> }> {
  const received: Captured[] = []
  const answer: number[] = []
  const server: Server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      received.push({ url: request.url ?? '/', headers: request.headers, body })
      response.writeHead(answer.shift() ?? 200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('receiver not listening')
  return { url: `http://127.0.0.1:${address.port}`, received, answer, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

async function verifyAgainstJwks(ctx: McpTestContext, receiverUrl: string, captured: Captured) {
  const jwks = (await (await fetch(`${ctx.baseUrl}/.well-known/jwks.json`)).json()) as { keys: ConstructorParameters<typeof StaticJwksResolver>[0] }
  return verifyWebhookSignature(
    { method: 'POST', url: `${receiverUrl}${captured.url}`, headers: captured.headers as Record<string, string>, body: captured.body },
    { jwks: new StaticJwksResolver(jwks.keys), replayStore: new InMemoryReplayStore(), revocationStore: new InMemoryRevocationStore() },
  )
}

const ACCOUNT = { brand: { domain: 'test.example' }, operator: 'test.example', sandbox: true }
type Body = { idempotency_key: string; task_id: string; task_type: string; status: string; token?: string; message?: string; result: Record<string, unknown> }

describe('media buy notifications: status changes and imported delivery reports', () => {
  let ctx: McpTestContext
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  let client: Awaited<ReturnType<McpTestContext['connect']>>

  before(async () => {
    ctx = await createMcpTestContext()
    receiver = await startReceiver()
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', label: 'notified buyer', role: 'buyer', sandbox: true })
    client = await ctx.connect(key)
  })
  after(async () => {
    await receiver.close()
    await ctx.close()
  })

  /** A sandbox buy, confirmed at once, of the first product; `extra` adds create_media_buy fields. */
  async function buy(idempotencyKey: string, extra: Record<string, unknown>) {
    const created = await buyFirstProduct(client, ACCOUNT, { idempotency_key: idempotencyKey, ...extra })
    assert.equal(typeof created.payload.media_buy_id, 'string', JSON.stringify(created.payload))
    return ctx.db.selectFrom('media_buy').selectAll().where('media_buy_id', '=', created.payload.media_buy_id as string).executeTakeFirstOrThrow()
  }

  /** The buy's open UPLOAD_FINAL_REPORT item and the days its line runs on. */
  async function reportItem(mediaBuyId: string) {
    const items = (await ctx.api('GET', `/inventory-sources/adcp-sandbox/modular/work-items?mediaBuyId=${mediaBuyId}&kind=UPLOAD_FINAL_REPORT`)).json().items as Array<{ id: string; status: string }>
    const open = items.filter((item) => item.status !== 'COMPLETED' && item.status !== 'CANCELLED')
    assert.equal(open.length, 1, JSON.stringify(items))
    const day = await lineDaysOf(ctx.db, mediaBuyId)
    return { id: open[0]!.id, day }
  }

  const eventsOf = (buyRowId: number) => ctx.db.selectFrom('webhook_outbox').selectAll().where('media_buy_row_id', '=', buyRowId).orderBy('id').execute()

  it('sends the imported delivery report to the buy\'s reporting_webhook, signed, as a final get_media_buy_delivery notification', async () => {
    const row = await buy('notify-delivery-0001', {
      reporting_webhook: { url: `${receiver.url}/reports?buy=1`, token: 'reporting-token-0001', reporting_frequency: 'daily', authentication: { schemes: ['HMAC-SHA256'], credentials: 'x'.repeat(32) } },
      push_notification_config: { url: `${receiver.url}/tasks` },
    })
    assert.ok(row.reporting_webhook_sealed && !row.reporting_webhook_sealed.includes('reports'), 'reporting_webhook is stored sealed')
    const { id, day } = await reportItem(row.media_buy_id)
    const before = (await eventsOf(row.id)).length
    const done = await ctx.api('POST', `/inventory-sources/adcp-sandbox/modular/work-items/${id}/complete`, { result: { report: `date,impressions,spend\n${day(0)},1000,20\n${day(1)},500,10` } })
    assert.equal(done.statusCode, 200, done.body)
    const events = await eventsOf(row.id)
    assert.equal(events.length, before + 1, 'one event, written with the import')
    const event = events.at(-1)!
    assert.equal(event.operation_id, `media_buy_delivery.${row.media_buy_id}.w${id}`)
    assert.equal(event.idempotency_key, webhookIdempotencyKey(event.operation_id))

    receiver.received.length = 0
    assert.equal((await ctx.services.webhookOutbox.deliverDue()).delivered, 1)
    const [delivery] = receiver.received
    assert.equal(delivery!.url, '/reports?buy=1')
    const body = JSON.parse(delivery!.body) as Body
    assert.deepEqual([body.task_id, body.task_type, body.status, body.token], [row.media_buy_id, 'media_buy_delivery', 'completed', 'reporting-token-0001'])
    assert.equal(body.idempotency_key, event.idempotency_key)
    const result = body.result as { notification_type: string; sequence_number: number; currency: string; media_buy_deliveries: Array<{ media_buy_id: string; totals: { impressions: number; spend: number }; by_package: Array<{ impressions: number }> }> }
    assert.deepEqual([result.notification_type, result.sequence_number, result.currency], ['final', 1, row.currency])
    assert.deepEqual([result.media_buy_deliveries[0]!.media_buy_id, result.media_buy_deliveries[0]!.totals.impressions, result.media_buy_deliveries[0]!.totals.spend], [row.media_buy_id, 1500, 30])
    // The buyer's reporting_webhook named HMAC-SHA256: the legacy scheme, not RFC 9421.
    assert.ok(delivery!.headers['x-adcp-signature'], JSON.stringify(delivery!.headers))
  })

  it('writes nothing when the import is refused: a bad report rolls the event back with it', async () => {
    const row = await buy('notify-delivery-0002', { push_notification_config: { url: `${receiver.url}/tasks2` } })
    const { id, day } = await reportItem(row.media_buy_id)
    const before = (await eventsOf(row.id)).length
    const refused = await ctx.api('POST', `/inventory-sources/adcp-sandbox/modular/work-items/${id}/complete`, { result: { report: `date,impressions\n${day(0)},-5` } })
    assert.equal(refused.statusCode, 400, refused.body)
    assert.equal((await eventsOf(row.id)).length, before)
  })

  /** The line's next UPLOAD_FINAL_REPORT item, opened as the seller's ad-ops opens it when the C7 report arrives. */
  async function anotherReportItem(itemId: string): Promise<string> {
    const opened = await ctx.api('POST', `/inventory-sources/adcp-sandbox/modular/work-items/${itemId}/follow-up`, {})
    assert.equal(opened.statusCode, 201, opened.body)
    return (opened.json() as { item: { id: string } }).item.id
  }

  it('sends a window_update, under its own operation id, when a C7 report supersedes the line\'s live one; a narrower window after it is refused', async () => {
    const row = await buy('notify-window-update-0001', { reporting_webhook: { url: `${receiver.url}/tv`, reporting_frequency: 'daily', authentication: { schemes: ['HMAC-SHA256'], credentials: 'y'.repeat(32) } } })
    const { id: liveItem, day } = await reportItem(row.media_buy_id)
    const live = await ctx.api('POST', `/inventory-sources/adcp-sandbox/modular/work-items/${liveItem}/complete`, {
      result: { report: `date,impressions,measurement_window,is_final\n${day(0)},1000,live,false\n${day(1)},800,live,false` },
    })
    assert.equal(live.statusCode, 200, live.body)
    assert.equal((await eventsOf(row.id)).at(-1)!.operation_id, `media_buy_delivery.${row.media_buy_id}.w${liveItem}`, 'the first window is an ordinary report')

    const c7Item = await anotherReportItem(liveItem)
    const c7 = await ctx.api('POST', `/inventory-sources/adcp-sandbox/modular/work-items/${c7Item}/complete`, {
      result: { report: [{ date: day(0), impressions: 1400, measurement_window: 'C7', is_final: true }, { date: day(1), impressions: 1100, measurement_window: 'c7', is_final: true }] },
    })
    assert.equal(c7.statusCode, 200, c7.body)
    const events = await eventsOf(row.id)
    const update = events.at(-1)!
    assert.equal(update.operation_id, `media_buy_delivery.${row.media_buy_id}.window_update.w${c7Item}`)
    assert.equal(update.idempotency_key, webhookIdempotencyKey(update.operation_id))
    const stored = await ctx.db.selectFrom('delivery_row').select(['measurement_window', 'is_final', 'supersedes_window']).where('media_buy_id', '=', row.media_buy_id).execute()
    assert.deepEqual(stored, [{ measurement_window: 'c7', is_final: true, supersedes_window: 'live' }, { measurement_window: 'c7', is_final: true, supersedes_window: 'live' }])

    receiver.received.length = 0
    await ctx.services.webhookOutbox.deliverDue()
    const bodies = receiver.received.filter((captured) => captured.url === '/tv').map((captured) => JSON.parse(captured.body) as Body)
    const windowUpdate = bodies.find((body) => body.idempotency_key === update.idempotency_key)
    assert.ok(windowUpdate, JSON.stringify(bodies.map((body) => body.idempotency_key)))
    const result = windowUpdate.result as { notification_type: string; sequence_number: number; media_buy_deliveries: Array<{ totals: { impressions: number }; by_package: Array<Record<string, unknown>> }> }
    assert.deepEqual([result.notification_type, result.sequence_number, result.media_buy_deliveries[0]!.totals.impressions], ['window_update', 2, 2500])
    const pkg = result.media_buy_deliveries[0]!.by_package[0]!
    assert.deepEqual([pkg.measurement_window, pkg.is_final, pkg.supersedes_window], ['c7', true, 'live'])

    const read = await callTool(client, 'get_media_buy_delivery', { media_buy_ids: [row.media_buy_id] })
    const readPkg = (read.payload.media_buy_deliveries as Array<{ by_package: Array<Record<string, unknown>> }>)[0]!.by_package[0]!
    assert.deepEqual([readPkg.measurement_window, readPkg.is_final, readPkg.supersedes_window, readPkg.impressions], ['c7', true, 'live', 2500])

    const lateLive = await ctx.api('POST', `/inventory-sources/adcp-sandbox/modular/work-items/${await anotherReportItem(c7Item)}/complete`, {
      result: { report: `date,impressions,measurement_window\n${day(0)},900,live` },
    })
    assert.equal(lateLive.statusCode, 400, lateLive.body)
    const issue = (lateLive.json().error.details as { rows: Array<{ row: number; field: string; message: string }> }).rows[0]!
    assert.equal(issue.field, 'measurementWindow')
    assert.match(issue.message, /narrower than the c7 report already imported/)
    assert.equal((await eventsOf(row.id)).length, events.length, 'the refused import announces nothing')
  })

  it('falls back to push_notification_config, RFC 9421-signed, with the same idempotency_key on every retry', async () => {
    const row = await buy('notify-delivery-0003', { push_notification_config: { url: `${receiver.url}/tasks3`, token: 'push-token-000003' } })
    const { id, day } = await reportItem(row.media_buy_id)
    const done = await ctx.api('POST', `/inventory-sources/adcp-sandbox/modular/work-items/${id}/complete`, { result: { report: `date,impressions\n${day(0)},700` } })
    assert.equal(done.statusCode, 200, done.body)
    receiver.received.length = 0
    receiver.answer.push(503)
    assert.equal((await ctx.services.webhookOutbox.deliverDue()).retried, 1)
    await ctx.db.updateTable('webhook_outbox').set({ next_attempt_at: new Date(0) }).where('status', '=', 'pending').execute()
    assert.equal((await ctx.services.webhookOutbox.deliverDue()).delivered, 1)
    assert.equal(receiver.received.length, 2)
    const [first, second] = receiver.received.map((captured) => JSON.parse(captured.body) as Body)
    assert.equal(first!.idempotency_key, second!.idempotency_key)
    assert.equal(receiver.received[1]!.headers['x-adcp-signature'], undefined)
    assert.ok(await verifyAgainstJwks(ctx, receiver.url, receiver.received[1]!), 'verifies against the published JWKS')
    assert.deepEqual([second!.token, (second!.result as { notification_type: string }).notification_type], ['push-token-000003', 'final'])
  })

  it('announces each status change of a confirmed buy (creatives in, paused, resumed, canceled) as an update_media_buy notification', async () => {
    const row = await buy('notify-status-0001', { push_notification_config: { url: `${receiver.url}/status`, token: 'status-token-0001' } })
    // A pause refused with the rest of its update (an unknown package) rolls back and announces nothing.
    const refused = await callTool(client, 'update_media_buy', { account: ACCOUNT, media_buy_id: row.media_buy_id, paused: true, packages: [{ package_id: 'pkg_nope', budget: 1 }], idempotency_key: 'notify-status-refused-0001' })
    assert.equal(refused.isError, true, JSON.stringify(refused.payload))
    assert.deepEqual((await eventsOf(row.id)).filter((event) => event.operation_id.startsWith('media_buy_status.')), [])
    const pause = await callTool(client, 'update_media_buy', { account: ACCOUNT, media_buy_id: row.media_buy_id, paused: true, idempotency_key: 'notify-status-pause-0001' })
    assert.equal(pause.isError, false, JSON.stringify(pause.payload))
    const cancel = await callTool(client, 'update_media_buy', { account: ACCOUNT, media_buy_id: row.media_buy_id, canceled: true, cancellation_reason: 'brief changed', idempotency_key: 'notify-status-cancel-0001' })
    assert.equal(cancel.isError, false, JSON.stringify(cancel.payload))
    const events = (await eventsOf(row.id)).filter((event) => event.operation_id.startsWith('media_buy_status.'))
    const statuses = events.map((event) => (JSON.parse(event.payload) as Body).result.status)
    assert.deepEqual(statuses, ['paused', 'canceled'])
    assert.equal(new Set(events.map((event) => event.idempotency_key)).size, events.length, 'one key per event')
    receiver.received.length = 0
    await ctx.services.webhookOutbox.deliverDue()
    const bodies = receiver.received.filter((captured) => captured.url === '/status').map((captured) => JSON.parse(captured.body) as Body)
    const canceled = bodies.find((body) => body.result.status === 'canceled')!
    assert.deepEqual([canceled.task_id, canceled.task_type, canceled.status, canceled.token], [row.media_buy_id, 'update_media_buy', 'completed', 'status-token-0001'])
    assert.deepEqual((canceled.result.cancellation as { canceled_by: string; reason: string }), { canceled_at: (canceled.result.cancellation as { canceled_at: string }).canceled_at, canceled_by: 'buyer', reason: 'brief changed' })
  })

  it('announces a status change the seller forces (comply_test_controller) in the transaction of the change', async () => {
    const row = await buy('notify-status-0002', { push_notification_config: { url: `${receiver.url}/seller` } })
    const forced = await callTool(client, 'comply_test_controller', { scenario: 'force_media_buy_status', params: { media_buy_id: row.media_buy_id, status: 'active' }, account: ACCOUNT })
    assert.equal(forced.payload.success, true, JSON.stringify(forced.payload))
    const [event] = (await eventsOf(row.id)).filter((candidate) => candidate.operation_id.startsWith('media_buy_status.'))
    assert.ok(event, 'the forced change wrote its event')
    const body = JSON.parse(event.payload) as Body
    assert.equal(body.result.status, 'active')
    assert.match(body.message ?? '', /now active \(was pending_creatives\)/)
  })

  it('a live key\'s loopback destination is refused for good, never sent', async () => {
    const row = await buy('notify-live-0001', { push_notification_config: { url: `${receiver.url}/live` } })
    // A sandbox key wrote it; the same event for a live key's buy must not reach loopback.
    await ctx.db.updateTable('webhook_outbox').set({ sandbox: false }).where('media_buy_row_id', '=', row.id).execute()
    await callTool(client, 'update_media_buy', { account: ACCOUNT, media_buy_id: row.media_buy_id, paused: true, idempotency_key: 'notify-live-pause-0001' })
    await ctx.db.updateTable('webhook_outbox').set({ sandbox: false }).where('media_buy_row_id', '=', row.id).execute()
    receiver.received.length = 0
    const pass = await ctx.services.webhookOutbox.deliverDue()
    assert.equal(receiver.received.filter((captured) => captured.url === '/live').length, 0)
    assert.ok(pass.failed >= 1)
    const events = await eventsOf(row.id)
    assert.ok(events.every((event) => event.status === 'failed' && /refused/.test(event.last_error ?? '')), JSON.stringify(events.map((event) => event.last_error)))
  })
})

describe('deliveryNotificationTypeOf', () => {
  it('is final once every live package has its report, scheduled before', () => {
    assert.equal(deliveryNotificationTypeOf({ livePackages: 2, reportedPackages: 1 }), 'scheduled')
    assert.equal(deliveryNotificationTypeOf({ livePackages: 2, reportedPackages: 2 }), 'final')
    assert.equal(deliveryNotificationTypeOf({ livePackages: 0, reportedPackages: 0 }), 'scheduled')
  })

  it('is window_update when the import upgraded its line\'s measurement window, even once every package is reported', () => {
    assert.equal(deliveryNotificationTypeOf({ livePackages: 1, reportedPackages: 1, windowUpgraded: true }), 'window_update')
    assert.equal(deliveryNotificationTypeOf({ livePackages: 1, reportedPackages: 1, windowUpgraded: false }), 'final')
  })
})
