/** Types of bin/cli-bundle.js (plain JavaScript: it runs before tsx is loaded). */
export const APPLICATION_ENTRIES: string[]
/** node_modules/.cache/storefront-cli/<checkout>/ of this checkout. */
export function cacheDirectory(): string
/** Builds the bundle into `directory` (default: the checkout's cache); its file URL and the inputs it holds. */
export function buildCliBundle(directory?: string): Promise<{ url: string; inputs: string[] }>
/** The bundle's file URL from `directory` (default: the checkout's cache), built if needed; null when it cannot be had. */
export function cliBundle(directory?: string): Promise<string | null>
/** Forgets the cached bundle at `url` (it failed to load), so that the next start rebuilds it. */
export function discardCliBundle(url: string, directory?: string): void
