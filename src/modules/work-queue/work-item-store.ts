import type { Queryable } from '../../db/database.ts'
import { json } from '../../db/database.ts'
import type { WorkItemRow } from '../../db/tables.ts'
import { toIso } from '../../shared/clock.ts'

export const WORK_ITEM_KINDS = [
  'APPROVE_MEDIA_BUY', 'REVIEW_CREATIVE', 'CONFIRM_AVAILS', 'APPROVE_RATE_EXCEPTION', 'MAP_CREATIVE_REF',
  'SYNC_UPSTREAM_CREATIVE', 'EXECUTE_UPSTREAM_BOOKING', 'TRAFFIC_TO_CADENT', 'RESOLVE_TRAFFICKING_ERROR',
  'UPLOAD_FINAL_REPORT', 'RESOLVE_SOURCE_HEALTH', 'GENERAL',
] as const
export type WorkItemKind = (typeof WORK_ITEM_KINDS)[number]

export const WORK_ITEM_STATUSES = ['OPEN', 'IN_PROGRESS', 'BLOCKED', 'COMPLETED', 'CANCELLED'] as const
export type WorkItemStatus = (typeof WORK_ITEM_STATUSES)[number]
export const OPEN_STATUSES: readonly WorkItemStatus[] = ['OPEN', 'IN_PROGRESS', 'BLOCKED']

/** Who did something to a work item: an operator (API key), the system, or a buyer flow. */
export interface Actor {
  type: 'OPERATOR' | 'SYSTEM' | 'BUYER'
  id: string | null
}

export interface OpenWorkItemInput {
  storefrontId: number
  inventorySourceId: number
  moduleRowId: number | null
  kind: WorkItemKind
  title: string
  description?: string | null
  resourceType?: string | null
  resourceId?: string | null
  mediaBuyId?: string | null
  buyerCustomerId?: number | null
  dueAt?: Date | null
  payload?: Record<string, unknown>
  requiredResultKeys?: string[]
}

/**
 * Opens a work item and records its CREATED event, in the caller's transaction so the item
 * exists exactly when the state that needs it does.
 */
export async function openWorkItem(trx: Queryable, input: OpenWorkItemInput, actor: Actor, now: Date): Promise<WorkItemRow> {
  const row = await trx
    .insertInto('work_item')
    .values({
      storefront_id: input.storefrontId,
      inventory_source_id: input.inventorySourceId,
      module_row_id: input.moduleRowId,
      kind: input.kind,
      title: input.title,
      description: input.description ?? null,
      resource_type: input.resourceType ?? null,
      resource_id: input.resourceId ?? null,
      media_buy_id: input.mediaBuyId ?? null,
      buyer_customer_id: input.buyerCustomerId ?? null,
      due_at: input.dueAt ?? null,
      payload: json(input.payload ?? {}),
      required_result_keys: json(input.requiredResultKeys ?? []),
      created_by_type: actor.type,
      created_by_id: actor.id,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  await appendWorkItemEvent(trx, { workItemId: row.id, eventType: 'CREATED', actor, now })
  return row
}

export async function appendWorkItemEvent(
  trx: Queryable,
  event: { workItemId: number; eventType: string; actor: Actor; now: Date; notes?: string | null; payload?: Record<string, unknown> | null },
): Promise<void> {
  await trx
    .insertInto('work_item_event')
    .values({
      work_item_id: event.workItemId,
      event_type: event.eventType,
      actor_type: event.actor.type,
      actor_id: event.actor.id,
      notes: event.notes ?? null,
      payload: event.payload ? json(event.payload) : null,
      created_at: event.now,
    })
    .execute()
}

export interface WorkItemFilter {
  inventorySourceId: number
  kind?: WorkItemKind
  resourceType?: string
  resourceId?: string
  mediaBuyId?: string
}

/** Cancels every open item matching the filter, each with its CANCELLED event; returns them. */
export async function cancelOpenWorkItems(trx: Queryable, filter: WorkItemFilter, actor: Actor, now: Date, reason: string): Promise<WorkItemRow[]> {
  let query = trx
    .updateTable('work_item')
    .set({ status: 'CANCELLED', updated_at: now })
    .where('inventory_source_id', '=', filter.inventorySourceId)
    .where('status', 'in', OPEN_STATUSES)
  if (filter.kind) query = query.where('kind', '=', filter.kind)
  if (filter.resourceType) query = query.where('resource_type', '=', filter.resourceType)
  if (filter.resourceId) query = query.where('resource_id', '=', filter.resourceId)
  if (filter.mediaBuyId) query = query.where('media_buy_id', '=', filter.mediaBuyId)
  const cancelled = await query.returningAll().execute()
  for (const item of cancelled) {
    await appendWorkItemEvent(trx, { workItemId: item.id, eventType: 'CANCELLED', actor, now, notes: reason })
  }
  return cancelled
}

/** The reference WorkItem shape; `detail` adds payload and result as the detail responses do. */
export function toWorkItemResponse(row: WorkItemRow, sourceId?: string) {
  return {
    id: String(row.id),
    storefrontId: String(row.storefront_id),
    inventorySourceId: String(row.inventory_source_id),
    ...(sourceId ? { sourceId } : {}),
    moduleId: row.module_row_id === null ? null : String(row.module_row_id),
    kind: row.kind as WorkItemKind,
    status: row.status,
    title: row.title,
    description: row.description,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    mediaBuyId: row.media_buy_id,
    buyerCustomerId: row.buyer_customer_id,
    assignedTo: row.assigned_to,
    dueAt: toIso(row.due_at),
    payload: row.payload,
    result: row.result,
    blockedReason: row.blocked_reason,
    createdByType: row.created_by_type,
    createdById: row.created_by_id,
    completedBy: row.completed_by,
    completedAt: toIso(row.completed_at),
    createdAt: toIso(row.created_at)!,
    updatedAt: toIso(row.updated_at)!,
    requiredResultFields: row.required_result_keys,
  }
}
