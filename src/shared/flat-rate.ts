/**
 * What a flat rate buys (AdCP `flat_rate` pricing, TV buying): one spot of an avail that the seller's
 * feed splits into `spotCount` spots of equal capacity, or the whole avail as one package. The one
 * list the feed, the products' pricing options, media buy packages and their table read.
 */
export const FLAT_RATE_UNITS = ['spot', 'package'] as const
export type FlatRateUnit = (typeof FLAT_RATE_UNITS)[number]
