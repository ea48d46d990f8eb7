import { sql } from 'kysely'
import type { Queryable, Transaction } from '../../db/database.ts'
import { afterCommit, json } from '../../db/database.ts'
import type { WorkItemEventRow, WorkItemRow } from '../../db/tables.ts'
import { toIso } from '../../shared/clock.ts'
import { fail, StorefrontError } from '../../shared/errors.ts'
import { metrics } from '../../shared/metrics.ts'
import { announceWorkItemChanges } from '../live-events/index.ts'

import { isDeclaredWorkItemKind, OPEN_WORK_ITEM_STATUSES, type WorkItemKind, type WorkItemStatus } from './work-item-kinds.ts'

export { OPEN_WORK_ITEM_STATUSES, WORK_ITEM_STATUSES, type WorkItemKind, type WorkItemStatus } from './work-item-kinds.ts'
export const OPEN_STATUSES: readonly WorkItemStatus[] = OPEN_WORK_ITEM_STATUSES

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
  /** Kept on the CREATED event: why the item was opened, when a person asked for it. */
  notes?: string | null
}

/**
 * Opens a work item and records its CREATED event, in the caller's transaction so the item
 * exists exactly when the state that needs it does. Like every write of work_item here, it
 * announces the change to the live-events feed in the same transaction (delivered on COMMIT).
 */
export async function openWorkItem(trx: Transaction, input: OpenWorkItemInput, actor: Actor, now: Date): Promise<WorkItemRow> {
  const [row] = await openWorkItems(trx, [input], actor, now)
  return row!
}

/**
 * Opens several work items as `openWorkItem` opens one, in two statements whatever their number:
 * the items with their CREATED events, then one announcement of all of them. The rows come back in
 * the order of `inputs`, which is also the order of their ids.
 */
export async function openWorkItems(trx: Transaction, inputs: readonly OpenWorkItemInput[], actor: Actor, now: Date): Promise<WorkItemRow[]> {
  if (inputs.length === 0) return []
  // No database CHECK holds the kinds any more: the declared list does.
  for (const input of inputs) {
    if (!isDeclaredWorkItemKind(input.kind)) throw new StorefrontError('INTERNAL_ERROR', `Work-item kind ${input.kind} is declared by no installed contract`)
  }
  // A multi-row INSERT takes its ids from the sequence in VALUES order, so the n-th id is the
  // n-th input's item: its CREATED event carries that input's notes, and the events' own ids
  // follow the items'. RETURNING promises no order.
  const notes = inputs.map((input) => input.notes ?? null)
  const inserted = await trx
    .with('opened', (db) => db
      .insertInto('work_item')
      .values(inputs.map((input) => ({
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
      })))
      .returningAll())
    .with('created', (db) => db
      .insertInto('work_item_event')
      .columns(['work_item_id', 'event_type', 'actor_type', 'actor_id', 'notes', 'created_at'])
      .expression(sql`
        SELECT item.id, 'CREATED', ${actor.type}, ${actor.id}::text, note.notes, ${now}::timestamptz
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS position FROM opened) AS item
        JOIN unnest(${notes}::text[]) WITH ORDINALITY AS note(notes, position) USING (position)
        ORDER BY item.position
      `))
    .selectFrom('opened')
    .selectAll()
    .execute()
  const rows = (inserted as WorkItemRow[]).sort((a, b) => a.id - b.id)
  await announceWorkItemChanges(trx, rows)
  afterCommit(trx, () => {
    for (const row of rows) metrics.workItemOpened(row.kind)
  })
  return rows
}

type WorkItemEventInput = { workItemId: number; eventType: string; actor: Actor; now: Date; notes?: string | null; payload?: Record<string, unknown> | null }

/** Several events in one INSERT, their ids in the order given. */
async function appendWorkItemEvents(trx: Transaction, events: readonly WorkItemEventInput[]): Promise<void> {
  if (events.length === 0) return
  await trx
    .insertInto('work_item_event')
    .values(events.map((event) => ({
      work_item_id: event.workItemId,
      event_type: event.eventType,
      actor_type: event.actor.type,
      actor_id: event.actor.id,
      notes: event.notes ?? null,
      payload: event.payload ? json(event.payload) : null,
      created_at: event.now,
    })))
    .execute()
}

export async function appendWorkItemEvent(trx: Transaction, event: WorkItemEventInput): Promise<void> {
  await appendWorkItemEvents(trx, [event])
}

