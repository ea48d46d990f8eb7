import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod'
import { consolePlugin } from '../console/console.ts'
import { mcpRoutes } from '../mcp/mcp-routes.ts'
import type { Services } from '../services.ts'
import { accessLog, requestIdOf } from './plugins/access-log.ts'
import { authenticateCallers } from './plugins/caller.ts'
import { clientErrorHandler, errorHandlerPlugin, frameworkErrorHandler, MAX_PATH_PARAM_LENGTH } from './plugins/error-handler.ts'
import { idempotency } from './plugins/idempotency.ts'
import { jsonBodyPlugin } from './plugins/json-body.ts'
import { keyRateLimit, type KeyRateLimitOptions } from './plugins/rate-limit.ts'
import { answersOnEveryRoute, BODY_METHODS, openapiTransform, openapiTransformObject } from './openapi.ts'
import { adminRoutes } from './routes/admin.ts'
import { healthRoutes } from './routes/health.ts'
import { metricsRoutes } from './routes/metrics.ts'
import { storefrontRoutes } from './routes/index.ts'

export const API_PREFIX = '/api/v2/storefront'

export interface AppOptions {
  services: Services
  /** Pino options, or a pino logger (src/server.ts builds one per LOG_FORMAT); default: no logging. */
  logger?: FastifyServerOptions['logger'] | FastifyBaseLogger
  bodyLimitBytes?: number
  /** Body limit of the avails feed route (JSON, CSV and uploads); default 64 MiB. */
  feedBodyLimitBytes?: number | undefined
  /** Feed requests read at once by this app (FEED_MAX_CONCURRENT); default 2. */
  feedMaxConcurrent?: number | undefined
  /** Comment lines on idle live-event streams this often; default 15 s (tests shorten it). */
  liveEventsHeartbeatMs?: number | undefined
  /** Enables the local /admin routes the CLI uses while this server owns the database. */
  adminToken?: string
  version?: string
  /** Per-key request budgets (RATE_LIMIT_MAX, RATE_LIMIT_WINDOW_MS); absent or max 0: no limit. */
  rateLimit?: KeyRateLimitOptions | undefined
  /** METRICS_TOKEN; unset, GET /metrics answers only requests made on this host. */
  metricsToken?: string | undefined
  /** True once the process is shutting down (src/server.ts): /readyz fails and answers close their connection. */
  isDraining?: (() => boolean) | undefined
}

/** Fields that may carry credentials are censored in every log line. */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["idempotency-key"]',
  '*.auth',
  '*.password',
  '*.token',
  '*.apiKey',
  '*.privateKey',
  '*.secret',
]

/** A pino logger given as an instance (LOG_FORMAT=pretty's) or as options. */
function loggerOption(logger: AppOptions['logger'] | FastifyBaseLogger | undefined): Pick<FastifyServerOptions, 'logger' | 'loggerInstance'> {
  if (logger && typeof logger === 'object' && 'child' in logger && typeof logger.child === 'function') return { loggerInstance: logger as FastifyBaseLogger }
  return { logger: (logger as AppOptions['logger']) ?? false }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...loggerOption(options.logger),
    // One access line per request (plugins/access-log.ts) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestIdOf,
    // Requests on connections still open while the server drains are answered (and their
    // connections closed after), not refused with Fastify's own 503 body.
    return503OnClosing: false,
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    // Paths are matched exactly as documented; a trailing slash is the same route.
    // The longest path id is a 255-character sourceId; longer ones still reach the route's schema
    // (a 400 naming the parameter), and only absurd segments stop at the router.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PATH_PARAM_LENGTH },
    // The router's and the HTTP parser's own refusals answer in the one error envelope too.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  }).withTypeProvider<ZodTypeProvider>()

  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Storefront API',
        description: 'Seller storefront: inventory sources, modular lifecycle, booking ledger and work queue.',
        version: options.version ?? '0.1.0',
      },
      // Relative to where this document is served: every deployment serves its own.
      servers: [{ url: '/', description: 'The Storefront serving this document' }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An operator API key: `Authorization: Bearer <key>`' } } },
      security: [{ bearerAuth: [] }],
    },
    // The API and the probes are tagged; the console's pages and forms, /mcp and /a2a are not API.
    hideUntagged: true,
    transform: openapiTransform,
    transformObject: openapiTransformObject,
  })
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' })
  await app.register(errorHandlerPlugin)
  await app.register(jsonBodyPlugin)
  await app.register(accessLog)
  await app.register(keyRateLimit, options.rateLimit ?? { max: 0, windowMs: 60_000 })
  const { isDraining } = options
  if (isDraining) {
    // An answer sent while draining closes its connection: the client reconnects to another process.
    app.addHook('onSend', async (_request, reply, payload) => {
      if (isDraining()) reply.header('connection', 'close')
      return payload
    })
  }

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  await app.register(healthRoutes, { services: options.services, isDraining })
  await app.register(metricsRoutes, { token: options.metricsToken })

  await app.register(async (api) => {
    // Any route may refuse its input, be rate limited or fail; any body may be too large.
    answersOnEveryRoute(api, {
      errors: ['VALIDATION_ERROR', 'RATE_LIMITED', 'INTERNAL_ERROR'],
      responseHeaders: {
        429: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 0 } } },
      },
    })
    answersOnEveryRoute(api, { errors: ['PAYLOAD_TOO_LARGE'], methods: BODY_METHODS })
    await api.register(authenticateCallers, { services: options.services })
    // After authentication (the key is known), before the body is read.
    api.addHook('onRequest', async (request, reply) => app.limitKeyRate(request, reply, 'rest'))
    await api.register(idempotency, { services: options.services })
    await api.register(storefrontRoutes, {
      services: options.services,
      feedBodyLimitBytes: options.feedBodyLimitBytes,
      feedMaxConcurrent: options.feedMaxConcurrent,
      liveEventsHeartbeatMs: options.liveEventsHeartbeatMs,
    })
  }, { prefix: API_PREFIX })

  // The buyer surface: the AdCP sales agent, on buyer keys only (operator keys stay on REST).
  await app.register(mcpRoutes, { services: options.services, version: options.version ?? '0.1.0' })

  // The operator console: server-rendered pages over the same services, behind a session cookie.
  await app.register(consolePlugin, { services: options.services, feedBodyLimitBytes: options.feedBodyLimitBytes })

  if (options.adminToken) {
    await app.register(adminRoutes, { services: options.services, adminToken: options.adminToken })
  }

  await app.ready()
  return app
}
