import type { Database, Queryable, Transaction } from '../db/database.ts'
import type { AvailsPreviewRow, InventorySourceRow } from '../db/tables.ts'
import {
  AVAILS_ECHO_LIMIT,
  computePreviewDiff,
  deletePreview,
  dropPreviewRows,
  findEndedRows,
  findFlooredRows,
  findPreviewForUpdate,
  findPreviewWorkItemId,
  finishPreview,
  markPreviewCommitted,
  MAX_REPORTED_ISSUES,
  previewFeed,
  previewRowToAvail,
  readPreviewRows,
  stageFeed,
  supersedePendingPreviews,
  writeFeed,
  type AvailsFeedOptions,
  type AvailsFeedResponse,
  type FeedInput,
  type FlooredRow,
  type InputSource,
  type NormalizedAvail,
  type PreviewDiff,
  type RowError,
  type RowWarning,
  type StagedFeed,
} from '../modules/avails-feed/index.ts'
import { findActiveModule, findModularSourceRow, type ActiveModule } from '../modules/modular-sources/index.ts'
import { listSellableAvails, projectProduct, type Product, type ProductListQuery } from '../modules/products/index.ts'
import { loadProjection } from '../modules/readiness/index.ts'
import {
  actorLabel,
  cancelOpenWorkItems,
  completeWorkItem,
  findWorkItem,
  isOpenStatus,
  lockOpenWorkItems,
  openWorkItem,
  type Actor,
} from '../modules/work-queue/index.ts'
import { productBlockOf, productCadentDefaults, productCadentFor } from './product-cadent.ts'
import { toIso, type Clock } from '../shared/clock.ts'
import { fail, StorefrontError } from '../shared/errors.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'
import { lockSourceRow } from '../sources/source-store.ts'

/**
 * The avails feed (SPEC §3 "Avails feed"): preview, then commit. Every feed is first staged
 * (streamed into a preview's rows, see stage-feed.ts); a preview then becomes the source's one
 * PENDING preview with its CONFIRM_AVAILS work item, and a commit upserts exactly the stored rows
 * in one transaction. Committing by previewId, completing the work item and a direct
 * `confirmed: true` feed all run `commitPreviewRows`.
 */

export interface FeedRequest {
  /** null when the request only names a preview to commit. */
  input: FeedInput | null
  /** The inputSource used when the request does not name one. */
  defaultInputSource: InputSource
  options: AvailsFeedOptions
}

export interface AvailsFeedWorkflowDeps {
  db: Database
  clock: Clock
}

/** The work item's resource_type for previews. */
const PREVIEW_RESOURCE = 'avails_preview'

async function requireFeedModule(db: Queryable, source: InventorySourceRow): Promise<ActiveModule> {
  const feed = await findActiveModule(db, source.id, 'INVENTORY_FEED')
  if (feed) return feed
  throw fail.conflict(
    'NO_INVENTORY_FEED',
    `Inventory source ${source.source_id} has no ACTIVE inventory feed module; attach one with ` +
      `POST /inventory-sources/${source.source_id}/modular/modules {"kind":"INVENTORY_FEED","provider":"agentic"}`,
  )
}

function rowErrorsFailure(errors: readonly RowError[], errorCount: number): StorefrontError {
  const rows = new Set(errors.map((error) => error.row)).size
  return new StorefrontError(
    'VALIDATION_ERROR',
    `The feed has ${errorCount} error(s) in ${rows}${errorCount > errors.length ? '+' : ''} row(s); nothing was written`,
    { reason: 'FEED_ROW_ERRORS', rows: [...errors], errorCount, rowsTruncated: errorCount > errors.length },
  )
}

function previewNotFound(previewId: string): StorefrontError {
  return new StorefrontError('NOT_FOUND', `Avails preview ${previewId} not found`, { reason: 'PREVIEW_NOT_FOUND' })
}

