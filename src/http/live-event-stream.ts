import type { ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { LIVE_EVENTS_RETRY_AFTER_SECONDS, type LiveEvent } from '../modules/live-events/index.ts'
import { isStorefrontError } from '../shared/errors.ts'
import type { Services } from '../services.ts'

/* The server-sent event stream of work-item changes, shared by the REST route and the console. */

/** The reconnect delay the stream asks an EventSource to use. */
export const STREAM_RETRY_MS = 3_000
/** A client that reads nothing while this much is queued is cut off; it reconnects and re-reads. */
const MAX_UNREAD_BYTES = 1024 * 1024

function frame(event: LiveEvent): string {
  if (event.type === 'resync') return 'event: resync\ndata: {}\n\n'
  return `event: work-item\ndata: ${JSON.stringify(event.change)}\n\n`
}

/** The streams one plugin has open (ended by its preClose hook) and the feed they read. */
export interface LiveEventStreams {
  live: Services['liveEvents']
  open: Set<ServerResponse>
  heartbeatMs: number
}

/**
 * Answers a request with the storefront's work-item changes as server-sent events: subscribed
 * before the headers go out, a heartbeat comment while idle, released when the client goes away.
 * The REST route and the console's queue page both stream through here.
 */
export async function streamLiveEvents({ live, open, heartbeatMs: heartbeat }: LiveEventStreams, request: FastifyRequest, reply: FastifyReply, storefrontId: number): Promise<void> {
  const response = reply.raw
  // Between the server ending a stream and its 'close', nothing more is written.
  const send = (text: string) => {
    if (!response.writableEnded) response.write(text)
  }
  let unsubscribe: () => void
  try {
    unsubscribe = live.subscribe(storefrontId, (event) => {
      if (response.writableLength > MAX_UNREAD_BYTES) {
        request.log.warn('live-events client reads nothing; closing its stream')
        response.destroy()
        return
      }
      send(frame(event))
    })
  } catch (error) {
    if (isStorefrontError(error) && error.code === 'RATE_LIMITED') reply.header('retry-after', String(LIVE_EVENTS_RETRY_AFTER_SECONDS))
    throw error
  }

  reply.hijack()
  open.add(response)
  const timer = setInterval(() => send(': heartbeat\n\n'), heartbeat)
  const release = () => {
    clearInterval(timer)
    unsubscribe()
    open.delete(response)
  }
  // The response closes when the client goes away, when the server ends it, or on a socket error.
  response.on('close', release)
  response.on('error', () => undefined)
  // A client gone before the handler ran has already closed: nothing will announce it again.
  if (request.raw.socket.destroyed) {
    release()
    return
  }
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx and similar proxies would otherwise buffer the stream.
    'x-accel-buffering': 'no',
  })
  response.write(`retry: ${STREAM_RETRY_MS}\n: live work-item changes\n\n`)
}

