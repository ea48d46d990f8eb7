import { textProblem } from './feed-limits.ts'
import { FLAT_RATE_UNITS, type FlatRateUnit } from '../../shared/flat-rate.ts'
import { isMeasurementWindow, MEASUREMENT_WINDOW_IDS, sortedWindows, type MeasurementWindow } from '../../shared/measurement-windows.ts'

/**
 * Reading single cell values the way sellers' spreadsheets write them: numbers with
 * thousands separators and currency symbols, dates as ISO text, Excel serial day numbers
 * or Date cells. Every reader returns a result instead of throwing, so the caller can turn
 * a bad value into a row error.
 */

/** A cell whose value cannot be used, such as `#N/A`; `problem` completes "<field> ...". */
export class CellError {
  constructor(readonly problem: string) {}

  static errorValue(text: string): CellError {
    return new CellError(`holds the spreadsheet error ${text}`)
  }
}

/** One cell as the readers deliver it: CSV gives strings, XLSX and JSON give the rest. */
export type CellValue = string | number | boolean | Date | CellError | null | undefined

export type ValueResult<T> = { ok: true; value: T } | { ok: false; message: string }

/**
 * How a lone separator followed by exactly three digits (`1,500`, `1.500`) is read.
 * `dot`: `.` is the decimal mark (US/UK, JSON, comma-separated CSV).
 * `comma`: `,` is the decimal mark (semicolon-separated CSV, as European Excel exports).
 */
export type DecimalStyle = 'dot' | 'comma'

const ok = <T>(value: T): ValueResult<T> => ({ ok: true, value })
const invalid = <T>(message: string): ValueResult<T> => ({ ok: false, message })

export function isBlank(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && value.trim() === '')
}

/** Quotes a raw value for a message without echoing an unbounded cell. */
export function describeValue(value: unknown): string {
  const text = value instanceof Date ? value.toISOString() : value instanceof CellError ? value.problem : String(value)
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text)
}

export function readText(value: CellValue | unknown): ValueResult<string | null> {
  if (isBlank(value)) return ok(null)
  if (value instanceof CellError) return invalid(value.problem)
  if (typeof value === 'string') {
    const problem = textProblem(value)
    return problem === null ? ok(value.trim()) : invalid(problem)
  }
  if (typeof value === 'number' && Number.isFinite(value)) return ok(String(value))
  if (typeof value === 'boolean') return ok(String(value))
  if (value instanceof Date && !Number.isNaN(value.getTime())) return ok(formatDateCellAsText(value))
  return invalid('must be text')
}

// Format characters (zero-width space, BOM, direction marks) and control characters show nothing.
const INVISIBLE = /[\s\p{Cc}\p{Cf}]/gu
const CONTROL = /\p{Cc}/u

/**
 * An identifier (availId, collectionId) as the operator sees it. A number keeps its exact
 * digits or is refused: past 2^53 the file's digits are already lost (9007199254740993 reads
 * as ...992), and two avails would silently share an id. An id of only invisible characters
 * is no id, and a control character in one would reach every export of it.
 */
export function readIdentifier(value: CellValue | unknown): ValueResult<string | null> {
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return invalid(`is the number ${String(value)}, too large to keep its exact digits; write ids as text (in a spreadsheet, format the column as Text)`)
  }
  const text = readText(value)
  if (!text.ok || text.value === null) return text
  if (text.value.replace(INVISIBLE, '') === '') return invalid('has no visible characters')
  if (CONTROL.test(text.value)) return invalid(`contains a control character: ${describeValue(text.value)}`)
  return text
}

/** A date cell typed into a text column (say an avail id like 2026-07): keep what the operator sees. */
function formatDateCellAsText(date: Date): string {
  const iso = date.toISOString()
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso
}

