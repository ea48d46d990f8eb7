import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Transaction } from '../../db/database.ts'
import { requestFingerprint, type IdempotencyClaim } from '../../idempotency/idempotency-store.ts'
import { fail } from '../../shared/errors.ts'
import { runInUnitOfWork } from '../../shared/unit-of-work.ts'
import type { Services } from '../../services.ts'
import { answersOnEveryRoute } from '../openapi.ts'
import { callerOf } from './caller.ts'

/** The status and body a route answers with, from its workflow's result. */
export interface RouteAnswer<Payload = unknown> {
  statusCode: number
  payload: Payload
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: { claim: IdempotencyClaim; recorded: { statusCode: number; body: string } | null } | null
  }
  interface FastifyContextConfig {
    /**
     * How the result of the route's outcome transaction becomes its answer, for a route that does
     * not answer with that result as it is under the status set before the call. The handler
     * answers through the same function (`send`), so what is recorded is what is sent.
     */
    answer?: (result: never) => RouteAnswer
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

/** Answers with `answer`: the handler's half of a route's `config.answer`. */
export function send<Payload>(reply: FastifyReply, answer: RouteAnswer<Payload>): Payload {
  reply.code(answer.statusCode)
  return answer.payload
}

/** The body as the client receives it: through the route's response schema, none for 204. */
function serializeAnswer(reply: FastifyReply, { statusCode, payload }: RouteAnswer): string {
  reply.code(statusCode)
  return statusCode === 204 ? '' : String(reply.serialize(payload))
}

function sentBody(statusCode: number, payload: unknown): string {
  if (statusCode === 204 || payload === null || payload === undefined) return ''
  return typeof payload === 'string' ? payload : String(payload)
}

/**
 * `Idempotency-Key` on any mutating route: the same key and request within 24 h replays the
 * stored response with `Idempotent-Replayed: true`; the same key with another request is 409.
 *
 * The answer to a change is recorded in the transaction that commits the change (the request
 * runs as a unit of work; see `outcomeTransaction`), so a process that dies after COMMIT and
 * before answering still leaves the answer to replay. An answer without such a transaction (a
 * refusal, a route that changes nothing) is recorded when it is sent.
 */
export const idempotency = fp(
  async (app: FastifyInstance, { services }: { services: Services }) => {
    app.decorateRequest('idempotency', null)
    answersOnEveryRoute(app, {
      methods: MUTATING,
      // A malformed key is a 400; a key used for another request, or still in progress, a 409.
      errors: ['VALIDATION_ERROR', 'CONFLICT'],
      requestHeaders: {
        'Idempotency-Key': {
          description: 'Makes the request safe to retry for 24 h: the same key and request replays the stored answer; the same key with another request is 409 IDEMPOTENCY_KEY_REUSED, and one still in progress 409 IDEMPOTENCY_KEY_IN_PROGRESS.',
          schema: { type: 'string', minLength: 1, maxLength: 255, pattern: KEY_PATTERN.source },
        },
      },
      responseHeaders: {
        '2XX': { 'Idempotent-Replayed': { description: 'true when this answer is the stored answer to an earlier request with the same Idempotency-Key.', schema: { type: 'string', enum: ['true'] } } },
      },
    })

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
      request.idempotency = { claim: outcome.claim, recorded: null }
    })

    // Callback style, so the handler runs inside the unit of work (an async hook's context ends with it).
    app.addHook('preHandler', (request, reply, done) => {
      if (!request.idempotency) return done()
      runInUnitOfWork({
        beforeCommit: (trx, result) => recordAnswer(request, reply, trx, result),
        rolledBack: () => {
          if (request.idempotency) request.idempotency.recorded = null
        },
      }, done)
    })

    async function recordAnswer(request: FastifyRequest, reply: FastifyReply, trx: Transaction, result: unknown) {
      const state = request.idempotency
      if (!state) return
      const answer = request.routeOptions.config.answer
      const routeAnswer = answer ? answer(result as never) : { statusCode: reply.statusCode, payload: result }
      const body = serializeAnswer(reply, routeAnswer)
      await services.idempotency.record(trx, state.claim, routeAnswer.statusCode, body)
      state.recorded = { statusCode: routeAnswer.statusCode, body }
    }

    app.addHook('onSend', async (request, reply, payload) => {
      const state = request.idempotency
      if (!state) return payload
      request.idempotency = null
      const body = sentBody(reply.statusCode, payload)
      if (state.recorded) {
        // A route whose answer is not its outcome transaction's result needs `config.answer`.
        if (reply.statusCode < 500 && (reply.statusCode !== state.recorded.statusCode || body !== state.recorded.body)) {
          request.log.error({ recordedStatus: state.recorded.statusCode, sentStatus: reply.statusCode }, 'the answer sent differs from the idempotent answer recorded at commit')
        }
      } else if (reply.statusCode >= 500) {
        await services.idempotency.abandon(state.claim)
      } else {
        await services.idempotency.complete(state.claim, reply.statusCode, body)
      }
      return payload
    })
  },
  { name: 'idempotency', encapsulate: false, dependencies: ['authenticate-callers'] },
)
