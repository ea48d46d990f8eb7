/** Types of bin/bundle.js (plain JavaScript: it runs before tsx is loaded). */
/** The bundle's entry points: the name of each one's file in the bundle, and its source. */
export const ENTRIES: Record<'cli' | 'embedded-setup', string>
/** node_modules/.cache/storefront/<checkout>/ of this checkout. */
export function cacheDirectory(): string
/**
 * Builds the bundle into `directory` (default: the checkout's cache): the bundle's directory, the inputs it
 * holds, and whether a manifest now names it (false when an input changed while it was built).
 */
export function buildBundle(directory?: string): Promise<{ directory: string; inputs: string[]; current: boolean }>
/** The bundle's directory in `directory` (default: the checkout's cache), built if needed; null when it cannot be had. */
export function currentBundle(directory?: string): Promise<string | null>
/** Forgets the cached bundle `bundle` (it failed to load), so that the next start rebuilds it. */
export function discardBundle(bundle: string, directory?: string): void
/** Runs an entry point from the bundle, or its source through tsx. */
export function runEntry(entry: keyof typeof ENTRIES): Promise<void>
/** `name` in this checkout's private cache, created if missing and checked to be private. */
export function privateCacheDirectory(name: string): string
