import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import {
  AttachModuleSchema,
  CadentDemoRequestSchema,
  CreateFeedSourceSchema,
  ModuleParamsSchema,
  UpdateModuleConfigSchema,
} from '../../modules/modular-sources/index.ts'
import {
  ModularSourceCreatedSchema,
  RuntimeProjectionSchema,
  type ModularSourceCreated,
} from '../../modules/readiness/index.ts'
import type { Services } from '../../services.ts'
import type { CadentDemoOutcome } from '../../workflows/modular-source-workflows.ts'
import { errorResponses } from '../openapi.ts'
import { callerOf } from '../plugins/caller.ts'
import { send } from '../plugins/idempotency.ts'
import { SourceParamsSchema } from './inventory-sources.ts'

const tags = ['Modular sources']
const errors = errorResponses('NOT_FOUND', 'CONFLICT')

const cadentDemoAnswer = ({ outcome, result }: { outcome: CadentDemoOutcome; result: ModularSourceCreated }) =>
  ({ statusCode: outcome === 'created' ? 201 : 200, payload: result })

/** Modular sources: creation, the readiness projection, and their modules (reference §2.9-2.14). */
export const modularRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const modular = services.modularSources

  app.post('/inventory-sources/modular/feed', {
    schema: {
      tags,
      summary: 'Create a feed-backed MODULAR_SOURCE with the avails feed and (by default) the booking ledger',
      body: CreateFeedSourceSchema,
      response: { 201: ModularSourceCreatedSchema.describe('The created source with its readiness'), ...errorResponses('CONFLICT') },
    },
  }, async (request, reply) => {
    reply.code(201)
    return modular.createFeedSource(callerOf(request).storefrontId, request.body)
  })

  app.post('/inventory-sources/modular/cadent-demo', {
    schema: {
      tags,
      summary: 'Create (201), return (200) or with reset rebuild (200) the Cadent demo source',
      body: CadentDemoRequestSchema,
      response: { 200: ModularSourceCreatedSchema.describe('The existing (or, with reset, rebuilt) demo source'), 201: ModularSourceCreatedSchema.describe('The created demo source'), ...errorResponses('CONFLICT') },
    },
    config: { answer: cadentDemoAnswer },
  }, async (request, reply) => send(reply, cadentDemoAnswer(await modular.createCadentDemo(callerOf(request).storefrontId, request.body))))

  app.get('/inventory-sources/:sourceId/modular', {
    schema: {
      tags,
      summary: 'Readiness projection of a modular source',
      params: SourceParamsSchema,
      response: { 200: RuntimeProjectionSchema.describe('The readiness projection'), ...errorResponses('NOT_FOUND') },
    },
  }, async (request) => modular.getProjection(callerOf(request).storefrontId, request.params.sourceId))

  app.post('/inventory-sources/:sourceId/modular/modules', {
    schema: {
      tags,
      summary: 'Attach a catalog module to a modular source',
      params: SourceParamsSchema,
      body: AttachModuleSchema,
      response: { 201: RuntimeProjectionSchema.describe('The readiness projection with the module attached'), ...errors },
    },
  }, async (request, reply) => {
    reply.code(201)
    return modular.attachModule(callerOf(request).storefrontId, request.params.sourceId, request.body)
  })

  app.patch('/inventory-sources/:sourceId/modular/modules/:moduleInstanceId/config', {
    schema: {
      tags,
      summary: 'Write non-secret module config, or set CONFIGURING, DISABLED or ERROR',
      params: ModuleParamsSchema,
      body: UpdateModuleConfigSchema,
      response: { 200: RuntimeProjectionSchema.describe('The readiness projection after the change'), ...errors },
    },
  }, async (request) => {
    const { sourceId, moduleInstanceId } = request.params
    return modular.updateModuleConfig(callerOf(request).storefrontId, sourceId, moduleInstanceId, request.body)
  })

  app.delete('/inventory-sources/:sourceId/modular/modules/:moduleInstanceId', {
    schema: {
      tags,
      summary: 'Remove a module; refused while it has open work items',
      params: ModuleParamsSchema,
      response: { 200: RuntimeProjectionSchema.describe('The readiness projection without the module'), ...errors },
    },
  }, async (request) => {
    const { sourceId, moduleInstanceId } = request.params
    return modular.removeModule(callerOf(request).storefrontId, sourceId, moduleInstanceId)
  })
}
