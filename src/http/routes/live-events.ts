import type { ServerResponse } from 'node:http'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Services } from '../../services.ts'
import { streamLiveEvents } from '../live-event-stream.ts'
import { callerOf } from '../plugins/caller.ts'

export interface LiveEventRouteOptions {
  services: Services
  /** How often an idle stream gets a comment line, so proxies and browsers keep it open; default 15 s. */
  heartbeatMs?: number | undefined
}

export const DEFAULT_HEARTBEAT_MS = 15_000
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
      response: {
        200: { description: 'The event stream, open until the client or the server closes it', content: { 'text/event-stream': { schema: z.string() } } },
      },
    },
  }, async (request, reply) => streamLiveEvents({ live, open, heartbeatMs: heartbeat }, request, reply, callerOf(request).storefrontId))
}
