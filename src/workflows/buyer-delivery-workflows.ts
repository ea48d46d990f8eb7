import type { GetMediaBuyDeliveryResponse } from '@adcp/sdk/types'
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

type Delivery = GetMediaBuyDeliveryResponse['media_buy_deliveries'][number]
type PackageDelivery = Delivery['by_package'][number]
type Day = { date: string; impressions: number; spend: number }

const round2 = (value: number) => Math.round(value * 100) / 100

/** Our internal 'submitted' (no media_buy_id shown yet) reads as the delivery enum's 'pending'. */
function deliveryStatusOf(status: MediaBuyStatus): Delivery['status'] {
  return status === 'submitted' ? 'pending' : status
}

function addDay(days: Map<string, Day>, date: string, impressions: number, spend: number): void {
  const day = days.get(date) ?? { date, impressions: 0, spend: 0 }
  day.impressions += impressions
  day.spend = round2(day.spend + spend)
  days.set(date, day)
}

/**
 * The measurement window of a package's rows, as get_media_buy_delivery places it on by_package:
 * the window they share (a report is one window, and a line's rows are one report), whether every
 * row is final (false when any is not; absent when none says), and the narrower window they replaced.
 * Rows without a window (digital, or a report without the TV columns) add nothing.
 */
function windowOf(rows: readonly PackageDeliveryRow[]): Pick<PackageDelivery, 'measurement_window' | 'is_final' | 'supersedes_window'> {
  const windows = new Set(rows.map((row) => row.measurement_window))
  const window = windows.size === 1 ? [...windows][0] : null
  if (!window) return {}
  const finals = rows.map((row) => row.is_final)
  const isFinal = finals.includes(false) ? false : finals.every((value) => value === true) ? true : undefined
  const superseded = new Set(rows.map((row) => row.supersedes_window).filter((value) => value !== null))
  return {
    measurement_window: window,
    ...(isFinal === undefined ? {} : { is_final: isFinal }),
    ...(superseded.size === 1 ? { supersedes_window: [...superseded][0]! } : {}),
  }
}

/** One buy's delivery in the get_media_buy_delivery shape (the tool's answer and the delivery webhook's). */
export function deliveryOf({ buy, packages, rows }: BuyDelivery, withDaily: boolean): Delivery {
  const days = new Map<string, Day>()
  let impressions = 0
  let spend = 0
  let clicks: number | null = null
  const byPackage: PackageDelivery[] = packages.map((pkg) => {
    const own = rows.filter((row) => row.package_id === pkg.package_id)
    const pkgDays = new Map<string, Day>()
    let pkgImpressions = 0
    let pkgSpend = 0
    let pkgClicks: number | null = null
    for (const row of own) {
      const rowSpend = row.spend ?? 0
      pkgImpressions += row.impressions
      pkgSpend += rowSpend
      if (row.clicks !== null) pkgClicks = (pkgClicks ?? 0) + row.clicks
      addDay(pkgDays, row.delivery_date, row.impressions, rowSpend)
      addDay(days, row.delivery_date, row.impressions, rowSpend)
    }
    impressions += pkgImpressions
    spend += pkgSpend
    if (pkgClicks !== null) clicks = (clicks ?? 0) + pkgClicks
    return {
      package_id: pkg.package_id,
      impressions: pkgImpressions,
      spend: round2(pkgSpend),
      ...(pkgClicks === null ? {} : { clicks: pkgClicks }),
      // A flat-rate package's rate is its flat rate (per spot or for the package), a CPM one's its CPM.
      pricing_model: pkg.pricing_model,
      rate: pkg.pricing_model === 'flat_rate' && pkg.flat_rate !== null ? Number(pkg.flat_rate) : Number(pkg.cpm),
      currency: buy.currency,
      paused: pkg.paused,
      ...windowOf(own),
      ...(withDaily ? { daily_breakdown: [...pkgDays.values()] } : {}),
    }
  })
  return {
    media_buy_id: buy.media_buy_id,
    status: deliveryStatusOf(buy.status),
    // The buy's model when all its packages share one; CPM (every package has an effective CPM) otherwise.
    pricing_model: packages.length > 0 && packages.every((pkg) => pkg.pricing_model === 'flat_rate') ? 'flat_rate' : 'cpm',
    totals: { impressions, spend: round2(spend), ...(clicks === null ? {} : { clicks }) },
    by_package: byPackage,
    ...(withDaily ? { daily_breakdown: [...days.values()].sort((a, b) => a.date.localeCompare(b.date)) } : {}),
  }
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
