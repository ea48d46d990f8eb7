import type { ServerResponse } from 'node:http'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { LIVE_EVENTS_RETRY_AFTER_SECONDS, type LiveEvent } from '../../modules/live-events/index.ts'
import { ErrorBodySchema } from '../../shared/common.schema.ts'
import { isStorefrontError } from '../../shared/errors.ts'
import type { Services } from '../../services.ts'
import { callerOf } from '../plugins/caller.ts'

export interface LiveEventRouteOptions {
  services: Services
  /** How often an idle stream gets a comment line, so proxies and browsers keep it open; default 15 s. */
  heartbeatMs?: number | undefined
}

export const DEFAULT_HEARTBEAT_MS = 15_000
/** The reconnect delay the stream asks an EventSource to use. */
export const STREAM_RETRY_MS = 3_000
/** A client that reads nothing while this much is queued is cut off; it reconnects and re-reads. */
const MAX_UNREAD_BYTES = 1024 * 1024

function frame(event: LiveEvent): string {
  if (event.type === 'resync') return 'event: resync\ndata: {}\n\n'
  return `event: work-item\ndata: ${JSON.stringify(event.change)}\n\n`
}

/**
 * GET /work-items/events: the storefront's work-item changes as server-sent events, from the
 * process's one change feed (services.liveEvents). A stream is subscribed before its headers go
 * out, so a client that opens it and then reads the list misses nothing in between.
 */
export const liveEventRoutes: FastifyPluginAsyncZod<LiveEventRouteOptions> = async (app, { services, heartbeatMs }) => {
  const live = services.liveEvents
  const open = new Set<ServerResponse>()
  const heartbeat = heartbeatMs ?? DEFAULT_HEARTBEAT_MS

  // Listening starts with the app, before it takes requests (see LiveEvents.start).
  await live.start({ log: app.log })
  // preClose, not onClose: Fastify closes its server before the onClose hooks and waits for open
  // responses, so the streams must end first or close would wait for every client to leave.
  app.addHook('preClose', async () => {
    for (const response of [...open]) response.end()
  })
  app.addHook('onClose', async () => live.stop())

  app.get('/work-items/events', {
    // A HEAD would open a stream that sends nothing and never ends.
    exposeHeadRoute: false,
    schema: {
      tags: ['Work items'],
      summary: 'Stream the storefront\'s work-item changes (server-sent events)',
      description:
        'text/event-stream. One `work-item` event per committed change, data `{workItemId, sourceId, kind, status, changedAt}`; ' +
        'a `resync` event when changes may have been missed; a comment line every 15 s. At most once, after commit, ' +
        'never replayed: open the stream, then read the list, and read it again after every reconnect or resync.',
      response: { 401: ErrorBodySchema, 403: ErrorBodySchema, 429: ErrorBodySchema },
    },
  }, async (request, reply) => {
    const { storefrontId } = callerOf(request)
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
  })
}
