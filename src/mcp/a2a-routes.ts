import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AgentSkill, Task } from '@a2a-js/sdk'
import type { ServerCallContext, TaskStore } from '@a2a-js/sdk/server'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Caller } from '../access/access-service.ts'
import type { Services } from '../services.ts'
import type { BuyerAgent } from './agent.ts'
import { limitBuyerRate, MCP_PATH, principalOf, webhookUrlRefusal, type AdcpErrorBody, type ToolCall } from './mcp-routes.ts'
import { originOf } from './oauth-routes.ts'

export const A2A_PATH = '/a2a'
/** A2A 0.3's well-known card path; served at the origin and under /a2a (what A2A clients derive from the card's url). */
export const AGENT_CARD_PATHS = ['/.well-known/agent-card.json', `${A2A_PATH}/.well-known/agent-card.json`] as const

const AGENT_DESCRIPTION = 'Storefront: an AdCP 3.0 sales agent selling the guaranteed inventory of its modular sources. '
  + 'Send one DataPart { skill: <AdCP task>, input: {...} } per message; authenticate with a buyer key (Authorization: Bearer).'

/**
 * The caller the anonymous agent card is built for: it only names the tools every buyer key has (a
 * live key's set) and is never invoked. An authenticated card request gets its own key's tools
 * (a sandbox key adds comply_test_controller).
 */
const DISCOVERY_CALLER: Caller = { storefrontId: 0, storefrontName: '', apiKeyId: 0, role: 'buyer', sandbox: false }

const CAPABILITIES_TOOL = 'get_adcp_capabilities'
const CAPABILITIES_SKILL: AgentSkill = {
  id: CAPABILITIES_TOOL,
  name: CAPABILITIES_TOOL,
  description: `AdCP tool: ${CAPABILITIES_TOOL}. Send { skill: "${CAPABILITIES_TOOL}", input: {} } as a DataPart.`,
  tags: ['adcp'],
}

/** How long an A2A task (the transport call's record, always terminal when message/send answers) can be read back with tasks/get. */
const A2A_TASK_TTL_MS = 60 * 60 * 1000
const A2A_TASKS_MAX = 10_000

/**
 * The A2A tasks of this process, each readable only by the key that made it (tasks/get with
 * another key's task id answers "not found", like a missing one), bounded in age and number: an
 * A2A task only records a call that already finished, the AdCP work it started lives in our tables.
 */
export class PrincipalTaskStore implements TaskStore {
  private readonly tasks = new Map<string, { task: Task; savedAt: number }>()

  constructor(private readonly now: () => number = Date.now) {}

  async save(task: Task, context?: ServerCallContext): Promise<void> {
    const key = this.keyOf(task.id, context)
    this.tasks.delete(key)
    this.tasks.set(key, { task: structuredClone(task), savedAt: this.now() })
    this.evict()
  }

  async load(taskId: string, context?: ServerCallContext): Promise<Task | undefined> {
    const entry = this.tasks.get(this.keyOf(taskId, context))
    if (!entry || this.now() - entry.savedAt > A2A_TASK_TTL_MS) return undefined
    return structuredClone(entry.task)
  }

  private keyOf(taskId: string, context: ServerCallContext | undefined): string {
    const user = context?.user as { adcpAuthInfo?: { clientId?: string } } | undefined
    return `${user?.adcpAuthInfo?.clientId ?? 'anonymous'}\u0000${taskId}`
  }

  private evict(): void {
    const cutoff = this.now() - A2A_TASK_TTL_MS
    for (const [key, entry] of this.tasks) {
      if (this.tasks.size <= A2A_TASKS_MAX && entry.savedAt >= cutoff) break
      this.tasks.delete(key)
    }
  }
}

/** The AdCP tool call a message/send carries: its one DataPart's { skill, input | parameters }. */
export function a2aToolCallOf(body: unknown): ToolCall | null {
  const rpc = body as { method?: unknown; params?: { message?: { parts?: unknown } } } | null
  if (!rpc || typeof rpc !== 'object' || rpc.method !== 'message/send') return null
  const parts = Array.isArray(rpc.params?.message?.parts) ? (rpc.params.message.parts as Array<{ kind?: unknown; data?: unknown }>) : []
  const data = parts.filter((part) => part?.kind === 'data').length === 1 ? parts.find((part) => part?.kind === 'data')!.data : undefined
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null
  const { skill, input, parameters } = data as { skill?: unknown; input?: unknown; parameters?: unknown }
  const args = input ?? parameters
  if (typeof skill !== 'string') return null
  return { name: skill, arguments: args && typeof args === 'object' && !Array.isArray(args) ? (args as Record<string, unknown>) : {} }
}

