/** Types of bin/cli-bundle.js (plain JavaScript: it runs before tsx is loaded). */
export const APPLICATION_ENTRIES: string[]
export function cacheDirectory(): string
/** Builds the bundle into `directory` (default: the per-user cache); its file URL and the inputs it holds. */
export function buildCliBundle(directory?: string): Promise<{ url: string; inputs: string[] }>
/** The bundle's file URL, built if needed; null when it cannot be had. */
export function cliBundle(): Promise<string | null>
