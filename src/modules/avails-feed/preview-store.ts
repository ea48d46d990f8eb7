import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import type { Queryable, Transaction } from '../../db/database.ts'
import { afterCommit, json } from '../../db/database.ts'
import { AVAIL_FEED_COLUMNS, feedColumnsSql, feedParam, unnestFeedColumnsSql } from '../../db/avail-columns.ts'
import type { AvailsPreviewRow, AvailsPreviewRowRow, AvailsPreviewTable } from '../../db/tables.ts'
import { toIso } from '../../shared/clock.ts'
import { metrics } from '../../shared/metrics.ts'
import type { NormalizedAvail, RowError } from './avail.schema.ts'
import { diffFeed, findFlooredRows, previewFeed, type FeedDiff } from './avails-store.ts'

/**
 * Stored previews of the avails feed (migrations/0006_avails_preview.sql). A preview's rows are
 * written in batches while the feed streams in and read back in batches when it is committed,
 * so neither side ever holds a 100k-row feed as one value. The diff against the committed
 * avails is one set-based query over the stored rows.
 */

/** A preview can be committed for this long after it was made. */
export const PREVIEW_TTL_MS = 24 * 60 * 60 * 1000

/** Rows per INSERT and per read-back batch; the same size avails-store.ts upserts in. */
export const PREVIEW_BATCH_SIZE = 5000

/**
 * At most this many errors (and warnings) are kept and answered; the counts are always exact.
 * 10,000 entries is about 1 MB of JSON: enough for any feed a person will fix by hand, and a
 * bound on what one broken 200k-row file can make the server hold and send.
 */
export const MAX_REPORTED_ISSUES = 10_000

export type InputSource = AvailsPreviewTable['input_source']

export type PreviewDiff = FeedDiff

export function newPreviewId(): string {
  return `avp_${randomBytes(12).toString('hex')}`
}

