import path from 'node:path'
import fastifyCsrf from '@fastify/csrf-protection'
import fastifyFormbody from '@fastify/formbody'
import fastifyHelmet from '@fastify/helmet'
import fastifyMultipart from '@fastify/multipart'
import fastifySecureSession from '@fastify/secure-session'
import fastifyStatic from '@fastify/static'
import fastifyView from '@fastify/view'
import { Eta } from 'eta'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Caller } from '../access/access-service.ts'
import type { Actor } from '../modules/work-queue/index.ts'
import { isStorefrontError, type ValidationIssue } from '../shared/errors.ts'
import type { Services } from '../services.ts'
import { MULTIPART_FIELD_LIMIT_BYTES } from '../http/feed-uploads.ts'
import { availsPages, DEFAULT_FEED_BODY_LIMIT_BYTES } from './pages/avails.ts'
import { buyPages } from './pages/buys.ts'
import { keyPages } from './pages/keys.ts'
import { readinessPages } from './pages/readiness.ts'
import { signInPages } from './pages/sign-in.ts'
import { sourcePages } from './pages/sources.ts'
import { workPages } from './pages/work.ts'

/**
 * The operator console at /console (issue 13): server-rendered pages (Eta templates) over the same
 * services the REST API uses, with one small script for progressive enhancement. Every page is
 * behind an encrypted, httpOnly, SameSite=Strict session cookie; every POST carries a CSRF token;
 * helmet sends a strict CSP (scripts and styles only from /console/assets).
 */

export const CONSOLE_PREFIX = '/console'

/** How long a console session lasts from sign-in. */
export const CONSOLE_SESSION_SECONDS = 8 * 60 * 60

declare module '@fastify/secure-session' {
  interface SessionData {
    apiKeyId: number
    /** One message for the next page shown ("Source created"). */
    notice: string
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    consoleCaller: Caller | null
  }
}

export interface ConsoleOptions {
  services: Services
  feedBodyLimitBytes?: number | undefined
}

/** Pages anyone may open: signing in, and the assets the sign-in page needs. */
function isPublic(url: string): boolean {
  const pathname = url.split('?')[0]!
  return pathname.startsWith(`${CONSOLE_PREFIX}/sign-in`) || pathname.startsWith(`${CONSOLE_PREFIX}/assets/`) || pathname.startsWith(`${CONSOLE_PREFIX}/vendor/`)
}

/** The signed-in operator of a console request (set by the session hook). */
export function consoleCallerOf(request: FastifyRequest): Caller {
  if (!request.consoleCaller) throw new Error('console route reached without a signed-in operator')
  return request.consoleCaller
}

/** The operator behind a console request, as work-item events record it: the key that signed in (as on REST). */
export function consoleActorOf(request: FastifyRequest): Actor {
  return { type: 'OPERATOR', id: `api_key:${consoleCallerOf(request).apiKeyId}` }
}

/** Renders a page inside the layout, with what every page needs: the operator, a CSRF token, a notice. */
export async function renderPage(
  request: FastifyRequest,
  reply: FastifyReply,
  page: string,
  data: Record<string, unknown> & { title: string },
): Promise<FastifyReply> {
  const notice = request.session.get('notice')
  if (notice) request.session.set('notice', undefined)
  const html = await reply.viewAsync(page, {
    ...data,
    caller: request.consoleCaller,
    csrf: reply.generateCsrf(),
    notice: notice ?? null,
    currentPath: request.url.split('?')[0],
  })
  return reply.type('text/html; charset=utf-8').send(html)
}

/** After a successful POST: one notice, then a redirect (POST-redirect-GET). */
export function redirectWithNotice(request: FastifyRequest, reply: FastifyReply, location: string, notice: string): FastifyReply {
  request.session.set('notice', notice)
  return reply.code(303).redirect(location)
}

const CSP_DIRECTIVES = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  objectSrc: ["'none'"],
}

