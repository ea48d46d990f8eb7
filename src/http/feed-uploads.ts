import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { readdir, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { StorefrontError } from '../shared/errors.ts'

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
