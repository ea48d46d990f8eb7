import { slugify } from '../../shared/common.schema.ts'
import type { FlatRateUnit } from '../../shared/flat-rate.ts'
import type { AvailScalarField, NormalizedAvail, RowError, RowWarning } from './avail.schema.ts'
import { columnLetter, normalizeHeader, planColumns } from './feed-columns.ts'
import type { ColumnPlan, ColumnResolver } from './feed-columns.ts'
import {
  CellError,
  describeValue,
  isBlank,
  readAmount,
  readCount,
  readCurrencyCode,
  readFlatRateUnit,
  readFlightTime,
  readIdentifier,
  readMeasurementWindows,
  readText,
} from './feed-values.ts'
import { MAX_FEED_COLUMNS, textProblem } from './feed-limits.ts'
import type { CellValue, DecimalStyle, ValueResult } from './feed-values.ts'

/**
 * Turns one feed row, already split into fields by the column plan, into a normalized
 * avail or a list of row errors. Pure: no clock (`now` is passed in), no I/O, and no
 * feed-wide state (duplicate ids are the parser's job).
 *
 * Defaults: a missing `collectionId` is the slug of `collectionName` (`Connected TV` ->
 * `connected-tv`); a missing `collectionName` is the `collectionId` as written. `name` and
 * `availId` never default. `currency` defaults to the currency implied by an unambiguous
 * symbol or code on the cpm (`€`, `£`, `EUR`), else USD. `upstreamBookedImpressions` may
 * come as its own column/key or inside `sourceMetadata` (as the public guide's example
 * sends it); the column wins, and `sourceMetadata` is kept as sent. It defaults to 0.
 */

/** Field name used for problems that concern a whole row rather than one field. */
export const WHOLE_ROW = 'row'

/** A row split into fields, before any value is read. */
export interface RawAvail {
  fields: Partial<Record<AvailScalarField, unknown>>
  targeting: Record<string, unknown>
  sourceMetadata: Record<string, unknown>
}

export interface NormalizeContext {
  /** The row number the operator sees (header = row 1 in a sheet; index + 1 in JSON). */
  row: number
  now: Date
  decimalStyle: DecimalStyle
}

export interface NormalizedRow {
  /** Present only when the row has no errors. */
  avail?: NormalizedAvail
  errors: RowError[]
  warnings: RowWarning[]
}

const MAX_ID_LENGTH = 255
const MAX_NAME_LENGTH = 500
const MAX_DESCRIPTION_LENGTH = 5000
// The cpm column is numeric(14, 4): ten digits before the point.
const MAX_CPM = 9_999_999_999.9999
// Values inside one JSON avail's targeting and sourceMetadata, nested ones included.
const MAX_JSON_VALUES = 10_000

export function emptyRawAvail(): RawAvail {
  return { fields: {}, targeting: {}, sourceMetadata: {} }
}

/**
 * Splits spreadsheet cells by the header plan. A value under a column without a header
 * (or beyond the last header) is an error: it would otherwise vanish unnoticed.
 */
export function rawAvailFromCells(cells: CellValue[], plan: ColumnPlan, row: number): { raw: RawAvail; errors: RowError[] } {
  const raw = emptyRawAvail()
  const errors: RowError[] = []
  cells.forEach((cell, index) => {
    if (isBlank(cell)) return
    const target = plan.targets[index]
    if (!target || target.kind === 'unnamed') {
      errors.push({ row, field: WHOLE_ROW, message: `Column ${columnLetter(index)} has a value but no header` })
      return
    }
    if (target.kind === 'ignore') return
    if (target.kind === 'field') raw.fields[target.field] = cell
    else placeFreeFormValue(raw, target.kind, target.key, cell, row, errors)
  })
  return { raw, errors }
}

/**
 * Reads one JSON row. Keys go through the same resolver as sheet headers, so an assistant
 * that sends `avail_id` or `Impressions` is understood; `targeting` and `sourceMetadata`
 * must be objects and are merged with any `targeting.<key>` keys.
 */
