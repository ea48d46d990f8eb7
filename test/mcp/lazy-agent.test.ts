import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { after, before, describe, it } from 'node:test'
import { createTestContext, type TestContext } from '../helpers/context.ts'

/** Whether this process has loaded any module of @adcp/sdk (a CommonJS package: it shows in require's cache). */
function sdkLoaded(): boolean {
  return Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('/node_modules/@adcp/sdk/'))
}

describe('the AdCP agent, loaded by the first buyer request', () => {
  let ctx: TestContext
  let baseUrl: string

  before(async () => {
    ctx = await createTestContext()
    await ctx.app.listen({ port: 0, host: '127.0.0.1' })
    const address = ctx.app.server.address()
    if (!address || typeof address === 'string') throw new Error('the test app is not listening on a port')
    baseUrl = `http://127.0.0.1:${address.port}`
  })
  after(async () => ctx.close())

  it('serves operators without @adcp/sdk in memory, and answers the first /mcp request with it', async () => {
    assert.equal((await ctx.api('GET', '/inventory-sources')).statusCode, 200)
    await new Promise((resolve) => setTimeout(resolve, 50)) // nor does a load start in the background after start-up
    assert.equal(sdkLoaded(), false)

    const { key } = await ctx.services.access.createKey({ storefront: 'acme', label: 'buyer', role: 'buyer' })
    const response = await fetch(`${baseUrl}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${key}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    const body = await response.json() as { result?: { tools?: Array<{ name: string }> } }

    assert.equal(response.status, 200)
    assert.ok(body.result?.tools?.some((tool) => tool.name === 'create_media_buy'))
    assert.equal(sdkLoaded(), true)
  })
})
