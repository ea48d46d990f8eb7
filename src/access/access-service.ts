import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Database } from '../db/database.ts'
import type { ApiKeyRole } from '../db/tables.ts'
import type { Clock } from '../shared/clock.ts'
import { toIso } from '../shared/clock.ts'
import { fail } from '../shared/errors.ts'

/** What every authenticated request knows about its caller. */
export interface Caller {
  storefrontId: number
  storefrontName: string
  apiKeyId: number
  /** operator: the REST API; buyer: the AdCP agent at /mcp. */
  role: ApiKeyRole
  /** A sandbox buyer key: its accounts are sandbox accounts. */
  sandbox: boolean
}

export type { ApiKeyRole }

export const API_KEY_ROLES: readonly ApiKeyRole[] = ['operator', 'buyer']

export interface ApiKeySummary {
  id: string
  storefront: string
  prefix: string
  label: string | null
  role: ApiKeyRole
  sandbox: boolean
  createdAt: string
  lastUsedAt: string | null
  revokedAt: string | null
}

export interface CreatedApiKey extends ApiKeySummary {
  /** Shown once; only its hash is stored. */
  key: string
}

const KEY_PREFIX_LENGTH = 10

export function generateApiKey(): string {
  return `sf_${randomBytes(24).toString('base64url')}`
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

export function sameSecret(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest()
  const right = createHash('sha256').update(b).digest()
  return timingSafeEqual(left, right)
}

// A key is looked up on every request; a short cache keeps that off the hot path.
// Revocation in this process clears it at once; other processes see it within the TTL.
const AUTH_CACHE_TTL_MS = 5_000

export function createAccessService(db: Database, clock: Clock) {
  const authCache = new Map<string, { caller: Caller; until: number }>()

  async function ensureStorefront(name: string): Promise<{ id: number; name: string; created: boolean }> {
    const existing = await db.selectFrom('storefront').select(['id', 'name']).where('name', '=', name).executeTakeFirst()
    if (existing) return { ...existing, created: false }
    const inserted = await db
      .insertInto('storefront')
      .values({ name, created_at: clock.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .returning(['id', 'name'])
      .executeTakeFirst()
    if (inserted) return { ...inserted, created: true }
    const raced = await db.selectFrom('storefront').select(['id', 'name']).where('name', '=', name).executeTakeFirstOrThrow()
    return { ...raced, created: false }
  }

  async function createKey(input: {
    storefront: string
    label?: string | undefined
    key?: string | undefined
    role?: ApiKeyRole | undefined
    sandbox?: boolean | undefined
  }): Promise<CreatedApiKey> {
    const role = input.role ?? 'operator'
    if (input.sandbox && role !== 'buyer') throw fail.invalidField('sandbox', 'only buyer keys can be sandbox keys')
    const storefront = await ensureStorefront(input.storefront)
    const key = input.key ?? generateApiKey()
    const row = await db
      .insertInto('api_key')
      .values({
        storefront_id: storefront.id,
        key_hash: hashApiKey(key),
        key_prefix: key.slice(0, KEY_PREFIX_LENGTH),
        label: input.label ?? null,
        role,
        sandbox: input.sandbox ?? false,
        created_at: clock.now(),
      })
      .returningAll()
      .executeTakeFirstOrThrow()
    return { key, ...summarize(row, storefront.name) }
  }

  /**
   * First start on an empty database: a default storefront and one key. With a fixed
   * bootstrap key (scripted setups) the key is registered idempotently.
   */
  async function bootstrap(input: { storefront: string; key?: string | undefined }): Promise<CreatedApiKey | null> {
    if (input.key) {
      const known = await db.selectFrom('api_key').select('id').where('key_hash', '=', hashApiKey(input.key)).executeTakeFirst()
      if (known) return null
      return createKey({ storefront: input.storefront, label: 'bootstrap', key: input.key })
    }
    const anyKey = await db.selectFrom('api_key').select('id').limit(1).executeTakeFirst()
    if (anyKey) return null
    return createKey({ storefront: input.storefront, label: 'bootstrap' })
  }

  async function listKeys(storefront?: string): Promise<ApiKeySummary[]> {
    let query = db
      .selectFrom('api_key')
      .innerJoin('storefront', 'storefront.id', 'api_key.storefront_id')
      .selectAll('api_key')
      .select('storefront.name as storefront_name')
      .orderBy('api_key.id')
    if (storefront) query = query.where('storefront.name', '=', storefront)
    const rows = await query.execute()
    return rows.map((row) => summarize(row, row.storefront_name))
  }

  async function revokeKey(idOrPrefix: string): Promise<ApiKeySummary> {
    const byId = /^\d+$/.test(idOrPrefix)
    const matches = await db
      .selectFrom('api_key')
      .innerJoin('storefront', 'storefront.id', 'api_key.storefront_id')
      .selectAll('api_key')
      .select('storefront.name as storefront_name')
      .where(byId ? 'api_key.id' : 'api_key.key_prefix', '=', byId ? Number(idOrPrefix) : idOrPrefix)
      .execute()
    if (matches.length === 0) throw fail.notFound(`API key ${idOrPrefix}`)
    if (matches.length > 1) throw fail.validation(`Prefix ${idOrPrefix} matches ${matches.length} keys; revoke by id`)
    const match = matches[0]!
    const row = await db
      .updateTable('api_key')
      .set({ revoked_at: match.revoked_at ?? clock.now() })
      .where('id', '=', match.id)
      .returningAll()
      .executeTakeFirstOrThrow()
    authCache.clear()
    return summarize(row, match.storefront_name)
  }

  async function authenticate(key: string | undefined): Promise<Caller> {
    if (!key) throw fail.unauthorized()
    const hash = hashApiKey(key)
    const cached = authCache.get(hash)
    const nowMs = Date.now()
    if (cached && cached.until > nowMs) return cached.caller
    const row = await db
      .selectFrom('api_key')
      .innerJoin('storefront', 'storefront.id', 'api_key.storefront_id')
      .select(['api_key.id as api_key_id', 'api_key.role', 'api_key.sandbox', 'storefront.id as storefront_id', 'storefront.name as storefront_name'])
      .where('api_key.key_hash', '=', hash)
      .where('api_key.revoked_at', 'is', null)
      .executeTakeFirst()
    if (!row) {
      authCache.delete(hash)
      throw fail.unauthorized()
    }
    const caller: Caller = {
      storefrontId: row.storefront_id,
      storefrontName: row.storefront_name,
      apiKeyId: row.api_key_id,
      role: row.role,
      sandbox: row.sandbox,
    }
    authCache.set(hash, { caller, until: nowMs + AUTH_CACHE_TTL_MS })
    await db.updateTable('api_key').set({ last_used_at: clock.now() }).where('id', '=', row.api_key_id).execute()
    return caller
  }

  return { ensureStorefront, createKey, bootstrap, listKeys, revokeKey, authenticate }
}

export type AccessService = ReturnType<typeof createAccessService>

function summarize(
  row: {
    id: number
    key_prefix: string
    label: string | null
    role: ApiKeyRole
    sandbox: boolean
    created_at: Date
    last_used_at: Date | null
    revoked_at: Date | null
  },
  storefront: string,
): ApiKeySummary {
  return {
    id: String(row.id),
    storefront,
    prefix: row.key_prefix,
    label: row.label,
    role: row.role,
    sandbox: row.sandbox,
    createdAt: toIso(row.created_at)!,
    lastUsedAt: toIso(row.last_used_at),
    revokedAt: toIso(row.revoked_at),
  }
}
