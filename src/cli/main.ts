import { constants as osConstants } from 'node:os'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, type Config } from '../config.ts'
import { isStorefrontError } from '../shared/errors.ts'
import { startServer } from '../server.ts'
import { AdminRequestError, openAdminOps } from './admin-ops.ts'
import { AVAILS_USAGE, availsCommand } from './avails-import.ts'
import { renderTable, terminalJson, terminalText } from './table.ts'
import { runApiCommand, WORK_USAGE } from './work-commands.ts'

const USAGE = `Usage: storefront <command> [options]

Commands:
  serve                                   Start the API, its docs and /mcp (embedded database unless DATABASE_URL is set)
  migrate                                 Apply pending database migrations and exit
  keys create --storefront <name> [--label <text>] [--role operator|buyer] [--sandbox] [--json]
                                          Create an API key (and the storefront if new); the key is shown once.
                                          Operator keys (the default) open the REST API; buyer keys the AdCP
                                          agent at /mcp; --sandbox makes a buyer key's accounts sandbox accounts
  keys list [--storefront <name>]         List API keys (prefixes only; keys are stored as hashes)
  keys revoke <id|prefix>                 Revoke an API key
${AVAILS_USAGE}
${WORK_USAGE}

Configuration comes from the environment; see README.md ("Configuration").`

/** Exit codes: 0 ok, 1 failure, 2 bad usage, 3 refused by the server or database (conflict, not found). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === 'help' || command === '-h') {
    console.log(USAGE)
    return command ? 0 : 2
  }
  const config = loadConfig()
  switch (command) {
    case 'serve':
      return serve(config)
    case 'migrate':
      return migrateCommand(config)
    case 'keys':
      return keys(config, rest)
    case 'avails':
      return availsCommand(rest)
    case 'work':
    case 'finalize':
      return runApiCommand(command, rest)
    default:
      console.error(`Unknown command: ${command}\n\n${USAGE}`)
      return 2
  }
}

/**
 * A process manager sends SIGTERM (or SIGINT) and kills for good a few seconds later. The server
 * closes gracefully within this much, else leaves anyway (the data-dir lock is released on exit).
 */
const SHUTDOWN_GRACE_MS = 3_000

async function serve(config: Config): Promise<number> {
  // Installed before the slow parts of startup (PGlite open, migrations), which then stop early.
  const shutdown = new AbortController()
  const onSignal = (signal: NodeJS.Signals) => {
    const exitCode = 128 + (osConstants.signals[signal] ?? 0)
    if (shutdown.signal.aborted) {
      console.error(`${signal} again: stopping now`)
      process.exit(exitCode)
    }
    shutdown.abort(signal)
    setTimeout(() => {
      console.error(`Did not stop within ${SHUTDOWN_GRACE_MS} ms of ${signal}: stopping now`)
      process.exit(exitCode)
    }, SHUTDOWN_GRACE_MS).unref()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  let server: Awaited<ReturnType<typeof startServer>>
  try {
    server = await startServer(config, { signal: shutdown.signal })
  } catch (error) {
    if (shutdown.signal.aborted) return 0
    throw error
  }
  const lines = [
    `Storefront is listening on ${server.url} (${server.runtime.services.engine === 'pglite' ? `embedded database in ${config.dataDir}` : 'PostgreSQL'})`,
    `  REST API: ${server.url}/api/v2/storefront`,
    `  API docs: ${server.url}/docs   OpenAPI: ${server.url}/openapi.json`,
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
  console.log(lines.join('\n'))
  if (!shutdown.signal.aborted) await new Promise((resolve) => shutdown.signal.addEventListener('abort', resolve, { once: true }))
  server.app.log.info({ signal: shutdown.signal.reason }, 'shutting down')
  await server.close()
  return 0
}

async function migrateCommand(config: Config): Promise<number> {
  const ops = await openAdminOps(config, 'storefront migrate')
  await ops.close()
  console.log(ops.via === 'server' ? 'The running server applied every migration when it started.' : 'Database schema is up to date.')
  return 0
}

async function keys(config: Config, argv: string[]): Promise<number> {
  const [verb, ...rest] = argv
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      storefront: { type: 'string' },
      label: { type: 'string' },
      role: { type: 'string' },
      sandbox: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  })
  const role = values.role ?? 'operator'
  if (verb === 'create' && role !== 'operator' && role !== 'buyer') {
    console.error(`--role must be operator or buyer, not ${role}`)
    return 2
  }
  if (verb === 'create' && values.sandbox && role !== 'buyer') {
    console.error('--sandbox needs --role buyer: only buyer keys can be sandbox keys')
    return 2
  }
  if (verb === 'create' && !values.storefront) {
    console.error('keys create needs --storefront <name>')
    return 2
  }
  if (verb === 'revoke' && positionals.length !== 1) {
    console.error('keys revoke needs exactly one key id or prefix')
    return 2
  }
  if (verb !== 'create' && verb !== 'list' && verb !== 'revoke') {
    console.error(`Unknown keys verb: ${verb ?? '(none)'}\n\n${USAGE}`)
    return 2
  }
  const ops = await openAdminOps(config, `storefront keys ${verb}`)
  try {
    if (verb === 'create') {
      const created = await ops.createKey({
        storefront: values.storefront!,
        label: values.label,
        role: role as 'operator' | 'buyer',
        ...(values.sandbox ? { sandbox: true } : {}),
      })
      const kind = `${created.sandbox ? 'sandbox ' : ''}${created.role}`
      if (values.json) console.log(terminalJson(created))
      else console.log(`Created ${kind} key ${created.id} for storefront "${terminalText(created.storefront)}". It is shown once:\n${created.key}`)
    } else if (verb === 'list') {
      const list = await ops.listKeys(values.storefront)
      if (values.json) console.log(terminalJson(list))
      else console.log(renderTable(['id', 'storefront', 'role', 'prefix', 'label', 'created', 'last used', 'revoked'],
        list.map((k) => [k.id, k.storefront, k.sandbox ? `${k.role} (sandbox)` : k.role, `${k.prefix}…`, k.label ?? '', k.createdAt, k.lastUsedAt ?? '', k.revokedAt ?? ''])))
    } else {
      const revoked = await ops.revokeKey(positionals[0]!)
      console.log(values.json ? terminalJson(revoked) : terminalText(`Revoked key ${revoked.id} (${revoked.prefix}…) of storefront "${revoked.storefront}".`))
    }
    return 0
  } finally {
    await ops.close()
  }
}

export function reportFailure(error: unknown): number {
  if (error instanceof ConfigError) {
    console.error(error.message)
    return 2
  }
  if (isStorefrontError(error) || error instanceof AdminRequestError) {
    console.error(terminalText(`${error.code}: ${error.message}`))
    return error.code === 'VALIDATION_ERROR' ? 2 : 3
  }
  console.error(error instanceof Error ? error.message : String(error))
  return 1
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (error: unknown) => { process.exitCode = reportFailure(error) },
)
