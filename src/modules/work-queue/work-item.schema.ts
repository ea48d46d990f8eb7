import { z } from 'zod'
import { idSchema, nameSchema, noteSchema, TimestampSchema } from '../../shared/common.schema.ts'
import { isKnownWorkItemKind, OPEN_WORK_ITEM_STATUSES, WORK_ITEM_KIND_PATTERN, WORK_ITEM_STATUSES, type WorkItemStatus } from './work-item-kinds.ts'

/** Requests and responses of the work-queue routes (reference §2.21, SPEC §3 "Work items"). */

export const WorkItemSchema = z
  .object({
    id: z.string(),
    storefrontId: z.string(),
    inventorySourceId: z.string(),
    sourceId: z.string().optional(),
    moduleId: z.string().nullable(),
    kind: z.string().describe('A kind declared by an installed module contract (GET /modules/catalog), or RESOLVE_SOURCE_HEALTH.'),
    status: z.enum(WORK_ITEM_STATUSES),
    title: z.string(),
    description: z.string().nullable(),
    resourceType: z.string().nullable(),
    resourceId: z.string().nullable(),
    mediaBuyId: z.string().nullable(),
    buyerCustomerId: z.number().int().nullable(),
    assignedTo: z.string().nullable(),
    dueAt: TimestampSchema.nullable(),
    payload: z.record(z.string(), z.unknown()),
    result: z.record(z.string(), z.unknown()).nullable(),
    blockedReason: z.string().nullable(),
    createdByType: z.string(),
    createdById: z.string().nullable(),
    completedBy: z.string().nullable(),
    completedAt: TimestampSchema.nullable(),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
    requiredResultFields: z.array(z.string()),
  })
  .meta({ id: 'WorkItem' })
export type WorkItem = z.output<typeof WorkItemSchema>

export const WorkItemEventSchema = z
  .object({
    id: z.string(),
    workItemId: z.string(),
    eventType: z.string(),
    actorType: z.string(),
    actorId: z.string().nullable(),
    notes: z.string().nullable(),
    payload: z.record(z.string(), z.unknown()).nullable(),
    createdAt: TimestampSchema,
  })
  .meta({ id: 'WorkItemEvent' })
export type WorkItemEvent = z.output<typeof WorkItemEventSchema>

const DEFAULT_LIST_STATUSES: WorkItemStatus[] = [...OPEN_WORK_ITEM_STATUSES]

/** `status=OPEN,blocked`: a comma list in any letter case; unknown values are a 400. */
const StatusListSchema = z
  .string()
  .transform((text) => text.split(',').map((part) => part.trim().toUpperCase()).filter((part) => part.length > 0))
  .pipe(z.array(z.enum(WORK_ITEM_STATUSES)).min(1, 'must name at least one status'))

const FilterText = idSchema(255)

export const WorkItemListQuerySchema = z.object({
  status: StatusListSchema.optional().describe('Comma-separated statuses; default OPEN,IN_PROGRESS,BLOCKED.'),
  kind: z
    .string()
    .transform((text) => text.trim().toUpperCase())
    .refine((kind) => WORK_ITEM_KIND_PATTERN.test(kind) && isKnownWorkItemKind(kind), 'must be a work-item kind an installed contract declares')
    .optional(),
  resourceType: FilterText.optional(),
  resourceId: FilterText.optional(),
  mediaBuyId: FilterText.optional(),
  buyerCustomerId: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(100),
})
export type WorkItemListQuery = z.output<typeof WorkItemListQuerySchema>

export function statusesOf(query: Pick<WorkItemListQuery, 'status'>): WorkItemStatus[] {
  return query.status ?? DEFAULT_LIST_STATUSES
}

export const WorkItemParamsSchema = z.object({
  sourceId: idSchema(255),
  workItemId: idSchema(40),
})

export const WorkItemListSchema = z.object({ items: z.array(WorkItemSchema), total: z.number().int().min(0) }).meta({ id: 'WorkItemList' })
export const WorkItemDetailSchema = z.object({ item: WorkItemSchema, events: z.array(WorkItemEventSchema) }).meta({ id: 'WorkItemDetail' })
export const WorkItemChangedSchema = z.object({ ok: z.literal(true), item: WorkItemSchema }).meta({ id: 'WorkItemChanged' })

const Notes = noteSchema(10_000)

export const CompleteWorkItemSchema = z
  .object({
    result: z.record(z.string(), z.unknown()).optional().describe('Must hold every key in requiredResultFields.'),
    notes: Notes.optional(),
  })
  .strict()
  .meta({ id: 'CompleteWorkItemRequest' })
export type CompleteWorkItem = z.output<typeof CompleteWorkItemSchema>

export const StartWorkItemSchema = z
  .object({ assignedTo: nameSchema(255), notes: Notes.optional() })
  .strict()
  .meta({ id: 'StartWorkItemRequest' })
export type StartWorkItem = z.output<typeof StartWorkItemSchema>

export const BlockWorkItemSchema = z
  .object({ blockedReason: noteSchema(2000).trim().min(1), notes: Notes.optional() })
  .strict()
  .meta({ id: 'BlockWorkItemRequest' })
export type BlockWorkItem = z.output<typeof BlockWorkItemSchema>

export const CancelWorkItemSchema = z
  .object({ reason: noteSchema(2000).trim().min(1) })
  .strict()
  .meta({ id: 'CancelWorkItemRequest' })
export type CancelWorkItem = z.output<typeof CancelWorkItemSchema>

export const FollowUpWorkItemSchema = z
  .object({
    dueAt: TimestampSchema.nullable().optional().describe('When the next report is due (UTC, ending in Z); absent or null: no due date.'),
    notes: Notes.optional().describe('Why it is opened (e.g. "C7 from the measurement vendor"); kept on its CREATED event.'),
  })
  .strict()
  .meta({ id: 'FollowUpWorkItemRequest' })
export type FollowUpWorkItem = z.output<typeof FollowUpWorkItemSchema>

export const WorkItemFollowUpSchema = z
  .object({ ok: z.literal(true), item: WorkItemSchema, followsWorkItemId: z.string().describe('The closed item the new one follows.') })
  .meta({ id: 'WorkItemFollowUp' })
export type WorkItemFollowUp = z.output<typeof WorkItemFollowUpSchema>
