import type { Queryable } from '../db/database.ts'
import type { AvailRow, InventorySourceRow } from '../db/tables.ts'
import { findActiveModule, type ActiveModule } from '../modules/modular-sources/index.ts'
import type { ProductCadent } from '../modules/products/index.ts'
import type { ProductBlock } from '../modules/provider.ts'
import { findProvider } from '../modules/registry.ts'

/**
 * The block the products of a source carry, from its ACTIVE trafficking module's provider
 * (`Provider.productBlock`); null when that provider has none or the source is feed-only, so
 * uploaded avails are never implicitly Cadent-backed.
 */
export async function productCadentDefaults(db: Queryable, source: Pick<InventorySourceRow, 'id'>): Promise<ProductBlock | null> {
  return productBlockOf(await findActiveModule(db, source.id, 'TRAFFICKING'))
}

/** productCadentDefaults for a trafficking module the caller already read (undefined: the source has none). */
export function productBlockOf(trafficking: ActiveModule | undefined): ProductBlock | null {
  const block = trafficking && findProvider(trafficking.row.kind, trafficking.row.provider)?.productBlock
  return block ? block(trafficking.row.config) : null
}

/** One product's block, for its avail. */
export function productCadentFor(block: ProductBlock | null, avail: Pick<AvailRow, 'targeting'>): ProductCadent | null {
  return block ? block(avail) : null
}