/** `unread`: the row was not split into fields at all; its errors are all there is to say. */
export function rawAvailFromJson(value: unknown, resolver: ColumnResolver, row: number): { raw: RawAvail; errors: RowError[]; unread?: boolean } {
  const raw = emptyRawAvail()
  const errors: RowError[] = []
  if (!isPlainObject(value)) {
    errors.push({ row, field: WHOLE_ROW, message: 'Each avail must be a JSON object' })
    return { raw, errors, unread: true }
  }

  const keyCount = countKeys(value)
  if (keyCount > MAX_FEED_COLUMNS) {
    errors.push({ row, field: WHOLE_ROW, message: `The avail has ${keyCount} fields (targeting and sourceMetadata included); at most ${MAX_FEED_COLUMNS}` })
    return { raw, errors, unread: true }
  }

  const flatKeys: string[] = []
  for (const [key, entry] of Object.entries(value)) {
    const normalized = normalizeHeader(key)
    if (normalized === 'targeting' || normalized === 'sourcemetadata') {
      const field = normalized === 'targeting' ? 'targeting' : 'sourceMetadata'
      if (entry === null || entry === undefined) continue
      if (!isPlainObject(entry)) {
        errors.push({ row, field, message: `${field} must be an object of key-value pairs` })
        continue
      }
      const problem = jsonValueProblem(entry, field)
      if (problem) {
        errors.push({ row, field: problem.path, message: `${problem.path} ${problem.message}` })
        continue
      }
      Object.assign(raw[field], entry)
    } else {
      flatKeys.push(key)
    }
  }

  const plan = planColumns(flatKeys, resolver, { jsonKeys: true })
  for (const conflict of plan.conflicts) errors.push({ row, ...conflict })
  flatKeys.forEach((key, index) => {
    const target = plan.targets[index]
    const entry = value[key]
    if (!target || target.kind === 'ignore' || entry === undefined) return
    if (target.kind === 'unnamed') {
      if (!isBlank(entry)) errors.push({ row, field: WHOLE_ROW, message: 'A value has an empty key' })
      return
    }
    if (target.kind === 'field') {
      raw.fields[target.field] = entry
      return
    }
    if (isBlank(entry)) return
    const keyProblem = textProblem(key)
    // A key that cannot be stored cannot name the field either.
    const problem = keyProblem === null ? jsonValueProblem(entry, `${target.kind}.${target.key}`) : { path: target.kind, message: `has a key that ${keyProblem}` }
    if (problem) errors.push({ row, field: problem.path, message: `${problem.path} ${problem.message}` })
    else raw[target.kind][target.key] = entry
  })
  return { raw, errors }
}

function placeFreeFormValue(
  raw: RawAvail,
  kind: 'targeting' | 'sourceMetadata',
  key: string,
  cell: CellValue,
  row: number,
  errors: RowError[],
): void {
  if (cell instanceof CellError) {
    errors.push({ row, field: `${kind}.${key}`, message: `${kind}.${key} ${cell.problem}` })
    return
  }
  if (typeof cell === 'string' || cell instanceof Date) {
    const text = readText(cell)
    if (text.ok) raw[kind][key] = text.value
    else errors.push({ row, field: `${kind}.${key}`, message: `${kind}.${key} ${text.message}` })
    return
  }
  raw[kind][key] = cell
}

