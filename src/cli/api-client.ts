import { errorStatus, StorefrontError, type ErrorCode, type ErrorDetails } from '../shared/errors.ts'

/**
 * The CLI's client of a running server's REST API: operator verbs (work items, finalize) go
 * through the same API, auth and validation as any other client.
 */

export const DEFAULT_STOREFRONT_URL = 'http://127.0.0.1:3000'
const API_PREFIX = '/api/v2/storefront'

export class ApiUsageError extends Error {}

export interface ApiClient {
  baseUrl: string
  /** The absolute URL of a storefront API path, e.g. `/inventory-sources`. */
  urlOf(path: string): string
  /** The Authorization header every request carries. */
  authorization: { authorization: string }
  request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && code in errorStatus
}

export function apiClientFromEnv(env: NodeJS.ProcessEnv = process.env): ApiClient {
  // An empty variable means "not set", as for the server's own configuration.
  const baseUrl = (env.STOREFRONT_URL || DEFAULT_STOREFRONT_URL).replace(/\/+$/, '')
  const key = env.STOREFRONT_API_KEY
  if (!key) throw new ApiUsageError('Set STOREFRONT_API_KEY to an API key of your storefront (storefront keys create --storefront <name>).')
  const authorization = { authorization: `Bearer ${key}` }
  const urlOf = (path: string) => `${baseUrl}${API_PREFIX}${path}`
  return {
    baseUrl,
    urlOf,
    authorization,
    async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      let response: Response
      try {
        response = await fetch(urlOf(path), {
          method,
          headers: { ...authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(120_000),
        })
      } catch (error) {
        throw new Error(`Cannot reach the Storefront server at ${baseUrl} (${(error as Error).message}); is it running? Set STOREFRONT_URL otherwise.`)
      }
      const text = await response.text()
      const parsed = text ? (JSON.parse(text) as unknown) : null
      if (response.ok) return parsed as T
      const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: ErrorDetails } } | null)?.error
      if (error && isErrorCode(error.code)) throw new StorefrontError(error.code, String(error.message), error.details)
      throw new Error(`The server answered HTTP ${response.status}`)
    },
  }
}
