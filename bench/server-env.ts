/** The secret key every bench server and in-process service of a bench encrypts with. */
export const BENCH_SECRET = 'bench-secret-key-0123456789abcdef'

/**
 * The environment of a bench's `storefront serve`: its database, the bench's secret and bootstrap
 * key, storefront "acme", loopback only, warnings only and no rate limit (the bench measures the
 * work, not the limiter), plus `extra` (a pool size, NODE_OPTIONS).
 */
export function benchServerEnv(database: { databaseUrl: string } | { dataDir: string }, bootstrapKey: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...('databaseUrl' in database ? { DATABASE_URL: database.databaseUrl } : { DATA_DIR: database.dataDir }),
    STOREFRONT_SECRET_KEY: BENCH_SECRET,
    STOREFRONT_BOOTSTRAP_KEY: bootstrapKey,
    STOREFRONT_DEFAULT_NAME: 'acme',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '0',
    ...extra,
  }
}
