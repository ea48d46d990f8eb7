import { flightDays, lineFlight, parseDeliveryReport, replaceDelivery } from '../../delivery/index.ts'
import { bookingOf } from '../../execution/index.ts'
import { handoffPayload, plannedItem } from '../../handoff.ts'
import type { CompletionContext, HandoffContext, HandoffPlan, Provider } from '../../provider.ts'
import { uploadReportingContract } from './contract.ts'

const DAY_MS = 24 * 60 * 60 * 1000

/** A final report is owed a day after the flight ends. */
function planReportUpload(context: HandoffContext): HandoffPlan {
  const { reservation, avail, body } = context
  return {
    traffickingPayload: null,
    dispatchTo: null,
    items: [plannedItem(context.module, 'UPLOAD_FINAL_REPORT', {
      title: `Upload the final delivery report of "${body.campaignName}" (${reservation.media_buy_id})`,
      dueAt: new Date(avail.end_time.getTime() + DAY_MS),
      payload: { ...handoffPayload(reservation, avail, body), reportColumns: ['date', 'impressions', 'spend?', 'clicks?', 'completedViews?', 'measurementWindow?', 'isFinal?', 'supersedesWindow?'] },
    })],
  }
}

/** `result.report` becomes the line's delivery; any bad row and nothing is imported. */
async function importFinalReport(context: CompletionContext): Promise<Record<string, unknown>> {
  const booking = await bookingOf(context)
  const flight = await lineFlight(context.trx, booking.reservation_id)
  const rows = parseDeliveryReport(context.result.report, flightDays(flight.startTime, flight.endTime))
  const imported = await replaceDelivery(context.trx, {
    inventorySourceId: context.source.id,
    mediaBuyId: booking.media_buy_id,
    reservationId: booking.reservation_id,
    availId: booking.avail_id,
    workItemId: context.item.id,
    rows,
    now: context.now,
  })
  const impressions = rows.reduce((sum, row) => sum + row.impressions, 0)
  return { bookingId: String(booking.id), mediaBuyId: booking.media_buy_id, ...imported, impressions, firstDate: rows[0]!.date, lastDate: rows.at(-1)!.date }
}

export const uploadProvider: Provider = {
  contract: uploadReportingContract,
  planHandoff: planReportUpload,
  completionEffects: { UPLOAD_FINAL_REPORT: importFinalReport },
}
