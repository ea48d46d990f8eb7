import type { Database } from '../db/database.ts'
import type { InventorySourceRow } from '../db/tables.ts'
import { listSourcesOfBuys } from '../modules/media-buys/index.ts'
import { loadProjection } from '../modules/readiness/index.ts'
import type { Clock } from '../shared/clock.ts'
import { toIso } from '../shared/clock.ts'
import { fail } from '../shared/errors.ts'
import {
  DEFAULT_DIAGNOSTICS_WINDOW_HOURS,
  RECENT_ACTIVITY_LIMIT,
  type DiagnosticsQuery,
  type SourceDiagnostics,
} from '../sources/diagnostics.schema.ts'
import { REQUIRED_SALES_AGENT_TOOLS } from '../sources/mcp-agent-probe.ts'
import {
  countDemand,
  countDiscovery,
  countOutcomes,
  deleteSourceCallsBefore,
  listRecentSourceCalls,
  modularSourceRowIds,
  SOURCE_CALL_RETENTION_HOURS,
  summarizeSourceCalls,
  type CallStats,
  type NewSourceCall,
  type OutcomeCount,
} from '../sources/source-call-store.ts'
import type { SourceCallRecorder } from '../sources/source-call-recorder.ts'
import { findSourceRow } from '../sources/source-store.ts'
import { DEFAULT_UPSTREAM_TIMEOUT_MS } from '../sources/upstream-agent-client.ts'

/**
 * The record of the storefront's traffic with its sources and what it tells (reference §2.7).
 * AGENT sources are recorded at the upstream client (services.ts wraps it); modular sources
 * where the buyer's tool call at /mcp was served (`served`, called by the MCP edge after its
 * answer). GET /diagnostics reads that record over a window and nothing else.
 */

export interface SourceDiagnosticsDeps {
  db: Database
  clock: Clock
  recorder: SourceCallRecorder
  /** The upstream client's time bound: an AGENT source's latency threshold is drawn from it. */
  upstreamTimeoutMs?: number | undefined
}

/** A modular source named by a buyer call, with what the call did there. */
export interface ServedSource {
  sourceId: string
  /** The source's row id when the call already knows it (a placed buy's packages): no lookup then. */
  sourceRowId?: number | undefined
  products?: number | undefined
  packages?: number | undefined
  budget?: number | undefined
  currency?: string | null | undefined
  mediaBuyId?: string | null | undefined
}

/** One buyer tool call at /mcp, as the edge saw it once it answered. */
export interface ServedCall {
  tool: string
  outcome: 'completed' | 'failed' | 'input_required'
  errorCode: string | null
  errorMessage?: string | null | undefined
  latencyMs: number
  at: Date
  /** Modular sources the call named directly (by product ids). */
  sources: ServedSource[]
  /** Media buys the call was about: the modular sources holding their capacity served it. */
  mediaBuyIds: string[]
}

/** The diagnostics thresholds; docs/sources.md names them. */
export const ERROR_RATE_THRESHOLD = 0.1
export const MODULAR_LATENCY_P95_THRESHOLD_MS = 1_000
/** An AGENT's p95 past this share of the time bound means its calls are close to timing out. */
export const AGENT_LATENCY_SHARE_OF_TIMEOUT = 0.8

const RETENTION_BATCH = 5_000

const MODULAR_TOOLS = ['get_products', 'create_media_buy', 'get_media_buys', 'update_media_buy', 'get_media_buy_delivery']

function rate(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000
}

function millis(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10
}

function countsOf(stats: CallStats | undefined) {
  const s = stats ?? { requests: 0, completed: 0, failed: 0, inputRequired: 0, timeouts: 0, responses: 0, p50: null, p95: null, p99: null, maxLatencyMs: null, lastAt: null }
  return {
    requestCount: s.requests,
    responseCount: s.responses,
    completedCount: s.completed,
    failedCount: s.failed,
    inputRequiredCount: s.inputRequired,
    timeoutCount: s.timeouts,
    completionRate: rate(s.completed, s.requests),
    failureRate: rate(s.failed, s.requests),
    inputRequiredRate: rate(s.inputRequired, s.requests),
    timeoutRate: rate(s.timeouts, s.requests),
    latencyMs: { p50: millis(s.p50), p95: millis(s.p95), p99: millis(s.p99), max: s.maxLatencyMs },
  }
}

/**
 * The storefront sends buyer traffic to this source as to an upstream AdCP agent: an AGENT source,
 * or a managed source with its tenant's MCP endpoint (listUpstreamAgentSources sells both).
 */
function isSoldAsAgent(source: InventorySourceRow): boolean {
  return source.execution_type === 'AGENT' || (source.execution_type === 'MANAGED_SALES_AGENT' && source.endpoint_url !== null)
}

