import { parse } from 'csv-parse/sync'
import { StorefrontError, type RowIssue } from '../../shared/errors.ts'
import { isMeasurementWindow, MEASUREMENT_WINDOW_IDS, windowRank, type MeasurementWindow } from '../../shared/measurement-windows.ts'

/**
 * Final delivery reports (SPEC §3, UPLOAD_FINAL_REPORT): CSV text with a header row, or JSON rows,
 * of `date, impressions, spend?, clicks?, completedViews?, measurementWindow?, isFinal?, supersedesWindow?`
 * (the last three for TV: the window the report was measured in, whether the seller calls it final,
 * and the narrower window it replaces). Like the avails feed, every bad row is
 * reported as `{row, field, message}` and nothing is imported while any row is bad.
 */

export interface DeliveryReportRow {
  /** YYYY-MM-DD (UTC calendar day). */
  date: string
  impressions: number
  spend: number | null
  clicks: number | null
  completedViews: number | null
  /** Present only when the report names one: a report without the TV columns reads as before. */
  measurementWindow?: MeasurementWindow
  isFinal?: boolean
  supersedesWindow?: MeasurementWindow
}

export type ReportField = keyof DeliveryReportRow

/** The UTC calendar days a line runs on, inclusive: a row dated outside them is refused. */
export interface ReportFlight {
  firstDate: string
  lastDate: string
}

/** The days of a flight from its instants; a flight ending at midnight does not run on that day. */
export function flightDays(startTime: Date, endTime: Date): ReportFlight {
  const lastInstant = endTime.getTime() > startTime.getTime() ? endTime.getTime() - 1 : endTime.getTime()
  return { firstDate: startTime.toISOString().slice(0, 10), lastDate: new Date(lastInstant).toISOString().slice(0, 10) }
}

/** Most rows one report may carry: a year of days per line, with room to spare. */
export const MAX_REPORT_ROWS = 10_000

/** Header spellings, compared without case, spaces, dashes and underscores. */
const HEADER_ALIASES: Record<string, ReportField> = {
  date: 'date',
  day: 'date',
  deliverydate: 'date',
  impressions: 'impressions',
  imps: 'impressions',
  impression: 'impressions',
  deliveredimpressions: 'impressions',
  spend: 'spend',
  cost: 'spend',
  revenue: 'spend',
  clicks: 'clicks',
  click: 'clicks',
  completedviews: 'completedViews',
  completes: 'completedViews',
  completions: 'completedViews',
  videocompletions: 'completedViews',
  measurementwindow: 'measurementWindow',
  window: 'measurementWindow',
  isfinal: 'isFinal',
  final: 'isFinal',
  supersedeswindow: 'supersedesWindow',
  supersedes: 'supersedesWindow',
}

function fieldOfHeader(header: string): ReportField | undefined {
  return HEADER_ALIASES[header.toLowerCase().replace(/[\s_-]+/g, '')]
}

type DecimalStyle = 'dot' | 'comma'

export class ReportRowErrors extends StorefrontError {
  constructor(rows: RowIssue[]) {
    super('VALIDATION_ERROR', `The report has ${rows.length} error(s); nothing was imported`, { reason: 'REPORT_ROW_ERRORS', rows })
  }
}

/**
 * Parses `result.report`. Rows are numbered as the operator sees them: CSV rows as a spreadsheet
 * shows them (the header is row 1), JSON rows from 1. With `flight`, a row dated outside the line's
 * flight is a row error: delivery cannot have happened then. Throws ReportRowErrors (400).
 */
export function parseDeliveryReport(report: unknown, flight?: ReportFlight): DeliveryReportRow[] {
  if (typeof report === 'string') return parseCsvReport(report, flight)
  if (Array.isArray(report)) return checkRows(report.map((raw, index) => ({ row: index + 1, raw: rawFromJson(raw) })), 'dot', flight)
  throw new ReportRowErrors([{ row: 0, field: 'report', message: 'must be CSV text or an array of rows' }])
}

type RawRow = { row: number; raw: Partial<Record<ReportField, unknown>> | null }

function rawFromJson(value: unknown): RawRow['raw'] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  const raw: Partial<Record<ReportField, unknown>> = {}
  for (const [key, cell] of Object.entries(value)) {
    const field = fieldOfHeader(key)
    if (field && raw[field] === undefined) raw[field] = cell
  }
  return raw
}

