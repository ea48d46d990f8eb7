import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { API_KEY_ROLES } from '../../access/access-service.ts'
import { idSchema, nameSchema } from '../../shared/common.schema.ts'
import type { Services } from '../../services.ts'
import { CONSOLE_PREFIX, consoleCallerOf, redirectWithNotice, renderPage } from '../console.ts'
import { checked, formOf, optionalText, parseWith } from '../forms.ts'

const CreateKeyFormSchema = z.object({
  label: nameSchema(255).optional(),
  role: z.enum(API_KEY_ROLES as ['operator', 'buyer']),
  sandbox: z.boolean(),
})

const KeyParamsSchema = z.object({ keyId: idSchema(40).regex(/^\d+$/, 'must be a key id') })

/** Keys of the signed-in storefront: list, create (the new key shown once), revoke. */
export async function keyPages(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  const page = async (request: Parameters<typeof renderPage>[0], reply: Parameters<typeof renderPage>[1], created: { key: string; role: string; sandbox: boolean } | null) => {
    const keys = await services.access.listStorefrontKeys(consoleCallerOf(request).storefrontId)
    return renderPage(request, reply, 'keys', { title: 'Keys', keys, created, roles: API_KEY_ROLES, ownKeyId: String(consoleCallerOf(request).apiKeyId) })
  }

  app.get(`${CONSOLE_PREFIX}/keys`, async (request, reply) => page(request, reply, null))

  app.post(`${CONSOLE_PREFIX}/keys`, async (request, reply) => {
    const fields = formOf(request.body)
    const input = parseWith(CreateKeyFormSchema, { label: optionalText(fields, 'label'), role: fields.role ?? '', sandbox: checked(fields, 'sandbox') })
    const created = await services.access.createKey({ storefront: consoleCallerOf(request).storefrontName, ...input })
    // Shown in this answer only (no redirect): only its hash is stored.
    reply.header('cache-control', 'no-store')
    return page(request, reply, { key: created.key, role: created.role, sandbox: created.sandbox })
  })

  app.post(`${CONSOLE_PREFIX}/keys/:keyId/revoke`, async (request, reply) => {
    const { keyId } = parseWith(KeyParamsSchema, request.params)
    const revoked = await services.access.revokeStorefrontKey(consoleCallerOf(request).storefrontId, Number(keyId))
    return redirectWithNotice(request, reply, `${CONSOLE_PREFIX}/keys`, `Key ${revoked.prefix}… revoked`)
  })
}
