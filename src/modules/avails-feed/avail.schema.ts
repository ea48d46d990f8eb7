import { z } from 'zod'
import type { AvailFeedField } from '../../db/avail-columns.ts'
import type { RowIssue } from '../../shared/errors.ts'
import { MEASUREMENT_WINDOW_IDS, type MeasurementWindow } from '../../shared/measurement-windows.ts'
import { FLAT_RATE_UNITS } from '../../shared/flat-rate.ts'

/**
 * Shapes of the avails feed: what an operator (or the assistant) sends, and the
 * normalized avail every input format ends up as (reference §2.15).
 *
 * `AvailInputSchema` documents the JSON row for OpenAPI. It is deliberately not used to
 * reject a request: the feed parser validates each row itself so that a bad row becomes
 * a `{row, field, message}` entry instead of a thrown schema error.
 */

/** The normalized avail fields, in the order the reference lists them: the one column list's. */
export type AvailField = AvailFeedField

/** Fields holding one value (everything except the two free-form objects). */
export type AvailScalarField = Exclude<AvailField, 'targeting' | 'sourceMetadata'>

const JsonObjectSchema = z.record(z.string(), z.unknown())

/** Accepts what spreadsheets and assistants produce: `1500000`, `"1,500,000"`, `"1.500.000"`. */
const LooseIntegerSchema = z.union([z.number().int().min(0), z.string()])
const LooseNumberSchema = z.union([z.number().min(0), z.string()])
/** ISO date-time, `YYYY-MM-DD`, or an Excel serial day number. */
const LooseDateSchema = z.union([z.string(), z.number()])

export const AvailInputSchema = z
  .object({
    availId: z.union([z.string(), z.number()]).describe('Seller key of the avail; the feed upserts by it.'),
    collectionId: z.string().optional().describe('Defaults to the slug of collectionName.'),
    collectionName: z.string().optional().describe('Defaults to collectionId.'),
    collectionDescription: z.string().nullable().optional(),
    name: z.string(),
    channel: z.string().nullable().optional(),
    startTime: LooseDateSchema.describe('ISO-8601 date-time, or YYYY-MM-DD meaning 00:00:00Z.'),
    endTime: LooseDateSchema.describe('ISO-8601 date-time, or YYYY-MM-DD meaning 23:59:59Z.'),
    impressionsCapacity: LooseIntegerSchema.describe('Net sellable impressions (upstream bookings already removed).'),
    upstreamBookedImpressions: LooseIntegerSchema.optional().describe(
      'Metadata only; may also be sent inside sourceMetadata.',
    ),
    cpm: LooseNumberSchema.nullable().optional(),
    currency: z.string().optional().describe('ISO 4217 code; defaults to USD.'),
    flatRate: LooseNumberSchema.nullable().optional().describe('A flat price next to (or instead of) the CPM, per spot or per package (flatRateUnit).'),
    flatRateUnit: z.enum(FLAT_RATE_UNITS).nullable().optional().describe('What the flat rate buys: one spot (spotCount spots share the capacity) or the whole avail. Required with flatRate.'),
    spotCount: LooseIntegerSchema.nullable().optional().describe('The spots the avail is; required with flatRateUnit spot.'),
    measurementWindows: z.union([z.array(z.string()), z.string()]).optional().describe('The measurement windows the seller reports in: live, c3, c7 (a list, or text such as "live, c3, c7").'),
    targeting: JsonObjectSchema.optional(),
    sourceMetadata: JsonObjectSchema.optional(),
  })
  .meta({ id: 'AvailInput' })

export type AvailInput = z.input<typeof AvailInputSchema>

export const NormalizedAvailSchema = z
  .object({
    availId: z.string(),
    collectionId: z.string(),
    collectionName: z.string(),
    collectionDescription: z.string().nullable(),
    name: z.string(),
    channel: z.string().nullable(),
    startTime: z.iso.datetime({ offset: false }),
    endTime: z.iso.datetime({ offset: false }),
    impressionsCapacity: z.number().int().min(0),
    upstreamBookedImpressions: z.number().int().min(0),
    cpm: z.number().min(0).nullable(),
    currency: z.string().regex(/^[A-Z]{3}$/),
    flatRate: z.number().positive().nullable(),
    flatRateUnit: z.enum(FLAT_RATE_UNITS).nullable(),
    spotCount: z.number().int().min(1).nullable(),
    measurementWindows: z.array(z.enum(MEASUREMENT_WINDOW_IDS as [MeasurementWindow, ...MeasurementWindow[]])),
    targeting: JsonObjectSchema,
    sourceMetadata: JsonObjectSchema,
  })
  .meta({ id: 'NormalizedAvail' })

export type NormalizedAvail = z.infer<typeof NormalizedAvailSchema>

/** The TV terms of an avail that has none: priced by CPM only, reported without windows. */
export function noTvTerms(): Pick<NormalizedAvail, 'flatRate' | 'flatRateUnit' | 'spotCount' | 'measurementWindows'> {
  return { flatRate: null, flatRateUnit: null, spotCount: null, measurementWindows: [] }
}

// The normalized avail has exactly the fields of the one column list (db/avail-columns.ts): a field
// added to one and not the other does not compile.
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const _fieldsMatchColumns: SameKeys<keyof NormalizedAvail, AvailField> = true

/** A problem that blocks a commit. `row` is the row number the operator sees. */
export type RowError = RowIssue

export const RowErrorSchema = z
  .object({ row: z.number().int(), field: z.string(), message: z.string() })
  .meta({ id: 'AvailFeedRowError' })

/**
 * Warning codes. Closed, like the error reasons: add a line (saying when it is used)
 * before emitting a new one.
 */
export const rowWarningCodes = {
  AVAIL_ENDED: 'The avail ends before now, so it will not be sellable.',
  CAPACITY_FLOORED: 'The capacity was raised to the impressions already held or booked.',
} as const

export type RowWarningCode = keyof typeof rowWarningCodes

/** Something the operator should see; never blocks a commit. */
export interface RowWarning {
  row: number
  availId: string
  code: RowWarningCode
  message: string
}

export const RowWarningSchema = z
  .object({
    row: z.number().int(),
    availId: z.string(),
    code: z.enum(Object.keys(rowWarningCodes) as [RowWarningCode, ...RowWarningCode[]]),
    message: z.string(),
  })
  .meta({ id: 'AvailFeedRowWarning' })
