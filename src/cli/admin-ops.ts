import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { ApiKeyRole, ApiKeySummary, CreatedApiKey } from '../access/access-service.ts'
import type { Config } from '../config.ts'
import { ADMIN_TOKEN_FILE, findDataDirOwner, openRuntime } from '../runtime.ts'

/** What the admin verbs need, whether the server is up or not. */
export interface AdminOps {
  via: 'server' | 'database'
  createKey(input: { storefront: string; label?: string | undefined; role?: ApiKeyRole | undefined; sandbox?: boolean | undefined }): Promise<CreatedApiKey>
  listKeys(storefront?: string): Promise<ApiKeySummary[]>
  revokeKey(idOrPrefix: string): Promise<ApiKeySummary>
  close(): Promise<void>
}

export class AdminRequestError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message)
  }
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
  async function call<T>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await fetch(`${baseUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const payload = (await response.json()) as { error?: { code: string; message: string } }
    if (!response.ok) {
      throw new AdminRequestError(response.status, payload.error?.code ?? 'INTERNAL_ERROR', payload.error?.message ?? response.statusText)
    }
    return payload as T
  }
  return {
    via: 'server',
    createKey: (input) => call('POST', '/admin/keys', input),
    listKeys: (storefront) => call('GET', `/admin/keys${storefront ? `?storefront=${encodeURIComponent(storefront)}` : ''}`),
    revokeKey: (id) => call('POST', `/admin/keys/${encodeURIComponent(id)}/revoke`),
    close: async () => undefined,
  }
}
