import { sql } from 'kysely'
import type { Transaction } from '../../db/database.ts'
import type { MediaBuyRow, MediaBuyStatus } from '../../db/tables.ts'
import { readyStatusSql } from './flight-status.ts'

/**
 * What the creative library needs of media buys (migrations/0013_media_buys.sql): the packages a
 * buyer key may assign creatives to, and the pending_creatives -> pending_start | active step once
 * every package of a buy has a creative. Written for sync_creatives; the moves its flight makes are
 * flight-status.ts's, the buy's other transitions belong to the rest of this module.
 */

/** A buy a creative can no longer be put on: it ended, or the seller refused it. */
const CLOSED_BUY_STATUSES: readonly MediaBuyStatus[] = ['completed', 'rejected', 'canceled']

export interface AssignablePackage {
  packageRowId: number
  packageId: string
  mediaBuyRowId: number
  mediaBuyId: string
  buyStatus: MediaBuyStatus
  buyerAccountId: number
  inventorySourceId: number
  availRowId: number
  canceled: boolean
}

/**
 * The key's packages with these public ids, their buys locked (FOR UPDATE, in id order: the
 * order a buy's own updates take them), so a cancel and an assignment are serialised. A buy still
 * `submitted` is left out: its buyer has not been given its ids. A package id may be in several
 * of the key's buys (ids are unique per buy); the caller picks the open one.
 */
export async function lockAssignablePackages(trx: Transaction, apiKeyId: number, packageIds: readonly string[]): Promise<AssignablePackage[]> {
  if (packageIds.length === 0) return []
  const rows = await trx
    .selectFrom('media_buy_package as p')
    .innerJoin('media_buy as b', 'b.id', 'p.media_buy_row_id')
    .select([
      'p.id as packageRowId', 'p.package_id as packageId', 'b.id as mediaBuyRowId', 'b.media_buy_id as mediaBuyId',
      'b.status as buyStatus', 'b.buyer_account_id as buyerAccountId', 'p.inventory_source_id as inventorySourceId',
      'p.avail_row_id as availRowId', 'p.canceled_at as canceledAt',
    ])
    .where('b.api_key_id', '=', apiKeyId)
    .where('b.status', '<>', 'submitted')
    .where('p.package_id', 'in', [...packageIds])
    .orderBy('b.id')
    .orderBy('p.id')
    .forUpdate('b')
    .execute()
  return rows.map(({ canceledAt, ...row }) => ({ ...row, canceled: canceledAt !== null }))
}

/** Whether a creative can still be put on this package. */
export function isOpenForCreatives(pkg: Pick<AssignablePackage, 'buyStatus' | 'canceled'>): boolean {
  return !pkg.canceled && !CLOSED_BUY_STATUSES.includes(pkg.buyStatus)
}

/** The live (not canceled) package row ids of each buy. */
export async function livePackagesOfBuys(trx: Transaction, mediaBuyRowIds: readonly number[]): Promise<Map<number, number[]>> {
  const byBuy = new Map<number, number[]>()
  if (mediaBuyRowIds.length === 0) return byBuy
  const rows = await trx
    .selectFrom('media_buy_package')
    .select(['id', 'media_buy_row_id'])
    .where('media_buy_row_id', 'in', [...mediaBuyRowIds])
    .where('canceled_at', 'is', null)
    .orderBy('id')
    .execute()
  for (const row of rows) byBuy.set(row.media_buy_row_id, [...(byBuy.get(row.media_buy_row_id) ?? []), row.id])
  return byBuy
}

/**
 * The buys whose every package now has a creative leave pending_creatives: pending_start while
 * their flight is ahead, active once it has begun (AdCP: pending_creatives -> pending_start |
 * active; readyStatusSql). Only buys still in pending_creatives move; each move is a new revision.
 */
export async function advanceCreativeReadyBuys(
  trx: Transaction,
  mediaBuyRowIds: readonly number[],
  now: Date,
): Promise<MediaBuyRow[]> {
  if (mediaBuyRowIds.length === 0) return []
  return trx
    .updateTable('media_buy')
    .set({
      status: readyStatusSql(now),
      revision: sql<number>`revision + 1`,
      updated_at: now,
    })
    .where('id', 'in', [...mediaBuyRowIds])
    .where('status', '=', 'pending_creatives')
    .returningAll()
    .execute()
}
