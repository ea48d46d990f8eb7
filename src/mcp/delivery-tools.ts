import { AdcpError } from '@adcp/sdk/server'
import type { GetMediaBuyDeliveryRequest, GetMediaBuyDeliveryResponse } from '@adcp/sdk/types'
import type { Caller } from '../access/access-service.ts'
import type { MediaBuyStatus } from '../db/tables.ts'
import { isStorefrontError, MEDIA_BUY_NOT_FOUND_MESSAGE } from '../shared/errors.ts'
import type { Services } from '../services.ts'
import type { BuyDelivery } from '../workflows/buyer-delivery-workflows.ts'
import { toMediaBuyError } from './media-buy-tools.ts'
import { served } from './served-calls.ts'

/**
 * get_media_buy_delivery: each of the key's buys with its packages' delivery (spend, impressions,
 * clicks) summed from the delivery rows, at the package's fixed CPM. A media_buy_id the key does
 * not own answers MEDIA_BUY_NOT_FOUND whether it is missing or another key's.
 */

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

function deliveryOf({ buy, packages, rows }: BuyDelivery, withDaily: boolean): Delivery {
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
      pricing_model: 'cpm',
      rate: Number(pkg.cpm),
      currency: buy.currency,
      paused: pkg.paused,
      ...(withDaily ? { daily_breakdown: [...pkgDays.values()] } : {}),
    }
  })
  return {
    media_buy_id: buy.media_buy_id,
    status: deliveryStatusOf(buy.status),
    pricing_model: 'cpm',
    totals: { impressions, spend: round2(spend), ...(clicks === null ? {} : { clicks }) },
    by_package: byPackage,
    ...(withDaily ? { daily_breakdown: [...days.values()].sort((a, b) => a.date.localeCompare(b.date)) } : {}),
  }
}

function toAdcpError(error: unknown): never {
  if (isStorefrontError(error) && error.code === 'VALIDATION_ERROR') {
    const field = error.details?.issues?.[0]?.path
    throw new AdcpError('INVALID_REQUEST', { message: error.message, recovery: 'correctable', ...(field ? { field } : {}) })
  }
  throw error
}

export function deliveryToolsFor(services: Services, caller: Caller) {
  return {
    getMediaBuyDelivery: (request: GetMediaBuyDeliveryRequest): Promise<GetMediaBuyDeliveryResponse> => served(services, caller, 'get_media_buy_delivery', async (note) => {
      note.mediaBuyIds = request.media_buy_ids ?? []
      const filter = request.status_filter
      const statuses = filter === undefined ? undefined : (Array.isArray(filter) ? filter : [filter])
      const { deliveries, missing: missingHere } = await note
        .measure(() => services.buyerDelivery.readDelivery(caller, { mediaBuyIds: request.media_buy_ids, statuses, from: request.start_date, to: request.end_date }))
        .catch(toAdcpError)
      // The sources of the storefront's own buys served it (forwarded buys are the upstream client's to record).
      note.mediaBuyIds = deliveries.map(({ buy }) => buy.media_buy_id)
      // Buys forwarded to upstream agents: their delivery is the agent's, read there with our ids.
      const { account: _account, context: _context, ext: _ext, media_buy_ids: _ids, ...asked } = request as GetMediaBuyDeliveryRequest & { account?: unknown; context?: unknown; ext?: unknown }
      const forwarded = await services.upstreamSupply.deliveryOfForwarded(caller, request.media_buy_ids, asked).catch(toMediaBuyError)
      const upstreamDeliveries = forwarded.deliveries as unknown as Delivery[]
      const missing = missingHere.filter((id) => !forwarded.found.includes(id))
      // Each unknown (or another key's) id is named by its position, never echoed: the answer for a
      // foreign buy is the same bytes as for a missing one (fail.mediaBuyNotFound).
      const fieldOf = (id: string) => `media_buy_ids[${(request.media_buy_ids ?? []).indexOf(id)}]`
      if (missing.length > 0 && deliveries.length === 0 && upstreamDeliveries.length === 0) {
        throw new AdcpError('MEDIA_BUY_NOT_FOUND', { message: MEDIA_BUY_NOT_FOUND_MESSAGE, field: fieldOf(missing[0]!), recovery: 'correctable' })
      }
      const withDaily = request.include_package_daily_breakdown === true
      const mediaBuyDeliveries = [...deliveries.map((delivery) => deliveryOf(delivery, withDaily)), ...upstreamDeliveries]
      const now = services.clock.now()
      const earliest = deliveries.reduce<Date>((min, { buy }) => (buy.start_time < min ? buy.start_time : min), now)
      const start = request.start_date ? new Date(`${request.start_date}T00:00:00.000Z`) : earliest
      const end = request.end_date ? new Date(`${request.end_date}T23:59:59.000Z`) : now
      return {
        reporting_period: { start: start.toISOString(), end: (end < start ? start : end).toISOString() },
        currency: deliveries[0]?.buy.currency ?? 'USD',
        aggregated_totals: {
          impressions: mediaBuyDeliveries.reduce((sum, d) => sum + (d.totals.impressions ?? 0), 0),
          spend: round2(mediaBuyDeliveries.reduce((sum, d) => sum + (d.totals.spend ?? 0), 0)),
          media_buy_count: mediaBuyDeliveries.length,
        },
        media_buy_deliveries: mediaBuyDeliveries,
        ...(missing.length > 0
          ? { errors: missing.map((id) => ({ code: 'MEDIA_BUY_NOT_FOUND', message: MEDIA_BUY_NOT_FOUND_MESSAGE, field: fieldOf(id) })) }
          : {}),
      }
    }),
  }
}
