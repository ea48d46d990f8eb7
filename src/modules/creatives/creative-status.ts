import type { CreativeStatus } from '../../db/tables.ts'

/**
 * The AdCP creative review graph (AdCP 3.0.6; @adcp/sdk's CREATIVE_ASSET_TRANSITIONS, the table
 * behind isLegalCreativeTransition). Kept here as data so the REST process need not load the SDK;
 * test/mcp/creatives-status.test.ts pins it to the SDK's predicate, edge for edge.
 */
export const CREATIVE_STATUSES: readonly CreativeStatus[] = ['processing', 'pending_review', 'approved', 'rejected', 'archived']

const TRANSITIONS: Record<CreativeStatus, readonly CreativeStatus[]> = {
  processing: ['pending_review', 'rejected'],
  pending_review: ['approved', 'rejected'],
  approved: ['rejected', 'archived'],
  rejected: ['processing', 'pending_review'],
  archived: ['approved'],
}

/** Self-edges are not transitions (the SDK's rule too). */
export function isLegalCreativeTransition(from: CreativeStatus, to: CreativeStatus): boolean {
  return TRANSITIONS[from].includes(to)
}

/**
 * The status a synced creative takes. The storefront reviews a creative when it is synced (the
 * format and Ad-ID checks), so a reviewed one is approved, and an archived one comes back approved.
 * A creative the seller rejected goes back to the seller's review (pending_review): resending it
 * does not overrule the seller. One the storefront could not review (a sandbox creative on another
 * creative agent's format) waits in pending_review for whoever reviews it (the test controller).
 * `current` is null for a creative the sync creates.
 */
export function statusAfterSync(current: CreativeStatus | null, reviewed: boolean): CreativeStatus {
  if (!reviewed) {
    if (current === null) return 'pending_review'
    return isLegalCreativeTransition(current, 'pending_review') ? 'pending_review' : current
  }
  if (current === null || current === 'approved') return 'approved'
  if (isLegalCreativeTransition(current, 'approved')) return 'approved'
  return isLegalCreativeTransition(current, 'pending_review') ? 'pending_review' : current
}
