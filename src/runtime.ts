import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ConfigError, type Config } from './config.ts'
import { acquireDataDirLock, readLockHolder, type DataDirLock, type LockHolder } from './db/data-dir-lock.ts'
import type { DatabaseHandle } from './db/database.ts'
import { openMigratedDatabase } from './db/migrate.ts'
import {
  loadOrCreateWebhookSigningKey,
  parseWebhookSigningKey,
  WEBHOOK_KEY_ENV,
  WebhookKeyError,
  type WebhookSigningKey,
} from './modules/buyer-webhooks/index.ts'
import { createServices, type Services } from './services.ts'
import { systemClock, type Clock } from './shared/clock.ts'
import { loadOrCreateSecretKey, SecretBox } from './shared/secret-box.ts'
import type { AgentProbe } from './sources/agent-probe.ts'
import { createLiveAgentProbe } from './sources/mcp-agent-probe.ts'

export const ADMIN_TOKEN_FILE = 'admin.token'

export interface Runtime {
  services: Services
  config: Config
  /** Held while this process owns the embedded database; null on PostgreSQL. */
  lock: DataDirLock | null
  close(): Promise<void>
}

export class MissingSecretKeyError extends ConfigError {
  constructor() {
    super(
      'STOREFRONT_SECRET_KEY is required with DATABASE_URL: every server process must encrypt and decrypt ' +
        'credentials with the same key. Set it to a long random string (e.g. `openssl rand -base64 32`).',
    )
  }
}

/**
 * The key the AdCP agent signs webhooks with. Given: STOREFRONT_WEBHOOK_SIGNING_KEY (every process
 * of a PostgreSQL install must sign with the same key, as buyers pin one JWKS). Not given: on the
 * embedded database it is generated once into the data directory; on PostgreSQL there is none, and
 * the agent then refuses push_notification_config (a buyer polls tasks/get) instead of sending
 * unsigned webhooks or a per-process key no buyer could pin.
 */
async function webhookSigningKeyOf(config: Config): Promise<WebhookSigningKey | null> {
  if (config.webhookSigningKey) {
    try {
      return parseWebhookSigningKey(config.webhookSigningKey, WEBHOOK_KEY_ENV)
    } catch (error) {
      if (error instanceof WebhookKeyError) throw new ConfigError(`Invalid configuration:\n  ${error.message}`)
      throw error
    }
  }
  if (config.databaseUrl) return null
  return loadOrCreateWebhookSigningKey(config.dataDir)
}

/**
 * Opens the database for this process (locking the embedded one), applies migrations and
 * builds the services. Used by `serve` and by CLI verbs that run with no server up.
 */
export async function openRuntime(
  config: Config,
  options: { command: string; clock?: Clock; probeAgent?: AgentProbe },
): Promise<Runtime> {
  let lock: DataDirLock | null = null
  let handle: DatabaseHandle | null = null
  try {
    if (!config.databaseUrl) lock = await acquireDataDirLock(config.dataDir, options.command)
    let secretKey = config.secretKey
    if (!secretKey) {
      if (config.databaseUrl) throw new MissingSecretKeyError()
      secretKey = await loadOrCreateSecretKey(config.dataDir)
    }
    const webhookSigningKey = await webhookSigningKeyOf(config)
    ;({ handle } = await openMigratedDatabase(config.databaseUrl
      ? { databaseUrl: config.databaseUrl, poolSize: config.databasePoolSize, preparedStatements: config.databasePreparedStatements }
      : { dataDir: path.join(config.dataDir, 'pglite') }))
    const services = createServices({
      db: handle.db,
      engine: handle.engine,
      notifications: handle.notifications,
      liveEventsMaxSubscribers: config.liveEventsMaxSubscribers,
      clock: options.clock ?? systemClock,
      secrets: new SecretBox(secretKey),
      webhookSigningKey,
      probeAgent: options.probeAgent ?? createLiveAgentProbe({ timeoutMs: config.agentProbeTimeoutMs }),
      cadentTimeoutMs: config.cadentTimeoutMs,
      managedAgentTimeoutMs: config.managedAgentTimeoutMs,
      upstreamAgentTimeoutMs: config.upstreamAgentTimeoutMs,
      webhookTimeoutMs: config.webhookTimeoutMs,
    })
    const opened = handle
    const heldLock = lock
    return {
      services,
      config,
      lock,
      async close() {
        // The traffic record queued by the last requests is written while the database is open.
        await services.sourceDiagnostics.flush()
        await opened.close()
        await heldLock?.release()
      },
    }
  } catch (error) {
    await handle?.close().catch(() => undefined)
    await lock?.release()
    throw error
  }
}

/** A fresh token for the local admin routes, readable only by whoever can read the data. */
export async function writeAdminToken(dataDir: string): Promise<string> {
  const token = randomBytes(32).toString('base64url')
  await writeFile(path.join(dataDir, ADMIN_TOKEN_FILE), `${token}\n`, { mode: 0o600 })
  return token
}

/** The live process that owns the embedded database in dataDir, if any. */
export function findDataDirOwner(dataDir: string): Promise<LockHolder | null> {
  return readLockHolder(dataDir)
}
