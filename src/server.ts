import type { FastifyInstance } from 'fastify'
import pino, { type Logger, type LoggerOptions } from 'pino'
import pretty from 'pino-pretty'
import type { Config } from './config.ts'
import { buildApp, LOG_REDACT_PATHS } from './http/app.ts'
import { startExpirySweeper } from './modules/booking-ledger/index.ts'
import { openRuntime, writeAdminToken, type Runtime } from './runtime.ts'
import type { Clock } from './shared/clock.ts'
import type { AgentProbe } from './sources/agent-probe.ts'

export interface RunningServer {
  app: FastifyInstance
  runtime: Runtime
  url: string
  /** Printed once when the first key was created at this start; null otherwise. */
  bootstrapKey: { key: string; storefront: string } | null
  /** A one-time console sign-in link for the default storefront, printed at every start; null without a live operator key. */
  consoleLink: { url: string; storefront: string; expiresAt: string } | null
  /**
   * The graceful stop: /readyz fails at once, the listener closes, in-flight requests, the
   * sweeper's run and the webhook sends in progress finish, then the pool closes; all within
   * `timeoutMs` (default SHUTDOWN_TIMEOUT_MS). Past the drain's share of it, what still runs is
   * cut: webhook sends are aborted (recorded as retries) and open connections closed. `drained`
   * says whether nothing had to be cut.
   */
  close(options?: { timeoutMs?: number }): Promise<{ drained: boolean }>
}

/** Of the shutdown bound, what is kept for cutting what did not drain and closing the pool. */
const SHUTDOWN_RESERVE_MS = 1_000

/** Whether `work` settles within `ms`. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms) })
  try {
    return await Promise.race([work.then(() => true, () => true), timedOut])
  } finally {
    clearTimeout(timer)
  }
}

/** JSON lines (pino's own format) or, with LOG_FORMAT=pretty, pino-pretty's lines written synchronously. */
export function loggerFor(config: Pick<Config, 'logLevel' | 'logFormat'>): LoggerOptions | Logger {
  const options: LoggerOptions = { level: config.logLevel, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } }
  if (config.logFormat === 'json') return options
  // Synchronous, in this thread: no line is lost when the process exits right after writing it.
  return pino(options, pretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
}

/** The address CLI verbs and the banner use: a wildcard bind is reached on loopback. */
function reachableUrl(host: string, port: number): string {
  const reachableHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  return `http://${reachableHost}:${port}`
}

/**
 * Opens the runtime, listens, then creates the first storefront and key: a start that fails before it
 * can listen (a port in use) creates nothing, so the key printed by the next start is never lost.
 * `onDatabaseReady` runs once the database is open and migrated; `signal` aborts the steps after it.
 * The caller installs its signal handlers before calling.
 */
