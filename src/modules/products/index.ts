// The public surface of products/: other folders import it from here, never from its files (eslint.config.js).
export { ProductSchema, projectProduct, type Product, type ProductCadent } from './product-projection.ts'
export {
  listSellableAvails,
  ProductListQuerySchema,
  ProductListSchema,
  PRODUCTS_MAX_LIMIT,
  type ProductListQuery,
} from './product-store.ts'
export { adcpProductId, parseAdcpProductId } from './product-id.ts'
export { CPM_FIXED_PRICING_OPTION_ID, FIXTURE_METADATA_KEY, pricingOptionIdOf, productFixtureOf, type ProductFixture } from './sandbox-fixture.ts'
export { FLAT_RATE_PRICING_OPTION_IDS, pricingOptionsOf, type AvailPricing, type PricingOption } from './pricing-options.ts'
