/**
 * The automated Cadent hand-off: POST the campaign XML to the module's `cadentEndpointUrl`
 * (docs/execution-and-work-queue.md, "The Cadent endpoint contract"). Never called inside a
 * database transaction: a slow endpoint must not hold locks or PGlite's only connection.
 */

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

/** Errors where the request never reached the endpoint, so sending it again cannot duplicate a campaign. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT',
])

function errorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string } })?.cause
  return cause?.code ?? (error as { code?: string })?.code
}

function isConnectionError(error: unknown): boolean {
  const code = errorCode(error)
  return code !== undefined && CONNECTION_ERROR_CODES.has(code)
}

function isTimeout(error: unknown): boolean {
  const name = (error as { name?: string })?.name
  return name === 'TimeoutError' || name === 'AbortError'
}

async function readCapped(response: Response): Promise<string> {
  if (!response.body) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  while (size < MAX_RESPONSE_BYTES) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    size += value.length
  }
  await reader.cancel().catch(() => undefined)
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_BYTES)
}

/**
 * The campaign id of a 2xx answer, if it names one: JSON `cadentCampaignId`, `campaignId` or `id`;
 * XML `<CadentCampaignId>` or `<CampaignId>`; or the `X-Cadent-Campaign-Id` header.
 */
export function campaignIdFromResponse(body: string, contentType: string | null, header: string | null): string | null {
  const clean = (value: unknown) => (typeof value === 'string' || typeof value === 'number') && String(value).trim() !== '' ? String(value).trim().slice(0, 255) : null
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

function describe(error: unknown): string {
  if (isTimeout(error)) return 'timed out'
  const code = errorCode(error)
  return code ? `connection failed (${code})` : `request failed (${(error as Error)?.message ?? String(error)})`
}

/**
 * POSTs the XML. One retry, and only on a connection error (the request never arrived); a timeout
 * or an HTTP error is final, since the endpoint may have created the campaign. Redirects are not
 * followed: a 3xx is a failure like any other non-2xx answer.
 */
export const postCadentCampaign: CadentPoster = async (url, xml, options) => {
  let attempts = 0
  for (;;) {
    attempts += 1
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/xml; charset=utf-8',
          accept: 'application/json, application/xml;q=0.9, */*;q=0.1',
          'idempotency-key': options.idempotencyKey,
        },
        body: xml,
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      })
      const body = await readCapped(response)
      if (response.status >= 200 && response.status < 300) {
        const campaignId = campaignIdFromResponse(body, response.headers.get('content-type'), response.headers.get('x-cadent-campaign-id'))
        return { ok: true, httpStatus: response.status, campaignId, attempts }
      }
      const excerpt = body.replace(/\s+/g, ' ').trim().slice(0, 200)
      return { ok: false, httpStatus: response.status, error: `answered HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`, attempts }
    } catch (error) {
      if (attempts === 1 && isConnectionError(error)) continue
      return { ok: false, httpStatus: null, error: describe(error), attempts }
    }
  }
}
