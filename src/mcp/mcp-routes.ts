import type { IncomingMessage } from 'node:http'
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Caller } from '../access/access-service.ts'
import { bearerToken } from '../http/plugins/caller.ts'
import { checkedJsonParser } from '../http/plugins/json-body.ts'
import { webhookUrlProblem } from '../modules/buyer-webhooks/index.ts'
import { isStorefrontError } from '../shared/errors.ts'
import type { Services } from '../services.ts'
import type { BuyerAgent } from './agent.ts'
import { a2aRoutes } from './a2a-routes.ts'
import { oauthRoutes, resourceMetadataUrl } from './oauth-routes.ts'

export const MCP_PATH = '/mcp'
/** Where AdCP verifiers look for a seller's keys when its brand.json names no jwks_uri. */
export const JWKS_PATH = '/.well-known/jwks.json'

/** The one tools/call of an HTTP request, as the buyer sent it (see toolCallOf). */
export interface ToolCall {
  name: string
  arguments: Record<string, unknown>
}

/**
 * The tools/call of a single-message MCP request (a batch has none). The SDK hands a sales
 * platform's syncCreatives only the creatives, so sync_creatives reads the rest of its request
 * (assignments, creative_ids, dry_run, delete_missing) here, after the SDK validated this call.
 */
export function toolCallOf(body: unknown): ToolCall | null {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return null
  const { method, params } = body as { method?: unknown; params?: { name?: unknown; arguments?: unknown } }
  if (method !== 'tools/call' || !params || typeof params.name !== 'string') return null
  const args = params.arguments
  return { name: params.name, arguments: args && typeof args === 'object' && !Array.isArray(args) ? (args as Record<string, unknown>) : {} }
}

const REALM = 'storefront-adcp'

/** The SDK's principal for a buyer key (idempotency scope, task ownership): the key's id, never the bearer. */
export function principalOf(caller: Caller): string {
  return `api_key:${caller.apiKeyId}`
}

/**
 * POST /mcp: the AdCP sales agent over MCP Streamable HTTP, stateless (no Mcp-Session-Id), JSON
 * responses. A buyer key is required; the request is then handed to the SDK's transport as is.
 */
