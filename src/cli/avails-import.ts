import { openAsBlob } from 'node:fs'
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { flagOption, listOption, stringOption, type Invocation } from './commands.ts'
import { exitCodeOf } from './failure.ts'
import { ApiError, apiClientFromEnv, CliUsageError, ServerUnreachableError, type HttpClient } from './http-client.ts'
import { renderTable, terminalJson, terminalText } from './table.ts'

/**
 * `storefront avails import <file> --source <sourceId> [--commit] [--sheet <name>] [--map "Header=field" ...]`
 *
 * Talks to a running server over the REST API (STOREFRONT_URL, STOREFRONT_API_KEY), as any
 * operator's script would: the file is uploaded as multipart/form-data straight from disk (a
 * file-backed Blob, so a 100k-row file is never read into memory), the preview is printed, and
 * with --commit the previewed id is committed. Nothing here touches the database.
 *
 * Exit codes as everywhere in the CLI (failure.ts): 0 ok; 1 failure (server unreachable, 5xx); 2 bad
 * usage or an invalid feed (row errors, VALIDATION_ERROR); 3 refused by the server (401, 404, 409, 413).
 */

/** Files at least this big get a progress bar (on a terminal). */
const PROGRESS_MIN_BYTES = 1024 * 1024
const PREVIEW_ROWS_SHOWN = 20
const PROBLEMS_SHOWN = 50

interface FeedAnswer {
  previewOnly: boolean
  previewId: string
  parsedAvailCount: number
  ingestedAvailCount: number
  avails: { availId: string; name: string; startTime: string; endTime: string; impressionsCapacity: number; cpm: number | null; currency: string }[]
  availsTruncated: boolean
  errors: { row: number; field: string; message: string }[]
  errorCount: number
  warnings: { row: number; availId: string; code: string; message: string }[]
  warningCount: number
  diff: { created: number; updated: number; unchanged: number; deactivated: number }
  expiresAt: string | null
  workItemId: string | null
}

interface Output {
  out: NodeJS.WriteStream
  err: NodeJS.WriteStream
  color: boolean
}

const paint = (output: Output, code: number, text: string) => (output.color ? `\u001b[${code}m${text}\u001b[0m` : text)
const red = (output: Output, text: string) => paint(output, 31, text)
const yellow = (output: Output, text: string) => paint(output, 33, text)
const bold = (output: Output, text: string) => paint(output, 1, text)

/** main.ts has parsed the options (commands.ts declares them) and checked the one file argument. */
export async function availsImport(input: Invocation, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const values = {
    source: stringOption(input, 'source'),
    commit: flagOption(input, 'commit'),
    sheet: stringOption(input, 'sheet'),
    map: listOption(input, 'map'),
    'replace-missing': flagOption(input, 'replace-missing'),
    json: flagOption(input, 'json'),
  }
  if (!values.source) throw new CliUsageError('needs --source <sourceId>')
  const columnMapping: Record<string, string> = {}
  for (const entry of values.map) {
    const at = entry.lastIndexOf('=')
    if (at <= 0 || at === entry.length - 1) throw new CliUsageError(`--map takes "Header=field", got ${JSON.stringify(entry)}`)
    columnMapping[entry.slice(0, at).trim()] = entry.slice(at + 1).trim()
  }
  const api = apiClientFromEnv(env)
  const file = input.positionals[0]!
  const size = await stat(file).then((info) => (info.isFile() ? info.size : null), () => null)
  if (size === null) throw new CliUsageError(`no such file: ${file}`)

  const output: Output = { out: process.stdout, err: process.stderr, color: Boolean(process.stdout.isTTY) && !env.NO_COLOR }
  const feedPath = `/inventory-sources/${encodeURIComponent(values.source)}/modular/avails-feed`
  try {
    const form = new FormData()
    if (values.sheet) form.append('sheet', values.sheet)
    if (Object.keys(columnMapping).length > 0) form.append('columnMapping', JSON.stringify(columnMapping))
    if (values['replace-missing']) form.append('replaceMissing', 'true')
    form.append('inputSource', 'upload')
    const type = /\.xlsx$/i.test(file) ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'text/csv'
    form.append('file', await openAsBlob(file, { type }), path.basename(file))

    const showProgress = Boolean(process.stderr.isTTY) && size >= PROGRESS_MIN_BYTES && !values.json
    const preview = await upload<FeedAnswer>(api, feedPath, form, showProgress ? size : null, output)
    if (values.json) output.out.write(`${terminalJson(preview)}\n`)
    else printPreview(output, file, preview)
    if (preview.errorCount > 0) {
      if (!values.json) output.err.write(red(output, `The feed has ${preview.errorCount} error(s): fix the file and import it again${values.commit ? '; nothing was committed' : ''}.\n`))
      return 2
    }
    if (!values.commit) {
      if (!values.json) output.out.write(`\nNothing is committed yet. Commit with --commit, or complete work item ${preview.workItemId} (CONFIRM_AVAILS).\n`)
      return 0
    }
    const committed = await api.request<FeedAnswer>('POST', feedPath, { json: { confirmed: true, previewId: preview.previewId }, timeoutMs: null })
    if (values.json) output.out.write(`${terminalJson(committed)}\n`)
    else printCommit(output, committed)
    return 0
  } catch (error) {
    if (error instanceof ApiError) {
      const lines = [red(output, terminalText(`${error.code}: ${error.message}`))]
      const rows = error.details?.rows ?? []
      if (rows.length > 0) lines.push(problemTable(output, rows.map((row) => ({ ...row, level: 'error' as const }))))
      output.err.write(`${lines.join('\n')}\n`)
      return exitCodeOf(error)
    }
    if (error instanceof ServerUnreachableError) {
      output.err.write(`${error.message}\n`)
      return exitCodeOf(error)
    }
    throw error
  }
}

