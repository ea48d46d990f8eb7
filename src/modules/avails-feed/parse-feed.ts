import { createYielder } from '../../shared/event-loop.ts'
import type { AvailScalarField, NormalizedAvail, RowError, RowWarning } from './avail.schema.ts'
import { columnLetter, createColumnResolver, planColumns, suggestedHeaders } from './feed-columns.ts'
import type { ColumnPlan, ColumnResolver } from './feed-columns.ts'
import { isBlank, readText } from './feed-values.ts'
import type { DecimalStyle } from './feed-values.ts'
import { WHOLE_ROW, normalizeAvail, rawAvailFromCells, rawAvailFromJson } from './normalize-avail.ts'
import type { RawAvail } from './normalize-avail.ts'
import { FeedSyntaxError, openCsvRows } from './read-csv-rows.ts'
import type { SheetRow } from './read-csv-rows.ts'
import { readXlsxRows } from './read-xlsx-rows.ts'
import type { XlsxSource } from './read-xlsx-rows.ts'

/**
 * The avails feed parser: every input format (JSON rows, CSV text, CSV file, XLSX) ends up
 * as the same stream of normalized rows, one `ParsedRow` per feed row, so a 100,000-row
 * file is never held in memory together with its rows. Feed-wide state is only the map of
 * avail ids seen (for duplicates) and a row counter.
 *
 * Row numbers are the ones the operator sees: in CSV and XLSX the header is row 1 and the
 * first data row is row 2 (blank lines count, as in a spreadsheet app, but produce
 * nothing); in JSON the row is the array index + 1.
 *
 * What is an error (blocks a commit): a missing required field, a capacity that is not a
 * non-negative whole number, `endTime <= startTime`, a negative cpm, an unreadable or
 * ambiguous date, a duplicate `availId` (reported on the later row, naming the first),
 * header problems (a required column missing, two columns for one field), more rows than
 * `maxRows`, a CSV that cannot be read past some row, an empty feed, text the database cannot
 * store (U+0000, lone surrogates, cells past MAX_CELL_CHARS). A row wider than MAX_FEED_COLUMNS
 * is not a row error: the whole request is refused (feed-limits.ts).
 * What is a warning (never blocks): `AVAIL_ENDED`, the flight ended before `now`.
 *
 * The rules in short (details next to their code):
 * - Columns (feed-columns.ts): `columnMapping` wins; headers match case-, space-,
 *   underscore- and dash-insensitively (`Avail ID` = `avail_id` = `availId`); `targeting.x`
 *   / `target:x` columns and known dimensions (`Market`, `Screen`, `DMA`...) go to
 *   `targeting`; every other unknown column goes to `sourceMetadata` (camelCased), so
 *   nothing sent is lost. JSON keys go through the same rules.
 * - Numbers (feed-values.ts): `1,500,000`, `1.500.000`, `1 500 000`, `$22.50`, `22,50`;
 *   a lone separator before three digits follows the file convention (`;` files use the
 *   decimal comma) and a count that would become a decimal that way is an error.
 * - Dates (feed-values.ts): ISO date-time, `YYYY-MM-DD`, `DD.MM.YYYY`, unambiguous
 *   `DD/MM/YYYY` or `MM/DD/YYYY`, Excel serials and Date cells; ambiguous values
 *   (`07/01/2026`) are errors. A date without a time starts at 00:00:00.000Z and ends at
 *   23:59:59.000Z.
 * - Defaults (normalize-avail.ts): collectionId from the slug of collectionName and
 *   collectionName from collectionId; currency USD (or the one a `€`/`£` on the cpm
 *   implies); upstreamBookedImpressions 0, read from `sourceMetadata` when not a column.
 *   `name` and `availId` never default.
 */

export type FeedInput =
  | { kind: 'rows'; rows: unknown[] }
  /** CSV as text: a JSON `{csv}` body or a raw `text/csv` body. */
  | { kind: 'csv'; text: string }
  | { kind: 'csv-file'; stream: NodeJS.ReadableStream | Buffer }
  | { kind: 'xlsx'; data: XlsxSource; sheet?: string }

export interface ParseOptions {
  /** Header (or JSON key) -> target; wins over the built-in spellings. See feed-columns.ts. */
  columnMapping?: Record<string, string>
  /** The moment `AVAIL_ENDED` is judged against. */
  now: Date
  /** Most avail rows accepted in one feed; default `DEFAULT_MAX_ROWS`. */
  maxRows?: number
}

export interface ParsedRow {
  row: number
  /** Present only when the row has no errors. */
  avail?: NormalizedAvail
  errors: RowError[]
  warnings: RowWarning[]
  /**
   * True when the entry stands for one avail row of the feed; false for problems with the
   * feed as a whole (header, empty feed, row limit, unreadable CSV), which count toward no
   * `parsedAvailCount`.
   */
  dataRow: boolean
}