export function normalizeAvail(raw: RawAvail, context: NormalizeContext): NormalizedRow {
  const { row, now, decimalStyle } = context
  const errors: RowError[] = []
  const { fields } = raw

  /** Reads a field; on failure records `<field> <reason>` and returns undefined. */
  function take<T>(field: AvailScalarField, result: ValueResult<T>): T | undefined {
    if (result.ok) return result.value
    errors.push({ row, field, message: `${field} ${result.message}` })
    return undefined
  }
  function required<T>(field: AvailScalarField, value: T | null | undefined, hint = ''): T | undefined {
    if (value === null) errors.push({ row, field, message: `${field} is required${hint}` })
    return value ?? undefined
  }
  function bounded(field: AvailScalarField, value: string | null | undefined, max: number): string | null | undefined {
    if (typeof value === 'string' && value.length > max) {
      errors.push({ row, field, message: `${field} is longer than ${max} characters` })
      return undefined
    }
    return value
  }

  const availId = required('availId', bounded('availId', take('availId', readIdentifier(fields.availId)), MAX_ID_LENGTH))
  const name = required('name', bounded('name', take('name', readText(fields.name)), MAX_NAME_LENGTH))

  const collection = readCollection(raw, row, errors)
  const collectionDescription = bounded(
    'collectionDescription',
    take('collectionDescription', readText(fields.collectionDescription)),
    MAX_DESCRIPTION_LENGTH,
  )
  const channel = bounded('channel', take('channel', readText(fields.channel)), MAX_NAME_LENGTH)

  const startTime = required('startTime', take('startTime', readFlightTime(fields.startTime, 'start')))
  const endTime = required('endTime', take('endTime', readFlightTime(fields.endTime, 'end')))
  if (startTime && endTime && endTime <= startTime) {
    errors.push({ row, field: 'endTime', message: `endTime ${endTime} must be after startTime ${startTime}` })
  }

  const impressionsCapacity = required('impressionsCapacity', take('impressionsCapacity', readCount(fields.impressionsCapacity, decimalStyle)))
  const upstreamBookedSource = isBlank(fields.upstreamBookedImpressions)
    ? raw.sourceMetadata.upstreamBookedImpressions
    : fields.upstreamBookedImpressions
  const upstreamBookedImpressions = take('upstreamBookedImpressions', readCount(upstreamBookedSource, decimalStyle))

  const cpmAmount = take('cpm', readAmount(fields.cpm, decimalStyle))
  if (cpmAmount && cpmAmount.value < 0) {
    errors.push({ row, field: 'cpm', message: `cpm must not be negative, got ${describeValue(fields.cpm)}` })
  } else if (cpmAmount && cpmAmount.value > MAX_CPM) {
    errors.push({ row, field: 'cpm', message: `cpm must be at most ${MAX_CPM}, got ${describeValue(fields.cpm)}` })
  }
  const flat = readFlatRate(fields, { row, decimalStyle, impressionsCapacity }, errors)
  const measurementWindows = take('measurementWindows', readMeasurementWindows(fields.measurementWindows))
  const currencyColumn = take('currency', readCurrencyCode(fields.currency))
  const impliedCurrency = cpmAmount?.impliedCurrency ?? flat?.impliedCurrency ?? null
  for (const [field, implied] of [['cpm', cpmAmount?.impliedCurrency], ['flatRate', flat?.impliedCurrency]] as const) {
    if (implied && ((currencyColumn && currencyColumn !== implied) || (!currencyColumn && implied !== impliedCurrency))) {
      errors.push({ row, field, message: `${field} is written in ${implied} but currency is ${currencyColumn ?? impliedCurrency}` })
    }
  }

  if (errors.length > 0 || !availId || !name || !collection || !startTime || !endTime || impressionsCapacity === undefined) {
    return { errors, warnings: [] }
  }

  const avail: NormalizedAvail = {
    availId,
    collectionId: collection.collectionId,
    collectionName: collection.collectionName,
    collectionDescription: collectionDescription ?? null,
    name,
    channel: channel ?? null,
    startTime,
    endTime,
    impressionsCapacity,
    upstreamBookedImpressions: upstreamBookedImpressions ?? 0,
    cpm: cpmAmount ? cpmAmount.value : null,
    currency: currencyColumn ?? impliedCurrency ?? 'USD',
    flatRate: flat?.flatRate ?? null,
    flatRateUnit: flat?.flatRateUnit ?? null,
    spotCount: flat?.spotCount ?? null,
    measurementWindows: measurementWindows ?? [],
    targeting: raw.targeting,
    sourceMetadata: raw.sourceMetadata,
  }

  const warnings: RowWarning[] = []
  if (Date.parse(endTime) <= now.getTime()) {
    warnings.push({
      row,
      availId,
      code: 'AVAIL_ENDED',
      message: `The avail ended at ${endTime}, so it will not be sellable`,
    })
  }
  return { avail, errors, warnings }
}

/**
 * The flat rate of a TV avail: a price > 0 with its unit (`spot` or `package`), and for a per-spot
 * rate the number of spots the avail is (each at least one impression). Any of the three without
 * what it needs is a row error naming the field; undefined when the row has no flat rate.
 */
