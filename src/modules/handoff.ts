import type { AvailRow, ReservationRow } from '../db/tables.ts'
import type { ModuleContract, WorkItemKind } from './contract.ts'
import type { HandoffModule, PlannedItem } from './provider.ts'

/** Helpers every provider's hand-off planner shares: items read their instructions from the contract. */

/** The task contract of a work-item kind in a module's contract: required result keys and instructions. */
export function taskOf(contract: ModuleContract, kind: WorkItemKind) {
  for (const stage of contract.stages) {
    const task = stage.taskContract
    if (task && (task.workItemKind === kind || task.fallbackWorkItemKind === kind)) return { stage, task }
  }
  return undefined
}

export function plannedItem(module: HandoffModule, kind: WorkItemKind, fields: Pick<PlannedItem, 'title' | 'dueAt' | 'payload'>): PlannedItem {
  const found = module.contract ? taskOf(module.contract, kind) : undefined
  return {
    kind,
    moduleRowId: module.row?.id ?? null,
    description: found?.task.operatorAction?.instructions ?? null,
    requiredResultKeys: found?.task.requiredResultKeys ?? [],
    ...fields,
  }
}

/** What every hand-off item carries: the line, the names and the flight. */
export function handoffPayload(reservation: ReservationRow, avail: AvailRow, names: { campaignName: string; advertiserName: string }): Record<string, unknown> {
  return {
    reservationId: String(reservation.id),
    mediaBuyId: reservation.media_buy_id,
    availId: reservation.avail_id,
    packageId: reservation.package_id,
    requestedImpressions: reservation.requested_impressions,
    campaignName: names.campaignName,
    advertiserName: names.advertiserName,
    flight: { startTime: avail.start_time.toISOString(), endTime: avail.end_time.toISOString() },
  }
}
