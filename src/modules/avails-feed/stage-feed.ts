import type { Queryable } from '../../db/database.ts'
import type { AvailsPreviewRow } from '../../db/tables.ts'
import type { NormalizedAvail, RowError, RowWarning } from './avail.schema.ts'
import { parseAvailsFeed, type FeedInput } from './parse-feed.ts'
import {
  createStagingPreview,
  deletePreview,
  insertPreviewRows,
  MAX_REPORTED_ISSUES,
  newPreviewId,
  purgeExpiredPreviews,
  type InputSource,
  type StagedRow,
} from './preview-store.ts'

/**
 * Streams a feed through the parser into a STAGING preview: error-free rows are written in
 * batches as they are parsed, and only a batch, the first avails to echo and the first errors
 * and warnings are held. Each batch commits on its own (no transaction spans a slow upload,
 * which on the embedded database would stall every other request); the caller promotes the
 * preview to PENDING or COMMITTED in one short transaction, or deletes it.
 */

/** How many normalized avails a feed response echoes; `availsTruncated` says when there were more. */
export const AVAILS_ECHO_LIMIT = 100
/**
 * And at most about this many bytes of them: 100 avails of 256 filled columns could
 * otherwise make a preview answer of hundreds of MB.
 */
export const AVAILS_ECHO_MAX_BYTES = 1024 * 1024

/**
 * Rows per staging INSERT. Smaller than the commit's PREVIEW_BATCH_SIZE: the embedded
 * database runs each statement on the event loop's thread, and 5,000 rows held it for about
 * 300 ms of CPU; 500 rows keep every other request waiting well under 250 ms.
 */
export const STAGE_BATCH_SIZE = 500

export interface StageFeedInput {
  inventorySourceId: number
  input: FeedInput
  columnMapping?: Record<string, string> | undefined
  inputSource: InputSource
  replaceMissing: boolean
  /** A preview keeps the good rows of a feed with errors, so its diff covers them; a direct commit does not. */
  keepRowsOnError: boolean
  now: Date
}

export interface StagedFeed {
  preview: AvailsPreviewRow
  parsedAvailCount: number
  /** Rows without errors, all stored. */
  validAvailCount: number
  /** The first AVAILS_ECHO_LIMIT normalized avails. */
  avails: NormalizedAvail[]
  errors: RowError[]
  errorCount: number
  /** Parse-time warnings (AVAIL_ENDED), the first MAX_REPORTED_ISSUES. */
  warnings: RowWarning[]
  warningCount: number
}

export async function stageFeed(db: Queryable, input: StageFeedInput): Promise<StagedFeed> {
  await purgeExpiredPreviews(db, input.now)
  const preview = await createStagingPreview(db, {
    inventorySourceId: input.inventorySourceId,
    previewId: newPreviewId(),
    inputSource: input.inputSource,
    replaceMissing: input.replaceMissing,
    now: input.now,
  })
  const staged: StagedFeed = {
    preview,
    parsedAvailCount: 0,
    validAvailCount: 0,
    avails: [],
    errors: [],
    errorCount: 0,
    warnings: [],
    warningCount: 0,
  }
  let batch: StagedRow[] = []
  let echoBytes = 0
  // One batch insert in flight while the parser reads the next batch: on PostgreSQL the database
  // works while Node parses. At most two batches are held.
  const pending: { insert: Promise<void> | null } = { insert: null }
  const flush = async (rows: StagedRow[]) => {
    if (pending.insert) await pending.insert
    pending.insert = insertPreviewRows(db, preview.id, rows)
    pending.insert.catch(() => {}) // awaited (and rethrown) by the next flush or at the end
  }
  try {
    for await (const parsed of parseAvailsFeed(input.input, { columnMapping: input.columnMapping, now: input.now })) {
      if (parsed.dataRow) staged.parsedAvailCount += 1
      staged.errorCount += parsed.errors.length
      for (const error of parsed.errors) if (staged.errors.length < MAX_REPORTED_ISSUES) staged.errors.push(error)
      staged.warningCount += parsed.warnings.length
      for (const warning of parsed.warnings) if (staged.warnings.length < MAX_REPORTED_ISSUES) staged.warnings.push(warning)
      if (!parsed.avail) continue
      if (staged.avails.length < AVAILS_ECHO_LIMIT && echoBytes < AVAILS_ECHO_MAX_BYTES) {
        echoBytes += JSON.stringify(parsed.avail).length
        if (echoBytes <= AVAILS_ECHO_MAX_BYTES || staged.avails.length === 0) staged.avails.push(parsed.avail)
      }
      const position = staged.validAvailCount
      staged.validAvailCount += 1
      // A direct commit with an error will write nothing: stop storing rows, keep counting.
      if (staged.errorCount > 0 && !input.keepRowsOnError) {
        batch = []
        continue
      }
      batch.push({ position, row: parsed.row, avail: parsed.avail })
      if (batch.length >= STAGE_BATCH_SIZE) {
        await flush(batch)
        batch = []
      }
    }
    await flush(batch)
    await pending.insert
  } catch (error) {
    await pending.insert?.catch(() => {})
    // A request-level failure (bad columnMapping, unreadable workbook, aborted upload): no preview.
    await deletePreview(db, preview.id).catch(() => {})
    throw error
  }
  return staged
}
