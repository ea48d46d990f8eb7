/** The media-buys module's public surface: the store and the rules of AdCP media buys. */
export * from './media-buy-store.ts'
export * from './media-buy-rules.ts'
export * from './media-buy.schema.ts'
export * from './media-buy-statuses.ts'