interface A2ARouteOptions {
  services: Services
  version: string
  loadAgent: () => Promise<BuyerAgent>
  authenticateBuyer: (request: FastifyRequest, reply: FastifyReply) => Promise<Caller | null>
}

/**
 * POST /a2a: the same AdCP agent over A2A JSON-RPC (message/send, tasks/get, tasks/cancel), through
 * @adcp/sdk's createA2AAdapter around the very AdcpServer /mcp builds for the key (agent.ts
 * serverFor): same handlers, stores, idempotency scope and principal, so a buy made on one
 * transport is read on the other. Authentication is /mcp's (401/403 before the adapter runs).
 *
 * The adapter's handlers are Express routers; Fastify has parsed the body already, and the two
 * things they use of Express beyond node's own req/res (req.header, res.status().json()) are
 * added to the raw request for the call, so Express itself is not a dependency.
 */
export async function a2aRoutes(app: FastifyInstance, { services, version, loadAgent, authenticateBuyer }: A2ARouteOptions): Promise<void> {
  const taskStore = new PrincipalTaskStore()
  const canSign = services.buyerWebhooks.signerKey !== null
  // The SDK adapter module is loaded with the agent, off the REST API's start path (as /mcp does).
  const adapterModule = () => import('@adcp/sdk/server').then((sdk) => sdk.createA2AAdapter)

  // The skills of a key's card: the adapter derives one per registered tool but leaves out
  // get_adcp_capabilities, and an AdCP client that finds no such skill takes the agent for AdCP v2
  // (it then sends v2 requests: no buying_mode, brand_manifest). So it is added back. The tool set
  // depends only on whether the key is a sandbox key (comply_test_controller), hence one list each.
  const skillsBySandbox = new Map<boolean, AgentSkill[]>()

  async function adapterFor(request: FastifyRequest, caller: Caller, toolCall: ToolCall | null) {
    const origin = originOf(request)
    const [agent, createA2AAdapter] = await Promise.all([loadAgent(), adapterModule()])
    // Formats keep /mcp as their agent_url on either transport: a format id must not change with the transport.
    const server = agent.serverFor({ caller, agentUrl: `${origin}${MCP_PATH}`, toolCall }, request.hostname)
    const principal = principalOf(caller)
    const agentCard = {
      name: 'storefront',
      description: AGENT_DESCRIPTION,
      url: `${origin}${A2A_PATH}`,
      version,
      securitySchemes: { bearer: { type: 'http' as const, scheme: 'bearer', description: 'A buyer API key (storefront keys create --role buyer)' } },
      security: [{ bearer: [] }],
      preferredTransport: 'JSONRPC',
    }
    let skills = skillsBySandbox.get(caller.sandbox)
    if (!skills) {
      const derived = (await createA2AAdapter({ server, agentCard }).getAgentCard()).skills
      skills = derived.some((skill) => skill.id === CAPABILITIES_TOOL) ? derived : [CAPABILITIES_SKILL, ...derived]
      skillsBySandbox.set(caller.sandbox, skills)
    }
    const adapter = createA2AAdapter({
      server,
      taskStore,
      agentCard: { ...agentCard, skills },
      // Only reached after authenticateBuyer accepted the key: the principal is the key's id, never the bearer.
      authenticate: async () => ({ token: principal, clientId: principal, scopes: [], extra: { storefrontId: caller.storefrontId, sandbox: caller.sandbox } }),
      logger: {
        debug: (message, meta) => request.log.debug({ meta }, message),
        info: (message, meta) => request.log.info({ meta }, message),
        warn: (message, meta) => request.log.warn({ meta }, message),
        error: (message, meta) => request.log.error({ meta }, message),
      },
    })
    return { adapter, server }
  }

  const sendCard = async (request: FastifyRequest, reply: FastifyReply) => {
    // A card asked with a buyer key lists that key's tools; without one, a live key's. A bad key is refused like /mcp.
    const caller = request.headers.authorization === undefined ? DISCOVERY_CALLER : await authenticateBuyer(request, reply)
    if (!caller) return reply
    const { adapter, server } = await adapterFor(request, caller, null)
    try {
      return await reply.header('cache-control', 'no-store').send(await adapter.getAgentCard())
    } finally {
      await server.close().catch(() => {})
    }
  }
  for (const path of AGENT_CARD_PATHS) app.get(path, { schema: { hide: true } }, sendCard)

  app.post(A2A_PATH, { schema: { hide: true } }, async (request, reply) => {
    const caller = await authenticateBuyer(request, reply)
    if (!caller) return reply
    const rpc = request.body as { id?: unknown } | null
    const toolCall = a2aToolCallOf(request.body)
    const limited = await limitBuyerRate(app, request, reply, 'a2a')
    if (limited) {
      return toolCall
        ? reply.send(failedTask(rpc?.id, toolCall, limited))
        : reply.code(429).send({ jsonrpc: '2.0', error: { code: -32000, message: limited.message, data: { adcp_error: limited } }, id: rpc?.id ?? null })
    }
    const refusal = toolCall ? webhookUrlRefusal(toolCall.arguments, { sandbox: caller.sandbox, canSign }) : null
    if (refusal) return reply.send(failedTask(rpc?.id, toolCall!, refusal))
    const { adapter, server } = await adapterFor(request, caller, toolCall)
    reply.hijack()
    const raw = request.raw
    const url = raw.url
    try {
      await runExpressHandler(adapter.jsonRpcHandler as unknown as ExpressHandler, raw, reply.raw, request.body)
    } catch (error) {
      request.log.error({ err: error }, 'A2A request failed')
      if (!reply.raw.headersSent) {
        reply.raw.writeHead(500, { 'content-type': 'application/json' })
        reply.raw.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null }))
      }
    } finally {
      raw.url = url
      await server.close().catch(() => {})
    }
    return reply
  })

  const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.code(405).header('allow', 'POST').send({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: A2A JSON-RPC is POST' }, id: null })
  app.get(A2A_PATH, { schema: { hide: true } }, notAllowed)
}

/**
 * A message refused before the adapter ran (a spent rate budget, a refused push_notification_config.url)
 * answered as the adapter answers an AdCP error: a failed task whose artifact carries the adcp_error
 * (so the runner and A2A clients read it the same way).
 */
function failedTask(id: unknown, toolCall: ToolCall, adcpError: AdcpErrorBody) {
  const context = toolCall.arguments.context
  const taskId = crypto.randomUUID()
  const contextId = crypto.randomUUID()
  return {
    jsonrpc: '2.0',
    id: id ?? null,
    result: {
      kind: 'task',
      id: taskId,
      contextId,
      status: { state: 'failed', timestamp: new Date().toISOString() },
      artifacts: [{ artifactId: crypto.randomUUID(), name: 'error', parts: [{ kind: 'data', data: { adcp_error: adcpError, ...(context === undefined ? {} : { context }) } }] }],
    },
  }
}

type ExpressHandler = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void

/**
 * Runs one of the adapter's Express routers on node's req/res: the router matches on the path
 * below its mount point ("/"), the body is the one Fastify parsed (body-parser sees the stream
 * finished and leaves it), and the Express helpers the handlers call are supplied.
 */
function runExpressHandler(handler: ExpressHandler, raw: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
  const req = Object.assign(raw, {
    url: '/',
    body,
    header: (name: string) => raw.headers[name.toLowerCase()],
  })
  const response = Object.assign(res, {
    status(code: number) {
      res.statusCode = code
      return response
    },
    json(value: unknown) {
      if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/json; charset=utf-8')
      res.end(JSON.stringify(value))
      return response
    },
  })
  return new Promise((resolve, reject) => {
    res.once('finish', () => resolve())
    res.once('close', () => resolve())
    handler(req, response, (error?: unknown) => {
      if (error) reject(error instanceof Error ? error : new Error(String(error)))
      else reject(new Error('the A2A adapter did not handle the request'))
    })
  })
}
