import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { feedColumnsOf, parseFeedOptions, type AvailsFeedResponse, type FeedColumn } from '../../modules/avails-feed/index.ts'
import { ProductListQuerySchema } from '../../modules/products/index.ts'
import { multipartFeed, removeSpooledFile, spoolMultipart, type MultipartBody } from '../../http/feed-uploads.ts'
import { fail } from '../../shared/errors.ts'
import type { Services } from '../../services.ts'
import { CONSOLE_PREFIX, consoleActorOf, consoleCallerOf, redirectWithNotice, renderPage } from '../console.ts'
import { formOf, optionalText, parseWith, SourceParamsSchema } from '../forms.ts'

export const DEFAULT_FEED_BODY_LIMIT_BYTES = 64 * 1024 * 1024

const ConfirmFormSchema = z.object({ previewId: z.string().min(1).max(64) })

interface ErrorCell {
  field: string
  message: string
  /** The spreadsheet column the field was read from, when the feed has a header row naming it. */
  column: FeedColumn | null
}

/** The error rows of a preview, each error at its spreadsheet column (as the parser planned the header). */
function errorsByRow(response: AvailsFeedResponse, columns: FeedColumn[]): Array<{ row: number; issues: ErrorCell[] }> {
  const rows = new Map<number, ErrorCell[]>()
  for (const error of response.errors) {
    const column = columns.find((candidate) => candidate.field === error.field || candidate.letter === error.field) ?? null
    rows.set(error.row, [...(rows.get(error.row) ?? []), { field: error.field, message: error.message, column }])
  }
  return [...rows.entries()].sort(([a], [b]) => a - b).map(([row, issues]) => ({ row, issues }))
}

/**
 * Avails of one source: upload a .csv/.xlsx (the same preview the REST feed route makes), the
 * preview with its row errors, warnings and diff, Confirm that commits exactly that preview, and the
 * products with their capacity.
 */
export async function availsPages(app: FastifyInstance, { services, feedBodyLimitBytes }: { services: Services; feedBodyLimitBytes?: number | undefined }): Promise<void> {
  const bodyLimit = feedBodyLimitBytes ?? DEFAULT_FEED_BODY_LIMIT_BYTES
  app.addHook('onResponse', async (request) => removeSpooledFile(request))
  app.addHook('onRequestAbort', async (request) => removeSpooledFile(request))

  const base = `${CONSOLE_PREFIX}/sources/:sourceId/avails`

  app.get(base, async (request, reply) => {
    const { sourceId } = parseWith(SourceParamsSchema, request.params)
    const { storefrontId } = consoleCallerOf(request)
    const query = request.query as Record<string, string | undefined>
    const filters = parseWith(ProductListQuerySchema, {
      channel: query.channel || undefined,
      availableOnly: query.availableOnly ? 'true' : undefined,
      cursor: query.cursor || undefined,
      limit: 50,
    })
    const projection = await services.modularSources.getProjection(storefrontId, sourceId)
    const { products, nextCursor } = await services.availsFeed.listProducts(storefrontId, sourceId, filters)
    return renderPage(request, reply, 'avails', { title: `Avails: ${projection.inventorySource.name}`, source: projection.inventorySource, products, nextCursor, filters: { channel: query.channel ?? '', availableOnly: Boolean(query.availableOnly) } })
  })

  app.post(`${base}/preview`, {
    bodyLimit,
    preValidation: async (request) => {
      if (!request.isMultipart()) throw fail.validation('Upload the feed as a multipart form with one .csv or .xlsx file')
      ;(request as { body: unknown }).body = await spoolMultipart(request)
    },
  }, async (request, reply) => {
    const { sourceId } = parseWith(SourceParamsSchema, request.params)
    const body = request.body as MultipartBody
    const fields = formOf(body.fields)
    const options = parseFeedOptions({ ...(optionalText(fields, 'sheet') ? { sheet: fields.sheet!.trim() } : {}) }, 'form')
    const input = await multipartFeed(request, body, options)
    if (!input || !body.file || body.file.bytes === 0) throw fail.invalidField('file', 'choose a .csv or .xlsx file to upload')
    const preview = await services.availsFeed.ingest(consoleCallerOf(request).storefrontId, sourceId, { input, defaultInputSource: 'upload', options }, consoleActorOf(request))
    // The spooled file is read once more, up to its header row, to name each error's column.
    const reread = preview.errorCount > 0 ? await multipartFeed(request, body, options) : null
    const columns = reread ? await feedColumnsOf(reread, { columnMapping: options.columnMapping }) : []
    return renderPage(request, reply, 'avails-preview', {
      title: 'Avails preview',
      source: preview.projection.inventorySource,
      preview,
      fileName: body.file.filename,
      errorRows: errorsByRow(preview, columns),
    })
  })

  app.post(`${base}/confirm`, async (request, reply) => {
    const { sourceId } = parseWith(SourceParamsSchema, request.params)
    const { previewId } = parseWith(ConfirmFormSchema, formOf(request.body))
    const options = parseFeedOptions({ confirmed: true, previewId }, 'form')
    const committed = await services.availsFeed.ingest(consoleCallerOf(request).storefrontId, sourceId, { input: null, defaultInputSource: 'upload', options }, consoleActorOf(request))
    const { diff } = committed
    return redirectWithNotice(request, reply, `${CONSOLE_PREFIX}/sources/${encodeURIComponent(sourceId)}/avails`,
      `Committed preview ${previewId}: ${committed.ingestedAvailCount} avails (${diff.created} created, ${diff.updated} updated, ${diff.unchanged} unchanged, ${diff.deactivated} deactivated)`)
  })
}