export const mcpRoutes: FastifyPluginAsync<{ services: Services; version: string }> = async (app, { services, version }) => {
  // @adcp/sdk is large (AdCP schemas, validators: ~75 MiB resident and about half a second to
  // import): a process loads it with the first buyer request at /mcp or /a2a, so a server that
  // only serves operators never holds it (BENCHMARKS.md, "Embedded startup and memory").
  let agent: Promise<BuyerAgent> | undefined
  const loadAgent = () => (agent ??= import('./agent.ts').then(({ createBuyerAgent }) => createBuyerAgent({ services, version })))

  // The body checks of every route (json-body.ts: prototype keys, depth, text PostgreSQL cannot
  // hold), but a body they refuse that is still JSON is answered to the MCP client as an AdCP error
  // on its own JSON-RPC id (refusedBody below), not in the REST error shape, which no MCP client reads.
  // Its own scope: the parser is this route's only.
  await app.register(async (mcp) => {
    const parseChecked = checkedJsonParser(mcp)
    mcp.removeContentTypeParser('application/json')
    mcp.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      parseChecked(request, body as string, (error, value) => {
        if (!error) return done(null, value)
        const envelope = envelopeOf(body as string)
        if (!envelope) return done(error, undefined)
        done(null, { [REFUSED_BODY]: { error, envelope } })
      })
    })

    mcp.post(MCP_PATH, { schema: { hide: true } }, async (request, reply) => {
      const caller = await authenticateBuyer(services, request, reply)
      if (!caller) return reply
      const refused = refusedBody(request.body)
      if (refused) return reply.code(refused.status).type('application/json').send(refused.answer)
      const limited = await limitBuyerRate(app, request, reply, 'mcp')
      if (limited) {
        const answer = adcpErrorAnswer(envelopeOfParsed(request.body), limited, 429)
        return reply.code(answer.status).type('application/json').send(answer.answer)
      }
      // The SDK reads the principal from req.auth. We authenticated the key already, so the
      // principal is named by its id; the bearer itself never goes further than this line.
      const principal = principalOf(caller)
      Object.assign(request.raw, { auth: { token: principal, clientId: principal, scopes: [], extra: { storefrontId: caller.storefrontId, sandbox: caller.sandbox } } })
      acceptJsonAndEventStream(request.raw)
      const origin = `${request.protocol}://${request.host}`
      const buyerAgent = await loadAgent()
      const server = buyerAgent.serverFor({ caller, agentUrl: `${origin}${MCP_PATH}`, toolCall: toolCallOf(request.body) }, request.hostname)
      const transport = buyerAgent.transportFor()
      reply.hijack()
      try {
        await server.connect(transport)
        guardToolCalls(transport, { sandbox: caller.sandbox, canSign: services.buyerWebhooks.signerKey !== null, served: buyerAgent.servedToolNames(server) })
        await transport.handleRequest(request.raw, reply.raw, request.body)
      } catch (error) {
        request.log.error({ err: error }, 'MCP request failed')
        if (!reply.raw.headersSent) {
          reply.raw.writeHead(500, { 'content-type': 'application/json' })
          reply.raw.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null }))
        }
      } finally {
        await transport.close().catch(() => {})
        await server.close().catch(() => {})
      }
      return reply
    })
  })

  await app.register(oauthRoutes, { services, mcpPath: MCP_PATH })
  // The same agent over A2A: the same loaded agent, key check and principal (a2a-routes.ts).
  await a2aRoutes(app, { services, version, loadAgent, authenticateBuyer: (request, reply) => authenticateBuyer(services, request, reply) })

  // The public half of the webhook signing key, for buyers verifying our RFC 9421 signatures.
  app.get(JWKS_PATH, { schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').type('application/jwk-set+json').send(services.buyerWebhooks.jwks()))

  // Stateless: no server-to-client stream and no session to end.
  const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.code(405).header('allow', 'POST').send({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this agent is stateless, use POST' }, id: null })
  app.get(MCP_PATH, { schema: { hide: true } }, notAllowed)
  app.delete(MCP_PATH, { schema: { hide: true } }, notAllowed)
}

const REFUSED_BODY = Symbol('refused /mcp body')

interface Envelope { id?: string | number; method?: unknown; context?: unknown; prototypeKey: boolean }

/**
 * What a refused body says of itself: its JSON-RPC id and method and its tool call's `context`,
 * read with every `__proto__` and `constructor` key dropped (so nothing of it can reach a prototype).
 * Null when it is no JSON object at all.
 */
function envelopeOf(text: string): Envelope | null {
  let value: unknown
  let prototypeKey = false
  try {
    value = JSON.parse(text, (key, child: unknown) => {
      if (key !== '__proto__' && key !== 'constructor') return child
      prototypeKey = true
      return undefined
    })
  } catch {
    return null
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null
  const { id, method, params } = value as { id?: unknown; method?: unknown; params?: { arguments?: { context?: unknown } } }
  return {
    prototypeKey,
    ...(typeof id === 'string' || typeof id === 'number' ? { id } : {}),
    method,
    ...(method === 'tools/call' && params?.arguments?.context !== undefined ? { context: params.arguments.context } : {}),
  }
}

/**
 * The answer to a body the checks refused: a tools/call gets the AdCP error INVALID_REQUEST as its
 * tool result (naming the field when the check did), any other request a JSON-RPC error carrying
 * the same adcp_error, a message without an id a 400.
 */
function refusedBody(body: unknown): { status: number; answer: unknown } | null {
  const refused = body && typeof body === 'object' ? (body as { [REFUSED_BODY]?: { error: Error; envelope: Envelope } })[REFUSED_BODY] : undefined
  if (!refused) return null
  const { error, envelope } = refused
  const field = isStorefrontError(error) ? error.details?.issues?.[0]?.path : undefined
  const message = isStorefrontError(error) ? error.message
    : envelope.prototypeKey ? 'The request carries a key named __proto__ or constructor.prototype, which this agent refuses'
      : 'The request body is not valid JSON'
  const adcpError: AdcpErrorBody = { code: 'INVALID_REQUEST', message, recovery: 'correctable', ...(field && field !== 'body' ? { field } : {}) }
  return adcpErrorAnswer(envelope, adcpError, 400)
}

/**
 * An AdCP error as the answer to a JSON-RPC message: a tools/call gets it as its tool result
 * (isError, structuredContent.adcp_error, the call's `context` echoed), any other request a JSON-RPC
 * error carrying it, and a message without an id (a notification, a batch) `statusWithoutId`.
 */
function adcpErrorAnswer(envelope: Omit<Envelope, 'prototypeKey'>, adcpError: AdcpErrorBody, statusWithoutId: number): { status: number; answer: unknown } {
  const { message } = adcpError
  if (envelope.id === undefined) return { status: statusWithoutId, answer: { jsonrpc: '2.0', error: { code: -32600, message, data: { adcp_error: adcpError } }, id: null } }
  if (envelope.method !== 'tools/call') return { status: 200, answer: { jsonrpc: '2.0', error: { code: -32600, message, data: { adcp_error: adcpError } }, id: envelope.id } }
  const structuredContent = { adcp_error: adcpError, ...(envelope.context === undefined ? {} : { context: envelope.context }) }
  return { status: 200, answer: { jsonrpc: '2.0', id: envelope.id, result: { content: [{ type: 'text', text: JSON.stringify(structuredContent) }], structuredContent, isError: true } } }
}

/** The id, method and tool-call context of a body the parser accepted (a batch or non-object has none). */
function envelopeOfParsed(body: unknown): Omit<Envelope, 'prototypeKey'> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return {}
  const { id, method, params } = body as { id?: unknown; method?: unknown; params?: { arguments?: { context?: unknown } } }
  return {
    ...(typeof id === 'string' || typeof id === 'number' ? { id } : {}),
    method,
    ...(method === 'tools/call' && params?.arguments?.context !== undefined ? { context: params.arguments.context } : {}),
  }
}

/**
 * Counts a buyer's request against its key's budget (app.limitKeyRate, the REST API's too) and
 * maps a spent budget, once for /mcp and /a2a, to the AdCP error RATE_LIMITED: transient, with
 * retry_after and the window (RateLimitedDetails). Null: within budget.
 */
export async function limitBuyerRate(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, edge: 'mcp' | 'a2a'): Promise<AdcpErrorBody | null> {
  try {
    await app.limitKeyRate(request, reply, edge)
    return null
  } catch (error) {
    if (!isStorefrontError(error) || error.code !== 'RATE_LIMITED') throw error
    const { limit, windowSeconds, retryAfterSeconds } = error.details as { limit: number; windowSeconds: number; retryAfterSeconds: number }
    return {
      code: 'RATE_LIMITED',
      message: error.message,
      recovery: 'transient',
      // AdCP bounds retry_after to [1, 3600] seconds.
      retry_after: Math.min(Math.max(retryAfterSeconds, 1), 3600),
      details: { limit, remaining: 0, window_seconds: windowSeconds },
    }
  }
}

/**
 * The buyer key of a request, or null once the refusal is sent: no or an unknown key is 401 with
 * an RFC 6750 challenge; an operator key is 403 (it opens the REST API, not the agent).
 */
async function authenticateBuyer(services: Services, request: FastifyRequest, reply: FastifyReply): Promise<Caller | null> {
  const token = bearerToken(request)
  let caller: Caller
  try {
    caller = await services.access.authenticate(token)
    request.apiKeyId = caller.apiKeyId
  } catch (error) {
    if (!isStorefrontError(error) || error.code !== 'UNAUTHORIZED') throw error
    // RFC 9728 §5.1: the challenge points at the protected-resource metadata (OAuth discovery).
    const metadata = `resource_metadata="${resourceMetadataUrl(request)}"`
    const challenge = token
      ? `Bearer realm="${REALM}", error="invalid_token", error_description="Unknown or revoked API key", ${metadata}`
      : `Bearer realm="${REALM}", ${metadata}`
    await reply
      .code(401)
      .header('www-authenticate', challenge)
      .send(authError('AUTH_REQUIRED', token ? 'Unknown or revoked API key' : 'A buyer API key is required (Authorization: Bearer <key>)'))
    return null
  }
  if (caller.role !== 'buyer') {
    await reply
      .code(403)
      .header('www-authenticate', `Bearer realm="${REALM}", error="insufficient_scope", error_description="Operator keys open the REST API; use a buyer key"`)
      .send(authError('PERMISSION_DENIED', 'Operator keys open the REST API, not the AdCP agent; create a buyer key with `storefront keys create --role buyer`'))
    return null
  }
  return caller
}

/** A JSON-RPC error carrying the AdCP error, so MCP clients and plain HTTP probes both read a code. */
function authError(code: 'AUTH_REQUIRED' | 'PERMISSION_DENIED', message: string) {
  return {
    jsonrpc: '2.0',
    error: { code: -32001, message, data: { adcp_error: { code, message, recovery: code === 'AUTH_REQUIRED' ? 'correctable' : 'terminal' } } },
    id: null,
  }
}

export type AdcpErrorBody = {
  code: string
  message: string
  recovery: 'correctable' | 'terminal' | 'transient'
  field?: string
  retry_after?: number
  details?: Record<string, unknown>
}

/**
 * What is refused on each tools/call before the SDK sees it, answered as an AdCP error (a tool
 * result with `isError` and `structuredContent.adcp_error`, the request's `context` echoed):
 * - a tool this agent does not serve (not registered on this request's server: say preview_creative
 *   or tasks_list): UNSUPPORTED_FEATURE. The MCP SDK would answer "Tool … not found" as bare text,
 *   which no AdCP client can read a code from;
 * - the webhook URL rules (webhookUrlRefusal), per buyer key, for push_notification_config.url and
 *   reporting_webhook.url alike:
 *   - a live key's webhook must be https and must not name a loopback or private host. The SDK checks
 *     only push_notification_config, and its scheme rule is one process-wide switch
 *     (ADCP_DECISIONING_ALLOW_HTTP_WEBHOOKS, read from process.env on every request) that the agent
 *     turns on for the sandbox keys' loopback receivers (agent.ts);
 *   - with no signing key (PostgreSQL without STOREFRONT_WEBHOOK_SIGNING_KEY) no webhook can be sent,
 *     so none is promised.
 */
function guardToolCalls(transport: StreamableHTTPServerTransport, { sandbox, canSign, served }: { sandbox: boolean; canSign: boolean; served: ReadonlySet<string> }): void {
  const deliver = transport.onmessage
  if (!deliver) return
  transport.onmessage = (message, extra) => {
    const call = message as { method?: string; id?: string | number; params?: { name?: unknown; arguments?: Record<string, unknown> } }
    if (call.method !== 'tools/call' || call.id === undefined) {
      deliver.call(transport, message, extra)
      return
    }
    const args = call.params?.arguments
    const refusal = unservedTool(call.params?.name, served) ?? webhookUrlRefusal(args, { sandbox, canSign })
    if (!refusal) {
      deliver.call(transport, message, extra)
      return
    }
    const context = args && typeof args === 'object' && !Array.isArray(args) ? args.context : undefined
    const structuredContent = { adcp_error: refusal, ...(context === undefined ? {} : { context }) }
    void transport.send({
      jsonrpc: '2.0',
      id: call.id,
      result: { content: [{ type: 'text', text: JSON.stringify(structuredContent) }], structuredContent, isError: true },
    })
  }
}

function unservedTool(name: unknown, served: ReadonlySet<string>): AdcpErrorBody | null {
  if (typeof name === 'string' && served.has(name)) return null
  const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 64)) : 'a tool without a name'
  return {
    code: 'UNSUPPORTED_FEATURE',
    message: `This agent does not offer ${shown}; tools/list and get_adcp_capabilities say what it offers`,
    recovery: 'correctable',
  }
}

/**
 * The webhook URLs a tool call names (push_notification_config.url, and create_media_buy's
 * reporting_webhook.url), refused for this key before the call runs (see guardToolCalls; /a2a
 * applies it too): one rule for both fields and both transports.
 */
export function webhookUrlRefusal(args: Record<string, unknown> | undefined, { sandbox, canSign }: { sandbox: boolean; canSign: boolean }): AdcpErrorBody | null {
  for (const field of ['push_notification_config', 'reporting_webhook'] as const) {
    const config = args?.[field] as { url?: unknown } | undefined
    const url = config && typeof config === 'object' && typeof config.url === 'string' ? config.url.trim() : undefined
    if (url === undefined) continue
    const problem = canSign ? webhookUrlProblem(url, { sandbox }) : 'this agent delivers no webhooks (it has no signing key); poll tasks/get for the task instead'
    if (problem !== null) return { code: 'INVALID_REQUEST', message: `${field}.url rejected: ${problem}`, recovery: 'correctable', field: `${field}.url` }
  }
  return null
}

/**
 * The MCP transport answers 406 unless Accept lists both application/json and text/event-stream,
 * but plain-HTTP clients (and the AdCP conformance probes) send only application/json. Responses
 * are JSON either way (enableJsonResponse), so both types are made acceptable, in the parsed
 * headers and in rawHeaders, which the transport's web-request conversion reads.
 */
function acceptJsonAndEventStream(raw: IncomingMessage): void {
  const accept = 'application/json, text/event-stream'
  raw.headers.accept = accept
  const index = raw.rawHeaders.findIndex((name, i) => i % 2 === 0 && name.toLowerCase() === 'accept')
  if (index === -1) raw.rawHeaders.push('Accept', accept)
  else raw.rawHeaders[index + 1] = accept
}
