import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Services } from '../../services.ts'

const tags = ['Operations']

export interface HealthRouteOptions {
  services: Services
  /** True once the process is shutting down: /readyz then fails so a balancer stops sending it requests. */
  isDraining?: (() => boolean) | undefined
}

export const healthRoutes: FastifyPluginAsyncZod<HealthRouteOptions> = async (app, { services, isDraining }) => {
  app.get('/healthz', {
    schema: { tags, summary: 'The process is up', response: { 200: z.object({ status: z.literal('ok') }).describe('The process is up') } },
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    schema: {
      tags,
      summary: 'The database answers, every migration is applied and the process is not shutting down',
      response: {
        200: z.object({ status: z.literal('ready'), engine: z.enum(['pglite', 'postgres']) }).describe('Ready to serve'),
        503: z.object({ status: z.literal('unavailable'), reason: z.string() }).describe('Not ready: the database does not answer or migrations are pending'),
      },
    },
  }, async (request, reply) => {
    if (isDraining?.()) return reply.code(503).send({ status: 'unavailable' as const, reason: 'draining' })
    try {
      await services.checkReady()
      return { status: 'ready' as const, engine: services.engine }
    } catch (error) {
      request.log.warn({ err: error }, 'not ready')
      // Says which condition failed without echoing driver messages.
      const reason = error instanceof Error && error.message.startsWith('Migrations not applied') ? 'migrations pending' : 'database unavailable'
      return reply.code(503).send({ status: 'unavailable' as const, reason })
    }
  })
}
