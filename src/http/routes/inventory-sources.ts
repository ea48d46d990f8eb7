import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { idSchema, PaginationQuerySchema } from '../../shared/common.schema.ts'
import type { Services } from '../../services.ts'
import { InventorySourceStatusSchema } from '../../modules/source-status/index.ts'
import { DiagnosticsQuerySchema, SourceDiagnosticsSchema } from '../../sources/diagnostics.schema.ts'
import {
  CreateAgentSourceSchema,
  CreateManagedSourceSchema,
  InventorySourceResponseSchema,
  RefreshResponseSchema,
  TestConnectionResponseSchema,
  UpdateAgentSourceSchema,
} from '../../sources/source.schema.ts'
import { errorResponses, type HeaderDoc } from '../openapi.ts'
import { callerOf } from '../plugins/caller.ts'

export const SourceParamsSchema = z.object({ sourceId: idSchema(255) })

const tags = ['Inventory sources']
const notFound = errorResponses('NOT_FOUND')

/** The X-Total-Count header of a paged list. */
export const totalCountHeader: Record<string, HeaderDoc> = {
  'X-Total-Count': { description: 'How many items match in all, across every page.', schema: { type: 'integer', minimum: 0 } },
}

export const inventorySourceRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/inventory-sources', {
    schema: {
      tags,
      summary: 'List inventory sources of every execution type',
      querystring: PaginationQuerySchema,
      response: { 200: z.array(InventorySourceResponseSchema).describe('One page of sources; X-Total-Count has the total') },
      openapi: { responseHeaders: { 200: totalCountHeader } },
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
      response: { 201: InventorySourceResponseSchema.describe('The created source'), ...errorResponses('CONFLICT') },
    },
  }, async (request, reply) => {
    reply.code(201)
    return services.sources.createAgent(callerOf(request).storefrontId, request.body)
  })

  app.post('/inventory-sources/managed', {
    schema: {
      tags,
      summary: 'Register a managed sales-agent tenant (MANAGED_SALES_AGENT), ACTIVE once one live read of its status succeeds',
      body: CreateManagedSourceSchema,
      response: { 201: InventorySourceResponseSchema.describe('The registered source'), ...errorResponses('CONFLICT') },
    },
  }, async (request, reply) => {
    reply.code(201)
    return services.sources.createManaged(callerOf(request).storefrontId, request.body)
  })

  app.get('/inventory-sources/:sourceId', {
    schema: {
      tags,
      summary: 'Read one inventory source',
      params: SourceParamsSchema,
      response: { 200: InventorySourceResponseSchema.describe('The source'), ...notFound },
    },
  }, async (request) => services.sources.get(callerOf(request).storefrontId, request.params.sourceId))

  app.put('/inventory-sources/:sourceId', {
    schema: {
      tags,
      summary: 'Update an AGENT source (fields, status, auth) or a managed source (name, description, status, apiKey)',
      params: SourceParamsSchema,
      body: UpdateAgentSourceSchema,
      response: { 200: InventorySourceResponseSchema.describe('The updated source'), ...errorResponses('NOT_FOUND', 'CONFLICT') },
    },
  }, async (request) => services.sourceWorkflows.updateSource(callerOf(request).storefrontId, request.params.sourceId, request.body))

  app.delete('/inventory-sources/:sourceId', {
    schema: {
      tags,
      summary: 'Delete an inventory source',
      params: SourceParamsSchema,
      response: { 204: z.null().describe('Deleted'), ...errorResponses('NOT_FOUND', 'CONFLICT') },
    },
  }, async (request, reply) => {
    // The status is set first: the Idempotency-Key answer is recorded inside the delete's transaction.
    reply.code(204)
    await services.sourceWorkflows.deleteSource(callerOf(request).storefrontId, request.params.sourceId)
    return reply.send(null)
  })

  app.get('/inventory-sources/:sourceId/status', {
    schema: {
      tags,
      summary: 'Operational status in one shape for every kind: local state, the managed tenant (cached 5 s), or the last probe',
      params: SourceParamsSchema,
      response: { 200: InventorySourceStatusSchema.describe('The operational status'), ...errorResponses('NOT_FOUND', 'UPSTREAM_ERROR') },
    },
  }, async (request) => services.sourceStatus.status(callerOf(request).storefrontId, request.params.sourceId))

  app.get('/inventory-sources/:sourceId/diagnostics', {
    schema: {
      tags,
      summary: 'Traffic diagnostics of an AGENT or modular source over a window (windowHours 1..720, default 24), from what the storefront recorded',
      params: SourceParamsSchema,
      querystring: DiagnosticsQuerySchema,
      response: { 200: SourceDiagnosticsSchema.describe('The diagnostics over the window'), ...notFound },
    },
  }, async (request) => services.sourceDiagnostics.diagnostics(callerOf(request).storefrontId, request.params.sourceId, request.query))

  app.post('/inventory-sources/:sourceId/refresh', {
    schema: {
      tags,
      summary: 'Drop the cached tenant status of a managed source: the next GET /status reads the tenant',
      params: SourceParamsSchema,
      response: { 200: RefreshResponseSchema.describe('The cache was dropped'), ...notFound },
    },
  }, async (request) => services.sourceStatus.refresh(callerOf(request).storefrontId, request.params.sourceId))

  app.post('/inventory-sources/:sourceId/test-connection', {
    schema: {
      tags,
      summary: 'Test an AGENT (live probe) or managed source (tenant status); a failed test is 200 with success false',
      params: SourceParamsSchema,
      response: { 200: TestConnectionResponseSchema.describe('The result of the test, passed or failed'), ...notFound },
    },
  }, async (request) => services.sources.testConnection(callerOf(request).storefrontId, request.params.sourceId))
}
