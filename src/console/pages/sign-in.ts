import type { FastifyInstance } from 'fastify'
import { isStorefrontError } from '../../shared/errors.ts'
import type { Services } from '../../services.ts'
import { CONSOLE_PREFIX, renderPage } from '../console.ts'
import { formOf } from '../forms.ts'

/**
 * Signing in: with the one-time link `storefront serve` prints, or by pasting an operator key.
 * The link's page only shows a button: a link opened by a mail scanner or a prefetch uses nothing,
 * the POST behind the button (same origin, CSRF token) uses the link.
 */
export async function signInPages(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  const signInPage = `${CONSOLE_PREFIX}/sign-in`

  app.get(CONSOLE_PREFIX, async (_request, reply) => reply.code(303).redirect(`${CONSOLE_PREFIX}/sources`))

  app.get(signInPage, async (request, reply) => renderPage(request, reply, 'sign-in', { title: 'Sign in', error: null }))

  app.post(signInPage, async (request, reply) => {
    const key = formOf(request.body).key?.trim() ?? ''
    let refusal: { status: number; message: string } | null = null
    try {
      const caller = await services.access.authenticate(key || undefined)
      if (caller.role !== 'operator') {
        refusal = { status: 403, message: 'This is a buyer key: buyer keys open the AdCP agent at /mcp, not the console. Sign in with an operator key.' }
      } else {
        // A fresh session (and with it a fresh CSRF secret) for the signed-in operator.
        request.session.regenerate()
        request.session.set('apiKeyId', caller.apiKeyId)
        request.session.set('notice', `Signed in to storefront ${caller.storefrontName}`)
        return reply.code(303).redirect(`${CONSOLE_PREFIX}/sources`)
      }
    } catch (error) {
      if (!isStorefrontError(error) || error.code !== 'UNAUTHORIZED') throw error
      refusal = { status: 401, message: 'That key is not a valid, unrevoked API key.' }
    }
    reply.code(refusal.status)
    return renderPage(request, reply, 'sign-in', { title: 'Sign in', error: refusal.message })
  })

  app.get(`${signInPage}/link`, async (request, reply) => {
    const token = String((request.query as Record<string, unknown>).token ?? '')
    return renderPage(request, reply, 'sign-in-link', { title: 'Sign in with a link', token })
  })

  app.post(`${signInPage}/link`, async (request, reply) => {
    const token = formOf(request.body).token ?? ''
    const caller = token ? await services.access.redeemConsoleLink(token) : null
    if (!caller) {
      reply.code(401)
      return renderPage(request, reply, 'sign-in', {
        title: 'Sign in',
        error: 'That sign-in link was already used, has expired or is unknown. Restart the server for a new one, or paste an operator key.',
      })
    }
    request.session.regenerate()
    request.session.set('apiKeyId', caller.apiKeyId)
    request.session.set('notice', `Signed in to storefront ${caller.storefrontName}`)
    return reply.code(303).redirect(`${CONSOLE_PREFIX}/sources`)
  })

  app.post(`${CONSOLE_PREFIX}/sign-out`, async (request, reply) => {
    request.session.delete()
    return reply.code(303).redirect(signInPage)
  })
}
