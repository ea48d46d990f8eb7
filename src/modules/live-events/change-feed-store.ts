import { sql } from 'kysely'
import { json, type Transaction } from '../../db/database.ts'
import { toIso } from '../../shared/clock.ts'

/** The one NOTIFY channel of storefront changes; every process listens on it once. */
export const CHANGES_CHANNEL = 'storefront_changes'

/** The columns of a work_item row a change announces. */
export interface AnnouncedWorkItem {
  id: number
  storefront_id: number
  inventory_source_id: number
  kind: string
  status: string
  updated_at: Date
}

/**
 * Announces changed work items to every server process, as part of the caller's transaction:
 * NOTIFY is delivered when that transaction commits and never if it rolls back, so a listener
 * hears exactly the changes that happened. One statement for the batch; the public sourceId is
 * looked up here so no listener needs a query per change.
 */
export async function announceWorkItemChanges(trx: Transaction, rows: readonly AnnouncedWorkItem[]): Promise<void> {
  if (rows.length === 0) return
  const changes = rows.map((row) => ({
    type: 'workItem',
    storefrontId: row.storefront_id,
    workItemId: String(row.id),
    sourceRowId: row.inventory_source_id,
    kind: row.kind,
    status: row.status,
    changedAt: toIso(row.updated_at),
  }))
  await sql`
    select pg_notify(${CHANGES_CHANNEL}, ((change.value - 'sourceRowId') || jsonb_build_object('sourceId', source.source_id))::text)
    from jsonb_array_elements(${json(changes)}::jsonb) with ordinality as change(value, position)
    join inventory_source source on source.id = (change.value ->> 'sourceRowId')::bigint
    order by change.position
  `.execute(trx)
}
