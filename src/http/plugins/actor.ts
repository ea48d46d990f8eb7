import type { FastifyRequest } from 'fastify'
import type { Actor } from '../../modules/work-queue/index.ts'
import { callerOf } from './caller.ts'

/** The operator behind a request, as work-item events and completions record it: the API key. */
export function operatorOf(request: FastifyRequest): Actor {
  return { type: 'OPERATOR', id: `api_key:${callerOf(request).apiKeyId}` }
}
