import { z } from 'zod'

/** Storefront-scoped slug used in every path. */
export const SOURCE_ID_PATTERN = /^[a-z0-9_-]{1,255}$/

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
