import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { API_KEY_ROLES, sameSecret } from '../../access/access-service.ts'
import { idSchema, nameSchema } from '../../shared/common.schema.ts'
import { fail } from '../../shared/errors.ts'
import type { Services } from '../../services.ts'
import { bearerToken } from '../plugins/caller.ts'

const ApiKeySummarySchema = z.object({
  id: z.string(),
  storefront: z.string(),
  prefix: z.string(),
  label: z.string().nullable(),
  role: z.enum(API_KEY_ROLES),
  sandbox: z.boolean(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
})

/**
 * Local administration for the CLI while the server owns the embedded database. The token is
 * written into the data directory at start, so only someone who can read the data can use it.
 */
export const adminRoutes: FastifyPluginAsyncZod<{ services: Services; adminToken: string }> = async (app, { services, adminToken }) => {
  app.addHook('onRequest', async (request) => {
    const token = bearerToken(request)
    if (!token || !sameSecret(token, adminToken)) throw fail.unauthorized()
  })

  app.get('/admin/keys', {
    schema: { hide: true, querystring: z.object({ storefront: idSchema(255).optional() }), response: { 200: z.array(ApiKeySummarySchema) } },
  }, async (request) => services.access.listKeys(request.query.storefront))

  app.post('/admin/keys', {
    schema: {
      hide: true,
      body: z.object({
        storefront: idSchema(255),
        label: nameSchema(255).optional(),
        role: z.enum(API_KEY_ROLES).optional(),
        sandbox: z.boolean().optional(),
      }),
      response: { 201: ApiKeySummarySchema.extend({ key: z.string() }) },
    },
  }, async (request, reply) => {
    reply.code(201)
    return services.access.createKey(request.body)
  })

  app.post('/admin/keys/:keyId/revoke', {
    schema: { hide: true, params: z.object({ keyId: idSchema(255) }), response: { 200: ApiKeySummarySchema } },
  }, async (request) => services.access.revokeKey(request.params.keyId))
}
