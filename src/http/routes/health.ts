import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Services } from '../../services.ts'

const tags = ['Operations']

export const healthRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/healthz', {
    schema: { tags, summary: 'The process is up', response: { 200: z.object({ status: z.literal('ok') }).describe('The process is up') } },
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    schema: {
      tags,
      summary: 'The database answers and every migration is applied',
      response: {
        200: z.object({ status: z.literal('ready'), engine: z.enum(['pglite', 'postgres']) }).describe('Ready to serve'),
        503: z.object({ status: z.literal('unavailable'), reason: z.string() }).describe('Not ready: the database does not answer or migrations are pending'),
      },
    },
  }, async (request, reply) => {
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
