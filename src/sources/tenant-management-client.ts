import type { z } from 'zod'
import {
  InventorySourceStatusSchema,
  managedStatusFromWire,
  TenantStatusWireSchema,
  type InventorySourceStatus,
  type TenantStatusWire,
} from '../modules/source-status/index.ts'
import type { Clock } from '../shared/clock.ts'
import type { ErrorReason } from '../shared/errors.ts'

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 5_000
/** A tenant status is a few kilobytes; anything near this is not one. */
export const MAX_UPSTREAM_BODY_BYTES = 1024 * 1024

/** Where a managed sales-agent tenant lives and the key of its tenant-management API. */
export interface ManagedConnection {
  upstreamUrl: string
  tenantId: string
  apiKey: string
}

export type UpstreamFailureReason = Extract<
  ErrorReason,
  'UPSTREAM_UNREACHABLE' | 'UPSTREAM_TIMEOUT' | 'UPSTREAM_CREDENTIAL_REJECTED' | 'TENANT_NOT_FOUND' | 'UPSTREAM_HTTP_ERROR' | 'UPSTREAM_MALFORMED'
>

/**
 * A failed upstream call: a reason and a message an operator can act on. The message names the
 * host and what went wrong, never the upstream's body nor the credential.
 */
export interface UpstreamFailure {
  ok: false
  reason: UpstreamFailureReason
  message: string
  /** The HTTP status the upstream answered, when it answered one. */
  httpStatus?: number
}

export type UpstreamResult<T> = { ok: true; value: T } | UpstreamFailure

export interface UpstreamJsonRequest {
  url: URL
  headers: Record<string, string>
  timeoutMs: number
  maxBytes?: number
  /** Every form in which a secret travels with the request, scrubbed from any message. */
  secrets: string[]
  /** What the call reads, for messages: "the tenant status". */
  what: string
  /** Text for a 404, which means something specific to each API. */
  notFound?: { reason: UpstreamFailureReason; message: string }
}

/**
 * One bounded GET of a JSON document from an upstream: one deadline covers connecting, the
 * headers and the whole body; redirects are not followed (they would carry the credential to
 * another origin); the body is capped. Every failure is classified once, here.
 */
export async function getUpstreamJson(request: UpstreamJsonRequest): Promise<UpstreamResult<unknown>> {
  const { url, timeoutMs } = request
  const host = url.host
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(), timeoutMs)
  const failure = (reason: UpstreamFailureReason, message: string, httpStatus?: number): UpstreamFailure => ({
    ok: false,
    reason,
    message: redact(message, request.secrets),
    ...(httpStatus === undefined ? {} : { httpStatus }),
  })
  try {
    let response: Response
    try {
      response = await fetch(url, { method: 'GET', headers: request.headers, redirect: 'manual', signal: deadline.signal })
    } catch (error) {
      if (deadline.signal.aborted) return failure('UPSTREAM_TIMEOUT', `The sales agent at ${host} did not answer ${request.what} within ${seconds(timeoutMs)}.`)
      return failure('UPSTREAM_UNREACHABLE', `The sales agent at ${host} could not be reached${networkCode(error)}.`)
    }
    if (response.status < 200 || response.status > 299) {
      await response.body?.cancel().catch(() => undefined)
      const status = response.status
      if (status === 401 || status === 403) {
        return failure('UPSTREAM_CREDENTIAL_REJECTED', `The tenant-management API at ${host} refused the apiKey (HTTP ${status}).`, status)
      }
      if (status === 404 && request.notFound) return failure(request.notFound.reason, request.notFound.message, status)
      if (status >= 300 && status < 400) {
        return failure('UPSTREAM_HTTP_ERROR', `The sales agent at ${host} answered a redirect (HTTP ${status}), which is not followed; set upstreamUrl to its final base URL.`, status)
      }
      return failure('UPSTREAM_HTTP_ERROR', `The sales agent at ${host} answered HTTP ${status} to ${request.what}.`, status)
    }
    let text: string
    try {
      const read = await readCapped(response, request.maxBytes ?? MAX_UPSTREAM_BODY_BYTES)
      if (read === null) return failure('UPSTREAM_MALFORMED', `The sales agent at ${host} answered ${request.what} with more than ${request.maxBytes ?? MAX_UPSTREAM_BODY_BYTES} bytes.`)
      text = read
    } catch {
      if (deadline.signal.aborted) return failure('UPSTREAM_TIMEOUT', `The sales agent at ${host} did not finish sending ${request.what} within ${seconds(timeoutMs)}.`)
      return failure('UPSTREAM_UNREACHABLE', `The sales agent at ${host} dropped the connection while sending ${request.what}.`)
    }
    try {
      return { ok: true, value: JSON.parse(text) as unknown }
    } catch {
      return failure('UPSTREAM_MALFORMED', `The sales agent at ${host} answered ${request.what} with a body that is not JSON.`)
    }
  } finally {
    clearTimeout(timer)
  }
}

