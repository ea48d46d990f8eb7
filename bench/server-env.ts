/** The secret key every bench server and in-process service of a bench encrypts with. */
export const BENCH_SECRET = 'bench-secret-key-0123456789abcdef'

/**
 * The environment of a bench's `storefront serve`: its database, the bench's secret and bootstrap
 * key, storefront "acme" and loopback only, plus `extra` (a pool size, NODE_OPTIONS, a rate limit).
 * startServerProcess already turns the log down to warnings and the rate limit off (the bench
 * measures the work, not the limiter).
 */
export function benchServerEnv(database: { databaseUrl: string } | { dataDir: string }, bootstrapKey: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...('databaseUrl' in database ? { DATABASE_URL: database.databaseUrl } : { DATA_DIR: database.dataDir }),
    STOREFRONT_SECRET_KEY: BENCH_SECRET,
    STOREFRONT_BOOTSTRAP_KEY: bootstrapKey,
    STOREFRONT_DEFAULT_NAME: 'acme',
    HOST: '127.0.0.1',
    ...extra,
  }
}
