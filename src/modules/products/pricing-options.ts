import { FLAT_RATE_UNITS, type FlatRateUnit } from '../../shared/flat-rate.ts'
import { CPM_FIXED_PRICING_OPTION_ID } from './sandbox-fixture.ts'

/**
 * The pricing options of an avail, in one place for get_products (what is offered) and
 * create_media_buy (what may be bought): its fixed CPM when it has one, and next to it (or alone)
 * its flat rate when the seller's feed gives one, per spot or per package. An avail with neither
 * has no price a buyer could accept and is not offered.
 */

export const FLAT_RATE_PRICING_OPTION_IDS: Record<FlatRateUnit, string> = {
  spot: 'flat_rate_spot',
  package: 'flat_rate_package',
}

export type PricingOption =
  | { id: string; model: 'cpm'; price: number }
  | { id: string; model: 'flat_rate'; price: number; unit: FlatRateUnit; spotCount: number | null }

export interface AvailPricing {
  cpm: number | null
  flatRate: number | null
  flatRateUnit: string | null
  spotCount: number | null
}

/** `cpmOptionId`: cpm_fixed, or the id a sandbox fixture was priced under (pricingOptionIdOf). */
export function pricingOptionsOf(avail: AvailPricing, cpmOptionId: string = CPM_FIXED_PRICING_OPTION_ID): PricingOption[] {
  const options: PricingOption[] = []
  if (avail.cpm !== null && avail.cpm > 0) options.push({ id: cpmOptionId, model: 'cpm', price: avail.cpm })
  const unit = FLAT_RATE_UNITS.find((candidate) => candidate === avail.flatRateUnit)
  if (avail.flatRate !== null && avail.flatRate > 0 && unit) {
    options.push({ id: FLAT_RATE_PRICING_OPTION_IDS[unit], model: 'flat_rate', price: avail.flatRate, unit, spotCount: unit === 'spot' ? avail.spotCount : null })
  }
  return options
}
