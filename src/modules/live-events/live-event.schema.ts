import { z } from 'zod'

/**
 * One change of a work item as the SSE stream sends it: enough to find the item and redraw its
 * row, never its payload, result or anything secret. A client re-reads the item for the rest.
 */
export const WorkItemChangeSchema = z.object({
  workItemId: z.string(),
  sourceId: z.string(),
  kind: z.string(),
  status: z.string(),
  changedAt: z.string(),
})

export type WorkItemChange = z.infer<typeof WorkItemChangeSchema>

/**
 * What travels in a NOTIFY on CHANGES_CHANNEL: the change with the storefront it belongs to, by
 * which each process routes it to that storefront's subscribers only. `type` leaves room for
 * other kinds of change on the same channel.
 */
export const ChangeNoticeSchema = z.discriminatedUnion('type', [
  WorkItemChangeSchema.extend({ type: z.literal('workItem'), storefrontId: z.number().int() }),
])

export type ChangeNotice = z.infer<typeof ChangeNoticeSchema>

/** What a subscriber receives: a change, or word that changes may have been missed. */
export type LiveEvent =
  | { type: 'workItem'; change: WorkItemChange }
  /** The process's listener lost its database session and is listening again: re-read the state. */
  | { type: 'resync' }
