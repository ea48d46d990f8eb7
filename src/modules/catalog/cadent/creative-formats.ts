import type { ModuleConfig } from '../../contract.ts'
import { spotFormats, type SpotFormat } from '../../creative-formats/index.ts'

/**
 * Cadent lines take a spot (its length in whole seconds, an asset URL and the Ad-ID; see
 * cadent-campaign-v1.xsd), so a module whose adType is VIDEO traffics video spots and AUDIO audio
 * spots. DISPLAY has no size in the campaign XML, so it lists none.
 */
export function cadentCreativeFormats(config: ModuleConfig): SpotFormat[] {
  if (config.adType === 'VIDEO') return spotFormats('video')
  if (config.adType === 'AUDIO') return spotFormats('audio')
  return []
}
