import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { isStorefrontError } from '../shared/errors.ts'
import type { Services } from '../services.ts'

/**
 * OAuth 2.0 discovery for the agent at /mcp, over what the storefront really has: buyer keys.
 * The one grant is client credentials (RFC 6749 §4.4) whose client secret is a buyer key; the
 * access token it returns is that key, so a Bearer key and an OAuth-obtained token are the same
 * credential with the same checks at /mcp. No user consent, authorization code, refresh token or
 * JWT exists here, and the metadata says so (grant_types_supported). It serves buyers' OAuth-only
 * client stacks and the AdCP security_baseline storyboard's OAuth discovery probes.
 */

export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource/mcp'
export const AUTHORIZATION_SERVER_PATH = '/.well-known/oauth-authorization-server'
export const TOKEN_PATH = '/oauth/token'

export function originOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`
}

/** The RFC 9728 pointer a 401 from /mcp carries, so a client finds the metadata from the challenge. */
export function resourceMetadataUrl(request: FastifyRequest): string {
  return `${originOf(request)}${PROTECTED_RESOURCE_PATH}`
}

function tokenError(reply: FastifyReply, status: 400 | 401, error: string, description: string) {
  if (status === 401) reply.header('www-authenticate', 'Basic realm="storefront-adcp"')
  return reply.code(status).header('cache-control', 'no-store').send({ error, error_description: description })
}

/** client_secret_basic (RFC 6749 §2.3.1: form-encoded id and secret inside Basic) or client_secret_post. */
function clientSecret(request: FastifyRequest, form: Record<string, string>): string | undefined {
  const basic = /^Basic\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1]
  if (basic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon === -1) return undefined
    try {
      return decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '))
    } catch {
      return undefined
    }
  }
  return form.client_secret
}

export const oauthRoutes: FastifyPluginAsync<{ services: Services; mcpPath: string }> = async (app, { services, mcpPath }) => {
  // Token requests are form-encoded (RFC 6749 §4.4.2); only this plugin's routes parse that type.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })

  app.get(PROTECTED_RESOURCE_PATH, { schema: { hide: true } }, async (request) => {
    const origin = originOf(request)
    return {
      resource: `${origin}${mcpPath}`,
      authorization_servers: [origin],
      bearer_methods_supported: ['header'],
      resource_name: 'Storefront AdCP sales agent',
    }
  })

  app.get(AUTHORIZATION_SERVER_PATH, { schema: { hide: true } }, async (request) => {
    const origin = originOf(request)
    return {
      issuer: origin,
      token_endpoint: `${origin}${TOKEN_PATH}`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      // No authorization endpoint: nothing here is granted by a user.
      response_types_supported: [],
    }
  })

  app.post(TOKEN_PATH, { schema: { hide: true } }, async (request, reply) => {
    const form = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<string, string>
    if (form.grant_type !== 'client_credentials') {
      return tokenError(reply, 400, 'unsupported_grant_type', 'Only grant_type=client_credentials is supported (the client secret is a buyer API key)')
    }
    const secret = clientSecret(request, form)
    try {
      const caller = await services.access.authenticate(secret)
      if (caller.role !== 'buyer') return tokenError(reply, 401, 'invalid_client', 'The client secret must be a buyer API key')
    } catch (error) {
      if (!isStorefrontError(error) || error.code !== 'UNAUTHORIZED') throw error
      return tokenError(reply, 401, 'invalid_client', 'Unknown or revoked buyer API key')
    }
    return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send({ access_token: secret, token_type: 'Bearer' })
  })
}
