import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'

/** One POST as a buyer's receiver saw it. */
export interface CapturedWebhook {
  url: string
  headers: IncomingHttpHeaders
  body: string
  /** The body's idempotency_key, what a receiver dedupes by. */
  idempotencyKey: string | undefined
}

export interface WebhookReceiver {
  url: string
  received: CapturedWebhook[]
  /** The most requests of one idempotency_key open at the same moment. */
  maxInFlightPerKey(): number
  /** Requests received but not yet answered. */
  open(): number
  distinctKeys(): Set<string>
  close(): Promise<void>
}

/**
 * A buyer's webhook receiver on loopback. `answer` picks each request's status (default 200) from
 * the attempt number of its idempotency_key (1 for the first); `holdMs` delays every answer.
 */
export async function startWebhookReceiver(options: { answer?: (attempt: number, captured: CapturedWebhook) => number; holdMs?: number } = {}): Promise<WebhookReceiver> {
  const received: CapturedWebhook[] = []
  const inFlight = new Map<string, number>()
  const attemptsOf = new Map<string, number>()
  let maxInFlight = 0
  let open = 0
  const server: Server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      let idempotencyKey: string | undefined
      try {
        idempotencyKey = (JSON.parse(body) as { idempotency_key?: string }).idempotency_key
      } catch {
        idempotencyKey = undefined
      }
      const captured = { url: request.url ?? '/', headers: request.headers, body, idempotencyKey }
      received.push(captured)
      const key = idempotencyKey ?? ''
      const attempt = (attemptsOf.get(key) ?? 0) + 1
      attemptsOf.set(key, attempt)
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1)
      maxInFlight = Math.max(maxInFlight, inFlight.get(key)!)
      open++
      const status = options.answer?.(attempt, captured) ?? 200
      const finish = () => {
        inFlight.set(key, inFlight.get(key)! - 1)
        open--
        response.writeHead(status, { 'content-type': 'application/json' }).end('{}')
      }
      if (options.holdMs) setTimeout(finish, options.holdMs)
      else finish()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('receiver not listening')
  return {
    url: `http://127.0.0.1:${address.port}`,
    received,
    maxInFlightPerKey: () => maxInFlight,
    open: () => open,
    distinctKeys: () => new Set(received.map((captured) => captured.idempotencyKey).filter((key): key is string => key !== undefined)),
    close: () => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
