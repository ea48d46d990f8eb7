import { sql } from 'kysely'
import type { Queryable } from '../db/database.ts'
import type { SourceCallOutcome, SourceCallRow } from '../db/tables.ts'

/**
 * The storefront's record of its traffic with each source (migration 0020), the only ground of
 * GET /inventory-sources/{sourceId}/diagnostics and of the traffic figures in an AGENT source's
 * GET /status. Rows are written after the answer they describe and never changed.
 */

export type { SourceCallOutcome, SourceCallRow }

/** How long the record is kept: the longest diagnostics window. */
export const SOURCE_CALL_RETENTION_HOURS = 720

export interface NewSourceCall {
  storefrontId: number
  sourceRowId: number
  tool: string
  outcome: SourceCallOutcome
  /** Set exactly when the outcome is failed or timeout. */
  errorCode: string | null
  errorMessage?: string | null | undefined
  latencyMs: number
  products?: number | null | undefined
  packages?: number | null | undefined
  budget?: number | null | undefined
  currency?: string | null | undefined
  mediaBuyId?: string | null | undefined
  at: Date
}

const clip = (value: string | null | undefined, max: number) => (value == null ? null : value.length > max ? `${value.slice(0, max - 1)}…` : value)

export async function insertSourceCalls(db: Queryable, calls: NewSourceCall[]): Promise<void> {
  if (calls.length === 0) return
  await db
    .insertInto('source_call')
    .values(calls.map((call) => ({
      storefront_id: call.storefrontId,
      inventory_source_id: call.sourceRowId,
      tool: clip(call.tool, 100)!,
      outcome: call.outcome,
      error_code: clip(call.errorCode, 100),
      error_message: clip(call.errorMessage, 500),
      latency_ms: Math.max(0, Math.round(call.latencyMs)),
      products: call.products ?? null,
      packages: call.packages ?? null,
      budget: call.budget ?? null,
      currency: call.currency && /^[A-Z]{3}$/.test(call.currency) ? call.currency : null,
      media_buy_id: clip(call.mediaBuyId, 255),
      at: call.at,
    })))
    .execute()
}

/** The row ids of the storefront's MODULAR_SOURCE sources with these sourceIds; others are left out. */
export async function modularSourceRowIds(db: Queryable, storefrontId: number, sourceIds: string[]): Promise<Map<string, number>> {
  if (sourceIds.length === 0) return new Map()
  const rows = await db
    .selectFrom('inventory_source')
    .select(['id', 'source_id'])
    .where('storefront_id', '=', storefrontId)
    .where('execution_type', '=', 'MODULAR_SOURCE')
    .where('source_id', 'in', [...new Set(sourceIds)])
    .execute()
  return new Map(rows.map((row) => [row.source_id, row.id]))
}

/** Deletes a batch of rows recorded before the cutoff; answers how many. The sweeper calls it until 0. */
export async function deleteSourceCallsBefore(db: Queryable, cutoff: Date, batch = 5_000): Promise<number> {
  const result = await db
    .deleteFrom('source_call')
    .where('id', 'in', (query) => query.selectFrom('source_call').select('id').where('at', '<', cutoff).limit(batch))
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}

export interface CallStats {
  /** null: the totals over every tool. */
  tool: string | null
  requests: number
  completed: number
  failed: number
  inputRequired: number
  timeouts: number
  /** Calls answered by the source (an AdCP answer or error), i.e. not timed out or unreachable. */
  responses: number
  p50: number | null
  p95: number | null
  p99: number | null
  maxLatencyMs: number | null
  lastAt: Date | null
}

/** Codes of calls that got no answer from the source at all (the recorder's names for them). */
export const NO_ANSWER_CODES = ['UPSTREAM_AGENT_UNAVAILABLE', 'UPSTREAM_TIMEOUT'] as const

/**
 * Counts and latency percentiles (percentile_cont, linear interpolation over the recorded
 * latencies) of one source's calls since `since`: per tool, and over all tools (tool null).
 */
