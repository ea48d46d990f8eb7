import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CsvError, parse } from 'csv-parse'
import type { Parser } from 'csv-parse'
import type { CellValue } from './feed-values.ts'
import { MAX_FEED_COLUMNS, tooManyColumns } from './feed-limits.ts'

/**
 * Streams CSV records with the row numbers a spreadsheet would show. Memory stays flat
 * for any file size: the text is fed to csv-parse in slices with backpressure, and only
 * the current record is held.
 */

export interface SheetRow {
  /** 1-based, counting blank lines, so it matches the row a spreadsheet app shows. */
  row: number
  cells: CellValue[]
}

export type CsvDelimiter = ',' | ';' | '\t'

export interface CsvRows {
  delimiter: CsvDelimiter
  rows: AsyncGenerator<SheetRow>
}

/** A problem that makes the rest of the file unreadable, pinned to the row it stopped at. */
export class FeedSyntaxError extends Error {
  constructor(
    readonly row: number,
    message: string,
  ) {
    super(message)
    this.name = 'FeedSyntaxError'
  }
}

const SLICE_SIZE = 64 * 1024
// The first line decides the separator; a header longer than this is not a header.
const MAX_HEADER_BYTES = 1024 * 1024
// An unclosed quote would otherwise swallow the rest of the file into one field.
const MAX_RECORD_SIZE = 1024 * 1024
const BOM = '\ufeff'
const NEWLINE = 0x0a

export async function openCsvRows(source: string | Buffer | NodeJS.ReadableStream): Promise<CsvRows> {
  const chunks = sliceSource(source)[Symbol.asyncIterator]()
  const peeked: Buffer[] = []
  let peekedBytes = 0
  while (peekedBytes < MAX_HEADER_BYTES) {
    const next = await chunks.next()
    if (next.done) break
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value
    peeked.push(chunk)
    peekedBytes += chunk.length
    if (chunk.includes(NEWLINE)) break
  }
  const delimiter = detectDelimiter(Buffer.concat(peeked).toString('utf8'))

  async function* replay(): AsyncGenerator<Buffer> {
    try {
      yield* peeked
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
        yield typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value
      }
    } finally {
      // Stopping early (row limit, consumer gone) must release the source stream too.
      await chunks.return?.(undefined)
    }
  }

  return { delimiter, rows: readRecords(Readable.from(replay(), { objectMode: false }), delimiter) }
}

async function* readRecords(input: Readable, delimiter: CsvDelimiter): AsyncGenerator<SheetRow> {
  // A syntax error must not discard the good rows before it, which a stream error would
  // (destroying the parser drops its buffered records). So errors are taken through
  // on_skip, pinned to the record they hit, and raised once the rows before it are out.
  const syntax: { failure: { row: number; error: Error } | null } = { failure: null }
  const parser: Parser = parse({
    delimiter,
    bom: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: false,
    max_record_size: MAX_RECORD_SIZE,
    skip_records_with_error: true,
    on_skip: (error) => {
      if (error && syntax.failure === null) syntax.failure = { row: parser.info.records + 1, error }
      return undefined
    },
  })
  // Source errors reach the loop below through the parser; the pipeline promise only needs
  // a handler so an early stop (the consumer breaking out) is not an unhandled rejection.
  pipeline(input, parser).catch(() => {})

  let row = 0
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      row += 1
      if (syntax.failure !== null && row >= syntax.failure.row) break
      // A record is already bounded by MAX_RECORD_SIZE; its width must not reach the avails.
      if (record.length > MAX_FEED_COLUMNS && lastFilled(record) > MAX_FEED_COLUMNS) throw tooManyColumns(row, lastFilled(record))
      yield { row, cells: record }
    }
  } finally {
    parser.destroy()
  }
  const { failure } = syntax
  if (failure !== null) throw new FeedSyntaxError(failure.row, describeCsvError(failure.error))
}

/** Columns up to the last one with a value: trailing separators add no columns. */
function lastFilled(record: string[]): number {
  let last = record.length
  while (last > 0 && record[last - 1]!.trim() === '') last -= 1
  return last
}

function describeCsvError(error: Error): string {
  const code = error instanceof CsvError ? error.code : 'CSV_UNREADABLE'
  switch (code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'A quoted value is never closed; check for a stray " in this row'
    case 'CSV_MAX_RECORD_SIZE':
      return 'This row is larger than 1 MB; check for a stray " that opens a quote'
    default:
      return `The CSV cannot be read from this row on (${code})`
  }
}

/** Slices strings and buffers so csv-parse can apply backpressure; streams pass through. */
async function* sliceSource(source: string | Buffer | NodeJS.ReadableStream): AsyncGenerator<Buffer | string> {
  if (typeof source === 'string') {
    for (let start = 0; start < source.length; ) {
      let end = Math.min(start + SLICE_SIZE, source.length)
      // Never split a surrogate pair: each slice is encoded to UTF-8 on its own.
      const lastCode = source.charCodeAt(end - 1)
      if (end < source.length && lastCode >= 0xd800 && lastCode <= 0xdbff) end -= 1
      yield source.slice(start, end)
      start = end
    }
    return
  }
  if (Buffer.isBuffer(source)) {
    for (let start = 0; start < source.length; start += SLICE_SIZE) yield source.subarray(start, start + SLICE_SIZE)
    return
  }
  for await (const chunk of source as AsyncIterable<Buffer | string>) yield chunk
}

/**
 * Picks the separator that occurs most often outside quotes in the first line. A tie
 * (including none at all: a one-column file) falls back to the comma.
 */
export function detectDelimiter(text: string): CsvDelimiter {
  const counts: Record<CsvDelimiter, number> = { ',': 0, ';': 0, '\t': 0 }
  let inQuotes = false
  const start = text.startsWith(BOM) ? 1 : 0
  for (let index = start; index < text.length; index += 1) {
    const character = text[index]
    if (character === '"') inQuotes = !inQuotes
    else if (!inQuotes && (character === '\n' || character === '\r')) break
    else if (!inQuotes && (character === ',' || character === ';' || character === '\t')) counts[character] += 1
  }
  const best = (Object.entries(counts) as [CsvDelimiter, number][]).reduce((winner, candidate) =>
    candidate[1] > winner[1] ? candidate : winner,
  )
  return best[1] === 0 ? ',' : best[0]
}
