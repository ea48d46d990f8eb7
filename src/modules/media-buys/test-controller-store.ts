import type { Queryable, Transaction } from '../../db/database.ts'
import type { MediaBuyPackageRow, MediaBuyRow, MediaBuyStatus } from '../../db/tables.ts'

/**
 * What the sandbox's comply_test_controller and the delivery report read and write of media buys
 * (migration 0013). Reads are scoped by the buyer key: another key's buy is simply not found.
 */

/** The key's buys among `mediaBuyIds`, or (no ids) all its buys in creation order, at most `limit`. */
export async function listKeyMediaBuys(db: Queryable, apiKeyId: number, filter: { mediaBuyIds?: readonly string[] | undefined; limit: number }): Promise<MediaBuyRow[]> {
  let select = db.selectFrom('media_buy').selectAll().where('api_key_id', '=', apiKeyId)
  if (filter.mediaBuyIds !== undefined) select = select.where('media_buy_id', 'in', filter.mediaBuyIds.length > 0 ? [...filter.mediaBuyIds] : [''])
  return select.orderBy('id').limit(filter.limit).execute()
}

export async function listBuyPackages(db: Queryable, mediaBuyRowIds: readonly number[]): Promise<MediaBuyPackageRow[]> {
  if (mediaBuyRowIds.length === 0) return []
  return db.selectFrom('media_buy_package').selectAll().where('media_buy_row_id', 'in', [...mediaBuyRowIds]).orderBy('media_buy_row_id').orderBy('id').execute()
}

export interface StatusChange {
  status: MediaBuyStatus
  now: Date
  /** Set when the change cancels the buy (the seller forced it). */
  cancellation?: { reason: string | null } | undefined
}

/** Moves the buy to `status` (the caller checked the edge) and bumps its revision. */
export async function setMediaBuyStatus(trx: Transaction, buyRowId: number, change: StatusChange): Promise<MediaBuyRow> {
  return trx
    .updateTable('media_buy')
    .set((eb) => ({
      status: change.status,
      revision: eb('revision', '+', 1),
      updated_at: change.now,
      ...(change.status === 'active' ? { confirmed_at: eb.fn.coalesce('confirmed_at', eb.val(change.now)) } : {}),
      ...(change.cancellation ? { canceled_at: change.now, canceled_by: 'seller' as const, cancellation_reason: change.cancellation.reason } : {}),
    }))
    .where('id', '=', buyRowId)
    .returningAll()
    .executeTakeFirstOrThrow()
}

export interface SeededMediaBuy {
  storefrontId: number
  apiKeyId: number
  buyerAccountId: number
  mediaBuyId: string
  status: Exclude<MediaBuyStatus, 'submitted' | 'canceled'>
  currency: string
  startTime: Date
  endTime: Date
  now: Date
}

/**
 * seed_media_buy: a sandbox buy with no packages (it holds nothing). Returns undefined when the
 * id is taken (media_buy_id is unique across keys; the caller tells a re-seed from a clash).
 */
export async function insertSeededMediaBuy(trx: Transaction, input: SeededMediaBuy): Promise<MediaBuyRow | undefined> {
  return trx
    .insertInto('media_buy')
    .values({
      storefront_id: input.storefrontId,
      api_key_id: input.apiKeyId,
      buyer_account_id: input.buyerAccountId,
      media_buy_id: input.mediaBuyId,
      // Seeds are not creates: no request key, but the column is the create's replay guard.
      idempotency_key: `seed_media_buy:${input.mediaBuyId}`,
      sandbox: true,
      status: input.status,
      currency: input.currency,
      start_time: input.startTime,
      end_time: input.endTime,
      confirmed_at: input.status === 'pending_creatives' || input.status === 'pending_start' ? null : input.now,
      created_at: input.now,
      updated_at: input.now,
    })
    .onConflict((oc) => oc.column('media_buy_id').doNothing())
    .returningAll()
    .executeTakeFirst()
}

/** Sandbox reset: the storefront's sandbox buys (their packages cascade). */
export async function deleteSandboxMediaBuys(trx: Transaction, storefrontId: number): Promise<number> {
  const removed = await trx.deleteFrom('media_buy').where('storefront_id', '=', storefrontId).where('sandbox', '=', true).executeTakeFirst()
  return Number(removed.numDeletedRows)
}
