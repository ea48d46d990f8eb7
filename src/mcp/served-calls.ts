import { AdcpError } from '@adcp/sdk/server'
import type { Caller } from '../access/access-service.ts'
import { parseAdcpProductId } from '../modules/products/index.ts'
import { isStorefrontError } from '../shared/errors.ts'
import type { Services } from '../services.ts'
import { SANDBOX_SOURCE_ID } from '../workflows/sandbox-workflows.ts'
import type { ServedSource } from '../workflows/source-diagnostics-workflows.ts'

/**
 * The record of which modular sources served a buyer's tool call (diagnostics, reference §2.7):
 * the handler notes the sources it touched (by product id or media buy) and whether the answer
 * was a submitted task; once it has answered, or thrown, the call is handed to the recorder,
 * which writes it later and off this request. AGENT sources are recorded at the upstream client.
 */

export interface ServedNote {
  /** The answer is a submitted task (input_required). */
  submitted: boolean
  sources: ServedSource[]
  /** Media buys the call was about; their modular sources are looked up when the record is written. */
  mediaBuyIds: string[]
  /**
   * Times the part of the call the modular sources served. A call that also waits on upstream
   * agents (get_products' fan-out, forwarded buys' reads) measures its own part with it, so a slow
   * agent is not counted as the modular source's latency; without it the whole call is timed.
   */
  measure<R>(work: () => Promise<R>): Promise<R>
}

function errorCodeOf(error: unknown): string {
  if (error instanceof AdcpError) return error.code
  if (isStorefrontError(error)) return error.details?.reason ?? error.code
  return 'INTERNAL_ERROR'
}

/** Buyer-facing refusals carry a message safe to keep; an internal error's message is not kept. */
function errorMessageOf(error: unknown): string | null {
  return error instanceof AdcpError || isStorefrontError(error) ? error.message : null
}

export async function served<T>(services: Services, caller: Caller, tool: string, run: (note: ServedNote) => Promise<T>): Promise<T> {
  let measured: number | null = null
  const note: ServedNote = {
    submitted: false,
    sources: [],
    mediaBuyIds: [],
    async measure(work) {
      const began = performance.now()
      try {
        return await work()
      } finally {
        measured = (measured ?? 0) + performance.now() - began
      }
    },
  }
  const at = services.clock.now()
  const started = performance.now()
  const report = (outcome: 'completed' | 'failed' | 'input_required', errorCode: string | null, errorMessage: string | null) => {
    const latencyMs = measured ?? performance.now() - started
    services.sourceDiagnostics.served(caller.storefrontId, { tool, outcome, errorCode, errorMessage, latencyMs, at, sources: note.sources, mediaBuyIds: note.mediaBuyIds })
  }
  let result: T
  try {
    result = await run(note)
  } catch (error) {
    report('failed', errorCodeOf(error), errorMessageOf(error))
    throw error
  }
  report(note.submitted ? 'input_required' : 'completed', null, null)
  return result
}

/** The source of a product id as the key sees it (a sandbox key's bare ids are the sandbox source's). */
export function sourceIdOfProduct(caller: Caller, productId: string): string | null {
  return parseAdcpProductId(productId, caller.sandbox ? SANDBOX_SOURCE_ID : null)?.sourceId ?? null
}

/** The packages of a create_media_buy grouped by the source of their product: count and budget. */
export function sourcesOfPackages(caller: Caller, packages: ReadonlyArray<{ product_id: string; budget?: number | undefined }>): ServedSource[] {
  const bySource = new Map<string, ServedSource & { packages: number; budget: number }>()
  for (const pkg of packages) {
    const sourceId = sourceIdOfProduct(caller, pkg.product_id)
    if (!sourceId) continue
    const entry = bySource.get(sourceId) ?? { sourceId, packages: 0, budget: 0 }
    entry.packages += 1
    entry.budget += typeof pkg.budget === 'number' && Number.isFinite(pkg.budget) && pkg.budget > 0 ? pkg.budget : 0
    bySource.set(sourceId, entry)
  }
  return [...bySource.values()]
}
