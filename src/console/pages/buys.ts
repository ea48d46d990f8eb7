import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { RESERVATION_STATUSES, ReleaseRequestSchema, ReservationListQuerySchema, type Reservation } from '../../modules/booking-ledger/index.ts'
import { MEDIA_BUY_STATUSES, MediaBuyListQuerySchema, type MediaBuy } from '../../modules/media-buys/index.ts'
import { idSchema } from '../../shared/common.schema.ts'
import type { Services } from '../../services.ts'
import { CONSOLE_PREFIX, consoleCallerOf, redirectWithNotice, renderPage } from '../console.ts'
import { formOf, optionalText, parseWith, SourceParamsSchema } from '../forms.ts'

const FilterSchema = z.object({
  sourceId: z.string().max(255).optional(),
  status: z.string().max(20).optional(),
  mediaBuyId: z.string().max(255).optional(),
})

const DeliveryParamsSchema = z.object({ sourceId: idSchema(255), mediaBuyId: idSchema(255) })

function blankToUndefined(value: string | undefined): string | undefined {
  return value && value.trim() !== '' ? value.trim() : undefined
}

/**
 * Reservations (holds and bookings) across the modular sources, with the media buy, buyer and task
 * each belongs to; release with a reason; and the delivery of a media buy on a source as a chart.
 */
export async function buyPages(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get(`${CONSOLE_PREFIX}/reservations`, async (request, reply) => {
    const { storefrontId } = consoleCallerOf(request)
    const raw = request.query as Record<string, string | undefined>
    const filters = parseWith(FilterSchema, { sourceId: blankToUndefined(raw.sourceId), status: blankToUndefined(raw.status), mediaBuyId: blankToUndefined(raw.mediaBuyId) })
    const query = parseWith(ReservationListQuerySchema, { status: filters.status, mediaBuyId: filters.mediaBuyId, take: 200 })
    const { items: sources } = await services.sources.list(storefrontId, { take: 200, skip: 0 })
    const modular = sources.filter((source) => source.executionType === 'MODULAR_SOURCE' && (!filters.sourceId || source.sourceId === filters.sourceId))
    const lists = await Promise.all(modular.map(async (source) => ({ sourceId: source.sourceId, ...(await services.ledgerWorkflows.list(storefrontId, source.sourceId, query)) })))
    const { mediaBuys } = await services.mediaBuys.listForOperator(storefrontId, parseWith(MediaBuyListQuerySchema, { take: 200 }))
    const buyOf = new Map<string, MediaBuy>(mediaBuys.map((buy) => [buy.mediaBuyId, buy]))
    const reservations: Array<Reservation & { sourceId: string; buy: MediaBuy | null }> = lists
      .flatMap((list) => list.reservations.map((reservation) => ({ ...reservation, sourceId: list.sourceId, buy: buyOf.get(reservation.mediaBuyId) ?? null })))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    return renderPage(request, reply, 'reservations', {
      title: 'Reservations and media buys',
      reservations,
      mediaBuys,
      sourceIds: sources.filter((source) => source.executionType === 'MODULAR_SOURCE').map((source) => source.sourceId),
      statuses: RESERVATION_STATUSES,
      buyStatuses: MEDIA_BUY_STATUSES,
      filters: { sourceId: filters.sourceId ?? '', status: filters.status ?? '', mediaBuyId: filters.mediaBuyId ?? '' },
    })
  })

  app.post(`${CONSOLE_PREFIX}/reservations/:sourceId/release`, async (request, reply) => {
    const { sourceId } = parseWith(SourceParamsSchema, request.params)
    const fields = formOf(request.body)
    const body = parseWith(ReleaseRequestSchema, { reservationId: fields.reservationId ?? '', reason: optionalText(fields, 'reason') })
    const { reservation } = await services.ledgerWorkflows.release(consoleCallerOf(request).storefrontId, sourceId, body)
    return redirectWithNotice(request, reply, `${CONSOLE_PREFIX}/reservations`, `Reservation ${reservation.reservationId} ${reservation.status.toLowerCase()}`)
  })

  app.get(`${CONSOLE_PREFIX}/delivery/:sourceId/:mediaBuyId`, async (request, reply) => {
    const { sourceId, mediaBuyId } = parseWith(DeliveryParamsSchema, request.params)
    const { storefrontId } = consoleCallerOf(request)
    const delivery = await services.execution.delivery(storefrontId, sourceId, mediaBuyId)
    const { reservations } = await services.ledgerWorkflows.list(storefrontId, sourceId, parseWith(ReservationListQuerySchema, { mediaBuyId, take: 200 }))
    const bookedGoal = reservations.filter((r) => r.status === 'BOOKED').reduce((sum, r) => sum + r.requestedImpressions, 0)
    let cumulative = 0
    const chart = {
      days: delivery.daily.map((day) => day.date),
      impressions: delivery.daily.map((day) => day.impressions),
      cumulative: delivery.daily.map((day) => (cumulative += day.impressions)),
      bookedGoal,
    }
    return renderPage(request, reply, 'delivery', { title: `Delivery of ${mediaBuyId}`, sourceId, delivery, bookedGoal, chart, chartJson: JSON.stringify(chart), chartLibrary: true })
  })
}
