import { readFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The reference sales agent's tenant status as it sends it (snake_case, its enums, its
 * setup_tasks items, pydantic's timestamps), with one field this storefront does not know.
 */
export const TENANT_STATUS_WIRE: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../fixtures/managed/tenant-status.wire.json', import.meta.url), 'utf8'),
) as Record<string, unknown>

/**
 * Text inside every error, malformed and slow answer of the fake: a test asserts it reaches no
 * storefront response, so an upstream body can never leak unnoticed.
 */
export const UPSTREAM_BODY_MARKER = 'fake-upstream-body-7f3a9c'

export type FakeTenantMode =
  /** Answers `status`. */
  | 'ok'
  /** Answers `status` without the blocks older agents leave out (media_buys, products, setup_tasks, webhooks). */
  | 'missing-optional'
  /** Waits `slowMs` before answering. */
  | 'slow'
  /** Sends the headers, then never the body. */
  | 'stalled-body'
  /** HTTP 500 with a body. */
  | 'http500'
  /** HTTP 200 whose body is not JSON. */
  | 'malformed'
  /** HTTP 200 with JSON that is not a tenant status. */
  | 'not-a-status'
  /** HTTP 200 with a tenant status padded past 1 MiB. */
  | 'oversized'

export interface FakeTenantAgentOptions {
  tenantId?: string
  apiKey?: string
  /** Delay of `slow` mode; default 30 s (far past any test's budget). */
  slowMs?: number
  /**
   * A real MCP agent the fake serves at `/mcp` on its own origin, as the reference serves its
   * tenants' (its provision answer's relative `mcp_url`): requests under /mcp are relayed there,
   * headers (the principal's token) included.
   */
  mcpTarget?: string
}

export interface FakeTenantAgent {
  /** The agent's base URL, e.g. http://127.0.0.1:41234 (the storefront's upstreamUrl). */
  url: string
  tenantId: string
  /** The key its tenant-management API accepts; settable to model a rotation upstream. */
  apiKey: string
  mode: FakeTenantMode
  /** What `ok` mode answers; replace fields to change the tenant. */
  status: Record<string, unknown>
  /** Method, path and headers of every request seen. */
  requests: { method: string; path: string; headers: IncomingHttpHeaders }[]
  /** How many tenant status reads reached the agent. */
  statusReads(): number
  /**
   * Holds the answers of status reads accepted from now on until `release()`: `arrived` settles
   * when the first one reaches the agent, so a test can act while a storefront request waits upstream.
   */
  holdAnswers(): { arrived: Promise<void>; release: () => void }
  /** Stops listening: connections are refused until comeBack(). */
  goDown(): Promise<void>
  comeBack(): Promise<void>
  close(): Promise<void>
}

const STATUS_PATH = /^\/api\/v1\/tenant-management\/tenants\/([^/]+)\/status$/

export function withoutOptionalBlocks(status: Record<string, unknown>): Record<string, unknown> {
  const { media_buys: _mediaBuys, products: _products, setup_tasks: _setupTasks, webhooks: _webhooks, inventory_profiles: _profiles, ...rest } = status
  const { last_24h_impressions: _impressions, ...packages } = status.packages as Record<string, unknown>
  return { ...rest, packages }
}

