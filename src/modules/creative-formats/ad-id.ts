/**
 * An industry Ad-ID code, as the Cadent campaign XSD's `AdId` type has it: a 4-letter company prefix,
 * 7 letters or digits, and an optional H (high definition) or D (3D) suffix, e.g. ABCD1234000H.
 * The one rule for sync_creatives' review and the campaign XML, so a creative accepted at sync is
 * never refused when its line is trafficked.
 */
export const AD_ID_PATTERN = /^[A-Z]{4}[A-Z0-9]{7}[HD]?$/
export const AD_ID_RULE = '4 letters, 7 letters or digits, then H or D when it applies'

export function isAdId(value: unknown): value is string {
  return typeof value === 'string' && AD_ID_PATTERN.test(value)
}