export interface ParsedFeed {
  avails: NormalizedAvail[]
  errors: RowError[]
  warnings: RowWarning[]
  /** Avail rows read from the feed, with or without errors. */
  parsedAvailCount: number
}

export const DEFAULT_MAX_ROWS = 200_000

/** Columns a sheet must have; the collection needs an id or a name column (either derives the other). */
const requiredColumns: AvailScalarField[] = ['availId', 'name', 'startTime', 'endTime', 'impressionsCapacity']

export async function* parseAvailsFeed(input: FeedInput, options: ParseOptions): AsyncGenerator<ParsedRow> {
  // Built before reading anything: a wrong columnMapping is a request error and throws.
  const resolver = createColumnResolver(options.columnMapping)
  const feed = new FeedState(options)

  switch (input.kind) {
    case 'rows':
      yield* parseJsonRows(input.rows, resolver, feed)
      return
    case 'csv':
    case 'csv-file': {
      const csv = await openCsvRows(input.kind === 'csv' ? input.text : input.stream)
      // Semicolon-separated files come from locales where the comma is the decimal mark.
      const decimalStyle: DecimalStyle = csv.delimiter === ';' ? 'comma' : 'dot'
      yield* parseSheetRows(csv.rows, decimalStyle, resolver, feed)
      return
    }
    case 'xlsx':
      yield* parseSheetRows(readXlsxRows(input.data, { sheet: input.sheet }), 'dot', resolver, feed)
      return
  }
}

/** Collects the whole feed; for previews and tests. Large uploads should stream instead. */
export async function parseAvailsFeedAll(input: FeedInput, options: ParseOptions): Promise<ParsedFeed> {
  const parsed: ParsedFeed = { avails: [], errors: [], warnings: [], parsedAvailCount: 0 }
  for await (const row of parseAvailsFeed(input, options)) {
    if (row.dataRow) parsed.parsedAvailCount += 1
    if (row.avail) parsed.avails.push(row.avail)
    parsed.errors.push(...row.errors)
    parsed.warnings.push(...row.warnings)
  }
  return parsed
}

/** What the parser remembers across rows: ids seen (for duplicates) and the row count. */
class FeedState {
  readonly #firstRowByAvailId = new Map<string, number>()
  readonly #maxRows: number
  readonly now: Date
  /** Awaited once per row: gives other requests their turn during a long feed. */
  readonly yieldIfDue = createYielder()
  dataRowCount = 0

  constructor(options: ParseOptions) {
    this.now = options.now
    this.#maxRows = options.maxRows ?? DEFAULT_MAX_ROWS
  }

