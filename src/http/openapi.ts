import type { FastifyInstance, RouteOptions } from 'fastify'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errorBodySchemaOf } from '../shared/common.schema.ts'
import { errorCodeMeanings, errorStatus, type ErrorCode } from '../shared/errors.ts'

/**
 * The OpenAPI document at /openapi.json, from the route schemas. Route zod schemas give every
 * body, parameter and answer; this file adds what they cannot carry without changing what the
 * server accepts: the error answers a plugin gives on every route it guards, request and response
 * headers, and request bodies in other media types than JSON.
 */

/** A header as the document states it; the schema is JSON Schema (OpenAPI 3.0). */
export interface HeaderDoc {
  description: string
  schema: { type: 'string' | 'integer' | 'boolean'; enum?: readonly unknown[]; pattern?: string; minLength?: number; maxLength?: number; minimum?: number }
  required?: boolean
}

export interface OpenApiExtras {
  /** Request headers besides Authorization (which the bearerAuth security scheme states). */
  requestHeaders?: Record<string, HeaderDoc>
  /** Response headers by status; `2XX` is every success status the route declares. */
  responseHeaders?: Record<string, Record<string, HeaderDoc>>
  /** Query parameters the handler reads by hand (documented, not validated by a schema). */
  querystring?: z.ZodObject
  /** Request bodies in other media types than application/json, read by the route's own parsers. */
  bodyAlternatives?: Record<string, z.ZodType>
}

declare module 'fastify' {
  interface FastifySchema {
    /** What the document says beyond the zod schemas; see src/http/openapi.ts. Never validated. */
    openapi?: OpenApiExtras
  }
}

// Each status answers exactly one code, so a client can tell the body from the status alone.
const codeOfStatus = new Map<number, ErrorCode>()
for (const [code, status] of Object.entries(errorStatus) as Array<[ErrorCode, number]>) {
  if (codeOfStatus.has(status)) throw new Error(`errorStatus gives ${status} to ${codeOfStatus.get(status)} and ${code}`)
  codeOfStatus.set(status, code)
}

/** The catalog code of an error status, if the catalog has one. */
export function errorCodeOfStatus(status: number): ErrorCode | undefined {
  return codeOfStatus.get(status)
}

/** `response` entries for error codes of the catalog: each code's status with that code's envelope. */
export function errorResponses(...codes: ErrorCode[]): Record<number, z.ZodType> {
  return Object.fromEntries(codes.map((code) => [errorStatus[code], errorBodySchemaOf(code)]))
}

/** Methods whose requests carry a body (and so may exceed the body limit). */
export const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export interface EveryRouteAnswers {
  /** Error codes the plugin (or the framework under it) can answer on each such route. */
  errors: ErrorCode[]
  /** Only routes of these methods; default every method. */
  methods?: ReadonlySet<string>
  requestHeaders?: OpenApiExtras['requestHeaders']
  responseHeaders?: OpenApiExtras['responseHeaders']
}

/**
 * Declares on every route registered after this call in `app`'s scope what a plugin answers
 * around the route's handler: its error statuses (in the route's response schemas, so they are
 * serialized through the documented schema too) and its headers (documentation only). What a
 * route declares itself wins.
 */
export function answersOnEveryRoute(app: FastifyInstance, answers: EveryRouteAnswers): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.schema?.hide) return
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (answers.methods && !methods.some((method) => answers.methods!.has(method))) return
    const schema = route.schema ?? {}
    const extras = schema.openapi ?? {}
    const responseHeaders = { ...extras.responseHeaders }
    for (const [status, headers] of Object.entries(answers.responseHeaders ?? {})) {
      responseHeaders[status] = { ...headers, ...responseHeaders[status] }
    }
    route.schema = {
      ...schema,
      response: { ...errorResponses(...answers.errors), ...(schema.response as object | undefined) },
      openapi: {
        ...extras,
        requestHeaders: { ...answers.requestHeaders, ...extras.requestHeaders },
        responseHeaders,
      },
    }
  })
}

type TransformInput = Parameters<typeof jsonSchemaTransform>[0]
type JsonObject = Record<string, unknown>

function toJsonSchema(schema: z.ZodType): JsonObject {
  return z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as JsonObject
}

