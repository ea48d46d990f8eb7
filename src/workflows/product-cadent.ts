import type { Queryable } from '../db/database.ts'
import type { AvailRow, InventorySourceRow } from '../db/tables.ts'
import { targetsFromTargeting } from '../modules/cadent/render-campaign-xml.ts'
import { findActiveModule } from '../modules/modular-sources/module-store.ts'
import type { ProductCadent } from '../modules/products/product-projection.ts'

export type ProductCadentDefaults = Omit<ProductCadent, 'targets'>

/**
 * The Cadent fields every product of a source shares, from its ACTIVE Cadent trafficking module's
 * config; null for feed-only sources, so uploaded avails are never implicitly Cadent-backed.
 */
export async function productCadentDefaults(db: Queryable, source: InventorySourceRow): Promise<ProductCadentDefaults | null> {
  const trafficking = await findActiveModule(db, source.id, 'TRAFFICKING')
  if (!trafficking || trafficking.row.provider !== 'cadent') return null
  const config = trafficking.row.config
  return {
    campaignDeliveryType: String(config.campaignDeliveryType),
    lineDeliveryType: String(config.lineDeliveryType),
    adType: String(config.adType),
    adClass: String(config.adClass),
  }
}

/** One product's Cadent block: the source's defaults plus the avail's own targets. */
export function productCadentFor(defaults: ProductCadentDefaults | null, avail: Pick<AvailRow, 'targeting'>): ProductCadent | null {
  return defaults ? { ...defaults, targets: targetsFromTargeting(avail.targeting) } : null
}
