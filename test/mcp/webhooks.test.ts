import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { InMemoryReplayStore, InMemoryRevocationStore, StaticJwksResolver, verifyWebhookSignature } from '@adcp/sdk/signing/server'
import { taskWebhookPayload, webhookIdempotencyKey } from '../../src/modules/buyer-webhooks/index.ts'
import { buyFirstProduct, callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

interface Captured {
  url: string
  headers: IncomingHttpHeaders
  body: string
}

/** A buyer's webhook receiver on loopback: answers each POST with the next status of `statuses` (then 200). */
async function startReceiver(statuses: number[] = []): Promise<{ url: string; received: Captured[]; close(): Promise<void> }> {
  const received: Captured[] = []
  const queue = [...statuses]
  const server: Server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      received.push({ url: request.url ?? '/', headers: request.headers, body })
      response.writeHead(queue.shift() ?? 200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('receiver not listening')
  return {
    url: `http://127.0.0.1:${address.port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

/** Verifies a captured delivery the way a buyer does: RFC 9421 against the JWKS the agent publishes. */
async function verifyAgainstJwks(ctx: McpTestContext, receiverUrl: string, captured: Captured) {
  const jwks = (await (await fetch(`${ctx.baseUrl}/.well-known/jwks.json`)).json()) as { keys: ConstructorParameters<typeof StaticJwksResolver>[0] }
  return verifyWebhookSignature(
    { method: 'POST', url: `${receiverUrl}${captured.url}`, headers: captured.headers as Record<string, string>, body: captured.body },
    { jwks: new StaticJwksResolver(jwks.keys), replayStore: new InMemoryReplayStore(), revocationStore: new InMemoryRevocationStore() },
  )
}

const completion = () =>
  taskWebhookPayload({
    task_id: 'task_123',
    task_type: 'create_media_buy',
    status: 'completed',
    timestamp: new Date('2026-12-01T10:00:00.000Z'),
    result: { media_buy_id: 'mb_1', packages: [] },
    token: 'buyer-validation-token-0001',
  })

describe('signed AdCP webhooks', () => {
  let ctx: McpTestContext
  let sandboxKey: string

  before(async () => {
    ctx = await createMcpTestContext()
    ;({ key: sandboxKey } = await ctx.services.access.createKey({ storefront: 'acme', label: 'runner', role: 'buyer', sandbox: true }))
  })
  after(async () => {
    await ctx.close()
  })

  it('publishes the public half of the signing key as a JWKS at /.well-known/jwks.json, without auth', async () => {
    const response = await fetch(`${ctx.baseUrl}/.well-known/jwks.json`)
    assert.equal(response.status, 200)
    const { keys } = (await response.json()) as { keys: Array<Record<string, unknown>> }
    assert.equal(keys.length, 1)
    const [key] = keys
    assert.deepEqual(
      { kty: key!.kty, crv: key!.crv, alg: key!.alg, use: key!.use, adcp_use: key!.adcp_use, key_ops: key!.key_ops, kid: key!.kid },
      { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', adcp_use: 'webhook-signing', key_ops: ['verify'], kid: ctx.services.buyerWebhooks.signerKey!.keyid },
    )
    assert.equal(key!.d, undefined, 'the private scalar is never published')
  })

  it('advertises RFC 9421 webhook signing in get_adcp_capabilities', async () => {
    const client = await ctx.connect(ctx.buyerKey)
    const { payload } = await callTool(client, 'get_adcp_capabilities', {})
    assert.deepEqual(payload.webhook_signing, { supported: true, profile: 'adcp/webhook-signing/v1', algorithms: ['ed25519'] })
  })

  it('sends a task completion a buyer verifies against the published JWKS, with the same idempotency_key on every retry', async () => {
    const receiver = await startReceiver([503])
    try {
      const delivery = await ctx.services.buyerWebhooks.sendTaskWebhook({
        url: `${receiver.url}/hooks/adcp?op=1`,
        payload: completion(),
        operation_id: 'create_media_buy.task_123',
        allowPrivateDestination: true,
      })
      assert.deepEqual([delivery.delivered, delivery.attempts, delivery.final_status], [true, 2, 200])
      assert.equal(receiver.received.length, 2)
      const bodies = receiver.received.map((captured) => JSON.parse(captured.body) as Record<string, unknown>)
      assert.equal(bodies[0]!.idempotency_key, webhookIdempotencyKey('create_media_buy.task_123'))
      assert.equal(bodies[1]!.idempotency_key, bodies[0]!.idempotency_key)
      assert.deepEqual(
        { task_id: bodies[1]!.task_id, task_type: bodies[1]!.task_type, status: bodies[1]!.status, token: bodies[1]!.token, result: bodies[1]!.result },
        { task_id: 'task_123', task_type: 'create_media_buy', status: 'completed', token: 'buyer-validation-token-0001', result: { media_buy_id: 'mb_1', packages: [] } },
      )
      const verified = await verifyAgainstJwks(ctx, receiver.url, receiver.received[1]!)
      assert.equal(verified.keyid, ctx.services.buyerWebhooks.signerKey!.keyid)
      assert.match(String(receiver.received[1]!.headers['signature-input']), /tag="adcp\/webhook-signing\/v1"/)
    } finally {
      await receiver.close()
    }
  })

  it('rejects a tampered body: the signature covers the content digest', async () => {
    const receiver = await startReceiver()
    try {
      await ctx.services.buyerWebhooks.sendTaskWebhook({ url: `${receiver.url}/t`, payload: completion(), operation_id: 'op-tamper', allowPrivateDestination: true })
      const captured = receiver.received[0]!
      const forged = { ...captured, body: captured.body.replace('mb_1', 'mb_2') }
      await assert.rejects(verifyAgainstJwks(ctx, receiver.url, forged))
    } finally {
      await receiver.close()
    }
  })

  it('uses the legacy scheme instead when the buyer registered push_notification_config.authentication', async () => {
    const receiver = await startReceiver()
    try {
      const credentials = 'bearer-credential-of-the-buyer-0123456789'
      const delivery = await ctx.services.buyerWebhooks.sendTaskWebhook({
        url: `${receiver.url}/legacy`,
        authentication: { schemes: ['Bearer'], credentials },
        payload: completion(),
        operation_id: 'op-legacy',
        allowPrivateDestination: true,
      })
      assert.equal(delivery.delivered, true)
      const { headers } = receiver.received[0]!
      assert.equal(headers.authorization, `Bearer ${credentials}`)
      assert.equal(headers.signature, undefined, 'one scheme per webhook, never both')
    } finally {
      await receiver.close()
    }
  })

  it('does not deliver to a loopback or plain-http destination unless private destinations are allowed (sandbox)', async () => {
    const receiver = await startReceiver()
    try {
      const delivery = await ctx.services.buyerWebhooks.sendTaskWebhook({ url: `${receiver.url}/live`, payload: completion(), operation_id: 'op-live', maxAttempts: 2 })
      assert.equal(delivery.delivered, false)
      assert.equal(delivery.attempts, 1, 'a refused destination is final, not retried')
      assert.equal(receiver.received.length, 0)
    } finally {
      await receiver.close()
    }
  })

  it('refuses a live key\'s plain-http push_notification_config.url, naming the field and echoing context', async () => {
    const client = await ctx.connect(ctx.buyerKey)
    const { isError, payload } = await callTool(client, 'sync_creatives', {
      account: { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' },
      creatives: [],
      idempotency_key: 'webhook-url-live-http-0001',
      push_notification_config: { url: 'http://buyer.example/hooks' },
      context: { correlation_id: 'live-http' },
    })
    assert.equal(isError, true)
    const error = payload.adcp_error as { code: string; field: string; message: string }
    assert.deepEqual([error.code, error.field], ['INVALID_REQUEST', 'push_notification_config.url'])
    assert.match(error.message, /https/)
    assert.deepEqual(payload.context, { correlation_id: 'live-http' })
  })

  it('refuses a live key\'s loopback or private webhook hosts, in push_notification_config and reporting_webhook alike', async () => {
    const client = await ctx.connect(ctx.buyerKey)
    for (const [field, url] of [
      ['push_notification_config', 'https://127.0.0.1:8443/hooks'],
      ['reporting_webhook', 'https://10.1.2.3/delivery'],
      ['reporting_webhook', 'https://localhost/delivery'],
      ['reporting_webhook', 'https://[::ffff:192.168.0.9]/delivery'],
      ['reporting_webhook', 'ftp://buyer.example/delivery'],
    ] as const) {
      const { isError, payload } = await callTool(client, 'create_media_buy', {
        account: { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' },
        brand: { domain: 'acmeoutdoor.example' },
        start_time: '2027-01-01T00:00:00Z', end_time: '2027-01-08T00:00:00Z',
        packages: [],
        idempotency_key: `webhook-private-${field}-${url.length}-0001`,
        [field]: { url, reporting_frequency: 'daily', authentication: { schemes: ['Bearer'], credentials: 'x'.repeat(32) } },
      })
      assert.equal(isError, true, url)
      const error = payload.adcp_error as { code: string; field: string }
      assert.deepEqual([error.code, error.field], ['INVALID_REQUEST', `${field}.url`], url)
    }
  })

  it('lets a sandbox key name a plain-http loopback receiver (the conformance runner\'s), without a warning per request', async () => {
    const client = await ctx.connect(sandboxKey)
    const warnings: string[] = []
    const warn = console.warn
    console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '))
    let payload: Record<string, unknown>
    try {
      ;({ payload } = await callTool(client, 'sync_creatives', {
        account: { brand: { domain: 'test.example' }, operator: 'test.example', sandbox: true },
        creatives: [],
        idempotency_key: 'webhook-url-sandbox-http-0001',
        push_notification_config: { url: 'http://127.0.0.1:9/hooks' },
      }))
    } finally {
      console.warn = warn
    }
    const error = payload.adcp_error as { field?: string } | undefined
    assert.notEqual(error?.field, 'push_notification_config.url')
    assert.deepEqual(warnings.filter((line) => line.includes('allowPrivateWebhookUrls')), [])
  })
})

describe('an agent without a webhook signing key (PostgreSQL with none configured)', () => {
  let ctx: McpTestContext

  before(async () => {
    ctx = await createMcpTestContext({ webhookSigningKey: null })
  })
  after(async () => {
    await ctx.close()
  })

  it('promises no webhook: push_notification_config is refused, nothing is advertised, the JWKS is empty', async () => {
    const client = await ctx.connect(ctx.buyerKey)
    const refused = await callTool(client, 'sync_creatives', {
      account: { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example' },
      creatives: [],
      idempotency_key: 'webhook-url-no-key-0001',
      push_notification_config: { url: 'https://buyer.example/hooks' },
    })
    assert.equal((refused.payload.adcp_error as { field: string }).field, 'push_notification_config.url')
    const caps = await callTool(client, 'get_adcp_capabilities', {})
    assert.equal(caps.payload.webhook_signing, undefined)
    assert.deepEqual(await (await fetch(`${ctx.baseUrl}/.well-known/jwks.json`)).json(), { keys: [] })
  })
})

describe('the completion webhook of a submitted media buy', () => {
  const ACCOUNT = { brand: { domain: 'test.example' }, operator: 'test.example', sandbox: true }
  let ctx: McpTestContext
  let receiver: Awaited<ReturnType<typeof startReceiver>>

  before(async () => {
    ctx = await createMcpTestContext()
    receiver = await startReceiver()
  })
  after(async () => {
    await receiver.close()
    await ctx.close()
  })

  it('is written to the outbox with the completion of the work item that books the last hold, and sent signed from there', async () => {
    // A sandbox key forced onto the submitted arm: the one path to a people-worked buy whose buyer
    // may run a loopback receiver (a live key's webhook URL must be public https).
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', label: 'webhook buyer', role: 'buyer', sandbox: true })
    const client = await ctx.connect(key)
    const forced = await callTool(client, 'comply_test_controller', { scenario: 'force_create_media_buy_arm', params: { arm: 'submitted', task_id: 'task_webhook_e2e_0001' }, account: ACCOUNT })
    assert.equal(forced.payload.success, true, JSON.stringify(forced.payload))
    const created = await buyFirstProduct(client, ACCOUNT, {
      push_notification_config: { url: `${receiver.url}/hooks/buy`, token: 'buyer-validation-token-0001' },
      idempotency_key: 'webhook-e2e-create-0001',
    })
    assert.deepEqual([created.payload.status, created.payload.task_id], ['submitted', 'task_webhook_e2e_0001'], JSON.stringify(created.payload))

    const buy = await ctx.db.selectFrom('media_buy').selectAll().where('task_id', '=', 'task_webhook_e2e_0001').executeTakeFirstOrThrow()
    const items = (await ctx.api('GET', `/inventory-sources/adcp-sandbox/modular/work-items?mediaBuyId=${buy.media_buy_id}&kind=TRAFFIC_TO_CADENT`)).json().items as Array<{ id: string }>
    assert.equal(items.length, 1)
    const completionsBefore = receiver.received.filter((captured) => JSON.parse(captured.body).status === 'completed').length
    const done = await ctx.api('POST', `/inventory-sources/adcp-sandbox/modular/work-items/${items[0]!.id}/complete`, { result: { cadentCampaignId: 'CAD-WEBHOOK-1' } })
    assert.equal(done.statusCode, 200, done.body)

    // Committed with the completion; this context runs no sender loop, so one pass sends it.
    const event = await ctx.db.selectFrom('webhook_outbox').selectAll().where('media_buy_row_id', '=', buy.id).executeTakeFirstOrThrow()
    assert.deepEqual([event.status, event.operation_id, event.destination_origin], ['pending', 'create_media_buy.task_webhook_e2e_0001', receiver.url])
    assert.doesNotMatch(event.destination_sealed, /hooks|token/, 'the destination is sealed')
    assert.equal((await ctx.services.webhookOutbox.deliverDue()).delivered, 1)
    const completions = receiver.received.filter((captured) => JSON.parse(captured.body).status === 'completed')
    assert.equal(completions.length, completionsBefore + 1)
    const delivery = completions.at(-1)!
    assert.equal(delivery.url, '/hooks/buy')
    const body = JSON.parse(delivery.body) as { task_id: string; task_type: string; token: string; idempotency_key: string; result: { media_buy_id: string; status: string } }
    assert.deepEqual([body.task_id, body.task_type, body.token, body.result.media_buy_id, body.result.status], ['task_webhook_e2e_0001', 'create_media_buy', 'buyer-validation-token-0001', buy.media_buy_id, 'pending_creatives'])
    assert.equal(body.idempotency_key, webhookIdempotencyKey('create_media_buy.task_webhook_e2e_0001'))
    const verified = await verifyAgainstJwks(ctx, receiver.url, delivery)
    assert.ok(verified, 'the signature verifies against the published JWKS')
  })
})
