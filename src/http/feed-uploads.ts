import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs'
import { open, readdir, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AvailsFeedOptions, FeedInput } from '../modules/avails-feed/index.ts'
import { isStorableText } from '../shared/common.schema.ts'
import { fail, StorefrontError } from '../shared/errors.ts'

/**
 * What one process spends on feed uploads: where multipart files are spooled (and how the
 * ones a crashed process left are found), and how many feed requests it reads at once.
 */

/** Spooled uploads live here, named `<pid>-<random>`, so a later start can tell whose they are. */
export function spoolDirectory(): string {
  const directory = path.join(tmpdir(), 'storefront-feed-spool')
  mkdirSync(directory, { recursive: true })
  return directory
}

export function newSpoolPath(): string {
  return path.join(spoolDirectory(), `${process.pid}-${randomBytes(12).toString('hex')}`)
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes spooled uploads whose process is gone: a crash (or SIGKILL) skips the removal on
 * response, and up to 64 MiB per upload would otherwise stay on disk for ever. Files of
 * running processes (several servers may share the temp directory) are left alone.
 * Returns how many were removed.
 */
export async function sweepAbandonedSpools(directory = spoolDirectory()): Promise<number> {
  let removed = 0
  for (const name of await readdir(directory).catch(() => [] as string[])) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1])
    if (!Number.isInteger(pid) || pid === process.pid || isRunning(pid)) continue
    await unlink(path.join(directory, name)).then(() => (removed += 1), () => {})
  }
  return removed
}

/** Seconds a refused feed request is told to wait. */
export const FEED_RETRY_AFTER_SECONDS = 5

/**
 * At most `limit` feed requests are read at once (body, spool and parse): each holds up
 * to a feed body and a batch of rows, so a burst of large uploads must wait its turn
 * instead of exhausting the heap. A request is admitted in onRequest, before its body is
 * read, and leaves when its handler ends or, if it never got there, when its response is
 * sent or it is aborted; leaving twice is harmless.
 */
export class FeedGate {
  readonly #limit: number
  readonly #admitted = new Set<FastifyRequest>()
  readonly #handling = new WeakSet<FastifyRequest>()

  constructor(limit: number) {
    this.#limit = limit
  }

  get active(): number {
    return this.#admitted.size
  }

  admit(request: FastifyRequest, reply: FastifyReply): void {
    if (this.#admitted.size >= this.#limit) {
      reply.header('retry-after', String(FEED_RETRY_AFTER_SECONDS))
      throw new StorefrontError(
        'RATE_LIMITED',
        `The server is already reading ${this.#limit} feed(s); retry in ${FEED_RETRY_AFTER_SECONDS} seconds`,
        { reason: 'FEED_PARSES_BUSY', retryAfterSeconds: FEED_RETRY_AFTER_SECONDS },
      )
    }
    this.#admitted.add(request)
  }

  /** Runs the handler; the request leaves when it ends, even if the client is gone by then. */
  async handle<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
    this.#handling.add(request)
    // An abort just before the handler let the request leave; the work it does still counts.
    this.#admitted.add(request)
    try {
      return await work()
    } finally {
      this.#admitted.delete(request)
    }
  }

  /** onResponse / onRequestAbort: a request whose handler runs leaves when the handler ends. */
  leave(request: FastifyRequest, { aborted }: { aborted: boolean }): void {
    if (aborted && this.#handling.has(request)) return
    this.#admitted.delete(request)
  }
}

/* Multipart feed uploads, shared by the REST feed route and the console's upload form. */

/** What a multipart request's body becomes: the form fields and a fingerprint of the file. */
export interface MultipartBody {
  kind: 'multipart'
  fields: Record<string, string>
  file: { filename: string; mimetype: string; bytes: number; sha256: string } | null
}

/** Largest multipart form field (columnMapping as JSON text is the biggest one sent). */
export const MULTIPART_FIELD_LIMIT_BYTES = 1024 * 1024

