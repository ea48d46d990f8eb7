import assert from 'node:assert/strict'
import type { LightMyRequestResponse } from 'fastify'
import type { RuntimeProjection } from '../../src/modules/readiness/projection.schema.ts'
import type { WorkItem } from '../../src/modules/work-queue/work-item.schema.ts'
import type { TestContext } from '../helpers/context.ts'

/** Helpers for the execution tests: every step goes through the HTTP API. */

export const DEMO = 'talpa-cadent-demo'
/** The demo's prime-time CTV avail, flighted over December 2026 (the test clock is 2026-11-22). */
export const PRIME = 'kijk-ctv-prime-2026-12'
export const PRIME_END = '2026-12-31T23:59:59.000Z'

export const CREATIVE = { format: 'video', durationSeconds: 30, assetUrl: 'https://assets.example.com/creative.mp4', adId: 'EXAD1234000H' }

export function ok<T = Record<string, unknown>>(response: LightMyRequestResponse, status = 200): T {
  assert.equal(response.statusCode, status, response.body)
  return response.json() as T
}

export function errorOf(response: LightMyRequestResponse, status: number): { code: string; message: string; details?: Record<string, unknown> } {
  assert.equal(response.statusCode, status, response.body)
  return response.json().error
}

export async function createDemo(ctx: TestContext, body: Record<string, unknown> = {}): Promise<RuntimeProjection> {
  return ok<{ projection: RuntimeProjection }>(await ctx.api('POST', '/inventory-sources/modular/cadent-demo', body), 201).projection
}

export async function reserve(ctx: TestContext, body: Record<string, unknown>, sourceId = DEMO) {
  const response = await ctx.api('POST', `/inventory-sources/${sourceId}/modular/reservations`, {
    availId: PRIME, mediaBuyId: 'mb_123', buyerCustomerId: 42, requestedImpressions: 250_000, holdMinutes: 60, ...body,
  })
  return ok<{ reservation: { reservationId: string; status: string; expiresAt: string | null } }>(response, 201).reservation
}

export function finalizeBody(overrides: Record<string, unknown> = {}) {
  return { mediaBuyId: 'mb_123', availId: PRIME, campaignName: 'July CTV sports', advertiserName: 'Example Advertiser', creative: CREATIVE, ...overrides }
}

export interface Finalized {
  booking: { bookingId: string; reservationId: string; availId: string; status: string; externalRefs: Record<string, unknown>; traffickingMode: string; requestedImpressions: number }
  workItems: WorkItem[]
  projection: RuntimeProjection
}

export async function finalize(ctx: TestContext, overrides: Record<string, unknown> = {}, sourceId = DEMO): Promise<LightMyRequestResponse> {
  return ctx.api('POST', `/inventory-sources/${sourceId}/modular/bookings/finalize`, finalizeBody(overrides))
}

export async function listItems(ctx: TestContext, query = '', sourceId = DEMO): Promise<{ items: WorkItem[]; total: number }> {
  return ok(await ctx.api('GET', `/inventory-sources/${sourceId}/modular/work-items${query ? `?${query}` : ''}`))
}

export async function itemOfKind(ctx: TestContext, kind: string, sourceId = DEMO): Promise<WorkItem> {
  const { items } = await listItems(ctx, `kind=${kind}`, sourceId)
  assert.equal(items.length, 1, `one open ${kind} item`)
  return items[0]!
}

export async function complete(ctx: TestContext, id: string, body: Record<string, unknown>, sourceId = DEMO): Promise<LightMyRequestResponse> {
  return ctx.api('POST', `/inventory-sources/${sourceId}/modular/work-items/${id}/complete`, body)
}

export async function projectionOf(ctx: TestContext, sourceId = DEMO): Promise<RuntimeProjection> {
  return ok(await ctx.api('GET', `/inventory-sources/${sourceId}/modular`))
}

export function stage(projection: RuntimeProjection, name: string): string {
  const row = projection.lifecycleSummary.find((candidate) => candidate.stage === name)
  assert.ok(row, `stage ${name}`)
  return row.status
}

export async function availCounters(ctx: TestContext, availId = PRIME, sourceId = DEMO) {
  const row = await ctx.db
    .selectFrom('avail')
    .innerJoin('inventory_source', 'inventory_source.id', 'avail.inventory_source_id')
    .select(['avail.held_impressions', 'avail.booked_impressions'])
    .where('inventory_source.source_id', '=', sourceId)
    .where('avail.avail_id', '=', availId)
    .executeTakeFirstOrThrow()
  return { held: Number(row.held_impressions), booked: Number(row.booked_impressions) }
}
