/**
 * The one list of work-item kinds and statuses. Kinds are not a closed enum: each provider's
 * contract declares the kinds it opens and the module registry declares them here at import,
 * so a provider added from anywhere (a test folder among them) brings its own HITL kind with no
 * migration. The database keeps no CHECK on work_item.kind (migration 0012); `openWorkItem`
 * refuses a kind nobody declared.
 */

/**
 * Kinds the platform itself opens, whatever providers are installed: a module's health, and the
 * seller's approval of a media buy's line on a source that has no execution module to book it.
 */
export const PLATFORM_WORK_ITEM_KINDS = ['RESOLVE_SOURCE_HEALTH', 'APPROVE_MEDIA_BUY'] as const

/**
 * The kinds the REST contract lists (interchange-api.md, "work item kind"): still accepted as a
 * list filter on the wire, though no contract opens the ones outside the declared list.
 */
export const WIRE_WORK_ITEM_KINDS = [
  'APPROVE_MEDIA_BUY', 'REVIEW_CREATIVE', 'CONFIRM_AVAILS', 'APPROVE_RATE_EXCEPTION', 'MAP_CREATIVE_REF',
  'SYNC_UPSTREAM_CREATIVE', 'EXECUTE_UPSTREAM_BOOKING', 'TRAFFIC_TO_CADENT', 'RESOLVE_TRAFFICKING_ERROR',
  'UPLOAD_FINAL_REPORT', 'RESOLVE_SOURCE_HEALTH', 'GENERAL',
] as const

export type WorkItemKind = string

export const WORK_ITEM_KIND_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/

const declared: string[] = [...PLATFORM_WORK_ITEM_KINDS]

/** Adds kinds to the list; the registry calls this for every provider it registers. */
export function declareWorkItemKinds(kinds: readonly string[]): void {
  for (const kind of kinds) {
    if (!WORK_ITEM_KIND_PATTERN.test(kind)) throw new Error(`Work-item kind ${JSON.stringify(kind)} is not UPPER_SNAKE_CASE`)
    if (!declared.includes(kind)) declared.push(kind)
  }
}

/** Every kind some installed contract (or the platform) opens, in declaration order. */
export function workItemKinds(): readonly string[] {
  return declared
}

export function isDeclaredWorkItemKind(kind: string): boolean {
  return declared.includes(kind)
}

/** What a list filter accepts: a declared kind or one the REST contract names. */
export function isKnownWorkItemKind(kind: string): boolean {
  return declared.includes(kind) || (WIRE_WORK_ITEM_KINDS as readonly string[]).includes(kind)
}

export const WORK_ITEM_STATUSES = ['OPEN', 'IN_PROGRESS', 'BLOCKED', 'COMPLETED', 'CANCELLED'] as const
export type WorkItemStatus = (typeof WORK_ITEM_STATUSES)[number]
/** A work item is open (somebody still owes it) in these statuses: the one copy of that rule. */
export const OPEN_WORK_ITEM_STATUSES = ['OPEN', 'IN_PROGRESS', 'BLOCKED'] as const satisfies readonly WorkItemStatus[]
