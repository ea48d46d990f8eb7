import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

/**
 * What `adcp fuzz` checks (docs/adcp.md, "Fuzzing"): every answer is a schema-valid success or a
 * well-formed AdCP error (a code, a message, the request's `context` echoed), and another tenant's
 * object answers byte for byte like a missing one.
 */

const CONTEXT = { correlation: 'fuzz-probe-7', nested: { flag: false } }

async function rawCall(client: Client, name: string, args: Record<string, unknown>) {
  const result = await client.callTool({ name, arguments: args })
  return { isError: result.isError === true, structuredContent: result.structuredContent as Record<string, unknown> | undefined, content: result.content }
}

describe('AdCP answers the fuzzer cannot tell apart', () => {
  let ctx: McpTestContext
  let tenantA: Client
  let tenantB: Client
  let mediaBuyIdOfA: string

  before(async () => {
    ctx = await createMcpTestContext()
    // Two storefronts, a sandbox buyer key on each: the fuzzer's two tenants.
    const a = await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'tenant a' })
    const b = await ctx.services.access.createKey({ storefront: 'globex', role: 'buyer', sandbox: true, label: 'tenant b' })
    tenantA = await ctx.connect(a.key)
    tenantB = await ctx.connect(b.key)
    // Tenant A buys as the fuzzer's seeder does: the first product, its first pricing option.
    const products = await callTool(tenantA, 'get_products', { buying_mode: 'brief', brief: 'anything' })
    assert.equal(products.isError, false, JSON.stringify(products.payload))
    const product = (products.payload.products as Array<{ product_id: string; pricing_options: Array<{ pricing_option_id: string }> }>)[0]!
    const now = Date.now()
    const created = await callTool(tenantA, 'create_media_buy', {
      idempotency_key: randomUUID(),
      account: { brand: { domain: 'conformance.example' }, operator: 'conformance.example' },
      brand: { domain: 'conformance.example' },
      start_time: new Date(now + 86_400_000).toISOString(),
      end_time: new Date(now + 8 * 86_400_000).toISOString(),
      packages: [{ product_id: product.product_id, pricing_option_id: product.pricing_options[0]!.pricing_option_id, budget: 100 }],
    })
    assert.equal(created.isError, false, JSON.stringify(created.payload))
    mediaBuyIdOfA = created.payload.media_buy_id as string
    assert.ok(mediaBuyIdOfA)
  })
  after(async () => {
    await ctx.close()
  })

  it("answers get_media_buy_delivery for another storefront's buy exactly like for a missing one, without echoing the id", async () => {
    const ask = (id: string) => rawCall(tenantB, 'get_media_buy_delivery', { media_buy_ids: [id], start_date: '2026-01-01', end_date: '2026-12-31' })
    const foreign = await ask(mediaBuyIdOfA)
    const missing = await ask(randomUUID())
    assert.equal(foreign.isError, true)
    assert.deepEqual(foreign, missing)
    const error = foreign.structuredContent!.adcp_error as { code: string; message: string; field: string }
    assert.equal(error.code, 'MEDIA_BUY_NOT_FOUND')
    assert.equal(error.field, 'media_buy_ids[0]')
    assert.ok(!error.message.includes(mediaBuyIdOfA))
    // The owner still reads it.
    const own = await callTool(tenantA, 'get_media_buy_delivery', { media_buy_ids: [mediaBuyIdOfA] })
    assert.equal(own.isError, false, JSON.stringify(own.payload))
  })

  it('names each unknown id of a partly found delivery request by its position', async () => {
    const unknown = randomUUID()
    const { isError, payload } = await callTool(tenantA, 'get_media_buy_delivery', { media_buy_ids: [mediaBuyIdOfA, unknown] })
    assert.equal(isError, false, JSON.stringify(payload))
    assert.deepEqual(payload.errors, [{ code: 'MEDIA_BUY_NOT_FOUND', message: 'Media buy not found for this buyer key', field: 'media_buy_ids[1]' }])
  })

  it("answers update_media_buy on another storefront's buy exactly like on a missing one", async () => {
    const ask = (id: string) => rawCall(tenantB, 'update_media_buy', { account: { brand: { domain: 'conformance.example' }, operator: 'conformance.example' }, media_buy_id: id, idempotency_key: randomUUID(), paused: true })
    const foreign = await ask(mediaBuyIdOfA)
    const missing = await ask(`mb_${randomUUID().replace(/-/g, '').slice(0, 16)}`)
    assert.equal(foreign.isError, true)
    assert.equal((foreign.structuredContent!.adcp_error as { code: string }).code, 'MEDIA_BUY_NOT_FOUND', JSON.stringify(foreign.structuredContent))
    assert.deepEqual(foreign.structuredContent!.adcp_error, missing.structuredContent!.adcp_error)
  })

  it('answers tasks_get for unknown task ids with one message, never the id, and echoes context', async () => {
    const ask = (id: string) => rawCall(tenantB, 'tasks_get', { task_id: id, context: CONTEXT })
    const first = await ask(randomUUID())
    const second = await ask(' ')
    assert.equal(first.isError, true)
    assert.deepEqual(first, second)
    assert.deepEqual(first.structuredContent!.adcp_error, { code: 'REFERENCE_NOT_FOUND', message: 'Task not found for this buyer key', recovery: 'correctable', field: 'task_id' })
    assert.deepEqual(first.structuredContent!.context, CONTEXT)
    // The alias the spec names is the same tool.
    assert.deepEqual(await rawCall(tenantB, 'tasks/get', { task_id: randomUUID(), context: CONTEXT }), first)
  })

  it('answers a tool call whose arguments hold a __proto__ key with INVALID_REQUEST on its own id, context echoed, not a REST error', async () => {
    // JSON.parse makes `__proto__` an own key, which the client sends as written.
    const window = JSON.parse('{"__proto__": {}}') as Record<string, unknown>
    const args = { account: { account_id: 'acct' }, media_buy_id: mediaBuyIdOfA, idempotency_key: randomUUID(), packages: [{ package_id: 'p', targeting_overlay: { window } }], context: CONTEXT }
    const { isError, structuredContent } = await rawCall(tenantA, 'update_media_buy', args)
    assert.equal(isError, true)
    const error = structuredContent!.adcp_error as { code: string; message: string }
    assert.equal(error.code, 'INVALID_REQUEST')
    assert.match(error.message, /__proto__/)
    assert.deepEqual(structuredContent!.context, CONTEXT)
    // The REST API keeps its own shape for the same body.
    const rest = await ctx.api('POST', '/inventory-sources', '{"__proto__": {}}', { headers: { 'content-type': 'application/json' } })
    assert.equal(rest.statusCode, 400)
    assert.equal((JSON.parse(rest.body) as { error: { code: string } }).error.code, 'VALIDATION_ERROR')
  })

  for (const tool of ['preview_creative', 'get_creative_delivery', 'tasks_list']) {
    it(`answers ${tool}, which it does not serve, with a well-formed AdCP error: UNSUPPORTED_FEATURE, context echoed`, async () => {
      const { isError, structuredContent } = await rawCall(tenantA, tool, { context: CONTEXT, x_probe: 0 })
      assert.equal(isError, true)
      const error = structuredContent!.adcp_error as { code: string; message: string; recovery: string }
      assert.equal(error.code, 'UNSUPPORTED_FEATURE')
      assert.equal(error.recovery, 'correctable')
      assert.match(error.message, new RegExp(`does not offer "${tool}"`))
      assert.deepEqual(structuredContent!.context, CONTEXT)
    })
  }
})
