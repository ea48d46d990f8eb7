import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Caller } from '../../access/access-service.ts'
import { fail } from '../../shared/errors.ts'
import type { Services } from '../../services.ts'

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

/** Every route registered inside this plugin's scope requires a valid storefront key. */
export const authenticateCallers = fp(
  async (app: FastifyInstance, { services }: { services: Services }) => {
    app.decorateRequest('caller', null)
    app.addHook('onRequest', async (request) => {
      request.caller = await services.access.authenticate(bearerToken(request))
    })
  },
  { name: 'authenticate-callers', encapsulate: false },
)