/** Refuses a preview that cannot be committed, most specific reason first. */
function assertCommittable(preview: AvailsPreviewRow | undefined, previewId: string, now: Date): asserts preview is AvailsPreviewRow {
  if (!preview || preview.status === 'STAGING') throw previewNotFound(previewId)
  if (preview.status === 'COMMITTED' || preview.status === 'SUPERSEDED') {
    throw fail.conflict(
      'PREVIEW_ALREADY_COMMITTED',
      preview.status === 'COMMITTED' ? `Avails preview ${previewId} was already committed` : `Avails preview ${previewId} was replaced by a newer preview or commit`,
      { previewId, status: preview.status },
    )
  }
  if (new Date(preview.expires_at).getTime() <= now.getTime()) {
    throw fail.conflict('PREVIEW_EXPIRED', `Avails preview ${previewId} expired at ${toIso(preview.expires_at)}; preview the feed again`, {
      previewId,
      expiresAt: toIso(preview.expires_at),
    })
  }
  if (preview.error_count > 0) throw rowErrorsFailure(preview.errors, preview.error_count)
}

function flooredWarning(floored: FlooredRow, committed: boolean): RowWarning {
  const verb = committed ? 'is' : 'will be'
  return {
    row: floored.row,
    availId: floored.availId,
    code: 'CAPACITY_FLOORED',
    message: `impressionsCapacity ${floored.requested} is below the ${floored.floor} impressions already held or booked: ` +
      `they are kept, the avail ${verb} shown at ${floored.floor} with nothing more to sell, and ${floored.requested} applies again as they are released or expire`,
  }
}

function endedWarning(ended: { row: number; availId: string; endTime: string }): RowWarning {
  return { row: ended.row, availId: ended.availId, code: 'AVAIL_ENDED', message: `The avail ended at ${ended.endTime}, so it will not be sellable` }
}

/** Bounded, row-ordered warnings with an exact count. */
class WarningList {
  readonly items: RowWarning[] = []
  count = 0

  add(warnings: readonly RowWarning[], count = warnings.length): void {
    this.count += count
    for (const warning of warnings) if (this.items.length < MAX_REPORTED_ISSUES) this.items.push(warning)
  }

  sorted(): RowWarning[] {
    return [...this.items].sort((left, right) => left.row - right.row)
  }
}

interface CommitOutcome {
  diff: PreviewDiff
  ingested: number
  warnings: WarningList
  /** The first avails of the preview, for the response. */
  avails: NormalizedAvail[]
}

/**
 * Writes the preview's stored rows to the source's avails (writeFeed: only rows that change are
 * locked, in ascending id, after the rest is done), applies replaceMissing in the same pass and
 * marks the preview COMMITTED. Runs inside the caller's transaction: all of it or none of it.
 */
async function commitPreviewRows(trx: Transaction, source: InventorySourceRow, preview: AvailsPreviewRow, committedBy: string, now: Date): Promise<CommitOutcome> {
  const feed = previewFeed(preview.id)
  const avails = (await readPreviewRows(trx, preview.id, -1, AVAILS_ECHO_LIMIT)).map(previewRowToAvail)
  // Told before writing, against the commitments as they are now; the figures are stored as given.
  const floored = await findFlooredRows(trx, { inventorySourceId: source.id, feed, now, limit: MAX_REPORTED_ISSUES })
  const ended = await findEndedRows(trx, preview.id, now, MAX_REPORTED_ISSUES)
  const warnings = new WarningList()
  const rowWarnings = [...ended.rows.map(endedWarning), ...floored.rows.map((hit) => flooredWarning(hit, true))]
    .sort((left, right) => left.row - right.row)
    .slice(0, MAX_REPORTED_ISSUES)
  warnings.add(rowWarnings, ended.count + floored.count)
  const diff = await writeFeed(trx, { inventorySourceId: source.id, feed, replaceMissing: preview.replace_missing, now })
  await markPreviewCommitted(trx, preview, { diff, warningCount: warnings.count, committedBy, now })
  return { diff, ingested: diff.created + diff.updated + diff.unchanged, warnings, avails }
}

