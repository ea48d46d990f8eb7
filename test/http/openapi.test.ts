import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import openapiTS, { astToString } from 'openapi-typescript'
import { API_PREFIX } from '../../src/http/app.ts'
import { errorReasons, errorStatus } from '../../src/shared/errors.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { undocumentedAnswers, type OpenApiDocument } from '../helpers/openapi-coverage.ts'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const run = promisify(execFile)

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const reservations = `${API_PREFIX}/inventory-sources/{sourceId}/modular/reservations`

// Calls a client makes through openapi-fetch on the generated types. Each line fails to compile
// if the document loses what it states: a body's fields, the closed code catalog of each status,
// the reason enum, a header.
const CALLS = `
import createClient from 'openapi-fetch'
import type { components, paths } from './schema.ts'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const client = createClient<paths>({ baseUrl: 'http://localhost:3000' })

export async function reserve(): Promise<string | null> {
  const { data, error } = await client.POST('${reservations}', {
    params: { path: { sourceId: 'feed' }, header: { 'Idempotency-Key': 'retry-1' } },
    body: { mediaBuyId: 'mb-1', availId: 'a-1', requestedImpressions: 1000 },
  })
  if (error) {
    const codes: Equal<typeof error.error.code,
      'VALIDATION_ERROR' | 'UNAUTHORIZED' | 'ACCESS_DENIED' | 'NOT_FOUND' | 'CONFLICT' | 'PAYLOAD_TOO_LARGE' | 'RATE_LIMITED' | 'INTERNAL_ERROR'> = true
    const reason: components['schemas']['ErrorReason'] | undefined = error.error.details?.reason
    // @ts-expect-error reasons are a closed catalog
    const unknownReason: components['schemas']['ErrorReason'] = 'NOT_A_REASON'
    void codes, reason, unknownReason
    return null
  }
  const held: string = data.reservation.reservationId
  const product: string = data.product.productId
  return held + product
}

export async function refusesAnIncompleteReservation(): Promise<void> {
  // @ts-expect-error requestedImpressions is required
  await client.POST('${reservations}', { params: { path: { sourceId: 'feed' } }, body: { mediaBuyId: 'mb-1' } })
}

export async function listSources(): Promise<number> {
  const { data, response } = await client.GET('${API_PREFIX}/inventory-sources', { params: { query: { take: 10, skip: 0 } } })
  const total: Equal<NonNullable<paths['${API_PREFIX}/inventory-sources']['get']['responses'][200]['headers']['X-Total-Count']>, number> = true
  void total
  return (data ?? []).filter((source) => source.executionType === 'MODULAR_SOURCE').length + Number(response.headers.get('x-total-count'))
}

export async function uploadFeed(csv: string): Promise<boolean> {
  const multipart: keyof paths['${API_PREFIX}/inventory-sources/{sourceId}/modular/avails-feed']['post']['requestBody']['content'] = 'multipart/form-data'
  const text: keyof paths['${API_PREFIX}/inventory-sources/{sourceId}/modular/avails-feed']['post']['requestBody']['content'] = 'text/csv'
  void multipart, text
  const { data } = await client.POST('${API_PREFIX}/inventory-sources/{sourceId}/modular/avails-feed', {
    params: { path: { sourceId: 'feed' } },
    body: { csv, confirmed: true },
  })
  return data?.previewOnly ?? false
}

export async function notFound(): Promise<void> {
  const { error } = await client.GET('${API_PREFIX}/inventory-sources/{sourceId}', { params: { path: { sourceId: 'nope' } } })
  const codes: Equal<NonNullable<typeof error>['error']['code'], 'VALIDATION_ERROR' | 'UNAUTHORIZED' | 'ACCESS_DENIED' | 'NOT_FOUND' | 'RATE_LIMITED' | 'INTERNAL_ERROR'> = true
  void codes
  // @ts-expect-error only documented paths exist
  await client.GET('${API_PREFIX}/no-such-route')
}

export function replayed(): Equal<paths['${API_PREFIX}/inventory-sources']['post']['responses'][201]['headers']['Idempotent-Replayed'], 'true' | undefined> {
  return true
}
`