// Currency marks tolerated around amounts. Only unambiguous symbols imply a currency:
// `$` is used by USD, CAD, AUD and others, so it implies nothing.
const currencyBySymbol: Record<string, string | null> = { '$': null, '€': 'EUR', '£': 'GBP', '¥': null }
// Codes accepted next to an amount (`USD 22`, `22 EUR`); other letters make it unreadable
// rather than silently inventing a currency.
const knownCurrencyCodes = new Set([
  'USD', 'EUR', 'GBP', 'CAD', 'AUD', 'NZD', 'JPY', 'CHF', 'SEK', 'NOK', 'DKK', 'PLN', 'CZK',
  'ZAR', 'INR', 'BRL', 'MXN', 'SGD', 'HKD', 'CNY', 'AED', 'SAR', 'TRY', 'KRW',
])
const LEADING_CURRENCY = /^([$€£¥]|[A-Za-z]{3}(?=[\s\d$€£¥.,-]))\s*/
const TRAILING_CURRENCY = /\s*([$€£¥]|(?<=[\d\s])[A-Za-z]{3})$/
// Spaces, no-break spaces and apostrophes group thousands only in exact groups of three.
const SPACE_GROUPED = /^\d{1,3}(?:[ \u00a0\u202f\u2009'’]\d{3})+(?:[.,]\d+)?$/
const SCIENTIFIC = /^\d+(?:\.\d+)?[eE][+-]?\d+$/

export interface ParsedAmount {
  value: number
  /** The currency implied by a symbol or code written next to the amount, if any. */
  impliedCurrency: string | null
  /**
   * True when a lone separator before exactly three digits was read as the decimal mark
   * (`1.000` in dot style). Fine for a price; for a count it is almost surely a thousand.
   */
  separatorCouldGroupThousands: boolean
}

/**
 * Reads a number written by a person: `1,500,000`, `1.500.000`, `1 500 000`, `$22.50`,
 * `22,50 €`, `1.5E+06`, `(1,000)` (accounting negative). Ambiguity is settled by the
 * separator count and position first, and by `style` only for a lone separator followed
 * by exactly three digits.
 */
export function readAmount(value: CellValue | unknown, style: DecimalStyle): ValueResult<ParsedAmount | null> {
  if (isBlank(value)) return ok(null)
  if (value instanceof CellError) return invalid(value.problem)
  if (typeof value === 'number') {
    return Number.isFinite(value)
      ? ok({ value, impliedCurrency: null, separatorCouldGroupThousands: false })
      : invalid('must be a finite number')
  }
  if (typeof value !== 'string') return invalid(`must be a number, got ${describeValue(value)}`)

  let text = value.trim()
  let negative = false
  if (/^\(.*\)$/.test(text)) {
    negative = true
    text = text.slice(1, -1).trim()
  }
  if (/^[-\u2212]/.test(text)) {
    negative = !negative
    text = text.slice(1).trim()
  }
  let impliedCurrency: string | null = null
  for (const pattern of [LEADING_CURRENCY, TRAILING_CURRENCY]) {
    const match = pattern.exec(text)
    if (!match?.[1]) continue
    const mark = match[1]
    const isSymbol = mark in currencyBySymbol
    if (!isSymbol && !knownCurrencyCodes.has(mark.toUpperCase())) continue
    impliedCurrency = isSymbol ? (currencyBySymbol[mark] ?? null) : mark.toUpperCase()
    text = text.replace(pattern, '')
  }
  if (/^[-\u2212]/.test(text)) {
    // `$-22.50` puts the sign after the symbol.
    negative = !negative
    text = text.slice(1)
  }
  if (SPACE_GROUPED.test(text)) text = text.replace(/[ \u00a0\u202f\u2009'’]/g, '')

  const number = parseSeparatedNumber(text, style)
  if (number === null) return invalid(`must be a number, got ${describeValue(value)}`)
  if (!Number.isFinite(number.value)) return invalid(`is too large, got ${describeValue(value)}`)
  return ok({ value: negative ? -number.value : number.value, impliedCurrency, separatorCouldGroupThousands: number.couldGroup })
}

function parseSeparatedNumber(text: string, style: DecimalStyle): { value: number; couldGroup: boolean } | null {
  if (SCIENTIFIC.test(text)) return { value: Number(text), couldGroup: false }
  if (!/^[\d.,]+$/.test(text) || !/\d/.test(text)) return null

  const commas = text.split(',').length - 1
  const dots = text.split('.').length - 1
  let thousands: string | null = null
  let decimal: string | null = null
  let couldGroup = false
  if (commas > 0 && dots > 0) {
    // Both present: whichever comes last is the decimal mark (1,500.25 or 1.500,25).
    decimal = text.lastIndexOf(',') > text.lastIndexOf('.') ? ',' : '.'
    thousands = decimal === ',' ? '.' : ','
  } else if (commas + dots > 0) {
    const separator = commas > 0 ? ',' : '.'
    if (commas + dots > 1) {
      thousands = separator
    } else {
      const [before = '', after = ''] = text.split(separator)
      const couldGroupThousands = after.length === 3 && /^[1-9]\d{0,2}$/.test(before)
      const styleSaysThousands = (style === 'dot' && separator === ',') || (style === 'comma' && separator === '.')
      if (couldGroupThousands && styleSaysThousands) thousands = separator
      else decimal = separator
      couldGroup = couldGroupThousands && !styleSaysThousands
    }
  }

  const decimalIndex = decimal === null ? -1 : text.lastIndexOf(decimal)
  const integerPart = decimalIndex === -1 ? text : text.slice(0, decimalIndex)
  const fractionPart = decimalIndex === -1 ? '' : text.slice(decimalIndex + 1)
  if (decimal !== null && !/^\d+$/.test(fractionPart)) return null
  if (thousands !== null) {
    const grouped = new RegExp(`^\\d{1,3}(?:\\${thousands}\\d{3})+$`)
    if (!grouped.test(integerPart)) return null
  } else if (!/^\d*$/.test(integerPart) || (integerPart === '' && decimal === null)) {
    return null
  }
  const digits = thousands === null ? integerPart : integerPart.split(thousands).join('')
  return { value: Number(`${digits || '0'}${fractionPart ? `.${fractionPart}` : ''}`), couldGroup }
}

/** A count of impressions: a non-negative whole number. */
export function readCount(value: CellValue | unknown, style: DecimalStyle): ValueResult<number | null> {
  const amount = readAmount(value, style)
  if (!amount.ok || amount.value === null) return amount as ValueResult<null>
  const { value: number, impliedCurrency, separatorCouldGroupThousands } = amount.value
  if (impliedCurrency !== null || (typeof value === 'string' && /[$€£¥]/.test(value))) {
    return invalid(`must be a number of impressions, got ${describeValue(value)}`)
  }
  if (separatorCouldGroupThousands) {
    return invalid(`is ambiguous: ${describeValue(value)} reads as a decimal here; write the count without separators`)
  }
  if (!Number.isInteger(number)) return invalid(`must be a whole number, got ${describeValue(value)}`)
  if (number < 0) return invalid(`must not be negative, got ${describeValue(value)}`)
  if (!Number.isSafeInteger(number)) return invalid(`is too large, got ${describeValue(value)}`)
  return ok(number)
}

export function readCurrencyCode(value: CellValue | unknown): ValueResult<string | null> {
  const text = readText(value)
  if (!text.ok || text.value === null) return text
  const code = text.value.toUpperCase()
  if (!/^[A-Z]{3}$/.test(code)) return invalid(`must be a 3-letter ISO 4217 code such as USD, got ${describeValue(value)}`)
  return ok(code)
}

// ---------------------------------------------------------------------------------------
// Dates

/** Which end of a flight a value is: a date without a time covers the whole day. */
export type FlightBoundary = 'start' | 'end'

const DAY_MS = 86_400_000
// Excel's 1900 date system counts days from 1899-12-30 (it keeps Lotus's fictitious
// 1900-02-29, which only shifts serials below 61: irrelevant for avails).
const EXCEL_EPOCH_MS = Date.UTC(1899, 11, 30)
const MAX_EXCEL_SERIAL = 2_958_465 // 9999-12-31
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i
const SLASH_DATE_YEAR_FIRST = /^(\d{4})\/(\d{1,2})\/(\d{1,2})$/
const SLASH_DATE_YEAR_LAST = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/
const DOT_DATE = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/
const SERIAL_TEXT = /^\d{5}(?:\.\d+)?$/

const DATE_HELP = 'use YYYY-MM-DD or an ISO-8601 date-time'

/**
 * Reads a flight boundary and returns it as an ISO-8601 UTC string.
 *
 * Accepted: ISO date-time (an offset is converted to UTC; none means UTC), `YYYY-MM-DD`,
 * `YYYY/MM/DD`, `DD.MM.YYYY` (day first, as everywhere dots are used), `DD/MM/YYYY` or
 * `MM/DD/YYYY` only when unambiguous (one part above 12, or both equal), Excel serial
 * day numbers (from 5 digits) and Date cells. `07/01/2026` is ambiguous and is an error,
 * never a guess. A value without a time means the whole day: 00:00:00.000Z as a start,
 * 23:59:59.000Z as an end. Spreadsheet times are rounded to the second because Excel
 * stores them as binary fractions of a day.
 */
export function readFlightTime(value: CellValue | unknown, boundary: FlightBoundary): ValueResult<string | null> {
  if (isBlank(value)) return ok(null)
  if (value instanceof CellError) return invalid(value.problem)
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return invalid('is not a valid date')
    return ok(boundaryTime(roundToSecond(value.getTime()), boundary))
  }
  if (typeof value === 'number') return readExcelSerial(value, boundary, value)
  if (typeof value !== 'string') return invalid(`must be a date, got ${describeValue(value)}`)

  const text = value.trim()
  if (SERIAL_TEXT.test(text)) return readExcelSerial(Number(text), boundary, value)

  const iso = ISO_DATE_TIME.exec(text)
  if (iso) {
    const [, year, month, day, hour, minute, second = '0', fraction = '', zone] = iso
    const dayMs = calendarDay(Number(year), Number(month), Number(day))
    if (dayMs === null) return invalid(`is not a real calendar date: ${describeValue(value)}`)
    if (hour === undefined || minute === undefined) return ok(dayBoundary(dayMs, boundary))
    if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) {
      return invalid(`has an impossible time: ${describeValue(value)}`)
    }
    const millis = Math.round(Number(`0.${fraction || '0'}`) * 1000)
    const offsetMs = zoneOffsetMs(zone)
    if (offsetMs === null) return invalid(`has an unreadable UTC offset: ${describeValue(value)}`)
    const time = dayMs + ((Number(hour) * 60 + Number(minute)) * 60 + Number(second)) * 1000 + millis - offsetMs
    return ok(new Date(time).toISOString())
  }

  const yearFirst = SLASH_DATE_YEAR_FIRST.exec(text)
  if (yearFirst) return readDayParts(Number(yearFirst[1]), Number(yearFirst[2]), Number(yearFirst[3]), boundary, value)
  const dotted = DOT_DATE.exec(text)
  if (dotted) return readDayParts(Number(dotted[3]), Number(dotted[2]), Number(dotted[1]), boundary, value)
  const yearLast = SLASH_DATE_YEAR_LAST.exec(text)
  if (yearLast) {
    const first = Number(yearLast[1])
    const second = Number(yearLast[2])
    const year = Number(yearLast[3])
    if (first > 12) return readDayParts(year, second, first, boundary, value)
    if (second > 12 || first === second) return readDayParts(year, first, second, boundary, value)
    return invalid(`is ambiguous: ${describeValue(value)} could be day/month or month/day; ${DATE_HELP}`)
  }
  return invalid(`is not a date: ${describeValue(value)}; ${DATE_HELP}`)
}

function readDayParts(year: number, month: number, day: number, boundary: FlightBoundary, raw: unknown) {
  const dayMs = calendarDay(year, month, day)
  if (dayMs === null) return invalid<string>(`is not a real calendar date: ${describeValue(raw)}`)
  return ok(dayBoundary(dayMs, boundary))
}

function readExcelSerial(serial: number, boundary: FlightBoundary, raw: unknown): ValueResult<string> {
  if (!Number.isFinite(serial) || serial < 1 || serial > MAX_EXCEL_SERIAL) {
    return invalid(`is not a date: ${describeValue(raw)}; ${DATE_HELP}`)
  }
  return ok(boundaryTime(roundToSecond(EXCEL_EPOCH_MS + serial * DAY_MS), boundary))
}

/** Midnight exactly means "a date without a time", so an end covers that whole day. */
function boundaryTime(time: number, boundary: FlightBoundary): string {
  return time % DAY_MS === 0 ? dayBoundary(time, boundary) : new Date(time).toISOString()
}

function dayBoundary(dayMs: number, boundary: FlightBoundary): string {
  return new Date(boundary === 'start' ? dayMs : dayMs + DAY_MS - 1000).toISOString()
}

function roundToSecond(time: number): number {
  return Math.round(time / 1000) * 1000
}

function calendarDay(year: number, month: number, day: number): number | null {
  if (year < 1900 || month < 1 || month > 12 || day < 1) return null
  const time = Date.UTC(year, month - 1, day)
  return new Date(time).getUTCDate() === day ? time : null
}

function zoneOffsetMs(zone: string | undefined): number | null {
  if (zone === undefined || zone.toUpperCase() === 'Z') return 0
  const match = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)
  if (!match) return null
  const hours = Number(match[2])
  const minutes = Number(match[3] ?? '0')
  if (hours > 14 || minutes > 59) return null
  return (match[1] === '-' ? -1 : 1) * (hours * 60 + minutes) * 60_000
}

/** `spot` / `per spot` / `package` / `per package` (any case): what a flat rate buys. */
export function readFlatRateUnit(value: CellValue | unknown): ValueResult<FlatRateUnit | null> {
  const text = readText(value)
  if (!text.ok || text.value === null) return text as ValueResult<null>
  const word = text.value.toLowerCase().replace(/^per[\s_-]*/, '').trim()
  const unit = FLAT_RATE_UNITS.find((candidate) => candidate === word)
  return unit ? ok(unit) : invalid(`must be ${FLAT_RATE_UNITS.join(' or ')}, got ${describeValue(value)}`)
}

/**
 * The measurement windows a seller reports in: a JSON list of window ids, or text such as
 * `live, c3, c7` / `Live+C3+C7` (any case; separated by commas, semicolons, `|`, `/`, `+` or spaces).
 * Kept in the list's order, each once; blank is none.
 */
export function readMeasurementWindows(value: CellValue | unknown): ValueResult<MeasurementWindow[]> {
  if (isBlank(value)) return ok([])
  let words: unknown[]
  if (Array.isArray(value)) words = value
  else {
    const text = readText(value)
    if (!text.ok) return text as ValueResult<never>
    words = (text.value ?? '').split(/[\s,;|/+]+/).filter((word) => word !== '')
  }
  const windows: MeasurementWindow[] = []
  for (const word of words) {
    const id = typeof word === 'string' ? word.trim().toLowerCase() : word
    if (!isMeasurementWindow(id)) return invalid(`must list measurement windows (${MEASUREMENT_WINDOW_IDS.join(', ')}), got ${describeValue(word)}`)
    windows.push(id)
  }
  return ok(sortedWindows(windows))
}
