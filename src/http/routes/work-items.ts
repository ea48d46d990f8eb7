import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import {
  BlockWorkItemSchema,
  CancelWorkItemSchema,
  CompleteWorkItemSchema,
  FollowUpWorkItemSchema,
  StartWorkItemSchema,
  WorkItemChangedSchema,
  WorkItemDetailSchema,
  WorkItemFollowUpSchema,
  WorkItemListQuerySchema,
  WorkItemListSchema,
  WorkItemParamsSchema,
} from '../../modules/work-queue/index.ts'
import type { Services } from '../../services.ts'
import { operatorOf } from '../plugins/actor.ts'
import { errorResponses } from '../openapi.ts'
import { callerOf } from '../plugins/caller.ts'
import { SourceParamsSchema } from './inventory-sources.ts'

const tags = ['Work items']
const errors = errorResponses('NOT_FOUND', 'CONFLICT')
const changed = WorkItemChangedSchema.describe('The work item after the change')
const base = '/inventory-sources/:sourceId/modular/work-items'

/** The modular source's human work queue (reference §2.21, SPEC §3 "Work items"). */
export const workItemRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const work = services.workItems

  app.get(base, {
    schema: {
      tags,
      summary: 'List work items (default: OPEN, IN_PROGRESS and BLOCKED), oldest first',
      params: SourceParamsSchema,
      querystring: WorkItemListQuerySchema,
      response: { 200: WorkItemListSchema.describe('The matching work items'), ...errorResponses('NOT_FOUND') },
    },
  }, async (request) => work.list(callerOf(request).storefrontId, request.params.sourceId, request.query))

  app.get(`${base}/:workItemId`, {
    schema: {
      tags,
      summary: 'Read a work item with its event history',
      params: WorkItemParamsSchema,
      response: { 200: WorkItemDetailSchema.describe('The work item and its events'), ...errorResponses('NOT_FOUND') },
    },
  }, async (request) => work.get(callerOf(request).storefrontId, request.params.sourceId, request.params.workItemId))

  app.post(`${base}/:workItemId/complete`, {
    schema: {
      tags,
      summary: 'Complete a work item and apply its side effect in the same transaction',
      params: WorkItemParamsSchema,
      body: CompleteWorkItemSchema,
      response: { 200: changed, ...errors },
    },
  }, async (request) => {
    const { sourceId, workItemId } = request.params
    return work.complete(callerOf(request).storefrontId, sourceId, workItemId, request.body, operatorOf(request))
  })

  app.post(`${base}/:workItemId/start`, {
    schema: {
      tags,
      summary: 'Assign a work item and mark it IN_PROGRESS',
      params: WorkItemParamsSchema,
      body: StartWorkItemSchema,
      response: { 200: changed, ...errors },
    },
  }, async (request) => {
    const { sourceId, workItemId } = request.params
    return work.start(callerOf(request).storefrontId, sourceId, workItemId, request.body, operatorOf(request))
  })

  app.post(`${base}/:workItemId/block`, {
    schema: {
      tags,
      summary: 'Mark a work item BLOCKED with the reason',
      params: WorkItemParamsSchema,
      body: BlockWorkItemSchema,
      response: { 200: changed, ...errors },
    },
  }, async (request) => {
    const { sourceId, workItemId } = request.params
    return work.block(callerOf(request).storefrontId, sourceId, workItemId, request.body, operatorOf(request))
  })

  app.post(`${base}/:workItemId/cancel`, {
    schema: {
      tags,
      summary: 'Cancel a work item; its side effect never runs',
      params: WorkItemParamsSchema,
      body: CancelWorkItemSchema,
      response: { 200: changed, ...errors },
    },
  }, async (request) => {
    const { sourceId, workItemId } = request.params
    return work.cancel(callerOf(request).storefrontId, sourceId, workItemId, request.body, operatorOf(request))
  })

  app.post(`${base}/:workItemId/follow-up`, {
    schema: {
      tags,
      summary: 'Open the next item of a line after this one: a later delivery report (C7 after live) of an UPLOAD_FINAL_REPORT item',
      params: WorkItemParamsSchema,
      // No body at all (Fastify reads it as null) asks for the defaults.
      body: FollowUpWorkItemSchema.nullish(),
      response: { 201: WorkItemFollowUpSchema.describe('The new OPEN item, on the same line'), ...errors },
    },
  }, async (request, reply) => {
    const { sourceId, workItemId } = request.params
    reply.code(201)
    return work.followUp(callerOf(request).storefrontId, sourceId, workItemId, request.body ?? {}, operatorOf(request))
  })
}
