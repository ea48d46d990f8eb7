import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { ErrorBodySchema, idSchema, PaginationQuerySchema } from '../../shared/common.schema.ts'
import type { Services } from '../../services.ts'
import {
  CreateAgentSourceSchema,
  InventorySourceResponseSchema,
  UpdateAgentSourceSchema,
} from '../../sources/source.schema.ts'
import { callerOf } from '../plugins/caller.ts'

export const SourceParamsSchema = z.object({ sourceId: idSchema(255) })

const tags = ['Inventory sources']
const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema }

export const inventorySourceRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/inventory-sources', {
    schema: {
      tags,
      summary: 'List inventory sources of every execution type',
      querystring: PaginationQuerySchema,
      response: { 200: z.array(InventorySourceResponseSchema), 400: ErrorBodySchema, 401: ErrorBodySchema },
    },
  }, async (request, reply) => {
    const { items, total } = await services.sources.list(callerOf(request).storefrontId, request.query)
    reply.header('x-total-count', String(total))
    return items
  })

  app.post('/inventory-sources', {
    schema: {
      tags,
      summary: 'Create an AGENT inventory source',
      body: CreateAgentSourceSchema,
      response: { 201: InventorySourceResponseSchema, ...errors },
    },
  }, async (request, reply) => {
    reply.code(201)
    return services.sources.createAgent(callerOf(request).storefrontId, request.body)
  })

  app.get('/inventory-sources/:sourceId', {
    schema: {
      tags,
      summary: 'Read one inventory source',
      params: SourceParamsSchema,
      response: { 200: InventorySourceResponseSchema, 401: ErrorBodySchema, 404: ErrorBodySchema },
    },
  }, async (request) => services.sources.get(callerOf(request).storefrontId, request.params.sourceId))

  app.put('/inventory-sources/:sourceId', {
    schema: {
      tags,
      summary: 'Update an AGENT source: fields, status transition or credential rotation',
      params: SourceParamsSchema,
      body: UpdateAgentSourceSchema,
      response: { 200: InventorySourceResponseSchema, ...errors },
    },
  }, async (request) => services.sources.updateAgent(callerOf(request).storefrontId, request.params.sourceId, request.body))

  app.delete('/inventory-sources/:sourceId', {
    schema: {
      tags,
      summary: 'Delete an inventory source',
      params: SourceParamsSchema,
      response: { 204: z.null().describe('Deleted'), 400: ErrorBodySchema, 401: ErrorBodySchema, 404: ErrorBodySchema },
    },
  }, async (request, reply) => {
    // The status is set first: the Idempotency-Key answer is recorded inside the delete's transaction.
    reply.code(204)
    await services.sourceWorkflows.deleteSource(callerOf(request).storefrontId, request.params.sourceId)
    return reply.send(null)
  })
}
