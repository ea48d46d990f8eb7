import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod'
import { errorStatus, isStorefrontError, type ErrorCode, type ErrorDetails, type ValidationIssue } from '../../shared/errors.ts'

export interface ErrorBody {
  data: null
  error: { code: ErrorCode; message: string; details?: ErrorDetails }
}

export function errorBody(code: ErrorCode, message: string, details?: ErrorDetails): ErrorBody {
  return { data: null, error: { code, message, ...(details ? { details } : {}) } }
}

/** `avails[3].impressionsCapacity` from ['avails', 3, 'impressionsCapacity']. */
export function formatIssuePath(segments: ReadonlyArray<PropertyKey>): string {
  return segments.reduce<string>((out, segment) => {
    if (typeof segment === 'number') return `${out}[${segment}]`
    return out ? `${out}.${String(segment)}` : String(segment)
  }, '')
}

// Fastify's own client errors, mapped once onto the catalog.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'VALIDATION_ERROR',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_ERROR',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_ERROR',
  FST_ERR_CTP_EMPTY_TYPE: 'VALIDATION_ERROR',
  FST_ERR_CTP_INVALID_TYPE: 'VALIDATION_ERROR',
  FST_ERR_INVALID_URL: 'VALIDATION_ERROR',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'VALIDATION_ERROR',
  FST_ERR_RATE_LIMIT: 'RATE_LIMITED',
}

/** Longest raw path segment the router matches; see buildApp. */
export const MAX_PATH_PARAM_LENGTH = 1024

/**
 * Errors the router raises before any route or hook runs: an undecodable path (FST_ERR_BAD_URL)
 * and a segment over MAX_PATH_PARAM_LENGTH (FST_ERR_MAX_PARAM_LENGTH, Fastify's 414). Both are
 * the client's request, so they are a 400 VALIDATION_ERROR like every other malformed input; the
 * status stays the catalog's, as for 415.
 */
export function frameworkErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? `A path segment is longer than ${MAX_PATH_PARAM_LENGTH} characters`
    : 'The request path is not a valid URL'
  reply.code(400).send(errorBody('VALIDATION_ERROR', message))
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (headers or request line over the
 * 16 KiB limit, a malformed request line): answered in the error envelope, then the socket closes.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const [status, code, message]: [number, ErrorCode, string] = error.code === 'HPE_HEADER_OVERFLOW'
    ? [413, 'PAYLOAD_TOO_LARGE', 'The request line and headers exceed the server limit']
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [400, 'VALIDATION_ERROR', 'The request was not received in time']
      : [400, 'VALIDATION_ERROR', 'The request is not valid HTTP']
  const body = JSON.stringify(errorBody(code, message))
  if (socket.writable) {
    const reason = status === 413 ? 'Payload Too Large' : 'Bad Request'
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(error)
}

/**
 * The one mapping from thrown errors to the wire: catalog errors keep their code; schema
 * errors list every field; anything unexpected is a 500 whose message says nothing internal.
 */
export const errorHandlerPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isStorefrontError(error)) {
      if (error.statusCode >= 500) request.log.error({ err: error }, 'request failed')
      return reply.code(error.statusCode).send(errorBody(error.code, error.message, error.details))
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const context = error.validationContext ?? 'body'
      const issues: ValidationIssue[] = error.validation.map((issue) => {
        const segments = issue.instancePath.split('/').filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s))
        return { path: formatIssuePath(segments) || context, message: issue.message ?? 'is invalid' }
      })
      const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')
      return reply.code(400).send(errorBody('VALIDATION_ERROR', `Invalid ${context}: ${summary}`, { issues }))
    }
    if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return reply.code(400).send(errorBody('VALIDATION_ERROR', 'The request body is not valid JSON'))
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined
    if (mapped) {
      return reply.code(errorStatus[mapped]).send(errorBody(mapped, error.message))
    }
    if (error.statusCode === 415 || error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(400).send(errorBody('VALIDATION_ERROR', `Unsupported Content-Type: ${request.headers['content-type'] ?? 'none'}`))
    }
    // Any other client error a plugin raises (multipart limits, malformed forms) is the client's,
    // never a 500: keep its message, which describes the request, under the catalog code.
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      const code: ErrorCode = error.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : error.statusCode === 429 ? 'RATE_LIMITED' : 'VALIDATION_ERROR'
      return reply.code(errorStatus[code]).send(errorBody(code, error.message))
    }
    if (isResponseSerializationError(error)) {
      request.log.error({ err: error, issues: error.cause?.issues }, 'response did not match its schema')
    } else {
      request.log.error({ err: error }, 'unexpected error')
    }
    return reply.code(500).send(errorBody('INTERNAL_ERROR', 'Internal error; the request was not completed. See the server log for details.'))
  })

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`))
  })
})
