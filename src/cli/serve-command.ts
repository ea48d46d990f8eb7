import { constants as osConstants } from 'node:os'
import { loadConfig, type Config } from '../config.ts'
import { startServer } from '../server.ts'
import { collectGarbage } from '../shared/collect-garbage.ts'
import { reportFailure } from './failure.ts'

/** `storefront serve`: the API, docs and console until a signal stops it. */

/**
 * A process manager sends SIGTERM (or SIGINT) and kills for good some seconds later (docker: 10 s,
 * Kubernetes: 30 s). The server drains within SHUTDOWN_TIMEOUT_MS (src/server.ts close) and exits
 * 0, or 1 when it had to cut requests that were still running; should closing itself hang, the
 * process leaves anyway at the bound (the data-dir lock is released on exit).
 */
/** Runs with the whole application loaded; failure.ts maps its failures to exit codes. */
export async function serveCommand(): Promise<number> {
  try {
    return await serve(loadConfig())
  } catch (error) {
    return reportFailure(error, 'storefront serve')
  }
}

export async function serve(config: Config): Promise<number> {
  const graceMs = config.shutdownTimeoutMs
  // Installed before the slow parts of startup (PGlite open, migrations).
  const shutdown = new AbortController()
  let openingDatabase = true
  const onSignal = (signal: NodeJS.Signals) => {
    const exitCode = 128 + (osConstants.signals[signal] ?? 0)
    if (openingDatabase) {
      // Setting up and opening PGlite are safe to cut short: a fresh data directory is renamed into
      // place only once initdb and every migration succeeded, each migration is one transaction, and
      // nothing has been served. Waiting for the step to end could take longer than a process manager
      // grants on a busy machine. The exit handlers kill the set-up process (src/db/embedded-setup.ts)
      // and release the data-dir lock.
      console.error(`${signal} during startup: stopping`)
      process.exit(exitCode)
    }
    if (shutdown.signal.aborted) {
      console.error(`${signal} again: stopping now`)
      process.exit(exitCode)
    }
    shutdown.abort(signal)
    setTimeout(() => {
      console.error(`Did not stop within ${graceMs} ms of ${signal} (SHUTDOWN_TIMEOUT_MS): stopping now`)
      process.exit(exitCode)
    }, graceMs).unref()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  let server: Awaited<ReturnType<typeof startServer>>
  try {
    server = await startServer(config, { signal: shutdown.signal, onDatabaseReady: () => { openingDatabase = false } })
  } catch (error) {
    if (shutdown.signal.aborted) return 0
    throw error
  }
  const lines = [
    `Storefront is listening on ${server.url} (${server.runtime.services.engine === 'pglite' ? `embedded database in ${config.dataDir}` : 'PostgreSQL'})`,
    `  REST API: ${server.url}/api/v2/storefront`,
    `  API docs: ${server.url}/docs   OpenAPI: ${server.url}/openapi.json`,
    `  AdCP agent for buyers: ${server.url}/mcp (MCP)   ${server.url}/a2a (A2A)`,
  ]
  if (server.bootstrapKey) {
    lines.push(
      '',
      `  Bootstrap API key for storefront "${server.bootstrapKey.storefront}" (shown once; only its hash is stored):`,
      `    ${server.bootstrapKey.key}`,
      '',
      `  Try: curl -H "Authorization: Bearer ${server.bootstrapKey.key}" ${server.url}/api/v2/storefront/inventory-sources`,
    )
  }
  if (server.consoleLink) {
    lines.push(
      '',
      `  Console: ${server.url}/console   One-time sign-in link for storefront "${server.consoleLink.storefront}" (until ${server.consoleLink.expiresAt}):`,
      `    ${server.consoleLink.url}`,
    )
  }
  // On stderr: stdout carries only the log's JSON lines, which a collector parses.
  console.error(lines.join('\n'))
  // What start-up allocated and dropped (module sources, tsx's transforms)
  // is returned to the system now rather than whenever an idle server next collects.
  collectGarbage()
  if (!shutdown.signal.aborted) await new Promise((resolve) => shutdown.signal.addEventListener('abort', resolve, { once: true }))
  server.app.log.info({ signal: shutdown.signal.reason, timeoutMs: graceMs }, 'shutting down: draining requests, the sweeper and webhook sends')
  const { drained } = await server.close({ timeoutMs: graceMs })
  if (!drained) console.error(`Requests were still running ${graceMs} ms after ${String(shutdown.signal.reason)} (SHUTDOWN_TIMEOUT_MS); their connections were closed`)
  return drained ? 0 : 1
}
