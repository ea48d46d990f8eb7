import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { MediaBuyListQuerySchema, MediaBuyListSchema } from '../../modules/media-buys/index.ts'
import type { Services } from '../../services.ts'
import { callerOf } from '../plugins/caller.ts'

/** The AdCP media buys buyer agents placed on the storefront, for its operator (SPEC §4). */
export const mediaBuyRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/media-buys', {
    schema: {
      tags: ['Media buys'],
      summary: 'List the storefront\'s AdCP media buys with their packages, newest first',
      querystring: MediaBuyListQuerySchema,
      response: { 200: MediaBuyListSchema.describe('One page of media buys') },
    },
  }, async (request) => services.mediaBuys.listForOperator(callerOf(request).storefrontId, request.query))
}
