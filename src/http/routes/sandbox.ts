import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errorResponses } from '../openapi.ts'
import type { Services } from '../../services.ts'
import { callerOf } from '../plugins/caller.ts'

export const SandboxResetSchema = z
  .object({
    sourceId: z.string().describe('The rebuilt sandbox source.'),
    deleted: z.object({
      mediaBuys: z.number().int().min(0),
      accounts: z.number().int().min(0),
      idempotencyRecords: z.number().int().min(0).describe('AdCP idempotency_key replay rows of the storefront\'s sandbox keys.'),
      tasks: z.number().int().min(0).describe('AdCP tasks of the sandbox accounts.'),
    }),
  })
  .meta({ id: 'SandboxReset' })
export type SandboxReset = z.output<typeof SandboxResetSchema>

/** The AdCP sandbox of sandbox buyer keys, as the operator manages it. */
export const sandboxRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post('/sandbox/reset', {
    schema: {
      tags: ['AdCP sandbox'],
      summary: 'Delete every sandbox buy, hold, account, task and replay row of the storefront and rebuild its sandbox source',
      body: z.object({}).strict().optional(),
      response: { 200: SandboxResetSchema.describe('What was deleted, and the rebuilt sandbox source'), ...errorResponses('CONFLICT') },
    },
  }, async (request): Promise<SandboxReset> => {
    const { sourceId, ...deleted } = await services.sandbox.reset(callerOf(request).storefrontId)
    return { sourceId, deleted }
  })
}
