import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { requestFingerprint } from '../../idempotency/idempotency-store.ts'
import { fail } from '../../shared/errors.ts'
import type { Services } from '../../services.ts'
import { callerOf } from './caller.ts'

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyClaim: { key: string; claimedAt: Date } | null
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

/**
 * `Idempotency-Key` on any mutating route: the same key and request within 24 h replays the
 * stored response with `Idempotent-Replayed: true`; the same key with another request is 409.
 */
export const idempotency = fp(
  async (app: FastifyInstance, { services }: { services: Services }) => {
    app.decorateRequest('idempotencyClaim', null)

    app.addHook('preHandler', async (request, reply) => {
      const header = request.headers['idempotency-key']
      if (!MUTATING.has(request.method) || header === undefined) return
      const key = Array.isArray(header) ? header[0] : header
      if (!key || !KEY_PATTERN.test(key)) throw fail.invalidField('Idempotency-Key', 'must be 1-255 visible ASCII characters')
      const caller = callerOf(request)
      const fingerprint = requestFingerprint(request.method, request.url, request.body)
      const outcome = await services.idempotency.claim(caller.storefrontId, key, fingerprint)
      if (outcome.kind === 'replay') {
        reply.code(outcome.statusCode).header('idempotent-replayed', 'true')
        if (outcome.body === '') return reply.send()
        return reply.type('application/json; charset=utf-8').send(outcome.body)
      }
      request.idempotencyClaim = { key, claimedAt: outcome.claimedAt }
    })

    app.addHook('onSend', async (request, reply, payload) => {
      const claim = request.idempotencyClaim
      if (!claim || !request.caller) return payload
      request.idempotencyClaim = null
      if (reply.statusCode >= 500) {
        await services.idempotency.abandon(request.caller.storefrontId, claim.key, claim.claimedAt)
      } else {
        const body = typeof payload === 'string' ? payload : payload === null || payload === undefined ? '' : String(payload)
        await services.idempotency.complete(request.caller.storefrontId, claim.key, claim.claimedAt, reply.statusCode, body)
      }
      return payload
    })
  },
  { name: 'idempotency', encapsulate: false, dependencies: ['authenticate-callers'] },
)
