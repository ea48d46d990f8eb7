import type { Database } from '../db/database.ts'
import type { Clock } from '../shared/clock.ts'
import { insertSourceCalls, type NewSourceCall } from './source-call-store.ts'
import type { UpstreamAgentClient, UpstreamCallResult } from './upstream-agent-client.ts'
import { upstreamProductsOf } from './upstream-products.ts'

/**
 * Writes the record of source traffic (source_call) off the buyer's path: calls are queued and
 * written in batches on a later turn of the event loop, in their own statements (never inside a
 * buyer's transaction), one batch at a time. A failed write is reported to `onError` and dropped:
 * diagnostics lose a few rows, a buyer never loses an answer. Producers may be async (a modular
 * call names its sources by media buy, resolved here, after the answer).
 */

export type SourceCallProducer = () => Promise<NewSourceCall[]>

export interface SourceCallRecorder {
  record(calls: NewSourceCall[] | SourceCallProducer): void
  /** Resolves once everything recorded so far is written (or has failed and been reported). */
  flush(): Promise<void>
}

const BATCH = 500
/** Past this many waiting entries new ones are dropped (and reported): the record never eats the heap. */
const MAX_QUEUED = 10_000

export function createSourceCallRecorder({ db, onError }: { db: Database; onError: (error: unknown, message: string) => void }): SourceCallRecorder {
  const queue: Array<NewSourceCall | SourceCallProducer> = []
  let writing: Promise<void> = Promise.resolve()
  let scheduled = false
  let dropped = 0

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const taken = queue.splice(0, BATCH)
      const calls: NewSourceCall[] = []
      for (const entry of taken) {
        if (typeof entry !== 'function') {
          calls.push(entry)
          continue
        }
        try {
          calls.push(...await entry())
        } catch (error) {
          onError(error, 'resolving the sources of a recorded call failed; the call is not in the diagnostics')
        }
      }
      try {
        await insertSourceCalls(db, calls)
      } catch (error) {
        onError(error, `writing ${calls.length} source call records failed; they are not in the diagnostics`)
      }
    }
    if (dropped > 0) {
      onError(new Error(`${dropped} source call records were dropped`), 'the source call queue was full')
      dropped = 0
    }
  }

  function write(): Promise<void> {
    writing = writing.then(drain)
    return writing
  }

  return {
    record(calls) {
      const entries = typeof calls === 'function' ? [calls] : calls
      for (const entry of entries) {
        if (queue.length >= MAX_QUEUED) dropped++
        else queue.push(entry)
      }
      if (scheduled) return
      scheduled = true
      setImmediate(() => {
        scheduled = false
        void write()
      })
    },
    flush: write,
  }
}

const PENDING_TASK_STATUSES = new Set(['submitted', 'working', 'input-required', 'input_required'])

function numberOr(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** What one upstream task's result says about the call: outcome, error, what it placed. */
export async function upstreamCallFacts(tool: string, args: Record<string, unknown>, result: UpstreamCallResult): Promise<Omit<NewSourceCall, 'storefrontId' | 'sourceRowId' | 'latencyMs' | 'at'>> {
  const placed = tool === 'create_media_buy' && Array.isArray(args.packages)
    ? { packages: args.packages.length, budget: args.packages.reduce<number>((sum, pkg) => sum + (isRecord(pkg) ? numberOr(pkg.budget) : 0), 0) }
    : {}
  if (!result.ok) {
    if (result.kind === 'adcp_error') return { tool, outcome: 'failed', errorCode: result.code, errorMessage: result.message, ...placed }
    return result.timedOut
      ? { tool, outcome: 'timeout', errorCode: 'UPSTREAM_TIMEOUT', errorMessage: result.message, ...placed }
      : { tool, outcome: 'failed', errorCode: 'UPSTREAM_AGENT_UNAVAILABLE', errorMessage: result.message, ...placed }
  }
  const { payload } = result
  const pending = typeof payload.status === 'string' && PENDING_TASK_STATUSES.has(payload.status)
  const firstPackage = Array.isArray(payload.packages) && isRecord(payload.packages[0]) ? payload.packages[0] : {}
  const currency = typeof payload.currency === 'string' ? payload.currency : typeof firstPackage.currency === 'string' ? firstPackage.currency : null
  return {
    tool,
    outcome: pending ? 'input_required' : 'completed',
    errorCode: null,
    ...(tool === 'get_products' ? { products: (await upstreamProductsOf(payload)).products.length } : {}),
    ...(tool === 'create_media_buy' ? { ...placed, currency } : {}),
  }
}

/**
 * The upstream client with every call recorded against its source: the one seam all traffic to
 * AGENT sources goes through (upstream-supply-workflows' ask, listProducts…). Latency is wall
 * time; `at` is the storefront's clock when the call started.
 */
export function recordingUpstreamClient(inner: UpstreamAgentClient, { clock, recorder }: { clock: Clock; recorder: SourceCallRecorder }): UpstreamAgentClient {
  return async (target, tool, args) => {
    const at = clock.now()
    const started = performance.now()
    const result = await inner(target, tool, args)
    const latencyMs = performance.now() - started
    // The facts (products counted by schema) are worked out when the record is written, not on the buyer's time.
    recorder.record(async () => [{ ...(await upstreamCallFacts(tool, args, result)), storefrontId: target.storefrontId, sourceRowId: target.sourceRowId, latencyMs, at }])
    return result
  }
}
