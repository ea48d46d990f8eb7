import { z } from 'zod'
import { errorCodeMeanings, errorReasons, errorStatus, type ErrorCode, type ErrorReason } from './errors.ts'

/** Storefront-scoped slug used in every path. */
export const SOURCE_ID_PATTERN = /^[a-z0-9_-]{1,255}$/

/**
 * Names and ids are shown in terminals and copied into the Cadent XML, so they refuse every control
 * character (Unicode Cc: C0, DEL and C1, which includes the ESC of terminal escapes).
 */
const CONTROL_CHARACTER = /\p{Cc}/u
// Tab, line feed and carriage return are ordinary in notes and reasons, never in a name or an id.
const CONTROL_CHARACTER_EXCEPT_LINE_BREAKS = /(?![\t\n\r])\p{Cc}/u

// In a u-mode regex a surrogate pair is one code point, so \p{Cs} matches only unpaired halves.
const LONE_SURROGATE = /\p{Cs}/u

export const CONTROL_CHARACTER_MESSAGE = 'must not contain control characters'

/** Whether the text holds a control character (line breaks and tabs included). */
export function hasControlCharacter(text: string): boolean {
  return CONTROL_CHARACTER.test(text)
}

/**
 * Whether a string can be stored as PostgreSQL text: no U+0000 (text and jsonb refuse it) and no
 * lone UTF-16 surrogate (not encodable as UTF-8).
 */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text)
}

/** An external identifier (mediaBuyId, packageId, availId, path ids): opaque, but one visible line. */
export function idSchema(max = 255) {
  return z
    .string()
    .min(1)
    .max(max)
    .refine((text) => !CONTROL_CHARACTER.test(text), CONTROL_CHARACTER_MESSAGE)
    .refine((text) => /\S/.test(text), 'must not be blank')
}

/** `avail:<availId>`, the product id of an avail, with the availId rules of idSchema. */
export function productIdSchema() {
  return idSchema(6 + 255).regex(/^avail:(?=.*\S).{1,255}$/, 'must be avail:<availId>')
}

/**
 * A display name or label: one line, trimmed, not blank. Control characters are refused before the
 * trim, so a trailing line break is an error rather than silently dropped.
 */
export function nameSchema(max = 255) {
  return z
    .string()
    .refine((text) => !CONTROL_CHARACTER.test(text), CONTROL_CHARACTER_MESSAGE)
    .trim()
    .min(1, 'must not be blank')
    .max(max)
}

/** Free text (notes, reasons, descriptions): line breaks and tabs allowed, other control characters not. */
export function noteSchema(max: number) {
  return z
    .string()
    .max(max)
    .refine((text) => !CONTROL_CHARACTER_EXCEPT_LINE_BREAKS.test(text), 'must not contain control characters other than tab and line breaks')
}

export const SourceIdSchema = z
  .string()
  .regex(SOURCE_ID_PATTERN, 'must be 1-255 lowercase letters, digits, dashes or underscores')

/**
 * An enum accepted in any letter case (older docs and SDKs send lower case) and always
 * emitted upper case.
 */
export function caseInsensitiveEnum<const T extends readonly [string, ...string[]]>(values: T) {
  return z.preprocess((value) => (typeof value === 'string' ? value.toUpperCase() : value), z.enum(values))
}

/** ISO-8601 UTC timestamp ending in Z, as every response emits. */
export const TimestampSchema = z.iso.datetime({ offset: false })

const errorCodes = Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]]
const reasons = Object.keys(errorReasons) as [ErrorReason, ...ErrorReason[]]

/** The closed catalog of error codes (src/shared/errors.ts), one HTTP status each. */
export const ErrorCodeSchema = z
  .enum(errorCodes)
  .meta({ id: 'ErrorCode', description: errorCodes.map((code) => `- ${code} (${errorStatus[code]}): ${errorCodeMeanings[code]}`).join('\n') })

/** The closed catalog of `details.reason` sub-codes (src/shared/errors.ts). */
export const ErrorReasonSchema = z
  .enum(reasons)
  .meta({ id: 'ErrorReason', description: reasons.map((reason) => `- ${reason}: ${errorReasons[reason]}`).join('\n') })

const ErrorDetailsSchema = z
  .looseObject({
    reason: ErrorReasonSchema.optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional().describe('Each invalid field, parameter or header, by path.'),
    rows: z.array(z.object({ row: z.number().int(), field: z.string(), message: z.string() })).optional().describe('Each invalid feed or report row, by the row number the operator sees.'),
    retryAfterSeconds: z.number().int().optional().describe('With RATE_LIMITED: the Retry-After header as a number.'),
  })
  .meta({ id: 'ErrorDetails', description: 'Machine-readable detail; reason, issues and rows are the common keys, and a reason may add its own (e.g. availableImpressions).' })

const errorObject = (code: z.ZodType<ErrorCode>) => z.object({ code, message: z.string(), details: ErrorDetailsSchema.optional() })

/** The error envelope of every REST error answer, any code. */
export const ErrorBodySchema = z
  .object({ data: z.null(), error: errorObject(ErrorCodeSchema) })
  .meta({ id: 'ErrorBody' })

/** `NOT_FOUND` -> `NotFoundError`, `VALIDATION_ERROR` -> `ValidationError`. */
function errorBodyId(code: ErrorCode): string {
  const pascal = code.toLowerCase().replace(/(^|_)([a-z])/g, (_match, _sep, letter: string) => letter.toUpperCase())
  return pascal.endsWith('Error') ? pascal : `${pascal}Error`
}

const errorBodies = new Map<ErrorCode, z.ZodType>()

/**
 * The error envelope of one code: the same shape as ErrorBody with `code` fixed, so a route's
 * answer for a status has the one code the catalog gives that status.
 */
export function errorBodySchemaOf(code: ErrorCode): z.ZodType {
  let schema = errorBodies.get(code)
  if (!schema) {
    schema = z.object({ data: z.null(), error: errorObject(z.literal(code)) }).meta({ id: errorBodyId(code), description: `${code}: ${errorCodeMeanings[code]}` })
    errorBodies.set(code, schema)
  }
  return schema
}

/** Turns a display name into a sourceId: lower case, runs of other characters become one dash. */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 255)
}

export const PaginationQuerySchema = z.object({
  take: z.coerce.number().int().min(1).max(200).default(100),
  skip: z.coerce.number().int().min(0).default(0),
})
