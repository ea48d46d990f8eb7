import { AssertionError } from 'node:assert'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { API_PREFIX, buildApp } from '../../src/http/app.ts'
import { generateWebhookSigningKey, type WebhookSigningKey } from '../../src/modules/buyer-webhooks/index.ts'
import { createServices, type Services } from '../../src/services.ts'
import { ManualClock } from '../../src/shared/clock.ts'
import { SecretBox } from '../../src/shared/secret-box.ts'
import type { AgentProbe } from '../../src/sources/agent-probe.ts'
import { refuseUnprobedAgents } from '../../src/sources/agent-probe.ts'
import type { Database } from '../../src/db/database.ts'
import { openTestDatabase } from './database.ts'
import { errorCodeOf, undocumentedAnswers, type OpenApiDocument, type RecordedAnswer } from './openapi-coverage.ts'

export const TEST_SECRET_KEY = 'test-secret-key-not-for-production'

export interface TestContext {
  app: FastifyInstance
  services: Services
  db: Database
  clock: ManualClock
  /** A key of storefront "acme". */
  key: string
  /** A key of another storefront, "globex", for isolation tests. */
  otherKey: string
  /** What each `app.inject` answered, checked against /openapi.json at close (openapi-coverage.ts). */
  answers: readonly RecordedAnswer[]
  /** Calls the storefront API with the acme key unless `key` says otherwise. */
  api(method: InjectOptions['method'], path: string, body?: unknown, options?: { key?: string | null; headers?: Record<string, string> }): Promise<LightMyRequestResponse>
  close(): Promise<void>
}

export interface TestContextOptions {
  probeAgent?: AgentProbe
  now?: string
  logStream?: NodeJS.WritableStream
  /** Per-attempt timeout of Cadent endpoint POSTs (the hanging-endpoint test shortens it). */
  cadentTimeoutMs?: number
  /** Time budget of calls to managed tenants (the slow-tenant tests shorten it). */
  managedAgentTimeoutMs?: number
  /** Time bound of one task on an upstream AdCP agent (the slow-agent tests shorten it). */
  upstreamAgentTimeoutMs?: number
  /** The agent's webhook signing key: a fresh one unless given; null runs without (PostgreSQL with none set). */
  webhookSigningKey?: WebhookSigningKey | null
  /** Live-event streams the app serves at once (the cap test lowers it). */
  liveEventsMaxSubscribers?: number
  /** Heartbeat period of live-event streams (the heartbeat test shortens it). */
  liveEventsHeartbeatMs?: number
  /** Per-key request budgets (the rate-limit tests); default none. */
  rateLimit?: { max: number; windowMs: number }
  metricsToken?: string
  isDraining?: () => boolean
}

/** The real app on a real, freshly migrated database; requests go through `inject`. */
export async function createTestContext(options: TestContextOptions = {}): Promise<TestContext> {
  const database = await openTestDatabase()
  const clock = new ManualClock(options.now ?? '2026-11-22T12:00:00.000Z')
  const services = createServices({
    db: database.db,
    engine: database.engine,
    notifications: database.notifications,
    liveEventsMaxSubscribers: options.liveEventsMaxSubscribers,
    clock,
    secrets: new SecretBox(TEST_SECRET_KEY),
    probeAgent: options.probeAgent ?? refuseUnprobedAgents,
    cadentTimeoutMs: options.cadentTimeoutMs,
    managedAgentTimeoutMs: options.managedAgentTimeoutMs,
    upstreamAgentTimeoutMs: options.upstreamAgentTimeoutMs,
    webhookSigningKey: options.webhookSigningKey === undefined ? generateWebhookSigningKey() : options.webhookSigningKey,
  })
  const app = await buildApp({
    services,
    logger: options.logStream ? { level: 'info', stream: options.logStream } : false,
    liveEventsHeartbeatMs: options.liveEventsHeartbeatMs,
    rateLimit: options.rateLimit,
    metricsToken: options.metricsToken,
    isDraining: options.isDraining,
  })
  const answers = recordAnswers(app)
  const { key } = await services.access.createKey({ storefront: 'acme', label: 'test' })
  const { key: otherKey } = await services.access.createKey({ storefront: 'globex', label: 'test' })

  return {
    app,
    services,
    db: database.db,
    clock,
    key,
    otherKey,
    answers,
    api(method, path, body, opts = {}) {
      const authKey = opts.key === undefined ? key : opts.key
      const url = path.startsWith('/inventory-sources') ? `${API_PREFIX}${path}` : path
      return app.inject({
        method,
        url,
        headers: { ...(authKey ? { authorization: `Bearer ${authKey}` } : {}), ...opts.headers },
        ...(body === undefined ? {} : typeof body === 'string' || Buffer.isBuffer(body) ? { payload: body } : { payload: body as object }),
      })
    },
    async close() {
      const undocumented = answers.length > 0 ? undocumentedAnswers(documentOf(app), answers, API_PREFIX) : []
      await app.close()
      await services.sourceDiagnostics.flush()
      await database.close()
      if (undocumented.length > 0) {
        throw new AssertionError({ message: `Answers missing from /openapi.json (document them in the route's schema):\n${undocumented.join('\n')}` })
      }
    },
  }
}

// The document is the same for every app of a test process: built once, from the first.
let document: OpenApiDocument | undefined

function documentOf(app: FastifyInstance): OpenApiDocument {
  document ??= app.swagger() as unknown as OpenApiDocument
  return document
}

/**
 * Records what each `app.inject` call answered (the promise form, which every test uses), for the
 * OpenAPI check at close. Requests no route took (the not-found handler) are not recorded.
 */
function recordAnswers(app: FastifyInstance): RecordedAnswer[] {
  const answers: RecordedAnswer[] = []
  const inject = app.inject.bind(app) as (options?: InjectOptions | string, callback?: unknown) => unknown
  const recording = (options?: InjectOptions | string, callback?: unknown) => {
    if (options === undefined || callback !== undefined) return inject(options, callback)
    const { method = 'GET', url = '/' } = typeof options === 'string' ? { url: options } : { method: options.method, url: options.url ?? options.path }
    const path = String(typeof url === 'object' ? url.pathname : url).split('?')[0]!
    return (inject(options) as Promise<LightMyRequestResponse>).then((response) => {
      if (app.findRoute({ method: String(method).toUpperCase() as 'GET', url: path })) {
        answers.push({ method: String(method).toUpperCase(), path, status: response.statusCode, code: response.statusCode >= 400 ? errorCodeOf(response.body) : undefined })
      }
      return response
    })
  }
  app.inject = recording as FastifyInstance['inject']
  return answers
}
