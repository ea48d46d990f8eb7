import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { metrics } from '../../shared/metrics.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The id of the API key that authenticated the request (REST, /mcp, /a2a), for the access line; never the key. */
    apiKeyId: number | null
  }
}

// What a proxy or a client may name a request by; anything else gets a fresh id.
const GIVEN_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
const LOGGED_PATH_MAX = 512

/**
 * The id a request is logged and answered under (`X-Request-Id`): the one the caller or its proxy
 * sent when it is a plain token, so one id follows a request across hops; else a fresh UUID.
 */
export function requestIdOf(raw: IncomingMessage): string {
  const given = raw.headers['x-request-id']
  return typeof given === 'string' && GIVEN_REQUEST_ID.test(given) ? given : randomUUID()
}

/**
 * One access line per request, written when its answer is sent (Fastify's own two request lines
 * are off: buildApp sets disableRequestLogging), and the request metrics. The line names the
 * route template and the path without its query (a console sign-in link carries its token there),
 * the status, the time in ms and the key's id.
 */
export const accessLog = fp(async (app: FastifyInstance) => {
  app.decorateRequest('apiKeyId', null)
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  app.addHook('onResponse', async (request, reply) => {
    // A path no route matched has no template: all of them are one series, not one per path.
    const route = request.routeOptions.url ?? 'unmatched'
    const status = reply.statusCode
    const elapsedMs = reply.elapsedTime
    metrics.httpRequest({ method: request.method, route, status }, elapsedMs / 1000)
    const path = (request.url.split('?')[0] ?? '').slice(0, LOGGED_PATH_MAX)
    const line = {
      method: request.method,
      route,
      path,
      status,
      responseTimeMs: Math.round(elapsedMs * 10) / 10,
      ...(request.apiKeyId === null ? {} : { keyId: request.apiKeyId }),
    }
    request.log.info(line, 'request completed')
  })
}, { name: 'access-log' })
