import { sql } from 'kysely'
import type { Database } from '../../src/db/database.ts'

/**
 * Abandonment is judged by the database clock, which a test cannot move: instead the claim is
 * dated back, as if its request had started that long ago.
 */
export async function claimedMinutesAgo(db: Database, storefrontId: number, key: string, minutes: number): Promise<void> {
  const result = await db
    .updateTable('idempotency_record')
    .set({ claimed_at: sql<Date>`claimed_at - make_interval(mins => ${minutes})` })
    .where('storefront_id', '=', storefrontId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst()
  if (Number(result.numUpdatedRows) !== 1) throw new Error(`no idempotency claim ${key}`)
}