function readFlatRate(
  fields: RawAvail['fields'],
  context: { row: number; decimalStyle: DecimalStyle; impressionsCapacity: number | undefined },
  errors: RowError[],
): { flatRate: number; flatRateUnit: FlatRateUnit; spotCount: number | null; impliedCurrency: string | null } | undefined {
  const { row, decimalStyle, impressionsCapacity } = context
  const before = errors.length
  const problem = (field: AvailScalarField, message: string) => errors.push({ row, field, message: `${field} ${message}` })
  const amount = readAmount(fields.flatRate, decimalStyle)
  const unit = readFlatRateUnit(fields.flatRateUnit)
  const spots = readCount(fields.spotCount, decimalStyle)
  if (!amount.ok) problem('flatRate', amount.message)
  else if (amount.value && !(amount.value.value > 0)) problem('flatRate', `must be more than 0, got ${describeValue(fields.flatRate)}`)
  else if (amount.value && amount.value.value > MAX_CPM) problem('flatRate', `must be at most ${MAX_CPM}, got ${describeValue(fields.flatRate)}`)
  if (!unit.ok) problem('flatRateUnit', unit.message)
  if (!spots.ok) problem('spotCount', spots.message)
  if (errors.length > before || !amount.ok || !unit.ok || !spots.ok) return undefined
  if (amount.value && unit.value === null) problem('flatRateUnit', 'is required with flatRate: spot or package')
  if (!amount.value && unit.value !== null) problem('flatRate', `is required with flatRateUnit ${unit.value}`)
  if (unit.value === 'spot' && spots.value === null) problem('spotCount', 'is required with flatRateUnit spot: the number of spots the avail is')
  if (unit.value !== 'spot' && spots.value !== null) problem('spotCount', 'is only for a flatRateUnit of spot')
  if (spots.value !== null && spots.value < 1) problem('spotCount', `must be at least 1, got ${describeValue(fields.spotCount)}`)
  else if (spots.value !== null && impressionsCapacity !== undefined && spots.value > impressionsCapacity) {
    problem('spotCount', `must be at most impressionsCapacity (${impressionsCapacity}): each spot holds at least one impression`)
  }
  if (errors.length > before || !amount.value || unit.value === null) return undefined
  return { flatRate: amount.value.value, flatRateUnit: unit.value, spotCount: spots.value, impliedCurrency: amount.value.impliedCurrency }
}

function readCollection(raw: RawAvail, row: number, errors: RowError[]): { collectionId: string; collectionName: string } | undefined {
  const idResult = readIdentifier(raw.fields.collectionId)
  const nameResult = readText(raw.fields.collectionName)
  if (!idResult.ok) errors.push({ row, field: 'collectionId', message: `collectionId ${idResult.message}` })
  if (!nameResult.ok) errors.push({ row, field: 'collectionName', message: `collectionName ${nameResult.message}` })
  if (!idResult.ok || !nameResult.ok) return undefined

  const collectionName = nameResult.value ?? idResult.value
  const collectionId = idResult.value ?? (nameResult.value === null ? null : slugify(nameResult.value))
  if (collectionId === null || collectionName === null) {
    errors.push({ row, field: 'collectionId', message: 'collectionId or collectionName is required' })
    return undefined
  }
  if (collectionId === '') {
    errors.push({
      row,
      field: 'collectionId',
      message: `collectionId is required: it cannot be derived from collectionName ${describeValue(collectionName)}`,
    })
    return undefined
  }
  if (collectionId.length > MAX_ID_LENGTH || collectionName.length > MAX_NAME_LENGTH) {
    const field = collectionId.length > MAX_ID_LENGTH ? 'collectionId' : 'collectionName'
    errors.push({ row, field, message: `${field} is too long` })
    return undefined
  }
  return { collectionId, collectionName }
}

/** Keys of a JSON avail, counting those inside targeting and sourceMetadata. */
function countKeys(value: Record<string, unknown>): number {
  let count = 0
  for (const [key, entry] of Object.entries(value)) {
    const normalized = normalizeHeader(key)
    const nested = (normalized === 'targeting' || normalized === 'sourcemetadata') && isPlainObject(entry)
    count += nested ? Object.keys(entry).length : 1
  }
  return count
}

/**
 * The first string or key inside a free-form JSON value that cannot be stored (see
 * textProblem), with its path. Walks with an explicit stack, so depth costs no call stack,
 * and gives up past MAX_JSON_VALUES values.
 */
function jsonValueProblem(value: unknown, rootPath: string): { path: string; message: string } | null {
  const stack: { value: unknown; path: string }[] = [{ value, path: rootPath }]
  for (let seen = 0; stack.length > 0; seen += 1) {
    if (seen > MAX_JSON_VALUES) return { path: rootPath, message: `holds more than ${MAX_JSON_VALUES} values` }
    const { value: current, path } = stack.pop()!
    if (typeof current === 'string') {
      const problem = textProblem(current)
      if (problem) return { path, message: problem }
    } else if (Array.isArray(current)) {
      current.forEach((entry, index) => stack.push({ value: entry, path: `${path}[${index}]` }))
    } else if (typeof current === 'object' && current !== null) {
      for (const [key, entry] of Object.entries(current)) {
        const keyProblem = textProblem(key)
        if (keyProblem) return { path, message: `has a key that ${keyProblem}` }
        stack.push({ value: entry, path: `${path}.${key}` })
      }
    }
  }
  return null
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}
