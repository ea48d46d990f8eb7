import path from 'node:path'
import { z } from 'zod'

/**
 * Every setting comes from the environment and is validated once at boot.
 * The README's configuration table mirrors this schema.
 */
const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  // off for a connection pooler that cannot keep prepared statements (PgBouncer's transaction mode before 1.21).
  DATABASE_PREPARED_STATEMENTS: z.enum(['on', 'off']).default('on'),
  STOREFRONT_SECRET_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  // A private Ed25519 JWK (JSON); parsed by src/modules/buyer-webhooks/signing-key.ts, which names
  // no part of it in an error.
  STOREFRONT_WEBHOOK_SIGNING_KEY: z.string().min(1).optional(),
  STOREFRONT_BOOTSTRAP_KEY: z
    .string()
    .regex(/^sf_[A-Za-z0-9_-]{16,200}$/, 'must look like sf_<at least 16 letters, digits, - or _>')
    .optional(),
  STOREFRONT_DEFAULT_NAME: z.string().min(1).max(255).default('default'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  // Requests one API key may make per window, per server process; 0 turns the limit off.
  RATE_LIMIT_MAX: z.coerce.number().int().min(0).max(1_000_000).default(1200),
  RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(500).max(600_000).default(8_000),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  FEED_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(64 * 1024 * 1024),
  FEED_MAX_CONCURRENT: z.coerce.number().int().min(1).max(64).default(2),
  LIVE_EVENTS_MAX_SUBSCRIBERS: z.coerce.number().int().min(1).max(100_000).default(1000),
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(15_000),
  WEBHOOK_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(1_000),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  AGENT_PROBE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  CADENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  MANAGED_AGENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  UPSTREAM_AGENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
})

export type Env = z.infer<typeof EnvSchema>

export interface Config {
  port: number
  host: string
  dataDir: string
  databaseUrl: string | undefined
  databasePoolSize: number
  /** Prepare statements by name on PostgreSQL (src/db/prepared-statements.ts). */
  databasePreparedStatements: boolean
  secretKey: string | undefined
  /** The webhook signing key as given (JSON JWK), or undefined: generated into dataDir on PGlite. */
  webhookSigningKey: string | undefined
  bootstrapKey: string | undefined
  defaultStorefrontName: string
  logLevel: Env['LOG_LEVEL']
  /** json: one JSON object a line (for collectors); pretty: coloured lines for a person at a terminal. */
  logFormat: Env['LOG_FORMAT']
  /** Requests per API key per window in this process (0: no limit). */
  rateLimitMax: number
  rateLimitWindowMs: number
  /** A scraper's bearer token for GET /metrics; unset, only requests made on this host are answered. */
  metricsToken: string | undefined
  /** How long SIGTERM/SIGINT waits for in-flight requests, the sweeper and webhook sends before the pool closes. */
  shutdownTimeoutMs: number
  bodyLimitBytes: number
  feedBodyLimitBytes: number
  feedMaxConcurrent: number
  liveEventsMaxSubscribers: number
  sweepIntervalMs: number
  /** How often each server process looks for due webhooks in the outbox. */
  webhookPollIntervalMs: number
  /** Bound of one webhook delivery attempt (its lease is 3 of these + 5 s). */
  webhookTimeoutMs: number
  agentProbeTimeoutMs: number
  cadentTimeoutMs: number
  managedAgentTimeoutMs: number
  upstreamAgentTimeoutMs: number
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (`DATABASE_URL= npm start`) means "not set", as shells and .env files intend.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''))
  const parsed = EnvSchema.safeParse(present)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`)
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`)
  }
  const e = parsed.data
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    databasePreparedStatements: e.DATABASE_PREPARED_STATEMENTS === 'on',
    secretKey: e.STOREFRONT_SECRET_KEY,
    webhookSigningKey: e.STOREFRONT_WEBHOOK_SIGNING_KEY,
    bootstrapKey: e.STOREFRONT_BOOTSTRAP_KEY,
    defaultStorefrontName: e.STOREFRONT_DEFAULT_NAME,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    rateLimitMax: e.RATE_LIMIT_MAX,
    rateLimitWindowMs: e.RATE_LIMIT_WINDOW_MS,
    metricsToken: e.METRICS_TOKEN,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    feedBodyLimitBytes: e.FEED_BODY_LIMIT_BYTES,
    feedMaxConcurrent: e.FEED_MAX_CONCURRENT,
    liveEventsMaxSubscribers: e.LIVE_EVENTS_MAX_SUBSCRIBERS,
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    webhookPollIntervalMs: e.WEBHOOK_POLL_INTERVAL_MS,
    webhookTimeoutMs: e.WEBHOOK_TIMEOUT_MS,
    agentProbeTimeoutMs: e.AGENT_PROBE_TIMEOUT_MS,
    cadentTimeoutMs: e.CADENT_TIMEOUT_MS,
    managedAgentTimeoutMs: e.MANAGED_AGENT_TIMEOUT_MS,
    upstreamAgentTimeoutMs: e.UPSTREAM_AGENT_TIMEOUT_MS,
  }
}
