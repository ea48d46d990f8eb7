import { CompiledQuery } from 'kysely'
import type { Database } from './database.ts'

/** The `pg.Pool#query` subset that @adcp/sdk's PostgreSQL stores call. */
export interface SqlPool {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>
}

/**
 * @adcp/sdk's stores (idempotency replay cache, task registry) over our own Kysely handle, so they
 * share its connections on both engines: PGlite is one connection and must not get a second pool.
 * The SQL is the SDK's own, against the tables migration 0011 creates.
 */
export function sqlPoolOf(db: Database): SqlPool {
  return {
    async query(text, params = []) {
      const result = await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(text, params))
      const affected = result.numAffectedRows
      return { rows: [...result.rows], rowCount: affected === undefined ? result.rows.length : Number(affected) }
    },
  }
}