/**
 * Commits exactly the rows of a PENDING preview, inside the caller's transaction; the work queue
 * calls it when a CONFIRM_AVAILS item is completed (and closes the item itself). Throws 404
 * PREVIEW_NOT_FOUND, 409 PREVIEW_ALREADY_COMMITTED / PREVIEW_EXPIRED / NO_INVENTORY_FEED, or
 * 400 FEED_ROW_ERRORS for a preview that had row errors. Returns a summary for the item's event.
 */
export async function commitAvailsPreview(
  trx: Transaction,
  input: { source: InventorySourceRow; previewId: string; workItemId?: number | null; actor: Actor; now: Date },
): Promise<Record<string, unknown>> {
  await requireFeedModule(trx, input.source)
  const preview = await findPreviewForUpdate(trx, input.source.id, input.previewId)
  assertCommittable(preview, input.previewId, input.now)
  const outcome = await commitPreviewRows(trx, input.source, preview, actorLabel(input.actor), input.now)
  return { previewId: preview.preview_id, ingestedAvailCount: outcome.ingested, diff: outcome.diff, warningCount: outcome.warnings.count }
}

export function createAvailsFeedWorkflows({ db, clock }: AvailsFeedWorkflowDeps) {
  /**
   * Replaces the source's pending previews: they become SUPERSEDED and their open CONFIRM_AVAILS
   * items are cancelled with an event naming what replaced them. Items are locked before
   * previews, the order a work-item completion takes them in.
   */
  async function supersede(trx: Transaction, source: InventorySourceRow, keep: AvailsPreviewRow, actor: Actor, now: Date, reason: string): Promise<void> {
    await lockOpenWorkItems(trx, { inventorySourceId: source.id, kind: 'CONFIRM_AVAILS' })
    await supersedePendingPreviews(trx, source.id, keep.id, now)
    await cancelOpenWorkItems(trx, { inventorySourceId: source.id, kind: 'CONFIRM_AVAILS' }, actor, now, reason)
  }

  function response(
    fields: Omit<AvailsFeedResponse, 'projection' | 'availsTruncated'> & { validAvailCount: number },
    projection: AvailsFeedResponse['projection'],
  ): AvailsFeedResponse {
    const { validAvailCount, ...rest } = fields
    return { ...rest, availsTruncated: validAvailCount > fields.avails.length, projection }
  }

  /** A preview: stored, diffed against the committed avails, and (without errors) put up for confirmation. */
  async function finalizePreview(source: InventorySourceRow, feed: ActiveModule, staged: StagedFeed, actor: Actor, now: Date): Promise<AvailsFeedResponse> {
    const preview = staged.preview
    return outcomeTransaction(db, async (trx) => {
      await lockSourceRow(trx, source.id)
      const { diff, floored, flooredCount } = await computePreviewDiff(trx, preview, now)
      const warnings = new WarningList()
      warnings.add(staged.warnings, staged.warningCount)
      warnings.add(floored.map((hit) => flooredWarning(hit, false)), flooredCount)
      await supersede(trx, source, preview, actor, now, `Replaced by avails preview ${preview.preview_id}`)

      const expiresAt = toIso(preview.expires_at)!
      let workItemId: number | null = null
      if (staged.errorCount === 0) {
        const item = await openWorkItem(trx, {
          storefrontId: source.storefront_id,
          inventorySourceId: source.id,
          moduleRowId: feed.row.id,
          kind: 'CONFIRM_AVAILS',
          title: `Confirm ${staged.validAvailCount} avails: ${diff.created} new, ${diff.updated} changed, ${diff.unchanged} unchanged, ${diff.deactivated} deactivated`,
          description:
            'Check the normalized rows and that impressionsCapacity is net sellable capacity (upstream bookings removed), ' +
            `then complete this item to commit preview ${preview.preview_id}. The preview expires at ${expiresAt}.`,
          resourceType: PREVIEW_RESOURCE,
          resourceId: preview.preview_id,
          dueAt: new Date(expiresAt),
          payload: {
            previewId: preview.preview_id,
            inputSource: preview.input_source,
            parsedAvailCount: staged.parsedAvailCount,
            validAvailCount: staged.validAvailCount,
            warningCount: warnings.count,
            replaceMissing: preview.replace_missing,
            diff,
            expiresAt,
          },
          requiredResultKeys: [],
        }, actor, now)
        workItemId = item.id
      } else {
        // A preview with errors can never be committed: its rows are of no further use.
        await dropPreviewRows(trx, preview.id)
      }
      await finishPreview(trx, preview.id, {
        status: 'PENDING',
        parsedAvailCount: staged.parsedAvailCount,
        validAvailCount: staged.validAvailCount,
        errorCount: staged.errorCount,
        errors: staged.errors,
        warningCount: warnings.count,
        diff,
        workItemId,
        now,
      })
      return response({
        previewOnly: true,
        previewId: preview.preview_id,
        inputSource: preview.input_source,
        parsedAvailCount: staged.parsedAvailCount,
        ingestedAvailCount: 0,
        validAvailCount: staged.validAvailCount,
        avails: staged.avails,
        errors: staged.errors,
        errorCount: staged.errorCount,
        warnings: warnings.sorted(),
        warningCount: warnings.count,
        diff,
        expiresAt,
        workItemId: workItemId === null ? null : String(workItemId),
      }, await loadProjection(trx, source, now))
    })
  }

  /** `confirmed: true` with a feed: the staged rows are committed at once and replace any pending preview. */
  async function commitStaged(source: InventorySourceRow, staged: StagedFeed, actor: Actor, now: Date): Promise<AvailsFeedResponse> {
    if (staged.errorCount > 0) throw rowErrorsFailure(staged.errors, staged.errorCount)
    return outcomeTransaction(db, async (trx) => {
      await lockSourceRow(trx, source.id)
      await supersede(trx, source, staged.preview, actor, now, `Superseded by a direct commit of avails feed ${staged.preview.preview_id}`)
      await finishPreview(trx, staged.preview.id, {
        status: 'PENDING',
        parsedAvailCount: staged.parsedAvailCount,
        validAvailCount: staged.validAvailCount,
        errorCount: 0,
        errors: [],
        warningCount: staged.warningCount,
        diff: { created: 0, updated: 0, unchanged: 0, deactivated: 0 },
        now,
      })
      const outcome = await commitPreviewRows(trx, source, { ...staged.preview, status: 'PENDING' }, actorLabel(actor), now)
      return response({
        previewOnly: false,
        previewId: staged.preview.preview_id,
        inputSource: staged.preview.input_source,
        parsedAvailCount: staged.parsedAvailCount,
        ingestedAvailCount: outcome.ingested,
        validAvailCount: staged.validAvailCount,
        avails: staged.avails,
        errors: [],
        errorCount: 0,
        warnings: outcome.warnings.sorted(),
        warningCount: outcome.warnings.count,
        diff: outcome.diff,
        expiresAt: null,
        workItemId: null,
      }, await loadProjection(trx, source, now))
    })
  }

  /** `{confirmed: true, previewId}`: commits exactly that preview and completes its CONFIRM_AVAILS item. */
  async function commitById(source: InventorySourceRow, previewId: string, actor: Actor): Promise<AvailsFeedResponse> {
    return outcomeTransaction(db, async (trx) => {
      const now = clock.now()
      await lockSourceRow(trx, source.id)
      const workItemId = await findPreviewWorkItemId(trx, source.id, previewId)
      // The item before the preview: the order a work-item completion locks them in.
      const item = workItemId ? await findWorkItem(trx, source.id, String(workItemId), { forUpdate: true }) : undefined
      const preview = await findPreviewForUpdate(trx, source.id, previewId)
      assertCommittable(preview, previewId, now)
      const outcome = await commitPreviewRows(trx, source, preview, actorLabel(actor), now)
      if (item && isOpenStatus(item.status)) {
        await completeWorkItem(trx, item, {
          result: { confirmed: true, previewId },
          notes: 'Committed with POST .../modular/avails-feed {confirmed: true, previewId}',
          effect: { previewId, ingestedAvailCount: outcome.ingested, diff: outcome.diff, warningCount: outcome.warnings.count },
        }, actor, now)
      }
      return response({
        previewOnly: false,
        previewId,
        inputSource: preview.input_source,
        parsedAvailCount: preview.parsed_avail_count,
        ingestedAvailCount: outcome.ingested,
        validAvailCount: preview.valid_avail_count,
        avails: outcome.avails,
        errors: [],
        errorCount: 0,
        warnings: outcome.warnings.sorted(),
        warningCount: outcome.warnings.count,
        diff: outcome.diff,
        expiresAt: null,
        workItemId: item ? String(item.id) : null,
      }, await loadProjection(trx, source, now))
    })
  }

  /** POST /inventory-sources/{sourceId}/modular/avails-feed */
  async function ingest(storefrontId: number, sourceId: string, request: FeedRequest, actor: Actor): Promise<AvailsFeedResponse> {
    const { options } = request
    if (options.confirmed !== undefined && options.previewOnly !== undefined && options.confirmed === options.previewOnly) {
      throw fail.invalidField('previewOnly', 'contradicts confirmed; send only confirmed')
    }
    const confirmed = options.confirmed ?? (options.previewOnly === undefined ? false : !options.previewOnly)
    const source = await findModularSourceRow(db, storefrontId, sourceId)
    const feed = await requireFeedModule(db, source)

    if (request.input === null) {
      if (!options.previewId) throw fail.validation('The request has no feed: send {"avails": [...]}, {"csv": "..."}, a text/csv body or a multipart file')
      if (!confirmed) throw fail.invalidField('previewId', 'is committed only with confirmed: true')
      if (options.replaceMissing !== undefined || options.columnMapping !== undefined || options.sheet !== undefined) {
        throw fail.invalidField('previewId', 'commits the preview as it was made: replaceMissing, columnMapping and sheet belong to the preview request')
      }
      return commitById(source, options.previewId, actor)
    }
    if (options.previewId) throw fail.invalidField('previewId', 'send either a previewId to commit or a feed, not both')

    const now = clock.now()
    const staged = await stageFeed(db, {
      inventorySourceId: source.id,
      input: request.input,
      columnMapping: options.columnMapping,
      inputSource: options.inputSource ?? request.defaultInputSource,
      replaceMissing: options.replaceMissing ?? false,
      keepRowsOnError: !confirmed,
      now,
    })
    try {
      return confirmed ? await commitStaged(source, staged, actor, now) : await finalizePreview(source, feed, staged, actor, now)
    } catch (error) {
      // Nothing of a feed that was not committed stays (its transaction rolled back; the staging goes too).
      await deletePreview(db, staged.preview.id).catch(() => {})
      throw error
    }
  }

  /** GET /inventory-sources/{sourceId}/modular/products: one keyset page of sellable avails as products. */
  async function listProducts(storefrontId: number, sourceId: string, query: ProductListQuery): Promise<{ products: Product[]; nextCursor: string | null }> {
    return productsOfSource(await findModularSourceRow(db, storefrontId, sourceId), query)
  }

  /**
   * listProducts of a modular source row the caller already read; `trafficking` is its ACTIVE
   * trafficking module when the caller read that too (the buyer catalog does), else it is read here.
   */
  async function productsOfSource(source: InventorySourceRow, query: ProductListQuery, trafficking?: { module: ActiveModule | undefined }): Promise<{ products: Product[]; nextCursor: string | null }> {
    const { rows, nextCursor } = await listSellableAvails(db, { inventorySourceId: source.id, now: clock.now(), query })
    const cadent = trafficking ? productBlockOf(trafficking.module) : await productCadentDefaults(db, source)
    return {
      products: rows.map((row) => projectProduct(row, productCadentFor(cadent, row))),
      nextCursor,
    }
  }

  return { ingest, listProducts, productsOfSource, commitAvailsPreview }
}

export type AvailsFeedWorkflows = ReturnType<typeof createAvailsFeedWorkflows>
