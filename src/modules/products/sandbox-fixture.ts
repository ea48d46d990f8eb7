/**
 * A product seeded into the sandbox source by comply_test_controller keeps its fixture in its
 * avail's source_metadata: the pricing option id and format ids the storyboard named, which the
 * agent must answer with and accept back exactly as seeded.
 */

export const FIXTURE_METADATA_KEY = 'sandboxFixture'

/** The pricing option every live product offers: the avail's fixed CPM. */
export const CPM_FIXED_PRICING_OPTION_ID = 'cpm_fixed'

export interface ProductFixture {
  /** The seeded pricing option id; null until seed_pricing_option priced the product. */
  pricingOptionId: string | null
  /** The seeded format ids (the agent's own agent_url is added on the wire). */
  formatIds: string[]
}

export function productFixtureOf(sourceMetadata: Record<string, unknown>): ProductFixture | null {
  const value = sourceMetadata[FIXTURE_METADATA_KEY]
  if (!value || typeof value !== 'object') return null
  const { pricingOptionId, formatIds } = value as Record<string, unknown>
  return {
    pricingOptionId: typeof pricingOptionId === 'string' ? pricingOptionId : null,
    formatIds: Array.isArray(formatIds) ? formatIds.filter((id): id is string => typeof id === 'string') : [],
  }
}

/**
 * The one pricing option id a product offers: the seeded one for a sandbox fixture, else
 * cpm_fixed. Only avails of the sandbox source carry fixtures (`sandboxSource`).
 */
export function pricingOptionIdOf(sourceMetadata: Record<string, unknown>, sandboxSource: boolean): string {
  return (sandboxSource ? productFixtureOf(sourceMetadata)?.pricingOptionId : null) ?? CPM_FIXED_PRICING_OPTION_ID
}
