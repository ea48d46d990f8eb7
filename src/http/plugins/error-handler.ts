import type { FastifyError, FastifyInstance } from 'fastify'
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
