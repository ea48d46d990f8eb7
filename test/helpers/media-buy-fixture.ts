import type { Database } from '../../src/db/database.ts'
import type { MediaBuyStatus } from '../../src/db/tables.ts'

/**
 * TEST FIXTURE: media_buy and media_buy_package rows written straight into the database, so the
 * creative tests can assign creatives to a buyer's packages without create_media_buy. The rows
 * are what migration 0013 describes (one package per avail); holds, if a test needs them, are
 * taken over REST with the same media buy and package ids.
 */
export interface MediaBuyFixture {
  /** The buyer's account (buyer_account.account_id): the buy belongs to that account's key. */
  accountId: string
  mediaBuyId: string
  status?: MediaBuyStatus
  startTime?: string
  endTime?: string
  packages: Array<{ packageId: string; sourceId: string; availId: string }>
}

export async function insertMediaBuyFixture(db: Database, fixture: MediaBuyFixture, now = new Date('2026-11-22T12:00:00.000Z')): Promise<{ mediaBuyRowId: number; packageRowIds: number[] }> {
  const account = await db.selectFrom('buyer_account').selectAll().where('account_id', '=', fixture.accountId).executeTakeFirstOrThrow()
  const buy = await db
    .insertInto('media_buy')
    .values({
      storefront_id: account.storefront_id,
      api_key_id: account.api_key_id,
      buyer_account_id: account.id,
      media_buy_id: fixture.mediaBuyId,
      idempotency_key: `fixture-${fixture.mediaBuyId}`,
      sandbox: account.sandbox,
      status: fixture.status ?? 'pending_creatives',
      currency: 'EUR',
      start_time: fixture.startTime ?? '2026-12-01T00:00:00.000Z',
      end_time: fixture.endTime ?? '2026-12-31T23:59:59.000Z',
      ...(fixture.status === 'canceled' ? { canceled_at: now, canceled_by: 'buyer' as const, cancellation_reason: 'fixture' } : {}),
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  const packageRowIds: number[] = []
  for (const pkg of fixture.packages) {
    const avail = await db
      .selectFrom('avail')
      .innerJoin('inventory_source', 'inventory_source.id', 'avail.inventory_source_id')
      .select(['avail.id', 'avail.inventory_source_id', 'avail.cpm'])
      .where('inventory_source.source_id', '=', pkg.sourceId)
      .where('avail.avail_id', '=', pkg.availId)
      .executeTakeFirstOrThrow()
    const row = await db
      .insertInto('media_buy_package')
      .values({
        media_buy_row_id: buy.id,
        package_id: pkg.packageId,
        inventory_source_id: avail.inventory_source_id,
        avail_row_id: avail.id,
        product_id: `${pkg.sourceId}:${pkg.availId}`,
        pricing_option_id: 'cpm_fixed',
        budget: 1000,
        impressions: 1000,
        cpm: avail.cpm ?? 10,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    packageRowIds.push(row.id)
  }
  return { mediaBuyRowId: buy.id, packageRowIds }
}
