import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import type { AvailsFeedResponse } from '../../src/modules/avails-feed/feed-request.schema.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { createFeedSource } from '../modular/helpers.ts'
import { repoRoot } from '../helpers/processes.ts'

export const FEED = '/inventory-sources/retail-modular/modular/avails-feed'
export const PRODUCTS = '/inventory-sources/retail-modular/modular/products'

export function fixture(name: string): Buffer {
  return readFileSync(path.join(repoRoot, 'test/fixtures/avails', name))
}

export interface Upload {
  name: string
  content: Buffer | string
  type?: string
}

/** A multipart/form-data body exactly as fetch would send it (the platform's FormData encoder). */
export async function multipart(fields: Record<string, string>, file?: Upload): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData()
  for (const [name, value] of Object.entries(fields)) form.append(name, value)
  if (file) form.append('file', new Blob([typeof file.content === 'string' ? file.content : new Uint8Array(file.content)], { type: file.type ?? 'application/octet-stream' }), file.name)
  const encoded = new Response(form)
  return { payload: Buffer.from(await encoded.arrayBuffer()), headers: { 'content-type': encoded.headers.get('content-type')! } }
}

export async function upload(ctx: TestContext, fields: Record<string, string>, file?: Upload, url = FEED, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const body = await multipart(fields, file)
  return ctx.api('POST', url, body.payload, { headers: { ...body.headers, ...headers } })
}

export function postCsv(ctx: TestContext, csv: string | Buffer, query = ''): Promise<LightMyRequestResponse> {
  return ctx.api('POST', `${FEED}${query}`, csv, { headers: { 'content-type': 'text/csv; charset=utf-8' } })
}

export function feedOk(response: LightMyRequestResponse): AvailsFeedResponse {
  assert.equal(response.statusCode, 200, response.body)
  return response.json()
}

export function errorOf(response: LightMyRequestResponse, status: number) {
  assert.equal(response.statusCode, status, response.body)
  return response.json().error as { code: string; message: string; details?: { reason?: string; rows?: { row: number; field: string; message: string }[]; [key: string]: unknown } }
}

export async function availIds(ctx: TestContext, status: 'ACTIVE' | 'INACTIVE' = 'ACTIVE'): Promise<string[]> {
  const rows = await ctx.db.selectFrom('avail').select('avail_id').where('status', '=', status).orderBy('avail_id').execute()
  return rows.map((row) => row.avail_id)
}

export async function confirmItems(ctx: TestContext) {
  return ctx.db.selectFrom('work_item').selectAll().where('kind', '=', 'CONFIRM_AVAILS').orderBy('id').execute()
}

/** Rows of a small feed as JSON avails; dates inside the test clock's future (it starts 2026-11-22). */
export function jsonAvail(availId: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    availId,
    collectionId: 'connected-tv',
    collectionName: 'Connected TV',
    name: `Avail ${availId}`,
    channel: 'CTV',
    startTime: '2026-12-01',
    endTime: '2026-12-31',
    impressionsCapacity: 1_000_000,
    cpm: 20,
    targeting: { market: 'South Africa', screen: 'CTV' },
    ...fields,
  }
}

/** A test context holding the retail-modular feed source, shared by one describe block. */
export async function openFeedSourceContext(): Promise<TestContext> {
  const ctx = await createTestContext()
  await createFeedSource(ctx)
  return ctx
}

/** Between tests: nothing the previous test fed, previewed, held or opened is left. */
export async function clearFeedState(ctx: TestContext): Promise<void> {
  await ctx.db.deleteFrom('reservation').execute()
  await ctx.db.deleteFrom('avail').execute()
  await ctx.db.deleteFrom('avails_preview').execute()
  await ctx.db.deleteFrom('work_item').execute()
}
