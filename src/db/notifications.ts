import type { PGlite } from '@electric-sql/pglite'
import pg from 'pg'

/**
 * NOTIFY messages of one channel, as the database delivers them: only those of committed
 * transactions, once each, to every listening session. Both engines give the same semantics;
 * what differs is how this process listens (see postgresNotifications and pgliteNotifications).
 */
export interface NotificationHandlers {
  onPayload(payload: string): void
  /**
   * The listener lost its session and is listening again: notifications committed in between
   * were not received, so whoever relies on them must re-read the state.
   */
  onGap(): void
  /** A lost connection or a failed reconnect, for the log; the listener keeps retrying. */
  onError?(error: unknown): void
}

export interface Notifications {
  /** Listens on `channel` until the returned stop is called; resolves once it is listening. */
  listen(channel: string, handlers: NotificationHandlers): Promise<() => Promise<void>>
}

/** Channel names are SQL identifiers: ours are constants, kept to a shape that needs no quoting rules. */
function assertChannelName(channel: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`Invalid notification channel name: ${channel}`)
}

/**
 * The embedded database: one PGlite instance is one session, and it hands every NOTIFY of a
 * committed transaction to its own `listen` callbacks (a rolled-back one never), whichever
 * pool client ran the statement. So the single process that owns the data directory hears all
 * of its own changes with the same after-commit semantics as PostgreSQL; there is no other
 * process to hear (the data directory is locked to one).
 */
export function pgliteNotifications(pglite: PGlite): Notifications {
  return {
    async listen(channel, handlers) {
      assertChannelName(channel)
      const unlisten = await pglite.listen(channel, (payload) => handlers.onPayload(payload))
      return async () => {
        if (!pglite.closed) await unlisten()
      }
    },
  }
}

export interface PostgresListenOptions {
  /** First reconnect delay; doubles per failed attempt up to maxBackoffMs (each with jitter). */
  minBackoffMs?: number
  maxBackoffMs?: number
  /** A `SELECT 1` on the listening connection this often, so a silently dead one is noticed. */
  pingIntervalMs?: number
}

/**
 * PostgreSQL: one dedicated connection per listened channel and process (never one per
 * subscriber), outside the pool so a busy pool never starves it and LISTEN never lands on a
 * pooled connection. A lost connection is replaced with exponential backoff; once listening
 * again, `onGap` says that notifications may have been missed.
 */
export function postgresNotifications(connectionString: string, options: PostgresListenOptions = {}): Notifications {
  return {
    async listen(channel, handlers) {
      assertChannelName(channel)
      const listener = new PostgresListener(connectionString, channel, handlers, options)
      await listener.start()
      return () => listener.stop()
    },
  }
}

class PostgresListener {
  readonly #connectionString: string
  readonly #channel: string
  readonly #handlers: NotificationHandlers
  readonly #minBackoffMs: number
  readonly #maxBackoffMs: number
  readonly #pingIntervalMs: number
  #client: pg.Client | null = null
  #stopped = false
  #failures = 0
  #retry: NodeJS.Timeout | null = null
  #ping: NodeJS.Timeout | null = null

  constructor(connectionString: string, channel: string, handlers: NotificationHandlers, options: PostgresListenOptions) {
    this.#connectionString = connectionString
    this.#channel = channel
    this.#handlers = handlers
    this.#minBackoffMs = options.minBackoffMs ?? 250
    this.#maxBackoffMs = options.maxBackoffMs ?? 30_000
    this.#pingIntervalMs = options.pingIntervalMs ?? 30_000
  }

  /** The first connection must succeed: a server that cannot listen at boot says so at once. */
  async start(): Promise<void> {
    await this.#connect()
    this.#ping = setInterval(() => this.#checkAlive(), this.#pingIntervalMs)
    this.#ping.unref()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#retry) clearTimeout(this.#retry)
    if (this.#ping) clearInterval(this.#ping)
    const client = this.#client
    this.#client = null
    await client?.end().catch(() => undefined)
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#connectionString,
      // Named, so an operator sees it in pg_stat_activity (and a test can cut it).
      application_name: 'storefront-live-events',
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
      query_timeout: 10_000,
    })
    client.on('notification', (message) => {
      if (message.channel === this.#channel && message.payload !== undefined) this.#handlers.onPayload(message.payload)
    })
    client.on('error', (error) => this.#lost(client, error))
    client.on('end', () => this.#lost(client, new Error('The live-events connection to PostgreSQL ended')))
    try {
      await client.connect()
      await client.query(`LISTEN ${this.#channel}`)
    } catch (error) {
      await client.end().catch(() => undefined)
      throw error
    }
    if (this.#stopped) {
      await client.end().catch(() => undefined)
      return
    }
    this.#client = client
  }

  #checkAlive(): void {
    const client = this.#client
    if (!client) return
    client.query('SELECT 1').catch((error: unknown) => this.#lost(client, error))
  }

  #lost(client: pg.Client, error: unknown): void {
    // Only the current connection counts: an old one's late events, or one still connecting, do not.
    if (this.#client !== client) return
    this.#client = null
    client.end().catch(() => undefined)
    if (this.#stopped) return
    this.#handlers.onError?.(error)
    this.#scheduleReconnect()
  }

  #scheduleReconnect(): void {
    const ceiling = Math.min(this.#maxBackoffMs, this.#minBackoffMs * 2 ** this.#failures)
    const delay = ceiling / 2 + Math.random() * (ceiling / 2)
    this.#failures++
    this.#retry = setTimeout(() => {
      this.#retry = null
      this.#connect().then(
        () => {
          if (this.#stopped) return
          this.#failures = 0
          this.#handlers.onGap()
        },
        (error: unknown) => {
          if (this.#stopped) return
          this.#handlers.onError?.(error)
          this.#scheduleReconnect()
        },
      )
    }, delay)
    this.#retry.unref()
  }
}
