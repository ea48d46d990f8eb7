/**
 * The automated Cadent hand-off: POST the campaign XML to the module's `cadentEndpointUrl`
 * (docs/execution-and-work-queue.md, "The Cadent endpoint contract"). Never called inside a
 * database transaction: a slow endpoint must not hold locks or PGlite's only connection.
 */

import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { printable } from '../../../shared/printable.ts'

export const DEFAULT_CADENT_TIMEOUT_MS = 10_000
/** Body bytes read from the answer; a campaign id is short, the rest is only for the error text. */
const MAX_RESPONSE_BYTES = 64 * 1024

export interface CadentPostOptions {
  timeoutMs: number
  /** Sent as Idempotency-Key so a receiver can recognise our retry of the same booking. */
  idempotencyKey: string
}

export type CadentPostOutcome =
  | { ok: true; httpStatus: number; campaignId: string | null; attempts: number }
  | { ok: false; httpStatus: number | null; error: string; attempts: number }

export type CadentPoster = (url: string, xml: string, options: CadentPostOptions) => Promise<CadentPostOutcome>

export { printable } from '../../../shared/printable.ts'

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/** A POST that did not get an answer; `delivered` is false only while the connection was never made. */
class PostFailure extends Error {
  readonly delivered: boolean
  readonly code: string | undefined
  readonly timedOut: boolean
  constructor(cause: unknown, delivered: boolean, timedOut: boolean) {
    super((cause as Error)?.message ?? String(cause))
    this.delivered = delivered
    this.code = (cause as { code?: string })?.code
    this.timedOut = timedOut
  }
}

/**
 * One POST on a fresh connection. Nothing of the request is written before the connection (and
 * for https the TLS handshake) is up, so a failure before that cannot have reached the endpoint:
 * connection refused, DNS, a connect timeout. Once connected, any failure (ECONNRESET, EPIPE, a
 * timeout waiting for the answer) may come after the endpoint read the request.
 */
function postOnce(target: URL, xml: string, headers: Record<string, string>, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(xml, 'utf8')
    const secure = target.protocol === 'https:'
    let connected = false
    let answered = false
    let finished = false
    let timedOut = false
    const finish = (outcome: () => void) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      outcome()
    }
    const request = (secure ? httpsRequest : httpRequest)(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(body.length) },
      agent: false,
    })
    const timer = setTimeout(() => {
      timedOut = true
      request.destroy(new Error(connected ? 'timed out' : 'connect timed out'))
    }, timeoutMs)
    request.on('socket', (socket) => {
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        connected = true
      })
    })
    request.on('error', (error) => {
      // After the status line arrived, the answer is what was read by then (see 'close' below).
      if (!answered) finish(() => reject(new PostFailure(error, connected, timedOut)))
    })
    request.on('response', (response) => {
      answered = true
      const chunks: Buffer[] = []
      let size = 0
      response.on('data', (chunk: Buffer) => {
        if (size >= MAX_RESPONSE_BYTES) return
        chunks.push(chunk)
        size += chunk.length
        if (size >= MAX_RESPONSE_BYTES) response.destroy()
      })
      response.on('error', () => undefined)
      response.on('close', () => finish(() => resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        body: Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8'),
      })))
    })
    request.end(body)
  })
}

/**
 * The campaign id of a 2xx answer, if it names one: JSON `cadentCampaignId`, `campaignId` or `id`;
 * XML `<CadentCampaignId>` or `<CampaignId>`; or the `X-Cadent-Campaign-Id` header.
 */
export function campaignIdFromResponse(body: string, contentType: string | null, header: string | null): string | null {
  // An id with control characters or broken UTF-16 is not one an operator could look up: none.
  const clean = (value: unknown) => {
    if (typeof value !== 'string' && typeof value !== 'number') return null
    const id = String(value).trim()
    return id !== '' && id.length <= 255 && !/[\p{Cc}\p{Cs}]/u.test(id) ? id : null
  }
  const trimmed = body.trim()
  if (contentType?.includes('json') || trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as Record<string, unknown>
      const id = clean(parsed.cadentCampaignId) ?? clean(parsed.campaignId) ?? clean(parsed.id)
      if (id) return id
    } catch {
      // Not JSON after all; try the other forms.
    }
  }
  const xml = /<(?:\w+:)?(?:CadentCampaignId|CampaignId)>\s*([^<]{1,255}?)\s*<\//.exec(trimmed)
  if (xml?.[1]) return xml[1]
  return clean(header)
}

function describe(failure: PostFailure): string {
  if (failure.timedOut) return failure.delivered ? 'timed out' : 'timed out connecting'
  return failure.code ? `connection failed (${failure.code})` : `request failed (${printable(failure.message)})`
}

/**
 * POSTs the XML with the booking's Idempotency-Key. One retry, and only when the request cannot
 * have been delivered (no connection was made: refused, DNS, connect timeout); a failure after
 * connecting (ECONNRESET, EPIPE, a timeout) or an HTTP error is final, since the endpoint may
 * have created the campaign. Redirects are not followed: a 3xx is a failure like any other
 * non-2xx answer.
 */
export const postCadentCampaign: CadentPoster = async (url, xml, options) => {
  const target = new URL(url)
  const headers = {
    'content-type': 'application/xml; charset=utf-8',
    accept: 'application/json, application/xml;q=0.9, */*;q=0.1',
    'idempotency-key': options.idempotencyKey,
  }
  let attempts = 0
  for (;;) {
    attempts += 1
    try {
      const answer = await postOnce(target, xml, headers, options.timeoutMs)
      if (answer.status >= 200 && answer.status < 300) {
        const contentType = typeof answer.headers['content-type'] === 'string' ? answer.headers['content-type'] : null
        const header = answer.headers['x-cadent-campaign-id']
        const campaignId = campaignIdFromResponse(answer.body, contentType, typeof header === 'string' ? header : null)
        return { ok: true, httpStatus: answer.status, campaignId, attempts }
      }
      const excerpt = printable(answer.body).replace(/\s+/g, ' ').trim().slice(0, 200)
      return { ok: false, httpStatus: answer.status, error: `answered HTTP ${answer.status}${excerpt ? `: ${excerpt}` : ''}`, attempts }
    } catch (error) {
      const failure = error instanceof PostFailure ? error : new PostFailure(error, true, false)
      if (attempts === 1 && !failure.delivered) continue
      return { ok: false, httpStatus: null, error: describe(failure), attempts }
    }
  }
}