export async function startServer(
  config: Config,
  options: { clock?: Clock; probeAgent?: AgentProbe; signal?: AbortSignal; onDatabaseReady?: () => void } = {},
): Promise<RunningServer> {
  const { signal, onDatabaseReady, ...runtimeOptions } = options
  const runtime = await openRuntime(config, { command: 'storefront serve', ...runtimeOptions })
  onDatabaseReady?.()
  const { services } = runtime
  let app: FastifyInstance | null = null
  const background: Array<(drainMs: number) => Promise<void> | void> = []
  let draining = false
  try {
    // The embedded database has one owner; CLI verbs reach it through these local admin routes.
    const adminToken = runtime.lock ? await writeAdminToken(config.dataDir) : undefined
    app = await buildApp({
      services,
      adminToken,
      bodyLimitBytes: config.bodyLimitBytes,
      feedBodyLimitBytes: config.feedBodyLimitBytes,
      feedMaxConcurrent: config.feedMaxConcurrent,
      logger: loggerFor(config),
      rateLimit: { max: config.rateLimitMax, windowMs: config.rateLimitWindowMs },
      metricsToken: config.metricsToken,
      isDraining: () => draining,
    })
    signal?.throwIfAborted()
    await app.listen({ port: config.port, host: config.host })
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : config.port
    const url = reachableUrl(config.host, port)
    await runtime.lock?.update({ url })
    signal?.throwIfAborted()
    // Only now: nothing after this can fail before main prints the key (only its hash is stored).
    const created = await services.access.bootstrap({ storefront: config.defaultStorefrontName, key: config.bootstrapKey })
    const link = await services.access.issueConsoleLink({ storefront: config.defaultStorefrontName })

    // Every process sweeps and reconciles; both skip rows another process is already working on.
    const expirySweeper = startExpirySweeper({
      ledger: services.ledger,
      intervalMs: config.sweepIntervalMs,
      logger: app.log,
      reconcilers: [
        { name: 'interrupted hand-offs handed to work items', run: async () => (await services.execution.reconcileHandoffs()).opened },
        {
          name: 'released the lines of rejected media buys',
          run: async () => (await services.mediaBuys.releaseLinesOfRejectedBuys({
            onError: (mediaBuyId, error) => app?.log.error({ err: error, mediaBuyId }, 'releasing the lines of a rejected media buy failed; retried next sweep'),
          })).released,
        },
        {
          // Each process sweeps; a buy's row lock and status check let one of them move it.
          name: 'moved media buys along their flights (started, completed)',
          run: async () => (await services.flights.advanceFlights({
            onError: (mediaBuyId, error) => app?.log.error({ err: error, mediaBuyId }, 'moving a media buy along its flight failed; retried next sweep'),
          })).moved,
        },
        {
          // Each process asks; the settlement is guarded by the task's status, so one settles it.
          name: 'settled the tasks of forwarded buys whose upstream task ended',
          run: async () => (await services.upstreamSupply.followOpenTasks({
            onError: (taskId, error) => app?.log.error({ err: error, taskId }, 'following an upstream task failed; retried next sweep'),
          })).settled,
        },
        { name: 'deleted source call records older than 720 h', run: () => services.sourceDiagnostics.deleteExpired() },
      ],
    })
    background.push(() => expirySweeper.stop())
    const sweep = setInterval(() => {
      services.idempotency.sweep().catch((error: unknown) => app?.log.error({ err: error }, 'idempotency sweep failed'))
    }, config.sweepIntervalMs)
    sweep.unref()
    background.push(() => clearInterval(sweep))
    // Every process sends the outbox's due webhooks; the claim's lease keeps one event to one sender.
    services.webhookOutbox.start({ intervalMs: config.webhookPollIntervalMs, logger: app.log })
    background.push((drainMs) => services.webhookOutbox.stop({ drainMs }))

    const running: RunningServer = {
      app,
      runtime,
      url,
      bootstrapKey: created && !config.bootstrapKey ? { key: created.key, storefront: created.storefront } : null,
      consoleLink: link
        ? { url: `${url}/console/sign-in/link?token=${link.token}`, storefront: config.defaultStorefrontName, expiresAt: link.expiresAt }
        : null,
      async close(options = {}) {
        const timeoutMs = options.timeoutMs ?? config.shutdownTimeoutMs
        const drainMs = Math.max(timeoutMs - SHUTDOWN_RESERVE_MS, timeoutMs / 2)
        const started = performance.now()
        draining = true
        const server = app!.server
        // A connection whose request ended while draining would idle until its keep-alive timeout
        // (5 s) and hold the close: idle ones are closed as they appear.
        const closeIdle = setInterval(() => server.closeIdleConnections(), 100)
        try {
          const stopped = Promise.all([
            ...background.map((stop) => stop(drainMs)),
            // Stops listening at once, ends live-event streams, waits for the requests in flight.
            app!.close(),
          ])
          const drained = await settlesWithin(stopped, drainMs)
          if (!drained) {
            app!.log.warn({ drainMs }, 'shutdown: requests still running after the drain; closing their connections')
            server.closeAllConnections()
            await settlesWithin(stopped, Math.max(timeoutMs - (performance.now() - started) - SHUTDOWN_RESERVE_MS / 2, 0))
          }
          await runtime.close()
          return { drained }
        } finally {
          clearInterval(closeIdle)
        }
      },
    }
    return running
  } catch (error) {
    for (const stop of background) await stop(0)
    await app?.close().catch(() => undefined)
    // An app that failed to build never ran its onClose: its change-feed listener may be open.
    await services.liveEvents.stop().catch(() => undefined)
    await runtime.close()
    throw error
  }
}