function parseCsvReport(text: string, flight: ReportFlight | undefined): DeliveryReportRow[] {
  const body = text.replace(/^\ufeff/, '')
  const firstLine = body.split(/\r?\n/, 1)[0] ?? ''
  const delimiter = [';', '\t', ','].map((candidate) => ({ candidate, count: firstLine.split(candidate).length }))
    .sort((a, b) => b.count - a.count)[0]!.candidate
  let records: string[][]
  try {
    records = parse(body, { delimiter, relax_column_count: true, skip_empty_lines: false, trim: true, max_record_size: 64 * 1024 }) as string[][]
  } catch (error) {
    const line = (error as { lines?: number }).lines ?? 0
    throw new ReportRowErrors([{ row: line, field: 'report', message: `is not readable CSV: ${(error as Error).message}` }])
  }
  const header = records[0]
  if (!header || header.every((cell) => cell === '')) {
    throw new ReportRowErrors([{ row: 1, field: 'report', message: 'has no header row' }])
  }
  const columns = header.map(fieldOfHeader)
  const missing = (['date', 'impressions'] as const).filter((field) => !columns.includes(field))
  if (missing.length > 0) {
    throw new ReportRowErrors(missing.map((field) => ({ row: 1, field, message: `column is missing (header: ${header.join(', ')})` })))
  }
  const rows: RawRow[] = []
  records.slice(1).forEach((cells, index) => {
    if (cells.every((cell) => cell === '')) return
    const raw: Partial<Record<ReportField, unknown>> = {}
    columns.forEach((field, column) => {
      if (field && raw[field] === undefined) raw[field] = cells[column] ?? ''
    })
    rows.push({ row: index + 2, raw })
  })
  // Semicolon-separated files come from locales where the comma is the decimal mark.
  return checkRows(rows, delimiter === ';' ? 'comma' : 'dot', flight)
}

function checkRows(rows: RawRow[], decimalStyle: DecimalStyle, flight: ReportFlight | undefined): DeliveryReportRow[] {
  const errors: RowIssue[] = []
  if (rows.length === 0) errors.push({ row: 0, field: 'report', message: 'has no rows' })
  if (rows.length > MAX_REPORT_ROWS) errors.push({ row: 0, field: 'report', message: `has ${rows.length} rows; at most ${MAX_REPORT_ROWS} are accepted` })
  const firstRowByDate = new Map<string, number>()
  // One report is one measurement window (or none): its first windowed row names it.
  let reportWindow: { row: number; window: MeasurementWindow | null } | undefined
  const parsed: DeliveryReportRow[] = []
  for (const { row, raw } of rows.slice(0, MAX_REPORT_ROWS)) {
    if (raw === null) {
      errors.push({ row, field: 'row', message: 'must be an object' })
      continue
    }
    const rowErrors: RowIssue[] = []
    const problem = (field: ReportField, message: string) => rowErrors.push({ row, field, message })
    const date = readDate(raw.date)
    if (date === undefined) problem('date', 'is required')
    else if (date === null) problem('date', 'must be a date (YYYY-MM-DD)')
    else if (flight && (date < flight.firstDate || date > flight.lastDate)) problem('date', `is outside the line's flight (${flight.firstDate} to ${flight.lastDate})`)
    else if (firstRowByDate.has(date)) problem('date', `repeats the date of row ${firstRowByDate.get(date)}; send one row per day`)
    const impressions = readCount(raw.impressions, decimalStyle)
    if (impressions === undefined) problem('impressions', 'is required')
    else if (impressions === null) problem('impressions', 'must be a whole number of at least 0')
    const spend = readAmount(raw.spend, decimalStyle)
    if (spend === null) problem('spend', 'must be a number of at least 0')
    const clicks = readCount(raw.clicks, decimalStyle)
    if (clicks === null) problem('clicks', 'must be a whole number of at least 0')
    const completedViews = readCount(raw.completedViews, decimalStyle)
    if (completedViews === null) problem('completedViews', 'must be a whole number of at least 0')
    const windows = MEASUREMENT_WINDOW_IDS.join(', ')
    const measurementWindow = readWindow(raw.measurementWindow)
    if (measurementWindow === null) problem('measurementWindow', `must be one of ${windows}`)
    else if (measurementWindow !== undefined || reportWindow !== undefined) {
      const window = measurementWindow ?? null
      if (reportWindow === undefined) reportWindow = { row, window }
      else if (reportWindow.window !== window) {
        problem('measurementWindow', `is ${window ?? 'empty'} but row ${reportWindow.row} is ${reportWindow.window ?? 'empty'}; one report is one measurement window`)
      }
    }
    const isFinal = readBoolean(raw.isFinal)
    if (isFinal === null) problem('isFinal', 'must be true or false')
    else if (isFinal !== undefined && measurementWindow === undefined) problem('isFinal', 'needs a measurementWindow on the row')
    const supersedesWindow = readWindow(raw.supersedesWindow)
    if (supersedesWindow === null) problem('supersedesWindow', `must be one of ${windows}`)
    else if (supersedesWindow !== undefined) {
      if (!measurementWindow) problem('supersedesWindow', 'needs a measurementWindow on the row')
      else if (windowRank(supersedesWindow) >= windowRank(measurementWindow)) problem('supersedesWindow', `must be a narrower window than ${measurementWindow}`)
    }
    if (typeof date === 'string' && !firstRowByDate.has(date)) firstRowByDate.set(date, row)
    if (rowErrors.length > 0) {
      errors.push(...rowErrors)
      continue
    }
    parsed.push({
      date: date!, impressions: impressions!, spend: spend ?? null, clicks: clicks ?? null, completedViews: completedViews ?? null,
      ...(measurementWindow ? { measurementWindow } : {}),
      ...(typeof isFinal === 'boolean' ? { isFinal } : {}),
      ...(supersedesWindow ? { supersedesWindow } : {}),
    })
  }
  if (errors.length > 0) throw new ReportRowErrors(errors)
  return parsed.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0))
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '')
}

