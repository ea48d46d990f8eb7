/**
 * The TV measurement windows, narrowest first: live viewers only, live + 3 days and live + 7 days of
 * time-shifted viewing (AdCP measurement-window `window_id`s). The one list every reader uses: the
 * avails feed's `measurementWindows` column, the products' reporting capabilities, the billing terms
 * a media buy may ask for, and the final-report import. A wider window supersedes a narrower one of
 * the same day, never the other way round.
 */
export const MEASUREMENT_WINDOWS = [
  { id: 'live', durationDays: 0, description: 'Live broadcast viewers only' },
  { id: 'c3', durationDays: 3, description: 'Live plus 3 days of time-shifted viewing' },
  { id: 'c7', durationDays: 7, description: 'Live plus 7 days of time-shifted viewing' },
] as const

export type MeasurementWindow = (typeof MEASUREMENT_WINDOWS)[number]['id']

export const MEASUREMENT_WINDOW_IDS: readonly MeasurementWindow[] = MEASUREMENT_WINDOWS.map((window) => window.id)

export function isMeasurementWindow(value: unknown): value is MeasurementWindow {
  return typeof value === 'string' && (MEASUREMENT_WINDOW_IDS as readonly string[]).includes(value)
}

/** Position in the list: a higher rank is a wider window. */
export function windowRank(window: MeasurementWindow): number {
  return MEASUREMENT_WINDOW_IDS.indexOf(window)
}

/** Windows in list order, each once. */
export function sortedWindows(windows: Iterable<MeasurementWindow>): MeasurementWindow[] {
  const set = new Set(windows)
  return MEASUREMENT_WINDOW_IDS.filter((window) => set.has(window))
}