/** Uploads the form; on a terminal, a progress bar counts the bytes as fetch pulls them off the file. */
async function upload<T>(api: HttpClient, feedPath: string, form: FormData, progressTotal: number | null, output: Output): Promise<T> {
  if (progressTotal === null) return api.request<T>('POST', feedPath, { body: form, timeoutMs: null })
  // Encode the form ourselves to count the bytes it streams.
  const encoded = new Response(form)
  const progress = new ProgressBar(output.err, progressTotal)
  const body = encoded.body!.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      progress.advance(chunk.byteLength)
      controller.enqueue(chunk)
    },
  }))
  try {
    return await api.request<T>('POST', feedPath, { body, headers: { 'content-type': encoded.headers.get('content-type')! }, timeoutMs: null })
  } finally {
    progress.finish()
  }
}

/** Progress on stderr, rewritten in place; only ever shown on a terminal. */
class ProgressBar {
  #sent = 0
  #lastDrawn = -1
  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly total: number,
  ) {
    this.#draw()
  }

  advance(bytes: number): void {
    this.#sent += bytes
    this.#draw()
  }

  finish(): void {
    this.stream.write('\r\u001b[2K')
  }

  #draw(): void {
    const fraction = Math.min(1, this.#sent / this.total)
    const percent = Math.floor(fraction * 100)
    if (percent === this.#lastDrawn) return
    this.#lastDrawn = percent
    const width = 30
    const filled = Math.round(fraction * width)
    const label = percent >= 100 ? 'uploaded, the server is parsing...' : `${mebibytes(this.#sent)} / ${mebibytes(this.total)}`
    this.stream.write(`\r\u001b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}% ${label}`)
  }
}

function mebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

function diffLine(diff: FeedAnswer['diff']): string {
  return `${diff.created} created, ${diff.updated} updated, ${diff.unchanged} unchanged, ${diff.deactivated} deactivated`
}

interface Problem {
  row: number
  field: string
  message: string
  level: 'error' | 'warning'
}

function problemTable(output: Output, problems: Problem[]): string {
  const shown = problems.slice(0, PROBLEMS_SHOWN)
  const table = renderTable(['row', 'level', 'field', 'message'], shown.map((p) => [String(p.row), p.level.toUpperCase(), p.field, p.message]))
  // Colour after padding: escape codes would otherwise count toward the column widths.
  const lines = table.split('\n').map((line, index) => {
    const problem = shown[index - 2]
    if (!problem) return line
    return problem.level === 'error' ? red(output, line) : yellow(output, line)
  })
  if (problems.length > shown.length) lines.push(`... and ${problems.length - shown.length} more`)
  return lines.join('\n')
}

function printPreview(output: Output, file: string, preview: FeedAnswer): void {
  const lines = [
    bold(output, `Preview ${preview.previewId} of ${path.basename(file)}`),
    `  ${plural(preview.parsedAvailCount, 'avail row')} parsed, ${plural(preview.errorCount, 'error')}, ${plural(preview.warningCount, 'warning')}`,
    `  if committed: ${diffLine(preview.diff)}`,
  ]
  if (preview.expiresAt) lines.push(`  expires ${preview.expiresAt}`)
  if (preview.avails.length > 0) {
    const shown = preview.avails.slice(0, PREVIEW_ROWS_SHOWN)
    lines.push('', renderTable(
      ['availId', 'name', 'start', 'end', 'capacity', 'cpm'],
      shown.map((avail) => [
        avail.availId,
        avail.name.length > 40 ? `${avail.name.slice(0, 39)}…` : avail.name,
        avail.startTime,
        avail.endTime,
        avail.impressionsCapacity.toLocaleString('en-US'),
        avail.cpm === null ? '' : `${avail.cpm} ${avail.currency}`,
      ]),
    ))
    const valid = preview.diff.created + preview.diff.updated + preview.diff.unchanged
    if (valid > shown.length) lines.push(`... ${shown.length} of ${valid} avails shown`)
  }
  const problems: Problem[] = [
    ...preview.errors.map((error) => ({ ...error, level: 'error' as const })),
    ...preview.warnings.map((warning) => ({ row: warning.row, field: warning.code, message: warning.message, level: 'warning' as const })),
  ].sort((left, right) => left.row - right.row)
  if (problems.length > 0) lines.push('', problemTable(output, problems))
  output.out.write(`${lines.join('\n')}\n`)
}

function printCommit(output: Output, committed: FeedAnswer): void {
  const lines = [
    '',
    bold(output, `Committed ${committed.previewId}: ${plural(committed.ingestedAvailCount, 'avail')} (${diffLine(committed.diff)})`),
  ]
  const warnings = committed.warnings.filter((warning) => warning.code === 'CAPACITY_FLOORED')
  if (warnings.length > 0) {
    lines.push(problemTable(output, warnings.map((warning) => ({ row: warning.row, field: warning.code, message: warning.message, level: 'warning' as const }))))
  }
  output.out.write(`${lines.join('\n')}\n`)
}
