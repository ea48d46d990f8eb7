import { humanTask, stageContract, type ModuleContract } from '../../../src/modules/contract.ts'
import { handoffPayload, plannedItem } from '../../../src/modules/handoff.ts'
import type { CompletionContext, HandoffContext, HandoffPlan, Provider } from '../../../src/modules/provider.ts'

/**
 * A trafficking provider that exists only in this folder: a seller's traffic desk approves each
 * slot by hand, under a work-item kind no built-in contract knows.
 */

export const SLOT_KIND = 'APPROVE_THROWAWAY_SLOT'

export const throwawayContract: ModuleContract = {
  contractId: 'throwaway.trafficking',
  version: '0.0.1',
  moduleType: 'TRAFFICKING',
  provider: 'throwaway',
  displayName: 'Throw-away traffic desk',
  description: 'A traffic desk approves each finalized line as a slot and records its slot reference.',
  constraints: [],
  defaultModuleInstanceId: 'throwaway-desk',
  setupFields: [],
  stages: [
    stageContract({
      stage: 'TRAFFIC_CAMPAIGN',
      mode: 'HITL',
      description: 'The traffic desk approves the slot.',
      outputKeys: ['slotRef'],
      workItemKind: SLOT_KIND,
      taskContract: humanTask({
        taskId: 'approve-throwaway-slot',
        workItemKind: SLOT_KIND,
        requiredResultKeys: ['slotRef'],
        outputKeys: ['slotRef'],
        operatorAction: { label: 'Approve slot', instructions: 'Approve the slot on the desk, then complete with its slotRef.' },
      }),
    }),
  ],
}

function planSlot(context: HandoffContext): HandoffPlan {
  return {
    traffickingPayload: null,
    dispatchTo: null,
    items: [plannedItem(context.module, SLOT_KIND, {
      title: `Approve the slot of "${context.body.campaignName}"`,
      dueAt: context.avail.start_time,
      payload: { ...handoffPayload(context.reservation, context.avail, context.body), desk: 'night shift' },
    })],
  }
}

async function bookSlot(context: CompletionContext): Promise<Record<string, unknown>> {
  const slotRef = String(context.result.slotRef)
  const { booked, reservation } = await context.ledger.book(context.trx, {
    sourceRowId: context.source.id,
    reservationId: String(context.item.resource_id),
  }, { workItemId: context.item.id })
  return { slotRef, booked, reservationStatus: reservation.status }
}

export const throwawayProvider: Provider = {
  contract: throwawayContract,
  planHandoff: planSlot,
  handOffKinds: [SLOT_KIND],
  completionEffects: { [SLOT_KIND]: bookSlot },
}
