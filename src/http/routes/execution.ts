import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { DeliverySchema } from '../../modules/delivery/index.ts'
import { FinalizeRequestSchema } from '../../modules/execution/index.ts'
import { FinalizeResponseSchema } from '../../modules/readiness/index.ts'
import { idSchema } from '../../shared/common.schema.ts'
import type { Services } from '../../services.ts'
import { operatorOf } from '../plugins/actor.ts'
import { errorResponses } from '../openapi.ts'
import { callerOf } from '../plugins/caller.ts'
import { SourceParamsSchema } from './inventory-sources.ts'


/** Execution hand-off and delivery (SPEC §2, §3). */
export const executionRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post('/inventory-sources/:sourceId/modular/bookings/finalize', {
    schema: {
      tags: ['Booking ledger'],
      summary: 'Hand a HELD reservation to execution: the Cadent endpoint or work items (idempotent)',
      params: SourceParamsSchema,
      body: FinalizeRequestSchema,
      response: { 200: FinalizeResponseSchema.describe('The booking as handed to execution (the same on a repeat)'), ...errorResponses('NOT_FOUND', 'CONFLICT') },
    },
  }, async (request) => services.execution.finalize(callerOf(request).storefrontId, request.params.sourceId, request.body, operatorOf(request)))

  app.get('/inventory-sources/:sourceId/modular/delivery', {
    schema: {
      tags: ['Modular sources'],
      summary: 'Imported delivery of a media buy: totals, daily rows and lines',
      params: SourceParamsSchema,
      querystring: z.object({ mediaBuyId: idSchema(255) }),
      response: { 200: DeliverySchema.describe('The delivery imported so far'), ...errorResponses('NOT_FOUND') },
    },
  }, async (request) => services.execution.delivery(callerOf(request).storefrontId, request.params.sourceId, request.query.mediaBuyId))
}