const spooledFiles = new WeakMap<FastifyRequest, string>()

const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04])

/**
 * Reads a multipart feed upload: its fields, and its one file spooled to disk. A truncated or
 * malformed form is the upload's fault (400); catalog errors, plugin errors with a status (file
 * too large) and disk errors pass through as they are.
 */
export async function spoolMultipart(request: FastifyRequest): Promise<MultipartBody> {
  try {
    return await spoolParts(request)
  } catch (error) {
    // busboy reports a truncated or malformed form as a plain Error.
    const known = error as { statusCode?: unknown; syscall?: unknown }
    if (!(error instanceof Error) || known.statusCode !== undefined || known.syscall !== undefined) throw error
    throw fail.validation(`The multipart upload is malformed: ${error.message}`)
  }
}

async function spoolParts(request: FastifyRequest): Promise<MultipartBody> {
  const body: MultipartBody = { kind: 'multipart', fields: {}, file: null }
  for await (const part of request.parts()) {
    if (part.type !== 'file') {
      // busboy cuts a field at its limit and says so in a flag; a cut value must not be read as sent.
      if (part.valueTruncated || part.fieldnameTruncated) {
        throw fail.tooLarge(`The form field ${part.fieldname} is larger than ${MULTIPART_FIELD_LIMIT_BYTES} bytes`)
      }
      const value = String(part.value)
      if (!isStorableText(part.fieldname) || !isStorableText(value)) {
        throw fail.invalidField(isStorableText(part.fieldname) ? part.fieldname : 'form field name', 'must not contain U+0000 or unpaired UTF-16 surrogates')
      }
      body.fields[part.fieldname] = value
      continue
    }
    if (body.file || spooledFiles.has(request)) {
      part.file.resume()
      throw fail.validation('Send one feed file per request')
    }
    const spoolPath = newSpoolPath()
    spooledFiles.set(request, spoolPath)
    const hash = createHash('sha256')
    let bytes = 0
    await pipeline(
      part.file,
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk)
          bytes += chunk.length
          callback(null, chunk)
        },
      }),
      createWriteStream(spoolPath),
    )
    body.file = { filename: part.filename, mimetype: part.mimetype, bytes, sha256: hash.digest('hex') }
  }
  return body
}

export async function removeSpooledFile(request: FastifyRequest): Promise<void> {
  const spoolPath = spooledFiles.get(request)
  if (!spoolPath) return
  spooledFiles.delete(request)
  await unlink(spoolPath).catch(() => {})
}

async function startsWithZipMagic(filePath: string): Promise<boolean> {
  const handle = await open(filePath, 'r')
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(4), 0, 4, 0)
    return bytesRead === 4 && buffer.equals(ZIP_MAGIC)
  } finally {
    await handle.close()
  }
}

/** A multipart upload: .xlsx by name, type or zip signature; anything else is read as CSV. */
export async function multipartFeed(request: FastifyRequest, body: MultipartBody, options: AvailsFeedOptions): Promise<FeedInput | null> {
  const spoolPath = spooledFiles.get(request)
  if (!body.file || !spoolPath) return null
  const { filename, mimetype } = body.file
  if (/\.xls$/i.test(filename) || mimetype === 'application/vnd.ms-excel') {
    throw fail.invalidField('file', 'legacy .xls workbooks are not read; save the sheet as Excel Workbook (.xlsx) or CSV')
  }
  const isXlsx = /\.xlsx$/i.test(filename) || mimetype.includes('spreadsheetml') || (await startsWithZipMagic(spoolPath))
  // A workbook is read through its central directory, so it is opened as the file itself.
  if (isXlsx) return { kind: 'xlsx', data: { path: spoolPath }, ...(options.sheet ? { sheet: options.sheet } : {}) }
  return { kind: 'csv-file', stream: createReadStream(spoolPath) }
}

