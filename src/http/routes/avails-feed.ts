import fastifyMultipart from '@fastify/multipart'
import type { FastifyRequest } from 'fastify'
import { validatorCompiler, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import {
  AvailsFeedJsonBodySchema,
  AvailsFeedQuerySchema,
  AvailsFeedResponseSchema,
  AvailsFeedUploadSchema,
  parseFeedOptions,
  parseJsonEnvelope,
  type FeedInput,
  type InputSource,
} from '../../modules/avails-feed/index.ts'
import { ProductListQuerySchema, ProductListSchema } from '../../modules/products/index.ts'
import { z } from 'zod'
import { fail } from '../../shared/errors.ts'
import type { Services } from '../../services.ts'
import type { FeedRequest } from '../../workflows/avails-feed-workflows.ts'
import { FeedGate, MULTIPART_FIELD_LIMIT_BYTES, multipartFeed, removeSpooledFile, spoolMultipart, sweepAbandonedSpools, type MultipartBody } from '../feed-uploads.ts'
import { errorResponses } from '../openapi.ts'
import { operatorOf } from '../plugins/actor.ts'
import { callerOf } from '../plugins/caller.ts'
import { SourceParamsSchema } from './inventory-sources.ts'

/**
 * The avails feed and its products (SPEC §3). The feed route takes JSON, a raw `text/csv` body
 * and multipart uploads, up to `feedBodyLimitBytes` (the global 1 MiB limit would refuse any real
 * spreadsheet). Its content-type parsers live in this plugin only, so no other route accepts CSV
 * or multipart.
 *
 * A multipart file is spooled to a temporary file while it is hashed, before the handler runs:
 * the Idempotency-Key fingerprint then covers the file's bytes (a retry with the same file
 * replays; another file under the same key is a 409), form fields may come before or after the
 * file, and the parser still streams it from disk, so memory stays flat for any size. Spooled
 * files a crashed process left behind are removed when the routes are registered (at start).
 *
 * At most `feedMaxConcurrent` feed requests are read at once (see FeedGate); the others get
 * 429 RATE_LIMITED with Retry-After before their body is read.
 */

export interface AvailsFeedRouteOptions {
  services: Services
  /** Largest feed body or uploaded file; config FEED_BODY_LIMIT_BYTES (default 64 MiB). */
  feedBodyLimitBytes?: number | undefined
  /** Feed requests read at once; config FEED_MAX_CONCURRENT (default 2). */
  feedMaxConcurrent?: number | undefined
}

export const DEFAULT_FEED_MAX_CONCURRENT = 2

export const DEFAULT_FEED_BODY_LIMIT_BYTES = 64 * 1024 * 1024

const tags = ['Modular sources']

/** Turns any of the accepted bodies into the feed input, its default inputSource and the options. */
async function feedRequestOf(request: FastifyRequest): Promise<FeedRequest> {
  const query = request.query as Record<string, unknown>
  const body = request.body as unknown
  if (typeof body === 'string') {
    const options = parseFeedOptions(query, 'querystring')
    return { input: body.trim() === '' ? null : { kind: 'csv', text: body }, defaultInputSource: 'api', options }
  }
  if (isMultipartBody(body)) {
    const options = parseFeedOptions({ ...query, ...body.fields }, 'form')
    const input = await multipartFeed(request, body, options)
    return { input, defaultInputSource: 'upload', options }
  }
  if (body === undefined || body === null) {
    return { input: null, defaultInputSource: 'api', options: parseFeedOptions(query, 'querystring') }
  }
  const { avails, csv, ...jsonOptions } = parseJsonEnvelope(body)
  const options = parseFeedOptions({ ...query, ...jsonOptions }, 'body')
  if (avails !== undefined && csv !== undefined) throw fail.validation('Send either avails or csv, not both')
  let input: FeedInput | null = null
  let defaultInputSource: InputSource = 'api'
  if (avails !== undefined) input = { kind: 'rows', rows: avails }
  else if (csv !== undefined) {
    input = { kind: 'csv', text: csv }
    defaultInputSource = 'paste'
  }
  if (options.sheet !== undefined) throw fail.invalidField('sheet', 'applies only to an uploaded .xlsx file')
  return { input, defaultInputSource, options }
}

function isMultipartBody(body: unknown): body is MultipartBody {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'multipart' && 'fields' in body
}

/** Zod validates params and query; the body is read by hand so a bad row is a row error, not a schema error. */
const bodyIsReadByHand: typeof validatorCompiler = (route) => {
  if (route.httpPart === 'body') return (data: unknown) => ({ value: data })
  return validatorCompiler(route)
}

export const availsFeedRoutes: FastifyPluginAsyncZod<AvailsFeedRouteOptions> = async (app, { services, feedBodyLimitBytes, feedMaxConcurrent }) => {
  const bodyLimit = feedBodyLimitBytes ?? DEFAULT_FEED_BODY_LIMIT_BYTES
  const gate = new FeedGate(feedMaxConcurrent ?? DEFAULT_FEED_MAX_CONCURRENT)
  const removed = await sweepAbandonedSpools()
  if (removed > 0) app.log.info({ removed }, 'removed feed uploads spooled by processes that are gone')

  await app.register(fastifyMultipart, {
    limits: { fileSize: bodyLimit, files: 1, fields: 20, fieldSize: MULTIPART_FIELD_LIMIT_BYTES, parts: 25 },
  })
  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string', bodyLimit }, (_request, text, done) => {
    done(null, text)
  })
  app.addHook('onResponse', async (request) => {
    gate.leave(request, { aborted: false })
    await removeSpooledFile(request)
  })
  app.addHook('onRequestAbort', async (request) => {
    gate.leave(request, { aborted: true })
    await removeSpooledFile(request)
  })

  app.post('/inventory-sources/:sourceId/modular/avails-feed', {
    bodyLimit,
    // The documented body schema is for OpenAPI; see bodyIsReadByHand.
    validatorCompiler: bodyIsReadByHand as never,
    schema: {
      tags,
      summary: 'Preview (default) or commit an avails feed: JSON avails, CSV text, a text/csv body, or a .csv/.xlsx upload',
      description:
        'Without confirmed: true nothing is committed: the feed is stored as a preview for 24 h and a CONFIRM_AVAILS work item opens. ' +
        '{confirmed: true, previewId} commits exactly that preview; confirmed: true with a feed commits it at once. ' +
        'Any row error makes a commit a 400 FEED_ROW_ERRORS with every row error in details.rows and nothing written. ' +
        'text/csv bodies take the options as query parameters, multipart uploads as form fields (columnMapping as JSON text).',
      params: SourceParamsSchema,
      body: AvailsFeedJsonBodySchema,
      response: { 200: AvailsFeedResponseSchema.describe('The preview, or the committed feed'), ...errorResponses('NOT_FOUND', 'CONFLICT') },
      openapi: {
        querystring: AvailsFeedQuerySchema,
        bodyAlternatives: {
          'text/csv': z.string().describe('CSV text, header row first; the options as query parameters.'),
          'multipart/form-data': AvailsFeedUploadSchema,
        },
      },
    },
    onRequest: async (request, reply) => gate.admit(request, reply),
    preValidation: async (request) => {
      if (!request.isMultipart()) return
      (request as { body: unknown }).body = await spoolMultipart(request)
    },
  }, async (request) => gate.handle(request, async () => {
    const feedRequest = await feedRequestOf(request)
    return services.availsFeed.ingest(callerOf(request).storefrontId, request.params.sourceId, feedRequest, operatorOf(request))
  }))

  app.get('/inventory-sources/:sourceId/modular/products', {
    schema: {
      tags,
      summary: 'Products projected from the ACTIVE, not yet ended avails, in keyset pages ordered by availId',
      params: SourceParamsSchema,
      querystring: ProductListQuerySchema,
      response: { 200: ProductListSchema.describe('One page of products'), ...errorResponses('NOT_FOUND') },
    },
  }, async (request) => services.availsFeed.listProducts(callerOf(request).storefrontId, request.params.sourceId, request.query))
}
