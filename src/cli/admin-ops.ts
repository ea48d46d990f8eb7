import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { ApiKeyRole, ApiKeySummary, CreatedApiKey } from '../access/access-service.ts'
import type { Config } from '../config.ts'
import { ADMIN_TOKEN_FILE, findDataDirOwner, openRuntime } from '../runtime.ts'
import { httpClient } from './http-client.ts'

/** What the admin verbs need, whether the server is up or not. */
export interface AdminOps {
  via: 'server' | 'database'
  createKey(input: { storefront: string; label?: string | undefined; role?: ApiKeyRole | undefined; sandbox?: boolean | undefined }): Promise<CreatedApiKey>
  listKeys(storefront?: string): Promise<ApiKeySummary[]>
  revokeKey(idOrPrefix: string): Promise<ApiKeySummary>
  close(): Promise<void>
}

/**
 * While a server owns the embedded database the CLI talks to it over HTTP (opening the files
 * a second time would corrupt them); otherwise it opens the database itself. On PostgreSQL
 * many processes may share the database, so the CLI always connects directly.
 */
export async function openAdminOps(config: Config, command: string): Promise<AdminOps> {
  if (!config.databaseUrl) {
    const holder = await findDataDirOwner(config.dataDir)
    if (holder?.url) {
      const token = (await readFile(path.join(config.dataDir, ADMIN_TOKEN_FILE), 'utf8')).trim()
      return serverAdminOps(holder.url, token)
    }
  }
  const runtime = await openRuntime(config, { command })
  const { access } = runtime.services
  return {
    via: 'database',
    createKey: (input) => access.createKey(input),
    listKeys: (storefront) => access.listKeys(storefront),
    revokeKey: (id) => access.revokeKey(id),
    close: () => runtime.close(),
  }
}

function serverAdminOps(baseUrl: string, token: string): AdminOps {
  const client = httpClient(baseUrl, token)
  return {
    via: 'server',
    createKey: (input) => client.request('POST', '/admin/keys', { json: input }),
    listKeys: (storefront) => client.request('GET', `/admin/keys${storefront ? `?storefront=${encodeURIComponent(storefront)}` : ''}`),
    revokeKey: (id) => client.request('POST', `/admin/keys/${encodeURIComponent(id)}/revoke`),
    close: async () => undefined,
  }
}