/** undefined: absent; null: present but invalid. */
function readDate(value: unknown): string | null | undefined {
  if (isBlank(value)) return undefined
  if (typeof value !== 'string') return null
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(value.trim())
  if (!match) return null
  const [, year, month, day] = match
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)))
  // Reject 2026-02-30 and friends instead of rolling them into March.
  if (date.getUTCFullYear() !== Number(year) || date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) return null
  return `${year}-${month}-${day}`
}

/** A window id, compared without case ("C7" is c7). */
function readWindow(value: unknown): MeasurementWindow | null | undefined {
  if (isBlank(value)) return undefined
  if (typeof value !== 'string') return null
  const id = value.trim().toLowerCase()
  return isMeasurementWindow(id) ? id : null
}

function readBoolean(value: unknown): boolean | null | undefined {
  if (isBlank(value)) return undefined
  if (typeof value === 'boolean') return value
  if (typeof value !== 'string') return null
  const text = value.trim().toLowerCase()
  if (['true', 'yes', 'y', '1'].includes(text)) return true
  if (['false', 'no', 'n', '0'].includes(text)) return false
  return null
}

/** Thousands separators are accepted in the style of the file: "1,234,567" or "1.234.567" on semicolon files. */
function readNumber(value: unknown, decimalStyle: DecimalStyle): number | null | undefined {
  if (isBlank(value)) return undefined
  if (typeof value === 'number') return Number.isFinite(value) ? value : null
  if (typeof value !== 'string') return null
  let text = value.trim().replace(/[\s\u00a0]/g, '').replace(/^[$€£]/, '')
  if (decimalStyle === 'comma') text = text.replace(/\.(?=\d{3}(\D|$))/g, '').replace(',', '.')
  else text = text.replace(/,(?=\d{3}(\D|$))/g, '')
  if (!/^-?\d+(\.\d+)?$/.test(text)) return null
  return Number(text)
}

function readCount(value: unknown, decimalStyle: DecimalStyle): number | null | undefined {
  const number = readNumber(value, decimalStyle)
  if (number === undefined || number === null) return number
  return Number.isSafeInteger(number) && number >= 0 ? number : null
}

function readAmount(value: unknown, decimalStyle: DecimalStyle): number | null | undefined {
  const number = readNumber(value, decimalStyle)
  if (number === undefined || number === null) return number
  // spend is numeric(14, 4): round to what is stored rather than refuse a long fraction.
  return number >= 0 && number < 1e10 ? Math.round(number * 1e4) / 1e4 : null
}
