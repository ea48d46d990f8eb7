import { AdcpError } from '@adcp/sdk/server'
import type { GetMediaBuyDeliveryRequest, GetMediaBuyDeliveryResponse } from '@adcp/sdk/types'
import type { Caller } from '../access/access-service.ts'
import { isStorefrontError, MEDIA_BUY_NOT_FOUND_MESSAGE } from '../shared/errors.ts'
import type { Services } from '../services.ts'
import { deliveryOf } from '../workflows/buyer-delivery-workflows.ts'
import { toMediaBuyError } from './media-buy-tools.ts'
import { served } from './served-calls.ts'

/**
 * get_media_buy_delivery: each of the key's buys with its packages' delivery (spend, impressions,
 * clicks) summed from the delivery rows, at the package's fixed CPM. A media_buy_id the key does
 * not own answers MEDIA_BUY_NOT_FOUND whether it is missing or another key's.
 */

type Delivery = GetMediaBuyDeliveryResponse['media_buy_deliveries'][number]

const round2 = (value: number) => Math.round(value * 100) / 100

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