export function createSourceDiagnosticsWorkflows({ db, clock, recorder, upstreamTimeoutMs }: SourceDiagnosticsDeps) {
  const agentLatencyThresholdMs = Math.round((upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS) * AGENT_LATENCY_SHARE_OF_TIMEOUT)

  /**
   * Records a buyer call against the modular sources it was served by, one row per source,
   * after the answer and off the buyer's path (the recorder resolves the sources later).
   */
  function served(storefrontId: number, call: ServedCall): void {
    if (call.sources.length === 0 && call.mediaBuyIds.length === 0) return
    recorder.record(async () => {
      const bySource = new Map<string, ServedSource>()
      for (const source of call.sources) bySource.set(source.sourceId, { ...bySource.get(source.sourceId), ...source })
      for (const { sourceId, mediaBuyId } of await listSourcesOfBuys(db, storefrontId, call.mediaBuyIds)) {
        if (!bySource.has(sourceId)) bySource.set(sourceId, { sourceId, mediaBuyId })
      }
      const unresolved = [...bySource.values()].filter((source) => source.sourceRowId === undefined).map((source) => source.sourceId)
      const rowIds = await modularSourceRowIds(db, storefrontId, unresolved)
      return [...bySource.values()].flatMap((source): NewSourceCall[] => {
        const sourceRowId = source.sourceRowId ?? rowIds.get(source.sourceId)
        if (sourceRowId === undefined) return []
        return [{
          storefrontId,
          sourceRowId,
          tool: call.tool,
          outcome: call.outcome,
          errorCode: call.errorCode,
          errorMessage: call.errorMessage,
          latencyMs: call.latencyMs,
          products: source.products,
          packages: source.packages,
          budget: source.budget,
          currency: source.currency,
          mediaBuyId: source.mediaBuyId ?? (call.mediaBuyIds.length === 1 ? call.mediaBuyIds[0] : null),
          at: call.at,
        }]
      })
    })
  }

  async function describeSource(source: InventorySourceRow, now: Date): Promise<SourceDiagnostics['source']> {
    const identity = {
      id: String(source.id),
      sourceId: source.source_id,
      name: source.name,
      executionType: source.execution_type,
      status: source.status,
      endpoint: source.endpoint_url,
      protocol: source.protocol,
    }
    if (isSoldAsAgent(source)) {
      const probed = source.probe_passed_at !== null
      const support = probed ? 'supported' as const : 'unknown' as const
      return {
        ...identity,
        auth: {
          type: source.authentication_type,
          required: source.authentication_type !== 'NO_AUTH',
          // A managed source's auth_ciphertext is its tenant-management key; its buyer token is apart.
          configured: source.authentication_type === 'NO_AUTH'
            || (source.execution_type === 'MANAGED_SALES_AGENT' ? source.agent_auth_ciphertext : source.auth_ciphertext) !== null,
        },
        capabilities: {
          tools: probed ? [...REQUIRED_SALES_AGENT_TOOLS] : [],
          products: support,
          createMediaBuy: support,
          updateMediaBuy: support,
          // The probe does not look for signals tools: nothing is known of them.
          signals: 'unknown',
          basis: probed
            ? 'The last passed probe found every tool a sales agent must list (get_products, create_media_buy, update_media_buy…); it does not check signals.'
            : 'The agent has not passed a probe: nothing is known of its tools.',
          probedAt: toIso(source.probe_passed_at),
        },
        health: {
          status: source.last_error !== null ? 'unhealthy' : probed ? 'healthy' : 'unknown',
          lastCheckedAt: toIso(source.last_checked_at),
          lastError: source.last_error,
        },
      }
    }
    const projection = await loadProjection(db, source, now)
    const active = (kind: string) => projection.modules.some((module) => module.kind === kind && module.status === 'ACTIVE')
    const ledger = active('BOOKING_LEDGER') ? 'supported' as const : 'unsupported' as const
    const critical = projection.issues.find((issue) => issue.severity === 'critical')
    return {
      ...identity,
      auth: { type: null, required: false, configured: false },
      capabilities: {
        tools: MODULAR_TOOLS,
        products: active('INVENTORY_FEED') ? 'supported' : 'unsupported',
        createMediaBuy: ledger,
        updateMediaBuy: ledger,
        signals: 'unsupported',
        basis: 'The source\'s ACTIVE modules: an inventory feed lists products, a booking ledger takes and changes buys; the storefront sells no signals.',
        probedAt: null,
      },
      health: { status: projection.inventorySource.healthStatus, lastCheckedAt: now.toISOString(), lastError: critical?.message ?? null },
    }
  }

  function diagnose(
    source: InventorySourceRow,
    totals: CallStats | undefined,
    outcomes: OutcomeCount[],
    breached: string[],
    handoffIds: string[],
    hours: number,
  ): SourceDiagnostics['diagnosis'] {
    const base = `/inventory-sources/${source.source_id}`
    const requests = totals?.requests ?? 0
    const agent = isSoldAsAgent(source)
    if (source.status !== 'ACTIVE') {
      return {
        severity: requests > 0 ? 'warning' : 'info',
        summary: `The source is ${source.status}: buyers are not routed to it${requests > 0 ? `; ${requests} calls were recorded in the last ${hours} h` : ''}.`,
        likelyCause: `The source status is ${source.status}.`,
        nextSteps: [agent ? `POST ${base}/test-connection, then PUT ${base} {"status":"ACTIVE"}` : `GET ${base}/modular for what it still needs, then PUT ${base} {"status":"ACTIVE"}`],
        handoffIds,
      }
    }
    if (requests === 0) {
      return {
        severity: 'info',
        summary: `No calls were recorded in the last ${hours} h.`,
        likelyCause: agent ? 'No buyer asked for products or bought in the window.' : 'No buyer call reached this source in the window (no get_products read its catalog, no buy holds its capacity).',
        nextSteps: agent ? [`POST ${base}/test-connection to check the agent now`] : [`GET ${base}/modular/products to see what buyers would be shown`],
        handoffIds: [],
      }
    }
    const worst = outcomes.find((row) => row.outcome === 'failed' || row.outcome === 'timeout')
    const failures = (totals?.failed ?? 0) + (totals?.timeouts ?? 0)
    const failureShare = failures / requests
    const severity = failureShare >= 0.5 ? 'critical' : breached.length > 0 ? 'warning' : 'ok'
    let likelyCause: string | null = null
    const nextSteps: string[] = []
    if (worst) {
      const last = worst.lastMessage ? ` Last: ${worst.lastMessage}` : ''
      if (worst.errorCode === 'UPSTREAM_TIMEOUT') {
        likelyCause = `The agent does not answer within the storefront's ${Math.round(agentLatencyThresholdMs / AGENT_LATENCY_SHARE_OF_TIMEOUT)} ms bound (${worst.count} timeouts).${last}`
        nextSteps.push(`POST ${base}/test-connection`, 'Ask whoever runs the agent why it is slow, quoting the handoffIds')
      } else if (worst.errorCode === 'UPSTREAM_AGENT_UNAVAILABLE') {
        likelyCause = `The agent cannot be reached or answers with an HTTP error (${worst.count} calls).${last}`
        nextSteps.push(`POST ${base}/test-connection`, `Check the endpoint (${source.endpoint_url ?? 'none'}) and the credential; rotate it with PUT ${base} if it changed`)
      } else {
        likelyCause = `${agent ? 'The agent' : 'The source'} refused ${worst.count} calls with ${worst.errorCode}.${last}`
        nextSteps.push(agent
          ? 'Read recentActivity for the refused tool; a refusal of the buyer\'s request (INVALID_REQUEST, PRODUCT_UNAVAILABLE) is the buyer\'s to fix, others the agent\'s'
          : `GET ${base}/modular for capacity and module state; PRODUCT_UNAVAILABLE means not enough avails`)
      }
    }
    if (breached.includes('latencyP95Ms')) {
      likelyCause ??= `Calls are slow: p95 ${millis(totals?.p95 ?? null)} ms.`
      nextSteps.push(agent ? `The agent's p95 is past ${agentLatencyThresholdMs} ms: calls are close to the time bound` : 'The storefront answers this source\'s calls slowly: check the database and the server load')
    }
    const summary = severity === 'ok'
      ? `${requests} calls in the last ${hours} h, ${failures} failed or timed out; within thresholds.`
      : `${requests} calls in the last ${hours} h, ${failures} failed or timed out (${Math.round(failureShare * 100)}%)${breached.length > 0 ? `; over ${breached.join(', ')}` : ''}.`
    return { severity, summary, likelyCause, nextSteps, handoffIds }
  }

  /**
   * GET /inventory-sources/{sourceId}/diagnostics: AGENT sources, managed sources sold at /mcp
   * (their tenant's MCP endpoint stored) and MODULAR_SOURCE sources; others get no buyer traffic: 404.
   */
  async function diagnostics(storefrontId: number, sourceId: string, query: Partial<DiagnosticsQuery>): Promise<SourceDiagnostics> {
    const source = await findSourceRow(db, storefrontId, sourceId)
    if (!isSoldAsAgent(source) && source.execution_type !== 'MODULAR_SOURCE') {
      throw fail.notFound(`Diagnostics of ${source.execution_type} source ${sourceId}`)
    }
    // What this process recorded is written before it is read; other processes' rows are as fresh as their queues.
    await recorder.flush()
    const hours = query.windowHours ?? DEFAULT_DIAGNOSTICS_WINDOW_HOURS
    const now = clock.now()
    const since = new Date(now.getTime() - hours * 3_600_000)
    const [stats, outcomes, discovery, demand, recent, described] = await Promise.all([
      summarizeSourceCalls(db, source.id, since),
      countOutcomes(db, source.id, since),
      countDiscovery(db, source.id, since),
      countDemand(db, source.id, since),
      listRecentSourceCalls(db, source.id, since, RECENT_ACTIVITY_LIMIT),
      describeSource(source, now),
    ])
    const totals = stats.find((row) => row.tool === null)
    const requests = totals?.requests ?? 0
    const latencyLimit = isSoldAsAgent(source) ? agentLatencyThresholdMs : MODULAR_LATENCY_P95_THRESHOLD_MS
    const errorRate = rate((totals?.failed ?? 0) + (totals?.timeouts ?? 0), requests)
    const p95 = millis(totals?.p95 ?? null)
    const thresholds = [
      { name: 'latencyP95Ms' as const, limit: latencyLimit, observed: p95, breached: p95 !== null && p95 > latencyLimit },
      { name: 'errorRate' as const, limit: ERROR_RATE_THRESHOLD, observed: errorRate, breached: errorRate !== null && errorRate > ERROR_RATE_THRESHOLD },
    ]
    const breached = thresholds.filter((threshold) => threshold.breached).map((threshold) => threshold.name)
    const failing = recent.filter((row) => row.outcome === 'failed' || row.outcome === 'timeout').slice(0, 5)
    const handoffIds = [...new Set(failing.flatMap((row) => [`call_${row.id}`, ...(row.media_buy_id ? [row.media_buy_id] : [])]))]
    return {
      source: described,
      window: { hours, from: since.toISOString(), to: now.toISOString(), isDefault: query.windowHours === undefined },
      performance: { ...countsOf(totals), thresholds, thresholdBreached: breached.length > 0, lastCallAt: toIso(totals?.lastAt) },
      toolBreakdown: stats.filter((row) => row.tool !== null).map((row) => ({ tool: row.tool!, ...countsOf(row), lastCallAt: toIso(row.lastAt) })),
      discoveryParticipation: {
        getProductsCalls: discovery.asked,
        contributedCalls: discovery.contributed,
        productsContributed: discovery.products,
        contributionRate: rate(discovery.contributed, discovery.asked),
      },
      outcomeMix: outcomes.map((row) => ({ outcome: row.outcome, errorCode: row.errorCode, count: row.count, share: rate(row.count, requests) ?? 0, lastAt: row.lastAt.toISOString() })),
      demandImpact: {
        mediaBuysConfirmed: demand.reduce((sum, row) => sum + row.confirmed, 0),
        mediaBuysSubmitted: demand.reduce((sum, row) => sum + row.submitted, 0),
        packages: demand.reduce((sum, row) => sum + row.packages, 0),
        budget: demand.filter((row) => row.budget > 0 || row.currency !== null).map((row) => ({ currency: row.currency, amount: Math.round(row.budget * 10_000) / 10_000 })),
      },
      recentActivity: recent.map((row) => ({
        callId: `call_${row.id}`,
        tool: row.tool,
        outcome: row.outcome,
        errorCode: row.error_code,
        errorMessage: row.error_message,
        latencyMs: row.latency_ms,
        products: row.products,
        packages: row.packages,
        budget: row.budget,
        currency: row.currency,
        mediaBuyId: row.media_buy_id,
        at: row.at.toISOString(),
      })),
      diagnosis: diagnose(source, totals, outcomes, breached, handoffIds, hours),
      generatedAt: now.toISOString(),
    }
  }

  /** The retention rule, run by the sweeper: rows older than 720 h are deleted, in batches. */
  async function deleteExpired(): Promise<number> {
    const cutoff = new Date(clock.now().getTime() - SOURCE_CALL_RETENTION_HOURS * 3_600_000)
    let deleted = 0
    for (;;) {
      const batch = await deleteSourceCallsBefore(db, cutoff, RETENTION_BATCH)
      deleted += batch
      if (batch < RETENTION_BATCH) return deleted
    }
  }

  return { served, diagnostics, deleteExpired, flush: () => recorder.flush() }
}

export type SourceDiagnosticsWorkflows = ReturnType<typeof createSourceDiagnosticsWorkflows>