/** A local HTTP server speaking the reference sales agent's tenant-management API, with fault modes. */
export async function startFakeTenantAgent(options: FakeTenantAgentOptions = {}): Promise<FakeTenantAgent> {
  const timers = new Set<NodeJS.Timeout>()
  let held: { gate: Promise<void>; arrive: () => void } | null = null
  let server: Server | null = null
  let port = 0

  const agent: FakeTenantAgent = {
    url: '',
    tenantId: options.tenantId ?? 'tnt_retail_gam',
    apiKey: options.apiKey ?? 'tm_key_0f9e8d7c6b5a4f3e2d1c',
    mode: 'ok',
    status: structuredClone(TENANT_STATUS_WIRE),
    requests: [],
    statusReads: () => agent.requests.filter((request) => STATUS_PATH.test(new URL(request.path, 'http://fake').pathname)).length,
    holdAnswers: () => {
      let release!: () => void
      let arrive!: () => void
      const gate = new Promise<void>((resolve) => { release = resolve })
      const arrived = new Promise<void>((resolve) => { arrive = resolve })
      held = { gate, arrive }
      return {
        arrived,
        release: () => {
          held = null
          release()
        },
      }
    },
    goDown: () => stop(),
    comeBack: () => listen(port),
    close: async () => {
      for (const timer of timers) clearTimeout(timer)
      await stop()
    },
  }

  function json(res: ServerResponse, statusCode: number, body: unknown): void {
    res.writeHead(statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }

  function relayMcp(target: string, req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers)
        .filter(([name]) => !['host', 'content-length', 'connection'].includes(name))
        .map(([name, value]) => [name, String(value)]))
      fetch(target, { method: req.method ?? 'GET', headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) })
        .then(async (answer) => {
          const out: Record<string, string> = {}
          answer.headers.forEach((value, name) => {
            if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(name)) out[name] = value
          })
          res.writeHead(answer.status, out).end(Buffer.from(await answer.arrayBuffer()))
        })
        .catch(() => res.writeHead(502).end())
    })
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    agent.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers })
    const pathname = new URL(req.url ?? '/', 'http://fake').pathname
    if (options.mcpTarget && (pathname === '/mcp' || pathname === '/mcp/')) return relayMcp(options.mcpTarget, req, res)
    req.resume()
    const match = STATUS_PATH.exec(new URL(req.url ?? '/', 'http://fake').pathname)
    if (!match || req.method !== 'GET') return json(res, 404, { error: `Not found ${UPSTREAM_BODY_MARKER}` })
    // As the reference: the management key in X-Tenant-Management-API-Key, checked before the tenant.
    if (req.headers['x-tenant-management-api-key'] !== agent.apiKey) {
      return json(res, 401, { error: 'Invalid or missing X-Tenant-Management-API-Key', hint: UPSTREAM_BODY_MARKER })
    }
    if (decodeURIComponent(match[1]!) !== agent.tenantId) return json(res, 404, { error: `Tenant not found ${UPSTREAM_BODY_MARKER}` })
    if (held) {
      const { gate, arrive } = held
      arrive()
      void gate.then(() => answer(res))
      return
    }
    answer(res)
  }

  function answer(res: ServerResponse): void {
    switch (agent.mode) {
      case 'ok':
        return json(res, 200, agent.status)
      case 'missing-optional':
        return json(res, 200, withoutOptionalBlocks(agent.status))
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer)
          if (!res.destroyed) json(res, 200, { ...agent.status, slow: UPSTREAM_BODY_MARKER })
        }, options.slowMs ?? 30_000)
        timers.add(timer)
        return
      }
      case 'stalled-body':
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write(`{"adapter": {"type": "${UPSTREAM_BODY_MARKER}"`)
        return
      case 'http500':
        return json(res, 500, { error: 'Internal Server Error', traceback: `Traceback (most recent call last): ${UPSTREAM_BODY_MARKER}` })
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/json' }).end(`<html><body>${UPSTREAM_BODY_MARKER}</body></html>`)
        return
      case 'not-a-status':
        return json(res, 200, { detail: UPSTREAM_BODY_MARKER, adapter: { type: UPSTREAM_BODY_MARKER, connected: 'yes' } })
      case 'oversized':
        return json(res, 200, { ...agent.status, padding: UPSTREAM_BODY_MARKER.repeat(60_000) })
    }
  }

  function listen(onPort: number): Promise<void> {
    const started = createServer(handle)
    return new Promise((resolve, reject) => {
      started.once('error', reject)
      started.listen(onPort, '127.0.0.1', () => {
        server = started
        port = (started.address() as AddressInfo).port
        agent.url = `http://127.0.0.1:${port}`
        resolve()
      })
    })
  }

  function stop(): Promise<void> {
    const running = server
    server = null
    if (!running) return Promise.resolve()
    return new Promise((resolve) => {
      running.closeAllConnections()
      running.close(() => resolve())
    })
  }

  await listen(0)
  return agent
}
