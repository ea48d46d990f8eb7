import { z } from 'zod'

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

export const ErrorBodySchema = z
  .object({
    data: z.null(),
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({ id: 'ErrorBody' })

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
