import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createExecutionWorkflows } from '../../src/workflows/execution-workflows.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { availCounters, complete, createDemo, errorOf, finalize, itemOfKind, listItems, ok, PRIME, projectionOf, reserve, stage, type Finalized } from './helpers.ts'

interface Received {
  path: string
  contentType: string | undefined
  idempotencyKey: string | undefined
  body: string
}

/** A real Cadent stand-in on 127.0.0.1: /accept answers 201 with a campaign id, /reject 500, /hang never answers. */
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

  it('resends the XML only when a crashed finalize left a stale claim', async () => {
    await createDemo(ctx, { sourceId: 'demo-crash', cadentEndpointUrl: `${receiver.url}/accept` })
    await reserve(ctx, {}, 'demo-crash')
    const storefront = await ctx.db.selectFrom('storefront').select('id').where('name', '=', 'acme').executeTakeFirstOrThrow()
    const actor = { type: 'OPERATOR' as const, id: 'test' }
    let posts = 0
    const crashing = createExecutionWorkflows({
      db: ctx.db, clock: ctx.clock, ledger: ctx.services.ledger, cadentTimeoutMs: 300,
      postCadentCampaign: async () => {
        posts += 1
        throw new Error('process died mid-POST')
      },
    })
    const body = { mediaBuyId: 'mb_123', availId: PRIME, campaignName: 'Crash test', advertiserName: 'Example' }
    await assert.rejects(crashing.finalize(storefront.id, 'demo-crash', body, actor), /process died/)
    // A fresh claim belongs to a live process: a second finalize neither POSTs nor opens items.
    const waiting = await crashing.finalize(storefront.id, 'demo-crash', body, actor).catch((error: Error) => error)
    assert.equal(posts, 1, String(waiting))
    receiver.received.length = 0
    ctx.clock.advance(60_000)
    const retried = ok<Finalized>(await finalize(ctx, {}, 'demo-crash'))
    assert.equal(receiver.received.length, 1)
    assert.equal(retried.booking.status, 'BOOKED')
  })

  it('refuses unknown sources with 404', async () => {
    errorOf(await finalize(ctx, {}, 'demo-missing'), 404)
  })
})
