import type { FastifyInstance } from 'fastify'
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
  close(): Promise<void>
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
  const background: Array<() => Promise<void> | void> = []
  try {
    // The embedded database has one owner; CLI verbs reach it through these local admin routes.
    const adminToken = runtime.lock ? await writeAdminToken(config.dataDir) : undefined
    app = await buildApp({
      services,
      adminToken,
      bodyLimitBytes: config.bodyLimitBytes,
      feedBodyLimitBytes: config.feedBodyLimitBytes,
      feedMaxConcurrent: config.feedMaxConcurrent,
      logger: { level: config.logLevel, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } },
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
    background.push(() => services.webhookOutbox.stop())

    const running: RunningServer = {
      app,
      runtime,
      url,
      bootstrapKey: created && !config.bootstrapKey ? { key: created.key, storefront: created.storefront } : null,
      consoleLink: link
        ? { url: `${url}/console/sign-in/link?token=${link.token}`, storefront: config.defaultStorefrontName, expiresAt: link.expiresAt }
        : null,
      async close() {
        for (const stop of background) await stop()
        await app?.close()
        await runtime.close()
      },
    }
    return running
  } catch (error) {
    for (const stop of background) await stop()
    await app?.close().catch(() => undefined)
    // An app that failed to build never ran its onClose: its change-feed listener may be open.
    await services.liveEvents.stop().catch(() => undefined)
    await runtime.close()
    throw error
  }
}
