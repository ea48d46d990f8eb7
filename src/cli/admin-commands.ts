import { parseArgs } from 'node:util'
import type { Config } from '../config.ts'
import { openAdminOps } from './admin-ops.ts'
import { renderTable, terminalJson, terminalText } from './table.ts'
import { USAGE } from './usage.ts'

/** `storefront migrate` and `storefront keys ...`: the admin verbs, which work with or without a running server. */

export async function migrateCommand(config: Config): Promise<number> {
  const ops = await openAdminOps(config, 'storefront migrate')
  await ops.close()
  console.log(ops.via === 'server' ? 'The running server applied every migration when it started.' : 'Database schema is up to date.')
  return 0
}

export async function keysCommand(config: Config, argv: string[]): Promise<number> {
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
