import type { ModuleInstanceRow } from '../../db/tables.ts'

/**
 * The creative formats a source's trafficking module can really carry, as data. Cadent lines take
 * a spot (its length in whole seconds, an asset URL and the Ad-ID; see cadent-campaign-v1.xsd), so
 * a Cadent module whose adType is VIDEO traffics video spots and AUDIO audio spots. DISPLAY has no
 * size in the campaign XML and the manual module's contract names no formats, so neither lists any:
 * a format is listed only when a module says it can carry it.
 */

export type SpotKind = 'video' | 'audio'

export interface SpotFormat {
  /** Stable id, unique in this agent's catalog (AdCP format ids match ^[a-zA-Z0-9_-]+$). */
  id: string
  kind: SpotKind
  durationSeconds: number
  /** The spot's industry Ad-ID travels with it into the trafficking payload. */
  carriesAdId: boolean
}

/** Spot lengths broadcasters sell; Cadent takes any whole-second length, these are the ones offered. */
export const SPOT_LENGTHS_SECONDS = [15, 30] as const

function spots(kind: SpotKind): SpotFormat[] {
  return SPOT_LENGTHS_SECONDS.map((seconds) => ({ id: `${kind}_spot_${seconds}s`, kind, durationSeconds: seconds, carriesAdId: true }))
}

/** The formats of one ACTIVE trafficking module; [] when the module declares none. */
export function formatsOfTraffickingModule(module: Pick<ModuleInstanceRow, 'provider' | 'config'> | undefined): SpotFormat[] {
  if (!module || module.provider !== 'cadent') return []
  const adType = module.config.adType
  if (adType === 'VIDEO') return spots('video')
  if (adType === 'AUDIO') return spots('audio')
  return []
}
