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

/** How long a printed console sign-in link can be used (once). */
export const CONSOLE_LINK_TTL_MS = 15 * 60_000

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
  /** The live (not revoked) keys with their storefront: what a caller is resolved from. */
  function liveKeys() {
    return db
      .selectFrom('api_key')
      .innerJoin('storefront', 'storefront.id', 'api_key.storefront_id')
      .select(['api_key.id as api_key_id', 'api_key.role', 'api_key.sandbox', 'storefront.id as storefront_id', 'storefront.name as storefront_name'])
      .where('api_key.revoked_at', 'is', null)
  }

  function callerOf(row: { api_key_id: number; role: Caller['role']; sandbox: boolean; storefront_id: number; storefront_name: string }): Caller {
    return { storefrontId: row.storefront_id, storefrontName: row.storefront_name, apiKeyId: row.api_key_id, role: row.role, sandbox: row.sandbox }
  }

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
    const row = await liveKeys().where('api_key.key_hash', '=', hash).executeTakeFirst()
    if (!row) {
      authCache.delete(hash)
      throw fail.unauthorized()
    }
    const caller = callerOf(row)
    authCache.set(hash, { caller, until: nowMs + AUTH_CACHE_TTL_MS })
    await db.updateTable('api_key').set({ last_used_at: clock.now() }).where('id', '=', row.api_key_id).execute()
    return caller
  }

  /** The caller of a live (not revoked) key by its id: a console session holds the id, never the key. */
  async function callerOfKey(apiKeyId: number): Promise<Caller | null> {
    const row = await liveKeys().where('api_key.id', '=', apiKeyId).executeTakeFirst()
    return row ? callerOf(row) : null
  }

  /** The keys of one storefront, for its own operators (the console's Keys page). */
  async function listStorefrontKeys(storefrontId: number): Promise<ApiKeySummary[]> {
    const rows = await db
      .selectFrom('api_key')
      .innerJoin('storefront', 'storefront.id', 'api_key.storefront_id')
      .selectAll('api_key')
      .select('storefront.name as storefront_name')
      .where('api_key.storefront_id', '=', storefrontId)
      .orderBy('api_key.id')
      .execute()
    return rows.map((row) => summarize(row, row.storefront_name))
  }

  /** Revokes a key of this storefront; another storefront's key answers like a missing one. */
  async function revokeStorefrontKey(storefrontId: number, apiKeyId: number): Promise<ApiKeySummary> {
    const owned = await db.selectFrom('api_key').select('id').where('id', '=', apiKeyId).where('storefront_id', '=', storefrontId).executeTakeFirst()
    if (!owned) throw fail.notFound(`API key ${apiKeyId}`)
    return revokeKey(String(apiKeyId))
  }

  /**
   * A one-time console sign-in link for the storefront's first live operator key (the bootstrap key
   * on a fresh install). Null when that storefront has no live operator key. Only the token's hash is stored.
   */
  async function issueConsoleLink(input: { storefront: string; ttlMs?: number }): Promise<{ token: string; expiresAt: string } | null> {
    const key = await db
      .selectFrom('api_key')
      .innerJoin('storefront', 'storefront.id', 'api_key.storefront_id')
      .select('api_key.id')
      .where('storefront.name', '=', input.storefront)
      .where('api_key.role', '=', 'operator')
      .where('api_key.revoked_at', 'is', null)
      .orderBy('api_key.id')
      .executeTakeFirst()
    if (!key) return null
    const token = `cl_${randomBytes(24).toString('base64url')}`
    const now = clock.now()
    const expiresAt = new Date(now.getTime() + (input.ttlMs ?? CONSOLE_LINK_TTL_MS))
    // Links nobody used are kept only until they expire.
    await db.deleteFrom('console_sign_in_link').where('expires_at', '<', now).execute()
    await db
      .insertInto('console_sign_in_link')
      .values({ token_hash: hashApiKey(token), api_key_id: key.id, created_at: now, expires_at: expiresAt })
      .execute()
    return { token, expiresAt: toIso(expiresAt)! }
  }

  /** Uses a sign-in link once: its operator, or null if it is unknown, used, expired or its key revoked. */
  async function redeemConsoleLink(token: string): Promise<Caller | null> {
    const now = clock.now()
    const used = await db
      .updateTable('console_sign_in_link')
      .set({ used_at: now })
      .where('token_hash', '=', hashApiKey(token))
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('api_key_id')
      .executeTakeFirst()
    if (!used) return null
    const caller = await callerOfKey(used.api_key_id)
    return caller?.role === 'operator' ? caller : null
  }

  return {
    ensureStorefront,
    createKey,
    bootstrap,
    listKeys,
    listStorefrontKeys,
    revokeKey,
    revokeStorefrontKey,
    authenticate,
    callerOfKey,
    issueConsoleLink,
    redeemConsoleLink,
  }
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
