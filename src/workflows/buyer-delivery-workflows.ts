import type { Database } from '../db/database.ts'
import type { MediaBuyPackageRow, MediaBuyRow, MediaBuyStatus } from '../db/tables.ts'
import { listBuyDelivery, type PackageDeliveryRow } from '../modules/delivery/index.ts'
import { listBuyPackages, listKeyMediaBuys } from '../modules/media-buys/index.ts'
import { fail } from '../shared/errors.ts'
import type { BuyerPrincipal } from './buyer-workflows.ts'

/**
 * get_media_buy_delivery (SPEC §4): a buyer key's own buys with their packages and the delivery
 * rows behind them, the imported final reports (and, in the sandbox, simulated days) of each
 * package's reservation per day. Another key's buy is not found, exactly like a missing one.
 */

/** At most this many buys per report when no ids are named. */
export const DELIVERY_MAX_BUYS = 100

export interface BuyDelivery {
  buy: MediaBuyRow
  packages: MediaBuyPackageRow[]
  rows: PackageDeliveryRow[]
}

export interface DeliveryQuery {
  mediaBuyIds?: readonly string[] | undefined
  statuses?: readonly MediaBuyStatus[] | undefined
  /** 'YYYY-MM-DD', inclusive. */
  from?: string | undefined
  to?: string | undefined
}

export function createBuyerDeliveryWorkflows({ db }: { db: Database }) {
  async function readDelivery(principal: BuyerPrincipal, query: DeliveryQuery): Promise<{ deliveries: BuyDelivery[]; missing: string[] }> {
    if (query.from !== undefined && query.to !== undefined && query.from > query.to) throw fail.invalidField('end_date', 'must not be before start_date')
    if (query.mediaBuyIds !== undefined && query.mediaBuyIds.length > DELIVERY_MAX_BUYS) throw fail.invalidField('media_buy_ids', `names more than ${DELIVERY_MAX_BUYS} buys`)
    let buys = await listKeyMediaBuys(db, principal.apiKeyId, { mediaBuyIds: query.mediaBuyIds, limit: DELIVERY_MAX_BUYS })
    if (query.statuses?.length) buys = buys.filter((buy) => query.statuses!.includes(buy.status))
    const found = new Set(buys.map((buy) => buy.media_buy_id))
    const missing = (query.mediaBuyIds ?? []).filter((id) => !found.has(id))
    const packages = await listBuyPackages(db, buys.map((buy) => buy.id))
    const deliveries: BuyDelivery[] = []
    for (const buy of buys) {
      const rows = await listBuyDelivery(db, { mediaBuyId: buy.media_buy_id, buyerCustomerId: buy.buyer_account_id, from: query.from, to: query.to })
      deliveries.push({ buy, packages: packages.filter((pkg) => pkg.media_buy_row_id === buy.id), rows })
    }
    return { deliveries, missing: [...new Set(missing)] }
  }

  return { readDelivery }
}

export type BuyerDeliveryWorkflows = ReturnType<typeof createBuyerDeliveryWorkflows>
