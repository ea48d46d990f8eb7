import { ProductSchema } from '@adcp/sdk/types'

/**
 * The products of an upstream get_products answer that are AdCP products: the storefront's own
 * answer is schema-checked as a whole, so one malformed upstream product would otherwise refuse
 * every buyer's get_products. The rest are counted, not sold.
 */
export function upstreamProductsOf(payload: Record<string, unknown>): { products: Array<Record<string, unknown> & { product_id: string }>; rejected: number } {
  const listed = Array.isArray(payload.products) ? payload.products : []
  const products: Array<Record<string, unknown> & { product_id: string }> = []
  for (const candidate of listed) {
    if (ProductSchema.safeParse(candidate).success) products.push(candidate as Record<string, unknown> & { product_id: string })
  }
  return { products, rejected: listed.length - products.length }
}