/** The body as text, or null when it is longer than maxBytes. */
async function readCapped(response: Response, maxBytes: number): Promise<string | null> {
  if (!response.body) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body) {
    size += chunk.byteLength
    if (size > maxBytes) {
      await response.body.cancel().catch(() => undefined)
      return null
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Node's error code (ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED…): names the failure, carries no data. */
function networkCode(error: unknown): string {
  let current: unknown = error
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(code)) return ` (${code})`
    current = (current as { cause?: unknown }).cause
  }
  return ''
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`
}

function redact(message: string, secrets: string[]): string {
  let result = message
  for (const secret of secrets) if (secret) result = result.split(secret).join('[redacted]')
  return result
}

/** The tenant's status resource under a sales agent's base URL (which may carry a path prefix). */
export function tenantStatusUrl(upstreamUrl: string, tenantId: string): URL {
  const base = new URL(upstreamUrl)
  base.pathname = `${base.pathname.replace(/\/+$/, '')}/api/v1/tenant-management/tenants/${encodeURIComponent(tenantId)}/status`
  return base
}

/** At most three zod issues as "path: message": where the shape is wrong, never the values. */
function shapeProblems(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    // Path segments are the agent's keys: only plain field names and indexes are repeated.
    .map((issue) => `${issue.path.map((part) => (/^[A-Za-z0-9_]{1,40}$/.test(String(part)) ? String(part) : '…')).join('.') || '(root)'}: ${issue.message}`)
    .join('; ')
}

/** A tenant status as the agent sent it and as the storefront shows it, both checked. */
export interface TenantStatusRead {
  wire: TenantStatusWire
  /** In the storefront's shape, `fetchedAt` the time of the read. */
  status: InventorySourceStatus
}

export interface TenantManagementClient {
  /** One live read of the tenant's status, checked as sent and as it will be shown, or why not. */
  readTenantStatus(connection: ManagedConnection): Promise<UpstreamResult<TenantStatusRead>>
}

/** The storefront's client of the reference sales agent's tenant-management API. */
export function createTenantManagementClient(options: { clock: Clock; timeoutMs?: number | undefined }): TenantManagementClient {
  const { clock } = options
  const timeoutMs = options.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS
  return {
    async readTenantStatus(connection) {
      const url = tenantStatusUrl(connection.upstreamUrl, connection.tenantId)
      const read = await getUpstreamJson({
        url,
        headers: { accept: 'application/json', 'x-tenant-management-api-key': connection.apiKey },
        timeoutMs,
        secrets: [connection.apiKey],
        what: 'the tenant status',
        notFound: {
          reason: 'TENANT_NOT_FOUND',
          message: `The sales agent at ${url.host} has no tenant ${JSON.stringify(connection.tenantId)} (HTTP 404), or upstreamUrl is not the base URL of a sales agent with the tenant-management API.`,
        },
      })
      if (!read.ok) return read
      const parsed = TenantStatusWireSchema.safeParse(read.value)
      const malformed = (error: z.ZodError): UpstreamFailure => ({
        ok: false,
        reason: 'UPSTREAM_MALFORMED',
        message: `The sales agent at ${url.host} answered JSON that is not a tenant status (${shapeProblems(error)}).`,
      })
      if (!parsed.success) return malformed(parsed.error)
      // Fields the wire schema passes through unchecked (a newer agent's blocks) must still fit the
      // answer's schema: checked here, a misfit is this upstream's malformed answer, never a 500 later,
      // and creation, PUT and test-connection refuse what GET /status could not show.
      const shown = InventorySourceStatusSchema.safeParse(managedStatusFromWire(parsed.data, clock.now()))
      if (!shown.success) return malformed(shown.error)
      return { ok: true, value: { wire: parsed.data, status: shown.data } }
    },
  }
}