describe('GET /openapi.json', () => {
  let ctx: TestContext
  let document: Json

  before(async () => {
    ctx = await createTestContext()
    const res = await ctx.app.inject({ method: 'GET', url: '/openapi.json' })
    assert.equal(res.statusCode, 200)
    document = res.json()
  })
  after(() => ctx.close())

  const operations = () => Object.entries(document.paths as Record<string, Record<string, Json>>)
    .flatMap(([route, methods]) => Object.entries(methods).map(([method, operation]) => ({ route, method, operation })))

  it('describes every response, success and error', () => {
    const undescribed = operations().flatMap(({ route, method, operation }) =>
      Object.entries(operation.responses as Record<string, Json>).filter(([, response]) => !response.description || response.description === 'Default Response').map(([status]) => `${method} ${route} ${status}`))
    assert.deepEqual(undescribed, [])
  })

  it('lists only the API and the probes, with a server to call them on', () => {
    assert.deepEqual(document.servers, [{ url: '/', description: 'The Storefront serving this document' }])
    const foreign = Object.keys(document.paths).filter((route) => !route.startsWith(API_PREFIX) && !['/healthz', '/readyz'].includes(route))
    assert.deepEqual(foreign, [])
  })

  it('gives every API operation the errors its plugins answer: 400, 401, 403, 429 and 500, and 409 and 413 with a body', () => {
    for (const { route, method, operation } of operations().filter(({ route }) => route.startsWith(API_PREFIX))) {
      const statuses = Object.keys(operation.responses)
      const expected = ['400', '401', '403', '429', '500', ...(method === 'get' ? [] : ['409', '413'])]
      assert.deepEqual(expected.filter((status) => !statuses.includes(status)), [], `${method} ${route}`)
      assert.ok(operation.responses['429'].headers?.['Retry-After'], `${method} ${route} 429 Retry-After`)
    }
  })

  it('gives each error status the one code of the catalog, and the closed reason enum', () => {
    const schemas = document.components.schemas as Record<string, Json>
    const notFound = document.paths[`${API_PREFIX}/inventory-sources/{sourceId}`].get.responses['404'].content['application/json'].schema
    assert.deepEqual(notFound, { $ref: '#/components/schemas/NotFoundError' })
    assert.deepEqual(schemas.NotFoundError!.properties.error.properties.code.enum, ['NOT_FOUND'])
    assert.deepEqual(schemas.ErrorCode!.enum, Object.keys(errorStatus))
    assert.deepEqual(schemas.ErrorReason!.enum, Object.keys(errorReasons))
    assert.match(schemas.ErrorReason!.description, /- FEED_ROW_ERRORS: One or more feed rows are invalid/)
  })

  it('documents Idempotency-Key on mutating operations, Idempotent-Replayed and X-Total-Count on their answers', () => {
    const create = document.paths[`${API_PREFIX}/inventory-sources`].post
    assert.ok(create.parameters.some((parameter: Json) => parameter.in === 'header' && parameter.name === 'Idempotency-Key' && parameter.required === false))
    assert.ok(create.responses['201'].headers['Idempotent-Replayed'])
    const list = document.paths[`${API_PREFIX}/inventory-sources`].get
    assert.equal(list.responses['200'].headers['X-Total-Count'].schema.type, 'integer')
    assert.ok(!(list.parameters ?? []).some((parameter: Json) => parameter.name === 'Idempotency-Key'))
  })

  it('takes the avails feed as JSON, text/csv with its options as query parameters, or a multipart upload', () => {
    const feed = document.paths[`${API_PREFIX}/inventory-sources/{sourceId}/modular/avails-feed`].post
    assert.deepEqual(Object.keys(feed.requestBody.content), ['application/json', 'text/csv', 'multipart/form-data'])
    assert.equal(feed.requestBody.content['multipart/form-data'].schema.properties.file.format, 'binary')
    assert.ok(feed.parameters.some((parameter: Json) => parameter.in === 'query' && parameter.name === 'confirmed'))
  })

  it('generates a typed client (openapi-typescript) whose calls type-check with openapi-fetch', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'storefront-openapi-'))
    try {
      // Request fields with a default are optional to send; openapi-typescript would make them required.
      await writeFile(path.join(dir, 'schema.ts'), astToString(await openapiTS(document as never, { defaultNonNullable: false })))
      await writeFile(path.join(dir, 'calls.ts'), CALLS)
      await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: {
          strict: true, noEmit: true, skipLibCheck: true, target: 'es2022', module: 'esnext', moduleResolution: 'bundler',
          allowImportingTsExtensions: true, types: [], lib: ['es2022', 'dom'],
          paths: { 'openapi-fetch': [path.join(repo, 'node_modules/openapi-fetch')] },
        },
        files: ['calls.ts'],
      }))
      const tsc = path.join(repo, 'node_modules/typescript/bin/tsc')
      const result = await run(process.execPath, [tsc, '-p', dir], { cwd: dir }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? String(error) }))
      assert.equal(result.stdout.trim(), '', 'the generated client does not type-check')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('the OpenAPI check of the test context', () => {
  it('records what each request answered and finds it in the document, or reports it when missing', async () => {
    const ctx = await createTestContext()
    try {
      await ctx.api('GET', '/inventory-sources/no-such-source')
      await ctx.app.inject({ method: 'GET', url: `${API_PREFIX}/no-such-route` })
      assert.deepEqual(ctx.answers, [{ method: 'GET', path: `${API_PREFIX}/inventory-sources/no-such-source`, status: 404, code: 'NOT_FOUND' }])
      const document = ctx.app.swagger() as unknown as OpenApiDocument
      assert.deepEqual(undocumentedAnswers(document, ctx.answers, API_PREFIX), [])
      const withoutNotFound = structuredClone(document)
      delete withoutNotFound.paths[`${API_PREFIX}/inventory-sources/{sourceId}`]!.get!.responses!['404']
      assert.deepEqual(undocumentedAnswers(withoutNotFound, ctx.answers, API_PREFIX), [
        `GET ${API_PREFIX}/inventory-sources/{sourceId} answered 404 NOT_FOUND, which the document does not list`,
      ])
    } finally {
      await ctx.close()
    }
  })

  const document: OpenApiDocument = {
    paths: {
      [`${API_PREFIX}/media-buys`]: { get: { responses: { 200: { description: 'ok' }, 400: { description: 'bad', content: { 'application/json': { schema: { $ref: '#/components/schemas/ValidationError' } } } } } } },
      [`${API_PREFIX}/inventory-sources/{sourceId}`]: { get: { responses: { 200: { description: 'ok' } } } },
      [`${API_PREFIX}/inventory-sources/managed`]: { get: { responses: { 201: { description: 'ok' } } } },
    },
    components: { schemas: { ValidationError: { properties: { error: { properties: { code: { enum: ['VALIDATION_ERROR'] } } } } } } },
  }

  it('reports a status the route does not list, a code its status does not give and a route the document lacks', () => {
    const findings = undocumentedAnswers(document, [
      { method: 'GET', path: `${API_PREFIX}/media-buys`, status: 200, code: undefined },
      { method: 'GET', path: `${API_PREFIX}/media-buys/`, status: 400, code: 'VALIDATION_ERROR' },
      { method: 'GET', path: `${API_PREFIX}/media-buys`, status: 404, code: 'NOT_FOUND' },
      { method: 'GET', path: `${API_PREFIX}/media-buys`, status: 400, code: 'CONFLICT' },
      { method: 'GET', path: `${API_PREFIX}/inventory-sources/managed`, status: 201, code: undefined },
      { method: 'GET', path: `${API_PREFIX}/inventory-sources/acme`, status: 200, code: undefined },
      { method: 'POST', path: `${API_PREFIX}/sandbox/reset`, status: 200, code: undefined },
      { method: 'GET', path: '/console/sources', status: 200, code: undefined },
    ], API_PREFIX)
    assert.deepEqual(findings, [
      `GET ${API_PREFIX}/media-buys answered 400 CONFLICT; the document lists VALIDATION_ERROR`,
      `GET ${API_PREFIX}/media-buys answered 404 NOT_FOUND, which the document does not list`,
      `POST ${API_PREFIX}/sandbox/reset: no operation in the document`,
    ])
  })
})