export interface WorkItemFilter {
  /** One source, or several (the sources of the holds one ledger transition resolved). */
  inventorySourceId: number | readonly number[]
  kind?: WorkItemKind
  resourceType?: string
  /** One resource, or any of several. */
  resourceId?: string | readonly string[]
  mediaBuyId?: string
  /** Only these kinds. */
  kinds?: readonly WorkItemKind[]
  /** Leave this item alone (its caller is closing it). */
  exceptId?: number | null
}

/** Cancels every open item matching the filter, each with its CANCELLED event; returns them. */
export async function cancelOpenWorkItems(trx: Transaction, filter: WorkItemFilter, actor: Actor, now: Date, reason: string): Promise<WorkItemRow[]> {
  const sources = typeof filter.inventorySourceId === 'number' ? [filter.inventorySourceId] : [...filter.inventorySourceId]
  const resources = filter.resourceId === undefined ? undefined : typeof filter.resourceId === 'string' ? [filter.resourceId] : [...filter.resourceId]
  if (sources.length === 0 || resources?.length === 0) return []
  let query = trx
    .updateTable('work_item')
    .set({ status: 'CANCELLED', updated_at: now })
    .where('inventory_source_id', 'in', sources)
    .where('status', 'in', OPEN_STATUSES)
  if (filter.kind) query = query.where('kind', '=', filter.kind)
  if (filter.resourceType) query = query.where('resource_type', '=', filter.resourceType)
  if (resources) query = query.where('resource_id', 'in', resources)
  if (filter.mediaBuyId) query = query.where('media_buy_id', '=', filter.mediaBuyId)
  if (filter.kinds) query = query.where('kind', 'in', [...filter.kinds])
  if (filter.exceptId != null) query = query.where('id', '<>', filter.exceptId)
  const cancelled = (await query.returningAll().execute()).sort((a, b) => a.id - b.id)
  for (const item of cancelled) {
    await appendWorkItemEvent(trx, { workItemId: item.id, eventType: 'CANCELLED', actor, now, notes: reason })
  }
  await announceWorkItemChanges(trx, cancelled)
  countClosed(trx, cancelled)
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

export function toWorkItemEventResponse(row: WorkItemEventRow) {
  return {
    id: String(row.id),
    workItemId: String(row.work_item_id),
    eventType: row.event_type,
    actorType: row.actor_type,
    actorId: row.actor_id,
    notes: row.notes,
    payload: row.payload,
    createdAt: toIso(row.created_at)!,
  }
}

export function isOpenStatus(status: WorkItemStatus): boolean {
  return OPEN_STATUSES.includes(status)
}

export interface WorkItemListFilter {
  inventorySourceId: number
  statuses: readonly WorkItemStatus[]
  kind?: WorkItemKind | undefined
  resourceType?: string | undefined
  resourceId?: string | undefined
  mediaBuyId?: string | undefined
  buyerCustomerId?: number | undefined
  limit: number
}

/** Oldest first, as a queue is worked; `total` counts every match, not only the page. */
export async function listWorkItems(db: Queryable, filter: WorkItemListFilter): Promise<{ rows: WorkItemRow[]; total: number }> {
  let base = db
    .selectFrom('work_item')
    .where('inventory_source_id', '=', filter.inventorySourceId)
    .where('status', 'in', [...filter.statuses])
  if (filter.kind) base = base.where('kind', '=', filter.kind)
  if (filter.resourceType) base = base.where('resource_type', '=', filter.resourceType)
  if (filter.resourceId) base = base.where('resource_id', '=', filter.resourceId)
  if (filter.mediaBuyId) base = base.where('media_buy_id', '=', filter.mediaBuyId)
  if (filter.buyerCustomerId !== undefined) base = base.where('buyer_customer_id', '=', filter.buyerCustomerId)
  const rows = await base.selectAll().orderBy('id').limit(filter.limit).execute()
  const count = await base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow()
  return { rows, total: Number(count.total) }
}

/** Every item opened for one resource (e.g. a reservation's hand-off), oldest first. */
export async function listWorkItemsForResource(db: Queryable, inventorySourceId: number, resourceType: string, resourceId: string): Promise<WorkItemRow[]> {
  return db
    .selectFrom('work_item')
    .selectAll()
    .where('inventory_source_id', '=', inventorySourceId)
    .where('resource_type', '=', resourceType)
    .where('resource_id', '=', resourceId)
    .orderBy('id')
    .execute()
}

/** The oldest open item of these kinds on one resource: e.g. a line's report still waiting for its upload. */
export async function findOpenWorkItemOfResource(
  db: Queryable,
  filter: { inventorySourceId: number; resourceType: string; resourceId: string; kinds: readonly WorkItemKind[] },
): Promise<WorkItemRow | undefined> {
  return db
    .selectFrom('work_item')
    .selectAll()
    .where('inventory_source_id', '=', filter.inventorySourceId)
    .where('resource_type', '=', filter.resourceType)
    .where('resource_id', '=', filter.resourceId)
    .where('kind', 'in', [...filter.kinds])
    .where('status', 'in', OPEN_STATUSES)
    .orderBy('id')
    .limit(1)
    .executeTakeFirst()
}

/** Whether any open item matches: e.g. a reservation still has a hand-off in progress. */
export async function hasOpenWorkItem(
  db: Queryable,
  filter: { inventorySourceId: number; resourceType: string; resourceId: string; kinds: readonly WorkItemKind[] },
): Promise<boolean> {
  const row = await db
    .selectFrom('work_item')
    .select('id')
    .where('inventory_source_id', '=', filter.inventorySourceId)
    .where('resource_type', '=', filter.resourceType)
    .where('resource_id', '=', filter.resourceId)
    .where('kind', 'in', [...filter.kinds])
    .where('status', 'in', OPEN_STATUSES)
    .executeTakeFirst()
  return row !== undefined
}

/**
 * Locks the source's open items of a kind, so a caller that replaces them (a new avails preview)
 * takes the items before what they point at, the order a work-item completion takes them in.
 */
export async function lockOpenWorkItems(trx: Transaction, filter: { inventorySourceId: number; kind: WorkItemKind }): Promise<void> {
  await trx
    .selectFrom('work_item')
    .select('id')
    .where('inventory_source_id', '=', filter.inventorySourceId)
    .where('kind', '=', filter.kind)
    .where('status', 'in', OPEN_STATUSES)
    .forUpdate()
    .execute()
}

/** An open item of a kind on a module, to add to instead of opening a duplicate. */
export async function findOpenWorkItem(db: Queryable, filter: { inventorySourceId: number; kind: WorkItemKind; moduleRowId: number | null }): Promise<WorkItemRow | undefined> {
  let query = db
    .selectFrom('work_item')
    .selectAll()
    .where('inventory_source_id', '=', filter.inventorySourceId)
    .where('kind', '=', filter.kind)
    .where('status', 'in', OPEN_STATUSES)
  query = filter.moduleRowId === null ? query.where('module_row_id', 'is', null) : query.where('module_row_id', '=', filter.moduleRowId)
  return query.orderBy('id').limit(1).executeTakeFirst()
}

/**
 * One item of the source; another source's item is the same 404. With `forUpdate` the row is
 * locked, so two operators completing the same item are serialised and the second sees it terminal.
 */
export async function findWorkItem(db: Queryable, inventorySourceId: number, workItemId: string, options: { forUpdate?: boolean } = {}): Promise<WorkItemRow> {
  const id = /^\d{1,15}$/.test(workItemId) ? Number(workItemId) : null
  let query = db.selectFrom('work_item').selectAll().where('id', '=', id ?? -1).where('inventory_source_id', '=', inventorySourceId)
  if (options.forUpdate) query = query.forUpdate()
  const row = id === null ? undefined : await query.executeTakeFirst()
  if (!row) throw fail.notFound(`Work item ${workItemId}`)
  return row
}

export async function listWorkItemEvents(db: Queryable, workItemId: number): Promise<WorkItemEventRow[]> {
  return db.selectFrom('work_item_event').selectAll().where('work_item_id', '=', workItemId).orderBy('id').execute()
}

/** COMPLETED and CANCELLED items never change again. */
export function assertWorkItemOpen(row: WorkItemRow): void {
  if (isOpenStatus(row.status)) return
  throw fail.conflict('WORK_ITEM_TERMINAL', `Work item ${row.id} is ${row.status} and cannot change`, {
    workItemId: String(row.id),
    status: row.status,
  })
}

function hasResultValue(value: unknown): boolean {
  if (value === undefined || value === null) return false
  if (typeof value === 'string') return value.trim().length > 0
  return true
}

/** Throws 400 MISSING_RESULT_KEYS naming every required key the result lacks (absent, null or blank). */
export function assertResultComplete(row: WorkItemRow, result: Record<string, unknown>): void {
  const missingKeys = row.required_result_keys.filter((key) => !hasResultValue(result[key]))
  if (missingKeys.length === 0) return
  throw new StorefrontError('VALIDATION_ERROR', `The result lacks required key(s): ${missingKeys.join(', ')}`, {
    reason: 'MISSING_RESULT_KEYS',
    missingKeys,
    issues: missingKeys.map((key) => ({ path: `result.${key}`, message: 'is required to complete this work item' })),
  })
}

/** Who an actor is, as stored in completed_by. */
export function actorLabel(actor: Actor): string {
  return actor.id ?? actor.type.toLowerCase()
}

async function transitionWorkItem(
  trx: Transaction,
  row: WorkItemRow,
  changes: Partial<Pick<WorkItemRow, 'status' | 'assigned_to' | 'blocked_reason' | 'completed_by' | 'completed_at'>> & { result?: Record<string, unknown> },
  event: { eventType: string; actor: Actor; now: Date; notes?: string | null; payload?: Record<string, unknown> | null },
): Promise<WorkItemRow> {
  assertWorkItemOpen(row)
  const { result, ...columns } = changes
  const updated = await trx
    .updateTable('work_item')
    .set({ ...columns, ...(result === undefined ? {} : { result: json(result) }), updated_at: event.now })
    .where('id', '=', row.id)
    // The guard makes a transition happen once even if a caller forgot to lock the row.
    .where('status', 'in', OPEN_STATUSES)
    .returningAll()
    .executeTakeFirst()
  if (!updated) assertWorkItemOpen({ ...row, status: 'COMPLETED' })
  await appendWorkItemEvent(trx, { workItemId: row.id, ...event })
  await announceWorkItemChanges(trx, [updated!])
  countClosed(trx, [updated!])
  return updated!
}

/** The items of `rows` that are now COMPLETED or CANCELLED, counted once `trx` commits. */
function countClosed(trx: Transaction, rows: ReadonlyArray<WorkItemRow>): void {
  const closed = rows.filter((row) => row.status === 'COMPLETED' || row.status === 'CANCELLED')
  if (closed.length === 0) return
  afterCommit(trx, () => {
    for (const row of closed) metrics.workItemClosed(row.kind, row.status as 'COMPLETED' | 'CANCELLED')
  })
}

/** Any open status -> IN_PROGRESS with an assignee; a blocked item is unblocked. */
export function startWorkItem(trx: Transaction, row: WorkItemRow, input: { assignedTo: string; notes?: string | undefined }, actor: Actor, now: Date) {
  return transitionWorkItem(trx, row, { status: 'IN_PROGRESS', assigned_to: input.assignedTo, blocked_reason: null }, {
    eventType: 'STARTED', actor, now, notes: input.notes ?? null, payload: { assignedTo: input.assignedTo },
  })
}

/** Any open status -> BLOCKED with the reason the operator cannot go on. */
export function blockWorkItem(trx: Transaction, row: WorkItemRow, input: { blockedReason: string; notes?: string | undefined }, actor: Actor, now: Date) {
  return transitionWorkItem(trx, row, { status: 'BLOCKED', blocked_reason: input.blockedReason }, {
    eventType: 'BLOCKED', actor, now, notes: input.notes ?? null, payload: { blockedReason: input.blockedReason },
  })
}

/** Any open status -> CANCELLED; nothing the item would have done happens. */
export function cancelWorkItem(trx: Transaction, row: WorkItemRow, input: { reason: string }, actor: Actor, now: Date) {
  return transitionWorkItem(trx, row, { status: 'CANCELLED' }, { eventType: 'CANCELLED', actor, now, notes: input.reason })
}

/**
 * Any open status -> COMPLETED with its result. The caller has validated the result and run the
 * kind's side effect in the same transaction; `effect` (what it did) goes into the event.
 */
export function completeWorkItem(
  trx: Transaction,
  row: WorkItemRow,
  input: { result: Record<string, unknown>; notes?: string | undefined; effect?: Record<string, unknown> | undefined },
  actor: Actor,
  now: Date,
) {
  return transitionWorkItem(trx, row, {
    status: 'COMPLETED', result: input.result, completed_by: actorLabel(actor), completed_at: now, blocked_reason: null,
  }, {
    eventType: 'COMPLETED', actor, now, notes: input.notes ?? null,
    payload: { resultKeys: Object.keys(input.result).sort(), ...(input.effect ? { effect: input.effect } : {}) },
  })
}

/** Adds an event to an open item (e.g. a repeated failure the item is already about). */
export async function noteOnWorkItem(trx: Transaction, row: WorkItemRow, event: { eventType: string; actor: Actor; now: Date; notes?: string | null; payload?: Record<string, unknown> | null }): Promise<void> {
  const noted = await trx.updateTable('work_item').set({ updated_at: event.now }).where('id', '=', row.id).returningAll().executeTakeFirstOrThrow()
  await appendWorkItemEvent(trx, { workItemId: row.id, ...event })
  await announceWorkItemChanges(trx, [noted])
}
