import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { startExpirySweeper } from '../../src/modules/booking-ledger/expiry-sweeper.ts'
import { postCadentCampaign } from '../../src/modules/catalog/cadent/endpoint.ts'
import type { DispatchOutcome } from '../../src/modules/provider.ts'
import { createExecutionWorkflows } from '../../src/workflows/execution-workflows.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { availCounters, complete, createDemo, errorOf, finalize, itemOfKind, listItems, ok, PRIME, projectionOf, reserve, stage, type Finalized } from './helpers.ts'

interface Received {
  path: string
  contentType: string | undefined
  idempotencyKey: string | undefined
  body: string
}

/**
 * A real Cadent stand-in on 127.0.0.1: /accept answers 201 with a campaign id, /reject 500, /hang
 * never answers, /reset drops the connection after reading the request, /accept-nul answers 201
 * with a campaign id carrying U+0000, /reject-garbage 500 with a NUL byte and bytes that are not UTF-8.
 */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = []
  const hanging: ServerResponse[] = []
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      received.push({
        path: request.url ?? '',
        contentType: request.headers['content-type'],
        idempotencyKey: request.headers['idempotency-key'] as string | undefined,
        body: Buffer.concat(chunks).toString('utf8'),
      })
      if (request.url === '/accept') {
        response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ campaignId: `CAD-${received.length}` }))
      } else if (request.url === '/reject') {
        response.writeHead(500, { 'content-type': 'text/plain' }).end('Cadent is down for maintenance')
      } else if (request.url === '/reset') {
        request.socket.destroy()
      } else if (request.url === '/accept-nul') {
        response.writeHead(201, { 'content-type': 'application/json' }).end('{"campaignId": "CAD\\u0000-7"}')
      } else if (request.url === '/reject-garbage') {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(Buffer.from([0x62, 0x61, 0x64, 0x00, 0xff, 0xfe, 0x21]))
      } else {
        hanging.push(response)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    async close() {
      for (const response of hanging) response.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A port nothing listens on: bind one, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('Finalize with a cadentEndpointUrl (automated Cadent hand-off)', () => {
  let ctx: TestContext
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  before(async () => {
    receiver = await startReceiver()
    ctx = await createTestContext({ cadentTimeoutMs: 300 })
  })
  after(async () => {
    await ctx.close()
    await receiver.close()
  })

  async function demoWithEndpoint(sourceId: string, path: string) {
    await createDemo(ctx, { sourceId, cadentEndpointUrl: `${receiver.url}${path}` })
    await reserve(ctx, {}, sourceId)
  }

  it('POSTs the XML and books at once on a 2xx, storing the campaign id', async () => {
    await demoWithEndpoint('demo-accept', '/accept')
    const before = await projectionOf(ctx, 'demo-accept')
    assert.equal(before.modules.find((module) => module.kind === 'TRAFFICKING')!.lifecycle.find((row) => row.stage === 'TRAFFIC_CAMPAIGN')!.mode, 'AUTOMATED')
    const body = ok<Finalized>(await finalize(ctx, {}, 'demo-accept'))
    assert.equal(body.booking.status, 'BOOKED')
    assert.equal(body.booking.traffickingMode, 'AUTOMATED')
    assert.deepEqual(body.booking.externalRefs, { cadentCampaignId: 'CAD-1' })
    assert.deepEqual(body.workItems.map((item) => item.kind), ['MAP_CREATIVE_REF', 'UPLOAD_FINAL_REPORT'])
    assert.equal(stage(body.projection, 'TRAFFIC_CAMPAIGN'), 'READY')
    assert.deepEqual(await availCounters(ctx, PRIME, 'demo-accept'), { held: 0, booked: 250_000 })

    assert.equal(receiver.received.length, 1)
    const [request] = receiver.received
    assert.equal(request!.path, '/accept')
    assert.match(request!.contentType!, /^application\/xml/)
    const stored = await ctx.db.selectFrom('booking').select('endpoint_idempotency_key').where('id', '=', Number(body.booking.bookingId)).executeTakeFirstOrThrow()
    assert.match(request!.idempotencyKey!, /^storefront-booking-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    assert.equal(request!.idempotencyKey, stored.endpoint_idempotency_key)
    assert.match(request!.body, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<CadentCampaign xmlns="urn:storefront:cadent:campaign:1"/)
    assert.match(request!.body, /<ExternalId>mb_123<\/ExternalId>/)

    // Idempotent: no second POST, the same booking.
    const again = ok<Finalized>(await finalize(ctx, {}, 'demo-accept'))
    assert.equal(again.booking.bookingId, body.booking.bookingId)
    assert.equal(receiver.received.length, 1)
  })

  it('answers a create_media_buy on an endpoint source with the buy as the 2xx left it: booked and confirmed', async () => {
    await createDemo(ctx, { sourceId: 'demo-buy-accept', cadentEndpointUrl: `${receiver.url}/accept` })
    const key = await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', label: 'automated hand-off' })
    const keyRow = await ctx.db.selectFrom('api_key').select(['id', 'storefront_id']).where('id', '=', Number(key.id)).executeTakeFirstOrThrow()
    const buyer = { storefrontId: keyRow.storefront_id, apiKeyId: keyRow.id, sandbox: false }
    const [synced] = await ctx.services.buyer.syncAccounts(buyer, [{ brandDomain: 'acmeoutdoor.example', operator: 'pinnacle-agency.example', billing: 'operator', paymentTerms: null }])
    assert.ok(synced?.ok)
    const sent = receiver.received.length
    const outcome = await ctx.services.mediaBuys.create({ ...buyer, accountRowId: synced.row.id, accountId: synced.row.account_id }, {
      idempotencyKey: 'automated-hand-off-buy',
      brandDomain: 'acmeoutdoor.example',
      startTime: '2026-12-01T00:00:00.000Z',
      endTime: '2026-12-08T00:00:00.000Z',
      packages: [{ productId: `demo-buy-accept:${PRIME}`, pricingOptionId: 'cpm_fixed', budget: 100, impressions: 10_000 }],
    })
    assert.equal(receiver.received.length, sent + 1, 'the hand-off was POSTed after the commit')
    assert.equal(outcome.kind, 'submitted')
    // The 2xx booked the only hold, which confirmed the buy: the answer is read after that, not before.
    assert.equal(outcome.buy.row.status, 'pending_creatives')
    assert.ok(outcome.buy.row.confirmed_at)
    assert.deepEqual(outcome.buy.packages.map((pkg) => pkg.reservation_status), ['BOOKED'])
  })

  it('falls back to TRAFFIC_TO_CADENT on a 500 and records the error on the module (readiness BLOCKED)', async () => {
    receiver.received.length = 0
    await demoWithEndpoint('demo-reject', '/reject')
    const body = ok<Finalized>(await finalize(ctx, {}, 'demo-reject'))
    assert.equal(receiver.received.length, 1, 'an HTTP error is not retried')
    assert.equal(body.booking.status, 'HELD')
    assert.equal(body.booking.traffickingMode, 'HITL')
    const traffic = body.workItems.find((item) => item.kind === 'TRAFFIC_TO_CADENT')
    assert.ok(traffic)
    assert.equal(traffic.createdByType, 'SYSTEM')
    assert.match(String(traffic.payload.endpointError), /HTTP 500: Cadent is down for maintenance/)
    assert.match(String(traffic.payload.cadentCampaignXml), /<CadentCampaign/)

    const projection = await projectionOf(ctx, 'demo-reject')
    const cadent = projection.modules.find((module) => module.kind === 'TRAFFICKING')!
    assert.match(cadent.lastError!, /HTTP 500/)
    assert.equal(stage(projection, 'TRAFFIC_CAMPAIGN'), 'BLOCKED')
    assert.equal(projection.inventorySource.healthStatus, 'degraded')
    assert.equal(projection.openWorkItemCountsByKind.RESOLVE_SOURCE_HEALTH, 1)

    // A second failing booking adds to the open health item instead of opening another.
    await reserve(ctx, { mediaBuyId: 'mb_second' }, 'demo-reject')
    ok(await finalize(ctx, { mediaBuyId: 'mb_second' }, 'demo-reject'))
    const health = await itemOfKind(ctx, 'RESOLVE_SOURCE_HEALTH', 'demo-reject')
    const events = ok<{ events: { eventType: string }[] }>(await ctx.api('GET', `/inventory-sources/demo-reject/modular/work-items/${health.id}`)).events
    assert.deepEqual(events.map((event) => event.eventType), ['CREATED', 'FAILED_AGAIN'])

    const status = ok<{ adapter: { lastTestError: string | null; connected: boolean }; operational: { deliveryDegraded: boolean } }>(
      await ctx.api('GET', '/inventory-sources/demo-reject/status'))
    assert.match(status.adapter.lastTestError!, /HTTP 500/)
    assert.equal(status.adapter.connected, false)
    assert.equal(status.operational.deliveryDegraded, true)

    // The operator fixes it: completing the health item clears the error; the fallback item still books.
    ok(await complete(ctx, health.id, { notes: 'Endpoint back up' }, 'demo-reject'))
    const cleared = await projectionOf(ctx, 'demo-reject')
    assert.equal(cleared.modules.find((module) => module.kind === 'TRAFFICKING')!.lastError, null)
    assert.equal(stage(cleared, 'TRAFFIC_CAMPAIGN'), 'HITL_PENDING')
    ok(await complete(ctx, traffic.id, { result: { cadentCampaignId: 'CAD-BY-HAND' } }, 'demo-reject'))
    assert.equal(ok<Finalized>(await finalize(ctx, {}, 'demo-reject')).booking.status, 'BOOKED')
  })

  it('falls back when the endpoint hangs past the timeout, without retrying', async () => {
    receiver.received.length = 0
    await demoWithEndpoint('demo-hang', '/hang')
    const started = Date.now()
    const body = ok<Finalized>(await finalize(ctx, {}, 'demo-hang'))
    assert.ok(Date.now() - started < 5_000)
    assert.equal(receiver.received.length, 1)
    assert.equal(body.booking.status, 'HELD')
    const traffic = body.workItems.find((item) => item.kind === 'TRAFFIC_TO_CADENT')
    assert.match(String(traffic?.payload.endpointError), /timed out/)
    assert.equal(stage(body.projection, 'TRAFFIC_CAMPAIGN'), 'BLOCKED')
  })

  it('retries a refused connection once, then falls back', async () => {
    const port = await closedPort()
    await createDemo(ctx, { sourceId: 'demo-refused', cadentEndpointUrl: `http://127.0.0.1:${port}/campaigns` })
    await reserve(ctx, {}, 'demo-refused')
    ok<Finalized>(await finalize(ctx, {}, 'demo-refused'))
    const booking = await ctx.db.selectFrom('booking').select('endpoint_attempt').where('media_buy_id', '=', 'mb_123').orderBy('id', 'desc').executeTakeFirstOrThrow()
    assert.equal(booking.endpoint_attempt?.attempts, 2)
    assert.match(String(booking.endpoint_attempt?.error), /ECONNREFUSED/)
    assert.equal((await listItems(ctx, 'kind=TRAFFIC_TO_CADENT', 'demo-refused')).total, 1)
  })

  /** Workflows whose POST never returns: the process "dies" in the middle of it. */
  async function dyingMidPost(sourceId: string) {
    await createDemo(ctx, { sourceId, cadentEndpointUrl: `${receiver.url}/accept` })
    await reserve(ctx, {}, sourceId)
    const storefront = await ctx.db.selectFrom('storefront').select('id').where('name', '=', 'acme').executeTakeFirstOrThrow()
    const keys: string[] = []
    let answer!: (outcome: DispatchOutcome) => void
    let posting!: () => void
    const postStarted = new Promise<void>((resolve) => {
      posting = resolve
    })
    const dying = createExecutionWorkflows({
      db: ctx.db, clock: ctx.clock, ledger: ctx.services.ledger, dispatchTimeoutMs: 300,
      send: (_url, _xml, options) => {
        keys.push(options.idempotencyKey)
        posting()
        return new Promise((resolve) => {
          answer = resolve
        })
      },
    })
    const body = { mediaBuyId: 'mb_123', availId: PRIME, campaignName: 'Crash test', advertiserName: 'Example' }
    const finalized = dying.finalize(storefront.id, sourceId, body, { type: 'OPERATOR', id: 'test' })
    // The hand-off has committed once the POST starts.
    await postStarted
    assert.equal(keys.length, 1)
    /** The POST was only slow after all: its answer arrives now. */
    const answerLate = async (outcome: DispatchOutcome) => {
      answer(outcome)
      return finalized
    }
    return { keys, answerLate }
  }

  it('resends the XML with the same Idempotency-Key only when a crashed finalize left a stale claim', async () => {
    const { keys } = await dyingMidPost('demo-crash')
    // A fresh claim belongs to a live process: a second finalize neither POSTs nor opens items.
    const waiting = ok<Finalized>(await finalize(ctx, {}, 'demo-crash'))
    assert.equal(waiting.booking.status, 'HELD')
    assert.equal(keys.length, 1)
    receiver.received.length = 0
    ctx.clock.advance(60_000)
    const retried = ok<Finalized>(await finalize(ctx, {}, 'demo-crash'))
    assert.equal(receiver.received.length, 1)
    assert.equal(receiver.received[0]!.idempotencyKey, keys[0], 'the receiver can recognise the repeat')
    assert.equal(retried.booking.status, 'BOOKED')
  })

  it('opens the fallback TRAFFIC_TO_CADENT item for a hand-off a crash interrupted, with the error on the module', async () => {
    await dyingMidPost('demo-died')
    const execution = ctx.services.execution
    assert.deepEqual(await execution.reconcileHandoffs(), { opened: 0 }, 'a fresh claim may still be answered')
    ctx.clock.advance(60_000)
    assert.deepEqual(await execution.reconcileHandoffs(), { opened: 1 })
    assert.deepEqual(await execution.reconcileHandoffs(), { opened: 0 }, 'found once')
    const traffic = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT', 'demo-died')
    assert.match(String(traffic.payload.endpointError), /interrupted/)
    assert.match(String(traffic.payload.cadentCampaignXml), /<CadentCampaign/)
    const projection = await projectionOf(ctx, 'demo-died')
    assert.match(projection.modules.find((module) => module.kind === 'TRAFFICKING')!.lastError!, /interrupted/)
    const booking = ok<Finalized>(await finalize(ctx, {}, 'demo-died'))
    assert.equal(booking.booking.traffickingMode, 'HITL')
    ok(await complete(ctx, traffic.id, { result: { cadentCampaignId: 'CAD-BY-HAND' } }, 'demo-died'))
    assert.equal(ok<Finalized>(await finalize(ctx, {}, 'demo-died')).booking.status, 'BOOKED')
  })

  it('books a 2xx that arrives after the reconciler handed the line over, and cancels the fallback item', async () => {
    const { answerLate } = await dyingMidPost('demo-late')
    ctx.clock.advance(60_000)
    assert.deepEqual(await ctx.services.execution.reconcileHandoffs(), { opened: 1 })
    const traffic = await itemOfKind(ctx, 'TRAFFIC_TO_CADENT', 'demo-late')
    const late = await answerLate({ ok: true, httpStatus: 201, reference: 'CAD-LATE', attempts: 1 })
    assert.equal(late.booking.status, 'BOOKED')
    assert.deepEqual(late.booking.externalRefs, { cadentCampaignId: 'CAD-LATE' })
    assert.equal((await listItems(ctx, 'kind=TRAFFIC_TO_CADENT', 'demo-late')).total, 0)
    const events = ok<{ item: { status: string }; events: { eventType: string; notes: string | null }[] }>(
      await ctx.api('GET', `/inventory-sources/demo-late/modular/work-items/${traffic.id}`))
    assert.equal(events.item.status, 'CANCELLED')
    assert.equal(events.events.at(-1)!.notes, 'Reservation booked')
  })

  it('runs the reconciler in the sweeper loop', async () => {
    await dyingMidPost('demo-swept')
    ctx.clock.advance(60_000)
    const sweeper = startExpirySweeper({
      ledger: ctx.services.ledger,
      intervalMs: 5,
      logger: { info: () => undefined, error: () => undefined },
      reconcilers: [{ name: 'hand-offs', run: async () => (await ctx.services.execution.reconcileHandoffs()).opened }],
    })
    try {
      for (let i = 0; i < 400 && (await listItems(ctx, 'kind=TRAFFIC_TO_CADENT', 'demo-swept')).total === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    } finally {
      await sweeper.stop()
    }
    assert.equal((await listItems(ctx, 'kind=TRAFFIC_TO_CADENT', 'demo-swept')).total, 1)
  })

  it('does not retry when the connection breaks after the request was sent (ECONNRESET), and falls back', async () => {
    receiver.received.length = 0
    await demoWithEndpoint('demo-reset', '/reset')
    const body = ok<Finalized>(await finalize(ctx, {}, 'demo-reset'))
    assert.equal(receiver.received.length, 1, 'a request that may have arrived is not sent twice')
    assert.equal(body.booking.status, 'HELD')
    const booking = await ctx.db.selectFrom('booking').select('endpoint_attempt').where('id', '=', Number(body.booking.bookingId)).executeTakeFirstOrThrow()
    assert.equal(booking.endpoint_attempt?.attempts, 1)
    assert.equal(body.workItems.filter((item) => item.kind === 'TRAFFIC_TO_CADENT').length, 1)
  })

  it('retries once when the endpoint name does not resolve (the request cannot have left)', async () => {
    const outcome = await postCadentCampaign('http://storefront-cadent-test.invalid/campaigns', '<x/>', { timeoutMs: 5_000, idempotencyKey: 'k' })
    assert.equal(outcome.ok, false)
    assert.equal(outcome.attempts, 2)
    assert.match(outcome.ok ? '' : outcome.error, /ENOTFOUND|EAI_AGAIN/)
  })

  it('books a 2xx whose campaign id carries U+0000, keeping no id (never a 500 after Cadent accepted)', async () => {
    await demoWithEndpoint('demo-nul', '/accept-nul')
    const body = ok<Finalized>(await finalize(ctx, {}, 'demo-nul'))
    assert.equal(body.booking.status, 'BOOKED')
    assert.deepEqual(body.booking.externalRefs, {})
  })

  it('falls back on an error answer with U+0000 and bytes that are not UTF-8, recording the error readably', async () => {
    await demoWithEndpoint('demo-garbage', '/reject-garbage')
    const body = ok<Finalized>(await finalize(ctx, {}, 'demo-garbage'))
    assert.equal(body.booking.status, 'HELD')
    const traffic = body.workItems.find((item) => item.kind === 'TRAFFIC_TO_CADENT')
    assert.match(String(traffic?.payload.endpointError), /HTTP 500: bad \ufffd\ufffd!/)
    const projection = await projectionOf(ctx, 'demo-garbage')
    assert.match(projection.modules.find((module) => module.kind === 'TRAFFICKING')!.lastError!, /HTTP 500: bad \ufffd\ufffd!/)
  })

  it('falls back with the error recorded when the POST itself throws', async () => {
    await createDemo(ctx, { sourceId: 'demo-throws', cadentEndpointUrl: `${receiver.url}/accept` })
    await reserve(ctx, {}, 'demo-throws')
    const storefront = await ctx.db.selectFrom('storefront').select('id').where('name', '=', 'acme').executeTakeFirstOrThrow()
    const throwing = createExecutionWorkflows({
      db: ctx.db, clock: ctx.clock, ledger: ctx.services.ledger, dispatchTimeoutMs: 300,
      send: async () => {
        throw new Error('socket library bug')
      },
    })
    const body = await throwing.finalize(storefront.id, 'demo-throws', { mediaBuyId: 'mb_123', availId: PRIME, campaignName: 'Throws', advertiserName: 'Example' }, { type: 'OPERATOR', id: 'test' })
    assert.equal(body.booking.status, 'HELD')
    assert.match(String(body.workItems.find((item) => item.kind === 'TRAFFIC_TO_CADENT')?.payload.endpointError), /socket library bug/)
  })

  it('refuses unknown sources with 404', async () => {
    errorOf(await finalize(ctx, {}, 'demo-missing'), 404)
  })
})