  /** Counts a data row; returns the feed-level error once the limit is passed. */
  countRow(row: number): ParsedRow | null {
    this.dataRowCount += 1
    if (this.dataRowCount <= this.#maxRows) return null
    return feedProblem(row, `The feed has more than ${this.#maxRows} avail rows; split it into smaller feeds`)
  }

  normalize(raw: RawAvail, readErrors: RowError[], row: number, decimalStyle: DecimalStyle): ParsedRow {
    const normalized = normalizeAvail(raw, { row, now: this.now, decimalStyle })
    const errors = [...readErrors, ...normalized.errors]

    const availId = readText(raw.fields.availId)
    if (availId.ok && availId.value !== null) {
      const firstRow = this.#firstRowByAvailId.get(availId.value)
      if (firstRow === undefined) {
        this.#firstRowByAvailId.set(availId.value, row)
      } else {
        errors.push({
          row,
          field: 'availId',
          message: `availId ${JSON.stringify(availId.value)} is already used on row ${firstRow}`,
        })
      }
    }

    if (errors.length > 0) return { row, errors, warnings: [], dataRow: true }
    return { row, avail: normalized.avail, errors, warnings: normalized.warnings, dataRow: true }
  }
}

function feedProblem(row: number, message: string, field: string = WHOLE_ROW): ParsedRow {
  return { row, errors: [{ row, field, message }], warnings: [], dataRow: false }
}

async function* parseJsonRows(rows: unknown[], resolver: ColumnResolver, feed: FeedState): AsyncGenerator<ParsedRow> {
  if (rows.length === 0) {
    yield feedProblem(1, 'The feed has no avails')
    return
  }
  for (const [index, value] of rows.entries()) {
    await feed.yieldIfDue()
    const row = index + 1
    const overLimit = feed.countRow(row)
    if (overLimit) {
      yield overLimit
      return
    }
    const { raw, errors, unread } = rawAvailFromJson(value, resolver, row)
    yield unread ? { row, errors, warnings: [], dataRow: true } : feed.normalize(raw, errors, row, 'dot')
  }
}

async function* parseSheetRows(
  rows: AsyncIterable<SheetRow>,
  decimalStyle: DecimalStyle,
  resolver: ColumnResolver,
  feed: FeedState,
): AsyncGenerator<ParsedRow> {
  let plan: ColumnPlan | null = null
  let headerRow = 0
  try {
    for await (const { row, cells } of rows) {
      await feed.yieldIfDue()
      // Blank rows (anywhere, typically trailing ones left by spreadsheet apps) carry nothing.
      if (cells.every(isBlank)) continue
      if (plan === null) {
        headerRow = row
        const unreadable = unreadableHeaders(cells, row)
        if (unreadable.length > 0) {
          yield { row, errors: unreadable, warnings: [], dataRow: false }
          return
        }
        plan = planColumns(cells.map(headerText), resolver)
        const headerErrors = checkHeader(plan, row)
        if (headerErrors.length > 0) {
          yield { row, errors: headerErrors, warnings: [], dataRow: false }
          return
        }
        continue
      }
      const overLimit = feed.countRow(row)
      if (overLimit) {
        yield overLimit
        return
      }
      const { raw, errors } = rawAvailFromCells(cells, plan, row)
      yield feed.normalize(raw, errors, row, decimalStyle)
    }
  } catch (error) {
    if (error instanceof FeedSyntaxError) {
      yield feedProblem(error.row, error.message)
      return
    }
    throw error
  }

  if (plan === null) yield feedProblem(1, 'The feed is empty: expected a header row and avail rows')
  else if (feed.dataRowCount === 0) yield feedProblem(headerRow + 1, 'The feed has a header but no avail rows')
}

/** One column of a sheet feed's header row, as the parser reads it. */
export interface FeedColumn {
  /** The spreadsheet's name of the column: A, B, ..., AA. */
  letter: string
  header: string
  /** What the column fills, as row errors name it (`impressionsCapacity`, `targeting.market`); null when ignored. */
  field: string | null
}

/**
 * The header row of a CSV or XLSX feed planned exactly as the parser plans it, so a row error's
 * field can be shown at its spreadsheet column. Reads up to the header row only; JSON rows and
 * feeds without a header have no columns.
 */
export async function feedColumnsOf(input: FeedInput, options: { columnMapping?: Record<string, string> | undefined } = {}): Promise<FeedColumn[]> {
  if (input.kind === 'rows') return []
  const resolver = createColumnResolver(options.columnMapping)
  const rows = input.kind === 'xlsx'
    ? readXlsxRows(input.data, { sheet: input.sheet })
    : (await openCsvRows(input.kind === 'csv' ? input.text : input.stream)).rows
  try {
    for await (const { cells } of rows) {
      if (cells.every(isBlank)) continue
      const headers = cells.map(headerText)
      return planColumns(headers, resolver).targets.map((target, index) => ({
        letter: columnLetter(index),
        header: headers[index] ?? '',
        field: target.kind === 'field' ? target.field : target.kind === 'targeting' || target.kind === 'sourceMetadata' ? `${target.kind}.${target.key}` : null,
      }))
    }
  } catch (error) {
    if (error instanceof FeedSyntaxError) return []
    throw error
  } finally {
    await rows.return?.(undefined)
  }
  return []
}

function headerText(cell: unknown): string {
  const text = readText(cell)
  return text.ok && text.value !== null ? text.value : ''
}

/** Header cells that cannot name a field or a metadata key (NUL, a broken character, a 40 KB cell). */
function unreadableHeaders(cells: unknown[], row: number): RowError[] {
  return cells.flatMap((cell, index) => {
    const text = readText(cell)
    return text.ok ? [] : [{ row, field: columnLetter(index), message: `The header of column ${columnLetter(index)} ${text.message}` }]
  })
}

function checkHeader(plan: ColumnPlan, row: number): RowError[] {
  const errors: RowError[] = plan.conflicts.map((conflict) => ({ row, ...conflict }))
  const mapped = new Set(plan.targets.flatMap((target) => (target.kind === 'field' ? [target.field] : [])))
  for (const field of requiredColumns) {
    if (mapped.has(field)) continue
    errors.push({
      row,
      field,
      message: `No column for ${field}: name one ${suggestedHeaders(field)} or map one with columnMapping`,
    })
  }
  if (!mapped.has('collectionId') && !mapped.has('collectionName')) {
    errors.push({
      row,
      field: 'collectionId',
      message: `No column for collectionId or collectionName: name one ${suggestedHeaders('collectionId')} or ${suggestedHeaders('collectionName')}`,
    })
  }
  return errors
}