function headerJson({ description, schema }: HeaderDoc): JsonObject {
  return { ...schema, description }
}

/** The swagger `transform`: the zod type provider's, plus the OpenApiExtras of the route. */
export function openapiTransform(input: TransformInput): ReturnType<typeof jsonSchemaTransform> {
  const { openapi: extras = {}, ...routeSchema } = (input.schema ?? {}) as { openapi?: OpenApiExtras }
  const result = jsonSchemaTransform({ ...input, schema: routeSchema } as TransformInput)
  const schema = result.schema as JsonObject | undefined
  if (!schema || schema.hide) return result

  if (extras.requestHeaders && Object.keys(extras.requestHeaders).length > 0) {
    const headers = (schema.headers as JsonObject | undefined) ?? { type: 'object', properties: {} }
    const required = [...((headers.required as string[] | undefined) ?? [])]
    const properties: JsonObject = { ...(headers.properties as JsonObject | undefined) }
    for (const [name, header] of Object.entries(extras.requestHeaders)) {
      properties[name] = headerJson(header)
      if (header.required) required.push(name)
    }
    schema.headers = { ...headers, properties, ...(required.length > 0 ? { required } : {}) }
  }

  if (extras.querystring) schema.querystring = toJsonSchema(extras.querystring)

  if (extras.bodyAlternatives && schema.body) {
    const content: JsonObject = { 'application/json': { schema: schema.body } }
    for (const [mediaType, alternative] of Object.entries(extras.bodyAlternatives)) content[mediaType] = { schema: toJsonSchema(alternative) }
    schema.body = { content }
  }

  const responses = schema.response as Record<string, JsonObject> | undefined
  for (const [status, response] of Object.entries(responses ?? {})) {
    const code = errorCodeOfStatus(Number(status))
    // An error answer is described by its code; a 204 has no body at all.
    if (code && Number(status) >= 400 && response.description === undefined) response.description = `${code}: ${errorCodeMeanings[code]}`
    if (status === '204') responses![status] = { type: 'null', description: response.description ?? 'No content' }
  }
  for (const [key, headers] of Object.entries(extras.responseHeaders ?? {})) {
    const statuses = key === '2XX' ? Object.keys(responses ?? {}).filter((status) => /^2\d\d$/.test(status)) : [key]
    for (const status of statuses) {
      const response = responses?.[status]
      if (!response) continue
      const documented = Object.fromEntries(Object.entries(headers).map(([name, header]) => [name, headerJson(header)]))
      responses[status] = { ...response, headers: { ...(response.headers as JsonObject | undefined), ...documented } }
    }
  }
  return result
}

type TransformObjectInput = Parameters<typeof jsonSchemaTransformObject>[0]

/**
 * The swagger `transformObject`: the zod type provider's, without the components no operation
 * refers to (it lists every schema with an id twice, as input and as output).
 */
export function openapiTransformObject(input: TransformObjectInput): ReturnType<typeof jsonSchemaTransformObject> {
  const document = jsonSchemaTransformObject(input) as { paths?: unknown; components?: { schemas?: Record<string, unknown> } }
  const schemas = document.components?.schemas
  if (!schemas) return document as ReturnType<typeof jsonSchemaTransformObject>
  const used = new Set<string>(KEPT_COMPONENTS)
  const pending: unknown[] = [document.paths, ...KEPT_COMPONENTS.map((name) => schemas[name])]
  while (pending.length > 0) {
    const value = pending.pop()
    if (Array.isArray(value)) pending.push(...value)
    else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (key === '$ref' && typeof child === 'string' && child.startsWith(COMPONENT_PREFIX)) {
          const name = child.slice(COMPONENT_PREFIX.length)
          if (!used.has(name)) {
            used.add(name)
            pending.push(schemas[name])
          }
        } else pending.push(child)
      }
    }
  }
  document.components!.schemas = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)))
  return document as ReturnType<typeof jsonSchemaTransformObject>
}

const COMPONENT_PREFIX = '#/components/schemas/'
// The envelope of any error (with the ErrorCode and ErrorReason catalogs), for clients that handle errors in one place.
const KEPT_COMPONENTS = ['ErrorBody']
