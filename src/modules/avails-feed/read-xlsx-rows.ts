import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import type ExcelJS from 'exceljs'
import type unzipper from 'unzipper'
import { fail, isStorefrontError } from '../../shared/errors.ts'
import { MAX_FEED_COLUMNS, tooManyColumns } from './feed-limits.ts'
import { CellError, isBlank } from './feed-values.ts'
import type { CellValue } from './feed-values.ts'
import type { SheetRow } from './read-csv-rows.ts'

/**
 * Streams the rows of one worksheet of a workbook (bytes, a file, or a stream). The archive is
 * read through its central directory (unzipper's Open) and only the parts one sheet needs
 * are parsed, in the order they depend on each other: the workbook's relationships and
 * sheet list, the shared strings, the styles (needed to know which numbers are dates), then
 * the wanted worksheet, row by row with exceljs's streaming worksheet reader, so a large
 * sheet is never held as a full object model. Cells come out as plain values: formulas as
 * their cached result, rich text as its plain text, date formatted cells as Dates (other
 * numbers stay numbers; the date reader also accepts serials), errors such as `#N/A` as
 * `CellError`.
 *
 * Why not exceljs's own WorkbookReader over the upload stream: it walks the archive in one
 * forward pass (unzipper's Parse), and that parser signals its end when the input is used up,
 * before every entry it buffered has been handed on. The last entry is then dropped now and
 * then (exceljs#3064); exceljs itself stores `xl/workbook.xml` last, so a valid workbook
 * was refused as unreadable. The central directory lists every entry, so none can be lost.
 * It needs random access: an upload is read from its spool file, and a stream is buffered first.
 */

export interface XlsxRowsOptions {
  /** Worksheet name (case-insensitive); the first sheet in workbook order otherwise. */
  sheet?: string
}

/** The parts of exceljs's WorkbookReader that parse one workbook part each (exceljs 4.4). */
interface WorkbookPartsReader {
  model?: { sheets?: { id: number; name: string; rId: string }[] }
  workbookRels?: { Id: string; Target: string }[]
  _parseRels(entry: Readable): Promise<void>
  _parseWorkbook(entry: Readable): Promise<void>
  _parseSharedStrings(entry: Readable): AsyncGenerator<unknown>
  _parseStyles(entry: Readable): Promise<void>
  _parseWorksheet(entry: Readable, sheetNo: number): Generator<{ value: AsyncIterable<ExcelJS.Row> }>
}

/** The workbook's bytes, a stream of them, or the file that holds them (an upload's spool). */
export type XlsxSource = Buffer | NodeJS.ReadableStream | { path: string }

export async function* readXlsxRows(data: XlsxSource, options: XlsxRowsOptions = {}): AsyncGenerator<SheetRow> {
  // A failing upload stream is not the file's fault: its error passes through as it is.
  const source = Buffer.isBuffer(data) || !('pipe' in data) ? data : await buffer(data as AsyncIterable<Buffer>)
  const archive = archiveSource(source)
  try {
    const worksheet = await openWorksheet(archive, options.sheet)
    for await (const row of worksheet) {
      const cells = rowCells(row)
      if (cells.length > MAX_FEED_COLUMNS) throw tooManyColumns(row.number, cells.length)
      yield { row: row.number, cells }
    }
  } catch (error) {
    // Whatever the zip or XML readers throw means the bytes are not a workbook (a CSV
    // renamed .xlsx, a legacy .xls, an encrypted workbook, a truncated file).
    throw isStorefrontError(error) ? error : notAWorkbook()
  } finally {
    // Stopped before the end (a refused row, the consumer gone): release the file now.
    archive.close()
  }
}

/** The wanted worksheet's rows, once the parts its cells refer to are read. */
async function openWorksheet(archive: ArchiveSource, sheet: string | undefined): Promise<AsyncIterable<ExcelJS.Row>> {
  const { Open } = await import('unzipper')
  const directory = await Open.custom(archive)
  const files = new Map(directory.files.filter((file) => file.type === 'File').map((file) => [file.path, file]))
  const reader = await readWorkbookParts(files)
  const sheets = reader.model?.sheets ?? []
  const wanted = sheet?.trim().toLowerCase()
  const chosen = wanted === undefined ? sheets[0] : sheets.find((candidate) => candidate.name.trim().toLowerCase() === wanted)
  if (chosen === undefined) {
    throw fail.invalidField(
      'sheet',
      sheets.length === 0
        ? 'the workbook has no worksheets'
        : `no worksheet named ${JSON.stringify(sheet)}; the workbook has ${sheets.map(({ name }) => JSON.stringify(name)).join(', ')}`,
    )
  }
  const target = reader.workbookRels?.find((rel) => rel.Id === chosen.rId)?.Target
  const file = target === undefined ? undefined : files.get(partPath(target))
  if (file === undefined) throw notAWorkbook()
  const [emitted] = [...reader._parseWorksheet(file.stream(), chosen.id)]
  if (emitted === undefined) throw notAWorkbook()
  return emitted.value
}

/**
 * Random access to the archive for unzipper's Open, which reads each entry through a stream
 * of its own. An entry left half-read keeps its file stream open, so every stream opened is
 * tracked and `close` ends those still open.
 */
interface ArchiveSource {
  size(): Promise<number>
  stream(offset: number, length?: number): Readable
  close(): void
}

function archiveSource(source: Buffer | { path: string }): ArchiveSource {
  if (Buffer.isBuffer(source)) {
    return {
      size: async () => source.length,
      stream: (offset, length) => Readable.from([source.subarray(offset, length === undefined ? undefined : offset + length)]),
      close: () => {},
    }
  }
  const open = new Set<Readable>()
  return {
    size: async () => (await stat(source.path)).size,
    stream: (offset, length) => {
      const stream = createReadStream(source.path, { start: offset, ...(length ? { end: offset + length - 1 } : {}) })
      open.add(stream)
      stream.once('close', () => open.delete(stream))
      return stream
    },
    close: () => {
      for (const stream of open) stream.destroy()
    },
  }
}

async function readWorkbookParts(files: Map<string, unzipper.File>): Promise<WorkbookPartsReader> {
  // Loaded only when a workbook arrives: exceljs is nearly half the production dependency tree.
  const { default: excel } = await import('exceljs')
  const reader = new excel.stream.xlsx.WorkbookReader(Readable.from([]), {
    worksheets: 'emit',
    sharedStrings: 'cache',
    styles: 'cache',
    hyperlinks: 'ignore',
    entries: 'ignore',
  }) as unknown as WorkbookPartsReader
  const part = (path: string) => files.get(path)?.stream()
  const rels = part('xl/_rels/workbook.xml.rels')
  if (rels === undefined) throw notAWorkbook()
  await reader._parseRels(rels)
  const workbook = part('xl/workbook.xml')
  if (workbook === undefined) throw notAWorkbook()
  await reader._parseWorkbook(workbook)
  const sharedStrings = part('xl/sharedStrings.xml')
  if (sharedStrings !== undefined) for await (const _ of reader._parseSharedStrings(sharedStrings));
  const styles = part('xl/styles.xml')
  if (styles !== undefined) await reader._parseStyles(styles)
  return reader
}

/** A relationship target (relative to xl/, or absolute within the package) as an archive path. */
function partPath(target: string): string {
  return target.startsWith('/') ? target.slice(1) : `xl/${target}`
}

function notAWorkbook() {
  return fail.validation('The file is not a readable .xlsx workbook; save it as Excel Workbook (.xlsx) or CSV')
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