export async function consolePlugin(app: FastifyInstance, { services, feedBodyLimitBytes }: ConsoleOptions): Promise<void> {
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  })
  await app.register(fastifyFormbody, { bodyLimit: 1024 * 1024 })
  // Feed uploads and report files; a page reads its parts itself (spooled feeds, small report files).
  await app.register(fastifyMultipart, {
    limits: { fileSize: feedBodyLimitBytes ?? DEFAULT_FEED_BODY_LIMIT_BYTES, files: 1, fields: 20, fieldSize: MULTIPART_FIELD_LIMIT_BYTES, parts: 25 },
  })
  await app.register(fastifySecureSession, {
    key: services.consoleSessionKey,
    cookieName: 'storefront_console',
    expiry: CONSOLE_SESSION_SECONDS,
    cookie: { path: CONSOLE_PREFIX, httpOnly: true, sameSite: 'strict', secure: 'auto', maxAge: CONSOLE_SESSION_SECONDS },
  })
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/secure-session',
    // A form field (forms, and multipart uploads whose fields are read before the check) or the header scripts send.
    getToken: (request) => {
      const body = request.body as { _csrf?: unknown; kind?: unknown; fields?: Record<string, unknown> } | undefined
      const field = body?.kind === 'multipart' ? body.fields?._csrf : body?._csrf
      const header = request.headers['x-csrf-token']
      return typeof field === 'string' ? field : typeof header === 'string' ? header : undefined
    },
  })
  await app.register(fastifyStatic, { root: path.join(import.meta.dirname, 'assets'), prefix: `${CONSOLE_PREFIX}/assets/`, maxAge: 0 })
  await app.register(fastifyStatic, {
    root: path.dirname(new URL(import.meta.resolve('uplot')).pathname),
    prefix: `${CONSOLE_PREFIX}/vendor/uplot/`,
    decorateReply: false,
    allowedPath: (pathName) => pathName === '/uPlot.iife.min.js' || pathName === '/uPlot.min.css',
  })
  await app.register(fastifyView, {
    engine: { eta: new Eta({ views: path.join(import.meta.dirname, 'views'), autoEscape: true, cache: true, autoTrim: false }) },
    root: path.join(import.meta.dirname, 'views'),
    viewExt: 'eta',
  })

  app.decorateRequest('consoleCaller', null)
  // The session holds the id of the operator key that signed in, never the key; a revoked key ends
  // every session it opened at the next request.
  app.addHook('onRequest', async (request, reply) => {
    if (isPublic(request.url)) return
    const apiKeyId = request.session.get('apiKeyId')
    const caller = typeof apiKeyId === 'number' ? await services.access.callerOfKey(apiKeyId) : null
    if (!caller || caller.role !== 'operator') {
      if (apiKeyId !== undefined) request.session.delete()
      if (request.method === 'GET' && !request.headers.accept?.includes('text/event-stream')) {
        return reply.code(303).redirect(`${CONSOLE_PREFIX}/sign-in`)
      }
      return reply.code(401).type('text/plain; charset=utf-8').send('Signed out: sign in again at /console/sign-in')
    }
    request.consoleCaller = caller
  })
  // Every form and every script POST carries the session's CSRF token (a form field or X-CSRF-Token).
  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST') return
    await new Promise<void>((resolve, reject) => {
      app.csrfProtection(request, reply, (error?: Error) => (error ? reject(error) : resolve()))
    })
  })

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const { status, message, issues } = describeError(error)
    if (status >= 500) request.log.error({ err: error }, 'console request failed')
    reply.code(status)
    if (request.headers.accept?.includes('application/json')) return reply.send({ error: { message, issues } })
    return renderPage(request, reply, 'error', { title: status === 403 ? 'Refused' : 'Something went wrong', status, message, issues })
  })
  // Unknown pages under /console only (the root 404 stays the API's JSON envelope).
  await app.register(async (scope) => {
    scope.setNotFoundHandler(async (request, reply) => {
      reply.code(404)
      return renderPage(request, reply, 'error', { title: 'Not found', status: 404, message: `No console page at ${request.url.split('?')[0]}`, issues: [] })
    })
  }, { prefix: CONSOLE_PREFIX })

  const pages = { services, feedBodyLimitBytes }
  await app.register(signInPages, pages)
  await app.register(sourcePages, pages)
  await app.register(keyPages, pages)
  await app.register(readinessPages, pages)
  await app.register(availsPages, pages)
  await app.register(workPages, pages)
  await app.register(buyPages, pages)
}

function describeError(error: FastifyError): { status: number; message: string; issues: ValidationIssue[] } {
  if (isStorefrontError(error)) return { status: error.statusCode, message: error.message, issues: error.details?.issues ?? [] }
  if (error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET') {
    return { status: 403, message: 'This form was not sent from your console session (missing or invalid CSRF token). Reload the page and try again.', issues: [] }
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, message: error.message, issues: [] }
  }
  return { status: 500, message: 'Internal error; the request was not completed. See the server log for details.', issues: [] }
}
