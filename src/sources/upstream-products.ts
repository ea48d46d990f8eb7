/**
 * The products of an upstream get_products answer that are AdCP products: the storefront's own
 * answer is schema-checked as a whole, so one malformed upstream product would otherwise refuse
 * every buyer's get_products. The rest are counted, not sold.
 */
export async function upstreamProductsOf(payload: Record<string, unknown>): Promise<{ products: Array<Record<string, unknown> & { product_id: string }>; rejected: number }> {
  // The AdCP schemas are a large module: a process loads them when an upstream agent first answers.
  const { ProductSchema } = await import('@adcp/sdk/types')
  const listed = Array.isArray(payload.products) ? payload.products : []
  const products: Array<Record<string, unknown> & { product_id: string }> = []
  for (const candidate of listed) {
    if (ProductSchema.safeParse(candidate).success) products.push(candidate as Record<string, unknown> & { product_id: string })
  }
  return { products, rejected: listed.length - products.length }
}
