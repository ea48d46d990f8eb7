import { loadConfig } from '../config.ts'
import { flagOption, stringOption, type Invocation } from './commands.ts'
import { openAdminOps, type AdminOps } from './admin-ops.ts'
import { reportFailure } from './failure.ts'
import { CliUsageError } from './http-client.ts'
import { renderTable, terminalJson, terminalText } from './table.ts'

/**
 * `storefront migrate` and `storefront keys ...`: the admin verbs, which work with or without a running
 * server. They load the whole application when they run (commands.ts), and their failures are mapped
 * here, by failure.ts, which knows the application's error classes.
 */

async function admin(input: Invocation, command: string, work: (ops: AdminOps) => Promise<void>): Promise<number> {
  try {
    const ops = await openAdminOps(loadConfig(), command)
    try {
      await work(ops)
    } finally {
      await ops.close()
    }
    return 0
  } catch (error) {
    return reportFailure(error, input.name)
  }
}

export async function migrateCommand(input: Invocation): Promise<number> {
  return admin(input, 'storefront migrate', async (ops) => {
    console.log(ops.via === 'server' ? 'The running server applied every migration when it started.' : 'Database schema is up to date.')
  })
}

export async function keysCreate(input: Invocation): Promise<number> {
  const role = stringOption(input, 'role') ?? 'operator'
  const storefront = stringOption(input, 'storefront')
  const sandbox = flagOption(input, 'sandbox')
  try {
    if (role !== 'operator' && role !== 'buyer') throw new CliUsageError(`--role must be operator or buyer, not ${role}`)
    if (sandbox && role !== 'buyer') throw new CliUsageError('--sandbox needs --role buyer: only buyer keys can be sandbox keys')
    if (!storefront) throw new CliUsageError('needs --storefront <name>')
  } catch (error) {
    return reportFailure(error, input.name)
  }
  return admin(input, 'storefront keys create', async (ops) => {
    const created = await ops.createKey({ storefront, label: stringOption(input, 'label'), role, ...(sandbox ? { sandbox: true } : {}) })
    const kind = `${created.sandbox ? 'sandbox ' : ''}${created.role}`
    if (flagOption(input, 'json')) console.log(terminalJson(created))
    else console.log(`Created ${kind} key ${created.id} for storefront "${terminalText(created.storefront)}". It is shown once:\n${created.key}`)
  })
}

export async function keysList(input: Invocation): Promise<number> {
  return admin(input, 'storefront keys list', async (ops) => {
    const list = await ops.listKeys(stringOption(input, 'storefront'))
    if (flagOption(input, 'json')) console.log(terminalJson(list))
    else console.log(renderTable(['id', 'storefront', 'role', 'prefix', 'label', 'created', 'last used', 'revoked'],
      list.map((k) => [k.id, k.storefront, k.sandbox ? `${k.role} (sandbox)` : k.role, `${k.prefix}…`, k.label ?? '', k.createdAt, k.lastUsedAt ?? '', k.revokedAt ?? ''])))
  })
}

export async function keysRevoke(input: Invocation): Promise<number> {
  return admin(input, 'storefront keys revoke', async (ops) => {
    const revoked = await ops.revokeKey(input.positionals[0]!)
    console.log(flagOption(input, 'json') ? terminalJson(revoked) : terminalText(`Revoked key ${revoked.id} (${revoked.prefix}…) of storefront "${revoked.storefront}".`))
  })
}
