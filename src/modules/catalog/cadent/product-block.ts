import type { ModuleConfig } from '../../contract.ts'
import type { ProductBlock } from '../../provider.ts'
import { targetsFromTargeting } from './render-campaign-xml.ts'

/** The Cadent fields every product of a source shares (its module config) plus the avail's own targets. */
export function cadentProductBlock(config: ModuleConfig): ProductBlock {
  const shared = {
    campaignDeliveryType: String(config.campaignDeliveryType),
    lineDeliveryType: String(config.lineDeliveryType),
    adType: String(config.adType),
    adClass: String(config.adClass),
  }
  return (avail) => ({ ...shared, targets: targetsFromTargeting(avail.targeting) })
}
