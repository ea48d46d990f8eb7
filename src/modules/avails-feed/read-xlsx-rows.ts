import { Readable } from 'node:stream'
import type ExcelJS from 'exceljs'
import { fail, isStorefrontError } from '../../shared/errors.ts'
import { MAX_FEED_COLUMNS, tooManyColumns } from './feed-limits.ts'
import { CellError, isBlank } from './feed-values.ts'
import type { CellValue } from './feed-values.ts'
import type { SheetRow } from './read-csv-rows.ts'

/**
 * Streams the rows of one worksheet with exceljs's streaming reader, for Buffers and
 * streams alike, so a large workbook is never held as a full object model. Cells come out
 * as plain values: formulas as their cached result, rich text as its plain text, date
 * formatted cells as Dates (other numbers stay numbers; the date reader also accepts
 * serials), errors such as `#N/A` as `CellError`.
 */

export interface XlsxRowsOptions {
  /** Worksheet name (case-insensitive); the first sheet in workbook order otherwise. */
  sheet?: string
}

interface StreamedWorksheet extends AsyncIterable<ExcelJS.Row> {
  name?: string
}

interface WorkbookModel {
  sheets?: { name?: string }[]
}

export async function* readXlsxRows(data: Buffer | NodeJS.ReadableStream, options: XlsxRowsOptions = {}): AsyncGenerator<SheetRow> {
  const input = Buffer.isBuffer(data) ? Readable.from([data]) : data instanceof Readable ? data : Readable.from(data as AsyncIterable<Buffer>)
  // Loaded only when a workbook arrives: exceljs is nearly half the production dependency tree.
  const { default: excel } = await import('exceljs')
  const reader = new excel.stream.xlsx.WorkbookReader(input, {
    worksheets: 'emit',
    sharedStrings: 'cache',
    // Styles are needed to know which numbers are dates.
    styles: 'cache',
    hyperlinks: 'ignore',
    entries: 'ignore',
  })
  // exceljs pipes the input into its unzipper without forwarding errors, so a failing
  // upload would leave the reader waiting forever; every wait races the input's failure.
  let inputError: unknown = null
  const inputFailure = new Promise<never>((_, reject) => {
    input.once('error', (error) => {
      inputError = error
      reject(error)
    })
  })
  inputFailure.catch(() => {}) // observed through the races below; never unhandled
  const wanted = options.sheet?.trim().toLowerCase()
  const seenNames: string[] = []
  let found = false

  try {
    for await (const worksheet of untilFailure(reader as AsyncIterable<StreamedWorksheet>, inputFailure)) {
      if (found) continue // drain the remaining entries so temp files are cleaned up
      const workbookOrder = (reader as unknown as { model?: WorkbookModel }).model?.sheets ?? []
      const name = worksheet.name ?? ''
      seenNames.push(name)
      const firstInWorkbook = workbookOrder[0]?.name
      const isWanted = wanted === undefined
        ? firstInWorkbook === undefined || firstInWorkbook === name
        : name.trim().toLowerCase() === wanted
      if (!isWanted) continue
      found = true
      for await (const row of untilFailure(worksheet, inputFailure)) {
        const cells = rowCells(row)
        if (cells.length > MAX_FEED_COLUMNS) throw tooManyColumns(row.number, cells.length)
        yield { row: row.number, cells }
      }
    }
  } catch (error) {
    // A failing upload stream is not the file's fault; anything else the zip or XML
    // readers throw means the bytes are not a workbook (a CSV renamed .xlsx, a legacy
    // .xls, an encrypted workbook, a truncated file).
    if (inputError !== null || isStorefrontError(error)) throw error
    throw fail.validation('The file is not a readable .xlsx workbook; save it as Excel Workbook (.xlsx) or CSV')
  } finally {
    // Stopped before the end (a refused row, the consumer gone): release the upload's file now.
    if (!input.readableEnded) input.destroy()
  }

  if (!found) {
    throw fail.invalidField(
      'sheet',
      seenNames.length === 0
        ? 'the workbook has no worksheets'
        : `no worksheet named ${JSON.stringify(options.sheet)}; the workbook has ${seenNames.map((name) => JSON.stringify(name)).join(', ')}`,
    )
  }
}

/** Iterates until the source ends or `failure` rejects, whichever comes first. */
async function* untilFailure<T>(source: AsyncIterable<T>, failure: Promise<never>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]()
  let failed = false
  try {
    while (true) {
      const next = await Promise.race([iterator.next(), failure]).catch((error: unknown) => {
        failed = true
        throw error
      })
      if (next.done) return
      yield next.value
    }
  } finally {
    // After a failure the source is stuck mid-read; asking it to return would wait forever.
    if (!failed) await iterator.return?.()
  }
}

/** The row's cells up to the last one with a value (styled empty cells on the right add none). */
function rowCells(row: ExcelJS.Row): CellValue[] {
  // `row.values` is 1-based with a hole at index 0.
  const values = Array.isArray(row.values) ? row.values.slice(1) : []
  const cells = Array.from(values, (value) => plainCellValue(value as ExcelJS.CellValue))
  while (cells.length > 0 && isBlank(cells.at(-1))) cells.pop()
  return cells
}

function plainCellValue(value: ExcelJS.CellValue): CellValue {
  if (value === null || value === undefined) return null
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value instanceof Date) {
    return value
  }
  if (typeof value !== 'object') return null
  if ('richText' in value) return value.richText.map((run) => run.text).join('')
  if ('formula' in value || 'sharedFormula' in value) {
    const result = (value as { result?: unknown }).result
    // No usable result: the streaming reader drops error results such as #N/A, and tools
    // that do not calculate save formulas without one. Either way there is no value to use.
    if (result === undefined || result === null || (typeof result === 'number' && Number.isNaN(result))) {
      return new CellError('is a formula without a usable result (an error such as #N/A, or never calculated in Excel)')
    }
    if (typeof result === 'object' && 'error' in result) return CellError.errorValue(String((result as { error: unknown }).error))
    return plainCellValue(result as ExcelJS.CellValue)
  }
  if ('error' in value) return CellError.errorValue(String(value.error))
  if ('text' in value) return plainCellValue((value as { text: ExcelJS.CellValue }).text)
  return null
}
