import type { Database } from '../../src/db/database.ts'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { createTestContext, type TestContext, type TestContextOptions } from '../helpers/context.ts'

export interface McpTestContext extends TestContext {
  /** http://127.0.0.1:<port>: the same app, listening, for real MCP clients. */
  baseUrl: string
  mcpUrl: string
  /** A live buyer key of storefront acme. */
  buyerKey: string
  /** Another live buyer key of acme: a second buyer, for isolation tests. */
  otherBuyerKey: string
  /** An MCP client over Streamable HTTP with this key; closed by `close()`. */
  connect(key: string): Promise<Client>
}

/** The real app listening on a loopback port, with buyer keys; MCP clients talk to it over HTTP. */
export async function createMcpTestContext(options: TestContextOptions = {}): Promise<McpTestContext> {
  const ctx = await createTestContext(options)
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const address = ctx.app.server.address()
  if (!address || typeof address === 'string') throw new Error('the test app is not listening on a port')
  const baseUrl = `http://127.0.0.1:${address.port}`
  const { key: buyerKey } = await ctx.services.access.createKey({ storefront: 'acme', label: 'buyer a', role: 'buyer' })
  const { key: otherBuyerKey } = await ctx.services.access.createKey({ storefront: 'acme', label: 'buyer b', role: 'buyer' })
  const clients: Client[] = []
  return {
    ...ctx,
    baseUrl,
    mcpUrl: `${baseUrl}/mcp`,
    buyerKey,
    otherBuyerKey,
    async connect(key) {
      const client = new Client({ name: 'storefront-test-buyer', version: '0.0.0' })
      const transport = new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      })
      await client.connect(transport)
      clients.push(client)
      return client
    },
    async close() {
      for (const client of clients) await client.close().catch(() => {})
      await ctx.close()
    },
  }
}

/** A tool's AdCP payload: the SDK puts it in structuredContent (errors as adcp_error). */
export async function callTool(client: Client, name: string, args: Record<string, unknown>): Promise<{ isError: boolean; payload: Record<string, unknown> }> {
  const result = await client.callTool({ name, arguments: args })
  const payload = (result.structuredContent ?? JSON.parse((result.content as Array<{ text: string }>)[0]!.text)) as Record<string, unknown>
  return { isError: result.isError === true, payload }
}

/**
 * create_media_buy of the catalog's first product as a buyer's agent would place it: one package
 * of twice its fixed price, flying for a week from tomorrow. `fields` adds or overrides request
 * fields (idempotency_key, push_notification_config, reporting_webhook, ...).
 */
export async function buyFirstProduct(client: Client, account: { brand: { domain: string } } & Record<string, unknown>, fields: Record<string, unknown>) {
  const listed = await callTool(client, 'get_products', { buying_mode: 'wholesale' })
  const product = (listed.payload.products as Array<{ product_id: string; pricing_options: Array<{ pricing_option_id: string; fixed_price: number }> }>)[0]!
  const start = new Date(Date.now() + 86_400_000)
  return callTool(client, 'create_media_buy', {
    account,
    brand: account.brand,
    start_time: start.toISOString(),
    end_time: new Date(start.getTime() + 7 * 86_400_000).toISOString(),
    packages: [{ product_id: product.product_id, pricing_option_id: product.pricing_options[0]!.pricing_option_id, budget: product.pricing_options[0]!.fixed_price * 2 }],
    ...fields,
  })
}

/** The calendar days of a buy's (first) line, counted from its avail's start: `day(0)` is its first. */
export async function lineDaysOf(db: Database, mediaBuyId: string): Promise<(offset: number) => string> {
  const line = await db
    .selectFrom('reservation')
    .innerJoin('avail', 'avail.id', 'reservation.avail_row_id')
    .select(['avail.start_time'])
    .where('reservation.media_buy_id', '=', mediaBuyId)
    .executeTakeFirstOrThrow()
  return (offset) => new Date(line.start_time.getTime() + offset * 86_400_000).toISOString().slice(0, 10)
}
