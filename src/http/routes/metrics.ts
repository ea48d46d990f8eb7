import { timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { fail, StorefrontError } from '../../shared/errors.ts'
import { metrics } from '../../shared/metrics.ts'
import { bearerToken } from '../plugins/caller.ts'

export interface MetricsRouteOptions {
  /** METRICS_TOKEN: a scraper sends it as a bearer token; unset, only local requests are answered. */
  token?: string | undefined
}

const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const

function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return v4.startsWith('127.') || address === '::1'
}

/** Made on this host, not relayed: a loopback peer and no proxy's forwarding header. */
function isLocalRequest(request: FastifyRequest): boolean {
  return isLoopback(request.raw.socket.remoteAddress) && FORWARDING_HEADERS.every((name) => request.headers[name] === undefined)
}

function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * GET /metrics: the Prometheus exposition of src/shared/metrics.ts. The series say how much a
 * seller sells (holds, books, feed rows), so they are not public: with METRICS_TOKEN a scraper
 * sends it as a bearer token; without it only requests made on this host are answered (a scraper
 * or agent beside the process), never one relayed by a proxy. Kept out of the OpenAPI document:
 * it is no part of the storefront API.
 */
export const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, { token }) => {
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (token) {
      if (!sameToken(bearerToken(request), token)) {
        reply.header('www-authenticate', 'Bearer realm="storefront-metrics"')
        throw new StorefrontError('UNAUTHORIZED', 'Missing or invalid metrics token (Authorization: Bearer <METRICS_TOKEN>)')
      }
    } else if (!isLocalRequest(request)) {
      throw fail.accessDenied('METRICS_NOT_LOCAL', 'GET /metrics answers only requests made on this host; set METRICS_TOKEN to scrape it from elsewhere')
    }
    return reply.header('cache-control', 'no-store').type(metrics.contentType).send(await metrics.render())
  })
}
