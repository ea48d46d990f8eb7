import assert from 'node:assert/strict'
import { json } from '../../src/db/database.ts'
import type { RuntimeProjection } from '../../src/modules/readiness/projection.schema.ts'
import type { TestContext } from '../helpers/context.ts'

/** Helpers for modular-source tests: rows other engineers' APIs will create are inserted directly. */

export async function createFeedSource(ctx: TestContext, body: Record<string, unknown> = {}): Promise<RuntimeProjection> {
  const response = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Retail Modular', sourceId: 'retail-modular', ...body })
  assert.equal(response.statusCode, 201, response.body)
  return response.json().projection
}

export async function readProjection(ctx: TestContext, sourceId = 'retail-modular'): Promise<RuntimeProjection> {
  const response = await ctx.api('GET', `/inventory-sources/${sourceId}/modular`)
  assert.equal(response.statusCode, 200, response.body)
  return response.json()
}

export async function sourceRowId(ctx: TestContext, sourceId = 'retail-modular'): Promise<number> {
  const row = await ctx.db.selectFrom('inventory_source').select(['id']).where('source_id', '=', sourceId).executeTakeFirstOrThrow()
  return Number(row.id)
}

export async function insertAvail(
  ctx: TestContext,
  fields: { availId?: string; startTime?: string; endTime?: string; status?: 'ACTIVE' | 'INACTIVE'; capacity?: number; sourceId?: string } = {},
): Promise<void> {
  const now = ctx.clock.now()
  await ctx.db
    .insertInto('avail')
    .values({
      inventory_source_id: await sourceRowId(ctx, fields.sourceId),
      avail_id: fields.availId ?? 'sports-week',
      collection_id: 'connected-tv',
      collection_name: 'Connected TV',
      name: 'Sports week CTV',
      start_time: fields.startTime ?? '2026-12-01T00:00:00.000Z',
      end_time: fields.endTime ?? '2026-12-31T23:59:59.000Z',
      feed_capacity: fields.capacity ?? 1_000_000,
      targeting: json({}),
      source_metadata: json({}),
      status: fields.status ?? 'ACTIVE',
      created_at: now,
      updated_at: now,
    })
    .execute()
}

export async function insertWorkItem(
  ctx: TestContext,
  fields: { kind: string; status?: 'OPEN' | 'IN_PROGRESS' | 'BLOCKED' | 'COMPLETED' | 'CANCELLED'; moduleInstanceId?: string; sourceId?: string },
): Promise<void> {
  const now = ctx.clock.now()
  const source = await ctx.db
    .selectFrom('inventory_source')
    .select(['id', 'storefront_id'])
    .where('source_id', '=', fields.sourceId ?? 'retail-modular')
    .executeTakeFirstOrThrow()
  const module = fields.moduleInstanceId
    ? await ctx.db
        .selectFrom('module_instance')
        .select(['id'])
        .where('inventory_source_id', '=', source.id)
        .where('module_instance_id', '=', fields.moduleInstanceId)
        .executeTakeFirstOrThrow()
    : null
  await ctx.db
    .insertInto('work_item')
    .values({
      storefront_id: source.storefront_id,
      inventory_source_id: source.id,
      module_row_id: module ? module.id : null,
      kind: fields.kind,
      status: fields.status ?? 'OPEN',
      title: `${fields.kind} test item`,
      payload: json({}),
      required_result_keys: json([]),
      created_by_type: 'SYSTEM',
      created_at: now,
      updated_at: now,
    })
    .execute()
}

export function stageStatus(projection: RuntimeProjection, stage: string): string | undefined {
  return projection.lifecycleSummary.find((row) => row.stage === stage)?.status
}

export function moduleOf(projection: RuntimeProjection, moduleInstanceId: string) {
  const module = projection.modules.find((candidate) => candidate.moduleInstanceId === moduleInstanceId)
  assert.ok(module, `module ${moduleInstanceId} in projection`)
  return module
}

export const CADENT_CONFIG = { campaignDeliveryType: 'GUARANTEED', lineDeliveryType: 'NON_GUARANTEED', adType: 'VIDEO', adClass: 'COMMERCIAL' }
