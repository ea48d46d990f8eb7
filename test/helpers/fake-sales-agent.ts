import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'

/** Every tool the AdCP reference sales agent lists, plus the accounts tools. */
export const FULL_SALES_AGENT_TOOLS = [
  'get_adcp_capabilities',
  'get_products',
  'list_creative_formats',
  'create_media_buy',
  'update_media_buy',
  'get_media_buys',
  'get_media_buy_delivery',
  'sync_creatives',
  'list_creatives',
  'list_accounts',
  'sync_accounts',
] as const

/** A get_adcp_capabilities answer shaped like the AdCP 3 response schema. */
export const COMPLIANT_CAPABILITIES = {
  adcp: { major_versions: [3], idempotency: { supported: true, replay_ttl_seconds: 86400 } },
  supported_protocols: ['media_buy'],
  media_buy: {
    features: { inline_creative_management: false, property_list_filtering: false },
    portfolio: { publisher_domains: ['retail-network.example.com'], primary_channels: ['display', 'ctv'] },
  },
  last_updated: '2026-11-01T00:00:00Z',
}

export interface FakeSalesAgentOptions {
  /** Requests must carry `Authorization: Bearer <token>`; otherwise HTTP 401. */
  bearerToken?: string
  /** Requests must carry HTTP Basic with these; otherwise HTTP 401. */
  basicAuth?: { username: string; password: string }
  /** Tool names in tools/list. */
  tools?: readonly string[]
  /** What get_adcp_capabilities returns. */
  capabilities?: unknown
  /** `structured` sends structuredContent plus a text summary; `text` only JSON text content. */
  capabilitiesAs?: 'structured' | 'text'
  /** get_adcp_capabilities answers this AdCP error (isError) instead of capabilities. */
  capabilitiesError?: { code: string; message: string }
  /** Accepts connections and reads requests but never answers. */
  hang?: boolean
}

export interface FakeSalesAgent {
  /** The MCP endpoint, e.g. http://127.0.0.1:41234/mcp */
  url: string
  /** Method, path and headers of every request seen, for asserting what a client sent. */
  requests: { method: string; path: string; headers: IncomingHttpHeaders }[]
  close(): Promise<void>
}

/**
 * A real MCP server over Streamable HTTP standing in for an upstream AdCP sales agent.
 * Stateless (a fresh server per POST), like a horizontally scaled agent behind a balancer.
 */
export async function startFakeSalesAgent(options: FakeSalesAgentOptions = {}): Promise<FakeSalesAgent> {
  const requests: FakeSalesAgent['requests'] = []
  const http = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers })
    if (options.hang) {
      req.resume()
      return
    }
    handle(req, res, options).catch(() => {
      if (!res.headersSent) res.writeHead(500).end()
    })
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections()
        http.close(() => resolve())
      }),
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, options: FakeSalesAgentOptions): Promise<void> {
  if (new URL(req.url ?? '/', 'http://fake').pathname !== '/mcp') {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }))
    return
  }
  if (!authorized(req, options)) {
    req.resume()
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' })
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'AUTH_INVALID: credential not accepted' }, id: null }))
    return
  }
  // Stateless agents have no server-initiated stream and no session to delete.
  if (req.method !== 'POST') {
    req.resume()
    res.writeHead(405, { allow: 'POST' }).end()
    return
  }
  const body = await readJson(req)
  const server = buildServer(options)
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
  res.on('close', () => {
    void transport.close()
    void server.close()
  })
  await server.connect(transport)
  await transport.handleRequest(req, res, body)
}

function authorized(req: IncomingMessage, options: FakeSalesAgentOptions): boolean {
  const header = req.headers.authorization
  if (options.bearerToken !== undefined) return header === `Bearer ${options.bearerToken}`
  if (options.basicAuth !== undefined) {
    const expected = Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')
    return header === `Basic ${expected}`
  }
  return true
}

function buildServer(options: FakeSalesAgentOptions): McpServer {
  const server = new McpServer({ name: 'fake-sales-agent', version: '1.0.0' }, { capabilities: { tools: {} } })
  for (const name of options.tools ?? FULL_SALES_AGENT_TOOLS) {
    const handler = name === 'get_adcp_capabilities' ? () => capabilitiesResult(options) : () => notImplemented(name)
    server.registerTool(name, { description: `AdCP ${name}` }, handler)
  }
  return server
}

function capabilitiesResult(options: FakeSalesAgentOptions): CallToolResult {
  if (options.capabilitiesError) {
    const payload = { adcp_error: options.capabilitiesError }
    return { isError: true, content: [{ type: 'text', text: options.capabilitiesError.message }], structuredContent: payload }
  }
  const capabilities = (options.capabilities ?? COMPLIANT_CAPABILITIES) as Record<string, unknown>
  if (options.capabilitiesAs === 'text') return { content: [{ type: 'text', text: JSON.stringify(capabilities) }] }
  // AdCP over MCP: the response object is structuredContent, the text part is a human summary.
  return { content: [{ type: 'text', text: 'AdCP capabilities' }], structuredContent: capabilities }
}

function notImplemented(name: string): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: `${name} is not implemented by the fake agent` }],
    structuredContent: { adcp_error: { code: 'UNSUPPORTED_FEATURE', message: `${name} is not implemented by the fake agent` } },
  }
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch (error) {
        reject(error)
      }
    })
    req.on('error', reject)
  })
}
