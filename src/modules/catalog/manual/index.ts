import { bookReservation } from '../../execution/index.ts'
import { handoffPayload, plannedItem } from '../../handoff.ts'
import type { HandoffContext, HandoffPlan, Provider } from '../../provider.ts'
import { manualTraffickingContract } from './contract.ts'

/** A person books the line in the seller's own system. */
function planManualHandoff(context: HandoffContext): HandoffPlan {
  const systemName = typeof context.module.row.config.systemName === 'string' ? context.module.row.config.systemName : null
  return {
    traffickingPayload: null,
    dispatchTo: null,
    items: [plannedItem(context.module, 'EXECUTE_UPSTREAM_BOOKING', {
      title: `Book "${context.body.campaignName}" (${context.reservation.media_buy_id}) in ${systemName ?? 'the upstream system'}`,
      dueAt: context.avail.start_time,
      payload: { ...handoffPayload(context.reservation, context.avail, context.body), systemName, creative: context.body.creative ?? null },
    })],
  }
}

export const manualProvider: Provider = {
  contract: manualTraffickingContract,
  planHandoff: planManualHandoff,
  handOffKinds: ['EXECUTE_UPSTREAM_BOOKING'],
  completionEffects: { EXECUTE_UPSTREAM_BOOKING: bookReservation('upstreamOrderId') },
}
