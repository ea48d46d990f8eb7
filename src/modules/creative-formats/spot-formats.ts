/** Spot formats as data: the shape the AdCP buyer surface lists. */

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

export function spotFormats(kind: SpotKind): SpotFormat[] {
  return SPOT_LENGTHS_SECONDS.map((seconds) => ({ id: `${kind}_spot_${seconds}s`, kind, durationSeconds: seconds, carriesAdId: true }))
}
