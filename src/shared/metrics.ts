import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/**
 * The process's Prometheus metrics, served at GET /metrics (src/http/routes/metrics.ts). Every
 * other file records through the functions below and never imports prom-client: the names, labels
 * and buckets are this one list (README "Operating" names each series). Domain events are
 * recorded once their transaction committed (`afterCommit` in src/db/database.ts), so a rolled
 * back hold or a work item whose request failed is never counted.
 *
 * Counters are per process and start at 0 when it starts: Prometheus scrapes every process and
 * `rate()`/`increase()` absorb the restarts.
 */

const registry = new Registry()
collectDefaultMetrics({ register: registry })

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

const httpRequests = new Counter({
  name: 'storefront_http_requests_total',
  help: 'HTTP requests answered, by method, route template and status.',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
})

const httpDuration = new Histogram({
  name: 'storefront_http_request_duration_seconds',
  help: 'Time from receiving a request to sending its answer, by method, route template and status.',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
})

const rateLimited = new Counter({
  name: 'storefront_rate_limited_total',
  help: 'Requests refused with RATE_LIMITED, by edge (rest, mcp, a2a).',
  labelNames: ['edge'] as const,
  registers: [registry],
})

const ledgerEntries = new Counter({
  name: 'storefront_ledger_entries_total',
  help: 'Committed booking-ledger entries, by kind: HOLD, BOOK, RELEASE, EXPIRE.',
  labelNames: ['kind'] as const,
  registers: [registry],
})

const sweeperRuns = new Counter({
  name: 'storefront_sweeper_runs_total',
  help: 'Runs of the expiry sweeper and its reconcilers, by outcome (ok, or failed when any step failed).',
  labelNames: ['outcome'] as const,
  registers: [registry],
})

const sweeperDuration = new Histogram({
  name: 'storefront_sweeper_run_duration_seconds',
  help: 'Time one sweeper run took, reconcilers included.',
  buckets: LATENCY_BUCKETS,
  registers: [registry],
})

const feedRows = new Counter({
  name: 'storefront_feed_rows_ingested_total',
  help: 'Avails-feed rows committed to a source\'s avails (created, updated or unchanged).',
  registers: [registry],
})

const workItemsOpened = new Counter({
  name: 'storefront_work_items_opened_total',
  help: 'Work items opened, by kind.',
  labelNames: ['kind'] as const,
  registers: [registry],
})

const workItemsClosed = new Counter({
  name: 'storefront_work_items_closed_total',
  help: 'Work items closed, by kind and final status (COMPLETED, CANCELLED).',
  labelNames: ['kind', 'status'] as const,
  registers: [registry],
})

const webhookDeliveries = new Counter({
  name: 'storefront_webhook_deliveries_total',
  help: 'Webhook delivery attempts settled by this process, by outcome: delivered, retry (sent again later), failed (for good).',
  labelNames: ['outcome'] as const,
  registers: [registry],
})

/** What a database pool reports of itself (pg.Pool's counters). */
export interface PoolStats {
  max: number
  total: number
  idle: number
  waiting: number
}

const pools = new Set<() => PoolStats>()

function sumPools(): PoolStats {
  const sum: PoolStats = { max: 0, total: 0, idle: 0, waiting: 0 }
  for (const read of pools) {
    const stats = read()
    sum.max += stats.max
    sum.total += stats.total
    sum.idle += stats.idle
    sum.waiting += stats.waiting
  }
  return sum
}

new Gauge({
  name: 'storefront_db_pool_connections',
  help: 'Database connections of this process, by state: open (in use or idle), idle, and the configured max.',
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    const stats = sumPools()
    this.set({ state: 'open' }, stats.total)
    this.set({ state: 'idle' }, stats.idle)
    this.set({ state: 'in_use' }, stats.total - stats.idle)
    this.set({ state: 'max' }, stats.max)
  },
})

new Gauge({
  name: 'storefront_db_pool_waiting_queries',
  help: 'Queries of this process waiting for a free database connection.',
  registers: [registry],
  collect() {
    this.set(sumPools().waiting)
  },
})

export type LedgerEntryKind = 'HOLD' | 'BOOK' | 'RELEASE' | 'EXPIRE'
export type WebhookOutcome = 'delivered' | 'retry' | 'failed'

export const metrics = {
  httpRequest(labels: { method: string; route: string; status: number }, seconds: number): void {
    const values = { method: labels.method, route: labels.route, status: String(labels.status) }
    httpRequests.inc(values)
    httpDuration.observe(values, seconds)
  },
  rateLimited(edge: 'rest' | 'mcp' | 'a2a'): void {
    rateLimited.inc({ edge })
  },
  ledgerEntries(kind: LedgerEntryKind, count = 1): void {
    if (count > 0) ledgerEntries.inc({ kind }, count)
  },
  sweeperRun(outcome: 'ok' | 'failed', seconds: number): void {
    sweeperRuns.inc({ outcome })
    sweeperDuration.observe(seconds)
  },
  feedRowsIngested(count: number): void {
    if (count > 0) feedRows.inc(count)
  },
  workItemOpened(kind: string): void {
    workItemsOpened.inc({ kind })
  },
  workItemClosed(kind: string, status: 'COMPLETED' | 'CANCELLED'): void {
    workItemsClosed.inc({ kind, status })
  },
  webhookDelivery(outcome: WebhookOutcome): void {
    webhookDeliveries.inc({ outcome })
  },
  /** Reports a pool's use in the db-pool gauges until the returned function is called (the pool closed). */
  trackPool(read: () => PoolStats): () => void {
    pools.add(read)
    return () => pools.delete(read)
  },
  contentType: registry.contentType,
  /** The exposition text of every series. */
  render(): Promise<string> {
    return registry.metrics()
  },
}
