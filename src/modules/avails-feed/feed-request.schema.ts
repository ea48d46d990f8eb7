import { z } from 'zod'
import { RuntimeProjectionSchema } from '../readiness/index.ts'
import { TimestampSchema } from '../../shared/common.schema.ts'
import { fail, type ValidationIssue } from '../../shared/errors.ts'
import { AvailInputSchema, NormalizedAvailSchema, RowErrorSchema, RowWarningSchema } from './avail.schema.ts'

/**
 * Requests and responses of `POST .../modular/avails-feed` (SPEC §3 "Avails feed"). The same
 * options arrive three ways: in a JSON body, as query parameters next to a raw `text/csv` body,
 * and as form fields next to a multipart file; JSON takes real booleans and objects, the other
 * two take their text forms (`true`, a JSON `columnMapping`).
 */

export const INPUT_SOURCES = ['api', 'upload', 'paste', 'assistant'] as const

const TextBoolean = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((value) => value === true || value === 'true' || value === '1' || value === 'yes')

/** `{"Avail Code": "availId"}` as an object, or as JSON text in a query parameter or form field. */
const ColumnMappingSchema = z.preprocess((value) => {
  if (typeof value !== 'string') return value
  try {
    return JSON.parse(value) as unknown
  } catch {
    return value
  }
}, z.record(z.string().min(1).max(255), z.string().min(1).max(255), { error: 'must be an object of header -> field, e.g. {"Avail Code":"availId"}' }))

const optionFields = {
  confirmed: TextBoolean.optional().describe('true commits; default false: a preview that commits nothing.'),
  previewOnly: TextBoolean.optional().describe('Reference alias: previewOnly false is confirmed true.'),
  previewId: z.string().min(1).max(64).optional().describe('With confirmed: true, commits exactly this preview.'),
  inputSource: z.enum(INPUT_SOURCES).optional().describe('Where the rows came from; default from the input (JSON avails: api, csv text: paste, file: upload).'),
  columnMapping: ColumnMappingSchema.optional().describe('Header (or JSON key) -> avail field, targeting.<key>, sourceMetadata.<key> or ignore.'),
  replaceMissing: TextBoolean.optional().describe('Deactivate ACTIVE avails absent from the feed (default false).'),
  sheet: z.string().min(1).max(255).optional().describe('XLSX worksheet name; default the first sheet.'),
}

export const AvailsFeedOptionsSchema = z.strictObject(optionFields)

// The text forms of the options, as query parameters and form fields carry them (documentation only:
// parseFeedOptions reads them).
const textOptionFields = {
  ...optionFields,
  columnMapping: z.string().optional().describe('JSON text: header -> avail field, e.g. {"Avail Code":"availId"}.'),
}

/** The options of a raw text/csv feed body, as query parameters. */
export const AvailsFeedQuerySchema = z.object(textOptionFields)

/** A multipart/form-data feed: one .csv or .xlsx file, the options as form fields. */
export const AvailsFeedUploadSchema = z.object({
  file: z.string().meta({ format: 'binary' }).describe('The .csv or .xlsx file.'),
  ...textOptionFields,
})

export const AvailsFeedJsonBodySchema = z
  .strictObject({
    ...optionFields,
    avails: z.array(AvailInputSchema).optional().describe('Avail rows; a bad row is a row error, never a schema error.'),
    csv: z.string().optional().describe('CSV text, header row first (pasted from a spreadsheet).'),
  })
  .meta({ id: 'AvailsFeedRequest', description: 'Also accepted: a raw text/csv body (options as query parameters) and multipart/form-data with a .csv or .xlsx `file` (options as form fields).' })

/** The body is parsed by hand (see the route), so rows stay rows: this only checks the envelope. */
const JsonEnvelopeSchema = z.strictObject({
  ...optionFields,
  avails: z.array(z.unknown(), { error: 'must be an array of avail rows' }).optional(),
  csv: z.string({ error: 'must be CSV text' }).optional(),
})

export type AvailsFeedOptions = z.output<typeof AvailsFeedOptionsSchema>

function issuesOf(error: z.ZodError, prefix: string): ValidationIssue[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.')
    const message = issue.code === 'unrecognized_keys' ? `unknown option(s): ${issue.keys.join(', ')}` : issue.message
    return { path: path || prefix || 'body', message }
  })
}

function validationFailure(error: z.ZodError, prefix: string) {
  const issues = issuesOf(error, prefix)
  return fail.validation(`Invalid ${prefix || 'request'}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, { issues })
}

export function parseFeedOptions(value: Record<string, unknown>, where: string): AvailsFeedOptions {
  const parsed = AvailsFeedOptionsSchema.safeParse(value)
  if (!parsed.success) throw validationFailure(parsed.error, where)
  return parsed.data
}

export function parseJsonEnvelope(value: unknown): z.output<typeof JsonEnvelopeSchema> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail.validation('The body must be a JSON object such as {"avails": [...]} or {"csv": "..."}')
  }
  const parsed = JsonEnvelopeSchema.safeParse(value)
  if (!parsed.success) throw validationFailure(parsed.error, 'body')
  return parsed.data
}

export const AvailsFeedDiffSchema = z
  .object({ created: z.number().int(), updated: z.number().int(), unchanged: z.number().int(), deactivated: z.number().int() })
  .meta({ id: 'AvailsFeedDiff' })

export const AvailsFeedResponseSchema = z
  .object({
    previewOnly: z.boolean().describe('true when nothing was committed.'),
    previewId: z.string().describe('The stored preview (or, for a direct commit, the committed feed).'),
    inputSource: z.enum(INPUT_SOURCES),
    parsedAvailCount: z.number().int().describe('Avail rows read, with or without errors.'),
    ingestedAvailCount: z.number().int().describe('Avails written: 0 on a preview.'),
    avails: z.array(NormalizedAvailSchema).describe('The first 100 normalized avails; availsTruncated says when there are more.'),
    availsTruncated: z.boolean(),
    errors: z.array(RowErrorSchema).describe('Row errors (the first 10,000); a feed with any cannot be committed.'),
    errorCount: z.number().int(),
    warnings: z.array(RowWarningSchema).describe('AVAIL_ENDED and CAPACITY_FLOORED (the first 10,000); never block a commit.'),
    warningCount: z.number().int(),
    diff: AvailsFeedDiffSchema.describe('Against the committed avails: what a commit would do (preview) or did (commit).'),
    expiresAt: TimestampSchema.nullable().describe('Until when a preview can be committed; null after a commit.'),
    workItemId: z.string().nullable().describe('The CONFIRM_AVAILS work item opened for the preview (null when it has errors) or completed by the commit.'),
    projection: RuntimeProjectionSchema,
  })
  .meta({ id: 'AvailsFeedResponse' })

export type AvailsFeedResponse = z.output<typeof AvailsFeedResponseSchema>