export async function createStagingPreview(
  db: Queryable,
  input: { inventorySourceId: number; previewId: string; inputSource: InputSource; replaceMissing: boolean; now: Date },
): Promise<AvailsPreviewRow> {
  return db
    .insertInto('avails_preview')
    .values({
      preview_id: input.previewId,
      inventory_source_id: input.inventorySourceId,
      status: 'STAGING',
      input_source: input.inputSource,
      replace_missing: input.replaceMissing,
      errors: json([]),
      expires_at: new Date(input.now.getTime() + PREVIEW_TTL_MS),
      created_at: input.now,
      updated_at: input.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

export interface StagedRow {
  position: number
  row: number
  avail: NormalizedAvail
}

/** One INSERT per batch with one array parameter per column, as avails-store.ts writes avails. */
export async function insertPreviewRows(db: Queryable, previewRowId: number, rows: readonly StagedRow[]): Promise<void> {
  if (rows.length === 0) return
  await sql`
    insert into avails_preview_row (preview_row_id, position, row_number, ${feedColumnsSql()})
    select ${previewRowId}, feed.*
    from unnest(
      ${rows.map((r) => r.position)}::integer[],
      ${rows.map((r) => r.row)}::integer[],
      ${unnestFeedColumnsSql((c) => rows.map((r) => feedParam(c, r.avail[c.field])))}
    ) as feed
  `.execute(db)
}

/** Rows after `afterPosition` in feed order, at most `limit`. */
export async function readPreviewRows(db: Queryable, previewRowId: number, afterPosition: number, limit: number): Promise<AvailsPreviewRowRow[]> {
  return db
    .selectFrom('avails_preview_row')
    .selectAll()
    .where('preview_row_id', '=', previewRowId)
    .where('position', '>', afterPosition)
    .orderBy('position')
    .limit(limit)
    .execute()
}

export function previewRowToAvail(row: AvailsPreviewRowRow): NormalizedAvail {
  const value = (c: (typeof AVAIL_FEED_COLUMNS)[number]) => {
    const stored = row[c.column]
    return c.type === 'timestamptz' ? toIso(stored as Date) : stored
  }
  return Object.fromEntries(AVAIL_FEED_COLUMNS.map((c) => [c.field, value(c)])) as NormalizedAvail
}

export interface FlooredRow {
  row: number
  availId: string
  requested: number
  floor: number
}

/**
 * What committing the stored rows would do to the committed avails: the same queries the commit
 * decides with (avails-store.ts), so the preview's diff is the commit's, plus the rows whose
 * figure is below the live commitments at `now`.
 */
export async function computePreviewDiff(
  db: Queryable,
  preview: Pick<AvailsPreviewRow, 'id' | 'inventory_source_id' | 'replace_missing'>,
  now: Date,
  flooredLimit = MAX_REPORTED_ISSUES,
): Promise<{ diff: PreviewDiff; floored: FlooredRow[]; flooredCount: number }> {
  const feed = previewFeed(preview.id)
  const diff = await diffFeed(db, { inventorySourceId: preview.inventory_source_id, feed, replaceMissing: preview.replace_missing })
  const floored = await findFlooredRows(db, { inventorySourceId: preview.inventory_source_id, feed, now, limit: flooredLimit })
  return { diff, floored: floored.rows, flooredCount: floored.count }
}

/** Stored rows whose flight has ended at `now`: the first `limit` in feed order, and the exact count. */
export async function findEndedRows(db: Queryable, previewRowId: number, now: Date, limit: number): Promise<{ rows: { row: number; availId: string; endTime: string }[]; count: number }> {
  const ended = await db
    .selectFrom('avails_preview_row')
    .select(['row_number', 'avail_id', 'end_time', sql<number>`count(*) over ()`.as('total')])
    .where('preview_row_id', '=', previewRowId)
    .where('end_time', '<=', now)
    .orderBy('position')
    .limit(limit)
    .execute()
  return {
    rows: ended.map((hit) => ({ row: hit.row_number, availId: hit.avail_id, endTime: toIso(hit.end_time)! })),
    count: Number(ended[0]?.total ?? 0),
  }
}

export async function finishPreview(
  trx: Transaction,
  previewRowId: number,
  changes: {
    status: 'PENDING' | 'COMMITTED'
    parsedAvailCount: number
    validAvailCount: number
    errorCount: number
    errors: readonly RowError[]
    warningCount: number
    diff: PreviewDiff
    workItemId?: number | null
    committedBy?: string | null
    now: Date
  },
): Promise<void> {
  await trx
    .updateTable('avails_preview')
    .set({
      status: changes.status,
      parsed_avail_count: changes.parsedAvailCount,
      valid_avail_count: changes.validAvailCount,
      error_count: changes.errorCount,
      errors: json(changes.errors.slice(0, MAX_REPORTED_ISSUES)),
      warning_count: changes.warningCount,
      diff: json(changes.diff),
      work_item_id: changes.workItemId ?? null,
      ...(changes.status === 'COMMITTED' ? { committed_at: changes.now, committed_by: changes.committedBy ?? null } : {}),
      updated_at: changes.now,
    })
    .where('id', '=', previewRowId)
    .execute()
}

/** The work item a preview was put up for, read without a lock (callers lock the item before the preview). */
export async function findPreviewWorkItemId(db: Queryable, inventorySourceId: number, previewId: string): Promise<number | null> {
  const row = await db
    .selectFrom('avails_preview')
    .select('work_item_id')
    .where('inventory_source_id', '=', inventorySourceId)
    .where('preview_id', '=', previewId)
    .executeTakeFirst()
  return row?.work_item_id ?? null
}

/** The preview, locked; another source's preview is the same as a missing one. */
export async function findPreviewForUpdate(trx: Transaction, inventorySourceId: number, previewId: string): Promise<AvailsPreviewRow | undefined> {
  return trx
    .selectFrom('avails_preview')
    .selectAll()
    .where('inventory_source_id', '=', inventorySourceId)
    .where('preview_id', '=', previewId)
    .forUpdate()
    .executeTakeFirst()
}

export async function markPreviewCommitted(
  trx: Transaction,
  preview: AvailsPreviewRow,
  input: { diff: PreviewDiff; warningCount: number; committedBy: string; now: Date },
): Promise<void> {
  await trx
    .updateTable('avails_preview')
    .set({
      status: 'COMMITTED',
      diff: json(input.diff),
      warning_count: input.warningCount,
      committed_at: input.now,
      committed_by: input.committedBy,
      updated_at: input.now,
    })
    .where('id', '=', preview.id)
    .execute()
  // The avail table holds the rows now; the header stays as the record of the commit.
  await dropPreviewRows(trx, preview.id)
  const { created, updated, unchanged } = input.diff
  afterCommit(trx, () => metrics.feedRowsIngested(created + updated + unchanged))
}

/** Marks the source's PENDING previews (except `keepId`) SUPERSEDED and drops their rows; returns them. */
export async function supersedePendingPreviews(trx: Transaction, inventorySourceId: number, keepId: number, now: Date): Promise<AvailsPreviewRow[]> {
  const superseded = await trx
    .updateTable('avails_preview')
    .set({ status: 'SUPERSEDED', updated_at: now })
    .where('inventory_source_id', '=', inventorySourceId)
    .where('status', '=', 'PENDING')
    .where('id', '<>', keepId)
    .returningAll()
    .execute()
  if (superseded.length > 0) {
    await trx.deleteFrom('avails_preview_row').where('preview_row_id', 'in', superseded.map((preview) => preview.id)).execute()
  }
  return superseded
}

export async function dropPreviewRows(db: Queryable, previewRowId: number): Promise<void> {
  await db.deleteFrom('avails_preview_row').where('preview_row_id', '=', previewRowId).execute()
}

/** A staged feed that failed (row errors on a direct commit, a broken upload): nothing of it stays. */
export async function deletePreview(db: Queryable, previewRowId: number): Promise<void> {
  await db.deleteFrom('avails_preview').where('id', '=', previewRowId).execute()
}

/**
 * Frees the rows of previews that can no longer be committed (expired), and forgets staging
 * previews whose upload died. Headers of expired previews stay so a late commit gets 409
 * PREVIEW_EXPIRED rather than 404. Cheap enough to run before every staging.
 */
export async function purgeExpiredPreviews(db: Queryable, now: Date): Promise<void> {
  await db.deleteFrom('avails_preview').where('status', '=', 'STAGING').where('expires_at', '<=', now).execute()
  await db
    .deleteFrom('avails_preview_row')
    .where('preview_row_id', 'in', (eb) => eb.selectFrom('avails_preview').select('id').where('expires_at', '<=', now).where('status', '=', 'PENDING'))
    .execute()
}
