/**
 * Checks answers the tests received against /openapi.json: every status a documented route
 * answered must be listed for that route, and an error answer's code must be the one the
 * document gives that status. The test context records each injected request (see context.ts)
 * and runs this check when it closes, so every test file that uses it checks the document.
 */

export interface RecordedAnswer {
  method: string
  /** The request path, without the query. */
  path: string
  status: number
  /** `error.code` of an error envelope, if the body was one. */
  code: string | undefined
}

type Json = Record<string, unknown>
interface Operation { responses?: Record<string, Json> }
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, Json> }
}

interface Template { path: string; pattern: RegExp; literals: number }

function templatesOf(document: OpenApiDocument): Template[] {
  return Object.keys(document.paths).map((path) => {
    const segments = path.split('/')
    const pattern = new RegExp(`^${segments.map((segment) => (/^\{.+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/')}$`)
    return { path, pattern, literals: segments.filter((segment) => !segment.startsWith('{')).length }
  })
}

/** The documented operation a request reached: literal segments win over parameters, as in the router. */
function operationOf(templates: Template[], document: OpenApiDocument, method: string, path: string): { path: string; operation: Operation } | null {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path
  const matches = templates
    .filter((template) => template.pattern.test(trimmed) && document.paths[template.path]![method.toLowerCase()])
    .sort((a, b) => b.literals - a.literals)
  const match = matches[0]
  return match ? { path: match.path, operation: document.paths[match.path]![method.toLowerCase()]! } : null
}

function resolve(document: OpenApiDocument, schema: Json | undefined): Json | undefined {
  let current = schema
  for (let hops = 0; current && hops < 10; hops++) {
    if (typeof current.$ref === 'string') current = document.components?.schemas?.[current.$ref.replace('#/components/schemas/', '')]
    else if (Array.isArray(current.allOf) && current.allOf.length === 1) current = current.allOf[0] as Json
    else return current
  }
  return current
}

/** The codes a documented error answer may carry: its `error.code` enum. */
function documentedCodes(document: OpenApiDocument, response: Json): unknown[] | undefined {
  const content = response.content as Record<string, { schema?: Json }> | undefined
  const body = resolve(document, content?.['application/json']?.schema)
  const error = resolve(document, (body?.properties as Json | undefined)?.error as Json | undefined)
  const code = resolve(document, (error?.properties as Json | undefined)?.code as Json | undefined)
  return code?.enum as unknown[] | undefined
}

/**
 * Each recorded answer the document does not list, as one line. Requests to paths the document
 * does not describe are checked only under `apiPrefix`: there, an undocumented route is itself a
 * finding. Requests the router answered as unknown routes are never recorded (see context.ts).
 */
export function undocumentedAnswers(document: OpenApiDocument, answers: Iterable<RecordedAnswer>, apiPrefix: string): string[] {
  const templates = templatesOf(document)
  const findings = new Set<string>()
  for (const answer of answers) {
    if (answer.method === 'HEAD' || answer.method === 'OPTIONS') continue
    const found = operationOf(templates, document, answer.method, answer.path)
    if (!found) {
      if (answer.path.startsWith(apiPrefix)) findings.add(`${answer.method} ${answer.path}: no operation in the document`)
      continue
    }
    const where = `${answer.method} ${found.path}`
    const response = found.operation.responses?.[String(answer.status)]
    if (!response) {
      findings.add(`${where} answered ${answer.status}${answer.code ? ` ${answer.code}` : ''}, which the document does not list`)
      continue
    }
    if (answer.status >= 400 && answer.code !== undefined) {
      const codes = documentedCodes(document, response)
      if (!codes) findings.add(`${where} ${answer.status}: the document gives no error code enum`)
      else if (!codes.includes(answer.code)) findings.add(`${where} answered ${answer.status} ${answer.code}; the document lists ${codes.join(', ')}`)
    }
  }
  return [...findings].sort()
}

/** `error.code` of an error envelope, or undefined. */
export function errorCodeOf(body: string): string | undefined {
  if (!body.startsWith('{')) return undefined
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown } }
    return typeof parsed.error?.code === 'string' ? parsed.error.code : undefined
  } catch {
    return undefined
  }
}
