import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { StorefrontError } from '../../shared/errors.ts'
import { metrics } from '../../shared/metrics.ts'

export type RateLimitedEdge = 'rest' | 'mcp' | 'a2a'

export interface KeyRateLimitOptions {
  /** Requests one API key may make per window in this process; 0 turns the limit off. */
  max: number
  windowMs: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts the request against its API key's budget (request.apiKeyId; a request without one is
     * not counted) and throws 429 RATE_LIMITED (RATE_LIMIT_EXCEEDED) once the budget is spent,
     * with Retry-After set. Each edge maps the error once: REST to its envelope, /mcp and /a2a
     * to the AdCP error RATE_LIMITED.
     */
    limitKeyRate(request: FastifyRequest, reply: FastifyReply, edge: RateLimitedEdge): Promise<void>
  }
}

/**
 * Per-key request budgets, per process: a fixed window per key in @fastify/rate-limit's in-memory
 * LRU store (5000 keys), so a check costs no database round trip. With several server processes a
 * key's budget is per process (README "Rate limits" says why and what that means behind a balancer).
 */
export const keyRateLimit = fp(async (app: FastifyInstance, options: KeyRateLimitOptions) => {
  if (options.max === 0) {
    app.decorate('limitKeyRate', async () => {})
    return
  }
  await app.register(fastifyRateLimit, { global: false, max: options.max, timeWindow: options.windowMs })
  const check = app.createRateLimit({ max: options.max, timeWindow: options.windowMs, keyGenerator: (request) => `key:${request.apiKeyId}` })
  const windowSeconds = Math.ceil(options.windowMs / 1000)
  app.decorate('limitKeyRate', async (request: FastifyRequest, reply: FastifyReply, edge: RateLimitedEdge) => {
    if (request.apiKeyId === null) return
    const result = await check(request)
    if (result.isAllowed) return
    // The IETF draft's names (draft-ietf-httpapi-ratelimit-headers), on every answer the budget covers.
    reply.header('ratelimit-limit', String(result.max))
    reply.header('ratelimit-remaining', String(result.remaining))
    reply.header('ratelimit-reset', String(result.ttlInSeconds))
    if (!result.isExceeded) return
    const retryAfterSeconds = Math.max(1, result.ttlInSeconds)
    reply.header('retry-after', String(retryAfterSeconds))
    metrics.rateLimited(edge)
    throw new StorefrontError('RATE_LIMITED', `This API key sent more than ${result.max} requests in ${windowSeconds} s; retry after ${retryAfterSeconds} s`, {
      reason: 'RATE_LIMIT_EXCEEDED',
      limit: result.max,
      windowSeconds,
      retryAfterSeconds,
    })
  })
}, { name: 'key-rate-limit' })