export async function summarizeSourceCalls(db: Queryable, sourceRowId: number, since: Date): Promise<CallStats[]> {
  const { rows } = await sql<{
    tool: string | null; requests: number; completed: number; failed: number; input_required: number; timeouts: number; responses: number
    p50: number | null; p95: number | null; p99: number | null; max_latency_ms: number | null; last_at: Date | null; grouped_total: number
  }>`
    SELECT tool,
           count(*)::bigint AS requests,
           count(*) FILTER (WHERE outcome = 'completed')::bigint AS completed,
           count(*) FILTER (WHERE outcome = 'failed')::bigint AS failed,
           count(*) FILTER (WHERE outcome = 'input_required')::bigint AS input_required,
           count(*) FILTER (WHERE outcome = 'timeout')::bigint AS timeouts,
           count(*) FILTER (WHERE error_code IS NULL OR error_code NOT IN (${sql.join(NO_ANSWER_CODES)}))::bigint AS responses,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99,
           max(latency_ms) AS max_latency_ms,
           max(at) AS last_at,
           grouping(tool) AS grouped_total
      FROM source_call
     WHERE inventory_source_id = ${sourceRowId} AND at >= ${since}
     GROUP BY GROUPING SETS ((tool), ())
     ORDER BY grouping(tool) DESC, tool
  `.execute(db)
  return rows.map((row) => ({
    tool: Number(row.grouped_total) === 1 ? null : row.tool,
    requests: Number(row.requests),
    completed: Number(row.completed),
    failed: Number(row.failed),
    inputRequired: Number(row.input_required),
    timeouts: Number(row.timeouts),
    responses: Number(row.responses),
    p50: row.p50 === null ? null : Number(row.p50),
    p95: row.p95 === null ? null : Number(row.p95),
    p99: row.p99 === null ? null : Number(row.p99),
    maxLatencyMs: row.max_latency_ms === null ? null : Number(row.max_latency_ms),
    lastAt: row.last_at === null ? null : new Date(row.last_at),
  }))
}

export interface OutcomeCount {
  outcome: SourceCallOutcome
  errorCode: string | null
  count: number
  lastAt: Date
  /** The message of the latest call with this outcome and code. */
  lastMessage: string | null
}

/** How the source's calls since `since` ended, by outcome and error code, most frequent first. */
export async function countOutcomes(db: Queryable, sourceRowId: number, since: Date): Promise<OutcomeCount[]> {
  const { rows } = await sql<{ outcome: SourceCallOutcome; error_code: string | null; count: number; last_at: Date; last_message: string | null }>`
    SELECT outcome, error_code, count(*)::bigint AS count, max(at) AS last_at,
           (array_agg(error_message ORDER BY at DESC, id DESC))[1] AS last_message
      FROM source_call
     WHERE inventory_source_id = ${sourceRowId} AND at >= ${since}
     GROUP BY outcome, error_code
     ORDER BY count(*) DESC, outcome, error_code NULLS FIRST
  `.execute(db)
  return rows.map((row) => ({ outcome: row.outcome, errorCode: row.error_code, count: Number(row.count), lastAt: new Date(row.last_at), lastMessage: row.last_message }))
}

export interface DiscoveryCounts {
  /** get_products calls the source was asked in (AGENT) or whose catalog read it (modular). */
  asked: number
  /** Of those, the calls it contributed at least one product to. */
  contributed: number
  /** Products it contributed, summed over those calls. */
  products: number
}

export async function countDiscovery(db: Queryable, sourceRowId: number, since: Date): Promise<DiscoveryCounts> {
  const row = await db
    .selectFrom('source_call')
    .select([
      sql<number>`count(*)::bigint`.as('asked'),
      sql<number>`count(*) FILTER (WHERE products > 0)::bigint`.as('contributed'),
      sql<number>`coalesce(sum(products), 0)::bigint`.as('products'),
    ])
    .where('inventory_source_id', '=', sourceRowId)
    .where('at', '>=', since)
    .where('tool', '=', 'get_products')
    .executeTakeFirstOrThrow()
  return { asked: Number(row.asked), contributed: Number(row.contributed), products: Number(row.products) }
}

export interface DemandCounts {
  /** null: the calls did not state a currency (an upstream agent's submitted task). */
  currency: string | null
  /** create_media_buy calls answered with a buy (completed) or a task (input_required). */
  confirmed: number
  submitted: number
  packages: number
  budget: number
}

/** What the source's create_media_buy calls since `since` placed, by currency. */
export async function countDemand(db: Queryable, sourceRowId: number, since: Date): Promise<DemandCounts[]> {
  const rows = await db
    .selectFrom('source_call')
    .select([
      'currency',
      sql<number>`count(*) FILTER (WHERE outcome = 'completed')::bigint`.as('confirmed'),
      sql<number>`count(*) FILTER (WHERE outcome = 'input_required')::bigint`.as('submitted'),
      sql<number>`coalesce(sum(packages), 0)::bigint`.as('packages'),
      sql<number>`coalesce(sum(budget), 0)`.as('budget'),
    ])
    .where('inventory_source_id', '=', sourceRowId)
    .where('at', '>=', since)
    .where('tool', '=', 'create_media_buy')
    .where('outcome', 'in', ['completed', 'input_required'])
    .groupBy('currency')
    .orderBy(sql`currency NULLS LAST`)
    .execute()
  return rows.map((row) => ({ currency: row.currency, confirmed: Number(row.confirmed), submitted: Number(row.submitted), packages: Number(row.packages), budget: Number(row.budget) }))
}

/** The source's latest calls since `since`, newest first. */
export async function listRecentSourceCalls(db: Queryable, sourceRowId: number, since: Date, limit: number): Promise<SourceCallRow[]> {
  return db
    .selectFrom('source_call')
    .selectAll()
    .where('inventory_source_id', '=', sourceRowId)
    .where('at', '>=', since)
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute()
}
