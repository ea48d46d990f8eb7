import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { isStorableText } from '../../shared/common.schema.ts'
import { fail } from '../../shared/errors.ts'
import { formatIssuePath } from './error-handler.ts'

/**
 * Deepest nesting of arrays and objects a JSON body may have. Real requests nest a few levels
 * (module config, targeting); the bound keeps every recursive helper downstream (config merge,
 * secret-key scan, zod) far from the stack limit, whatever it is handed.
 */
export const MAX_JSON_DEPTH = 64

const UNSTORABLE_MESSAGE = 'must not contain U+0000 or unpaired UTF-16 surrogates'

/**
 * Whether the JSON text nests deeper than `limit`, decided on the text before it is parsed, so a
 * hostile body is refused without building it. Brackets inside strings do not count.
 */
export function jsonNestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code === 34) {
      // Jump to the closing quote: the first one not escaped by an odd run of backslashes.
      let end = index
      for (;;) {
        end = text.indexOf('"', end + 1)
        if (end === -1) return false
        let backslashes = 0
        while (text.charCodeAt(end - 1 - backslashes) === 92) backslashes++
        if (backslashes % 2 === 0) break
      }
      index = end
    } else if (code === 91 || code === 123) {
      if (++depth > limit) return true
    } else if (code === 93 || code === 125) {
      depth--
    }
  }
  return false
}

// A body that cannot hold such text skips the walk: it has no raw U+0000, no raw surrogate and no
// escape of either (\u0000, \uD800-\uDFFF).
const SURROGATE_OR_ESCAPE = /[\uD800-\uDFFF]|\\u0000|\\u[dD][89a-fA-F]/

function mayHoldUnstorableText(text: string): boolean {
  return text.includes('\u0000') || SURROGATE_OR_ESCAPE.test(text)
}

/** The path of the first key or string in a parsed value that PostgreSQL text cannot hold. */
export function firstUnstorableText(value: unknown): string | null {
  const stack: Array<{ value: unknown; path: Array<string | number> }> = [{ value, path: [] }]
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!
    if (typeof current === 'string') {
      if (!isStorableText(current)) return formatIssuePath(path) || 'body'
    } else if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--) stack.push({ value: current[index], path: [...path, index] })
    } else if (current !== null && typeof current === 'object') {
      const entries = Object.entries(current)
      for (let index = entries.length - 1; index >= 0; index--) {
        const [key, child] = entries[index]!
        // The key is named with its bad characters replaced, so the answer itself is storable JSON.
        if (!isStorableText(key)) return formatIssuePath([...path, key.replaceAll('\u0000', '\uFFFD').replace(/\p{Cs}/gu, '\uFFFD')])
        stack.push({ value: child, path: [...path, key] })
      }
    }
  }
  return null
}

/** The first path parameter or query value that PostgreSQL text cannot hold, as `params.x` / `query.y`. */
function firstUnstorableInput(request: FastifyRequest): string | null {
  for (const [part, values] of [['params', request.params], ['querystring', request.query]] as const) {
    if (values === null || typeof values !== 'object') continue
    const path = firstUnstorableText(values)
    if (path !== null) return path === 'body' ? part : path
  }
  return null
}

/**
 * The one JSON body parser (Fastify's, with its prototype-poisoning checks) plus the bounds every
 * route relies on: at most MAX_JSON_DEPTH levels, and no key or string that the database cannot
 * store. Path parameters and query values get the same text check before validation, so no route
 * passes such a value to SQL (which would answer 500).
 */
export type JsonBodyParser = (request: FastifyRequest, text: string, done: (error: Error | null, value: unknown) => void) => void

/** The checked parser of jsonBodyPlugin, for a scope that answers its refusals in its own shape (/mcp). */
export function checkedJsonParser(app: FastifyInstance): JsonBodyParser {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  return (request, text, done) => {
    if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH)) {
      done(fail.invalidField('body', `must not nest arrays and objects deeper than ${MAX_JSON_DEPTH} levels`), undefined)
      return
    }
    parseJson(request, text, (error, value) => {
      if (error) return done(error, undefined)
      const path = mayHoldUnstorableText(text) ? firstUnstorableText(value) : null
      if (path !== null) return done(fail.invalidField(path, UNSTORABLE_MESSAGE), undefined)
      done(null, value)
    })
  }
}

export const jsonBodyPlugin = fp(async (app: FastifyInstance) => {
  const parse = checkedJsonParser(app)
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => parse(request, body as string, done))

  app.addHook('preValidation', async (request) => {
    const path = firstUnstorableInput(request)
    if (path !== null) throw fail.invalidField(path, UNSTORABLE_MESSAGE)
  })
}, { name: 'json-body' })
