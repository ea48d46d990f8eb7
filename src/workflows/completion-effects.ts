import { clearModuleError } from '../modules/modular-sources/index.ts'
import type { CompletionContext, CompletionEffect } from '../modules/provider.ts'
import { completionEffectOf } from '../modules/registry.ts'
import type { WorkItemKind } from '../modules/work-queue/index.ts'

/**
 * What completing a work item does besides closing it (SPEC §3 "Work items"): the effect of the
 * provider that declares the item's kind, from the registry, or the platform's own for the
 * kinds it opens. Every effect runs inside the completion's transaction: if it fails, the item
 * stays open and nothing it wrote remains. An effect returns a short summary that goes into the
 * COMPLETED event.
 */

export type { CommitAvailsPreview, CompletionContext, CompletionEffect } from '../modules/provider.ts'

/** RESOLVE_SOURCE_HEALTH: the operator fixed it, so the module's error (and an ERROR status) is cleared. */
async function clearModuleErrorEffect(context: CompletionContext): Promise<Record<string, unknown>> {
  const moduleRowId = context.item.module_row_id
  if (moduleRowId === null) return { clearedModule: null }
  return { clearedModule: await clearModuleError(context.trx, context.source.id, moduleRowId, context.now) ?? null }
}

const platformEffects: Partial<Record<WorkItemKind, CompletionEffect>> = {
  RESOLVE_SOURCE_HEALTH: clearModuleErrorEffect,
}

export function completionEffectFor(kind: WorkItemKind): CompletionEffect | undefined {
  return platformEffects[kind] ?? completionEffectOf(kind)
}
