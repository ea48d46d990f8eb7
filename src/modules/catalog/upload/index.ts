import { flightDays, lineFlight, parseDeliveryReport, replaceDelivery } from '../../delivery/index.ts'
import { bookingOf } from '../../execution/index.ts'
import type { ModuleInstanceRow, WorkItemRow } from '../../../db/tables.ts'
import { handoffPayload, plannedItem } from '../../handoff.ts'
import type { CompletionContext, FollowUpRequest, HandoffContext, HandoffPlan, PlannedItem, Provider } from '../../provider.ts'
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

/**
 * The line's next report, after its earlier one was imported: TV measurement comes in windows, so
 * the live report is followed weeks later by the C7 one, which supersedes it; the same window
 * again is a correction. It carries the earlier item's line facts and names the item it follows.
 */
function planNextReport(previous: WorkItemRow, module: ModuleInstanceRow | null, request: FollowUpRequest): PlannedItem {
  const { followsWorkItemId: _earlier, ...line } = previous.payload
  const campaign = typeof line.campaignName === 'string' ? `"${line.campaignName}" ` : ''
  const item = plannedItem({ row: module, contract: uploadReportingContract }, 'UPLOAD_FINAL_REPORT', {
    title: `Upload a later delivery report of ${campaign}(${previous.media_buy_id ?? `work item ${previous.id}`}), after work item #${previous.id}`,
    dueAt: request.dueAt,
    payload: { ...line, followsWorkItemId: String(previous.id) },
  })
  return {
    ...item,
    description: `${item.description ?? ''} A report in a wider measurement window than the line's imported one (measurement_window c7 over live) supersedes it; the same window replaces it as a correction; a narrower one is refused.`.trim(),
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
  followUps: { UPLOAD_FINAL_REPORT: planNextReport },
}
