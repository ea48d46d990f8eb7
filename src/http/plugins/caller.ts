import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Caller } from '../../access/access-service.ts'
import { fail } from '../../shared/errors.ts'
import type { Services } from '../../services.ts'
import { answersOnEveryRoute } from '../openapi.ts'

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (!header) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

/** The authenticated caller of a storefront route; the storefront is never in the path. */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw fail.unauthorized()
  return request.caller
}

/** Every route registered inside this plugin's scope requires a valid operator key of a storefront. */
export const authenticateCallers = fp(
  async (app: FastifyInstance, { services }: { services: Services }) => {
    app.decorateRequest('caller', null)
    answersOnEveryRoute(app, { errors: ['UNAUTHORIZED', 'ACCESS_DENIED'] })
    app.addHook('onRequest', async (request) => {
      const caller = await services.access.authenticate(bearerToken(request))
      // A buyer's agent acts for an advertiser, not the seller: it never reaches the operator API.
      if (caller.role !== 'operator') throw fail.accessDenied('WRONG_KEY_ROLE', 'Buyer keys open the AdCP agent at /mcp, not the REST API')
      request.caller = caller
      request.apiKeyId = caller.apiKeyId
    })
  },
  { name: 'authenticate-callers', encapsulate: false },
)
