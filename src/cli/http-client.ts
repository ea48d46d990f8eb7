import type { ErrorDetails } from '../shared/errors.ts'
import { terminalText } from './table.ts'

/**
 * The CLI's one HTTP client. Operator verbs (work items, finalize, avails import) go through a
 * running server's REST API with an API key, the same API, auth and validation as any other
 * client; the admin verbs use it with the data dir's admin token while a server owns the
 * embedded database. Every error answer becomes an ApiError, which failure.ts maps to an exit code.
 */

export const DEFAULT_STOREFRONT_URL = 'http://127.0.0.1:3000'
export const API_PREFIX = '/api/v2/storefront'

/**
 * Bad invocation (missing flag, missing key): exit code 2 with the usage text. Matched by `name` in
 * failure.ts, as the bundled CLI and a copy loaded through tsx are different classes.
 */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError'
}

/** The server answered with an error; `status` is the HTTP status, `code` its error code. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: ErrorDetails) {
    super(message)
  }
}

/** The server could not be reached at all, or answered something that is not JSON. */
export class ServerUnreachableError extends Error {}

export interface RequestOptions {
  /** Sent as JSON with its content type. */
  json?: unknown
  /** Sent as is (a multipart form or an encoded stream); `headers` then carries its content type. */
  body?: BodyInit
  headers?: Record<string, string>
  /** 120 s by default; null for none (a large feed upload takes as long as it takes). */
  timeoutMs?: number | null
}

export interface HttpClient {
  baseUrl: string
  request<T>(method: 'GET' | 'POST', path: string, options?: RequestOptions): Promise<T>
}

export function httpClient(baseUrl: string, token: string, pathPrefix = ''): HttpClient {
  const origin = baseUrl.replace(/\/+$/, '')
  return {
    baseUrl: origin,
    async request<T>(method: 'GET' | 'POST', path: string, options: RequestOptions = {}): Promise<T> {
      const body = options.json === undefined ? options.body : JSON.stringify(options.json)
      const headers = {
        authorization: `Bearer ${token}`,
        ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      }
      let response: Response
      try {
        response = await fetch(`${origin}${pathPrefix}${path}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body }),
          // A streamed request body must say so.
          ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
          ...(options.timeoutMs === null ? {} : { signal: AbortSignal.timeout(options.timeoutMs ?? 120_000) }),
        } as RequestInit)
      } catch (error) {
        const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message
        throw new ServerUnreachableError(`Cannot reach the storefront server at ${origin}: ${cause}. Is it running (storefront serve)? Set STOREFRONT_URL otherwise.`)
      }
      const text = await response.text()
      let parsed: unknown = null
      try {
        parsed = text ? JSON.parse(text) : null
      } catch {
        throw new ServerUnreachableError(`The server answered ${response.status} with something that is not JSON: ${terminalText(text.slice(0, 200))}`)
      }
      if (response.ok) return parsed as T
      const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: ErrorDetails } } | null)?.error
      throw new ApiError(
        response.status,
        typeof error?.code === 'string' ? error.code : 'INTERNAL_ERROR',
        typeof error?.message === 'string' ? error.message : `The server answered HTTP ${response.status}`,
        error?.details,
      )
    },
  }
}

/** The storefront REST API of STOREFRONT_URL with STOREFRONT_API_KEY. */
export function apiClientFromEnv(env: NodeJS.ProcessEnv = process.env): HttpClient {
  // An empty variable means "not set", as for the server's own configuration.
  const key = env.STOREFRONT_API_KEY
  if (!key) throw new CliUsageError('Set STOREFRONT_API_KEY to an API key of your storefront (storefront keys create --storefront <name>).')
  return httpClient(env.STOREFRONT_URL || DEFAULT_STOREFRONT_URL, key, API_PREFIX)
}
