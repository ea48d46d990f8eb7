// The public surface of creative-formats/: other folders import it from here, never from its files (eslint.config.js).
export { SPOT_LENGTHS_SECONDS, spotFormats, type SpotFormat, type SpotKind } from './spot-formats.ts'
export { AD_ID_PATTERN, AD_ID_RULE, isAdId } from './ad-id.ts'
