import type { Clock } from './clock.ts'

/**
 * A per-process cache of answers from slow or rate-limited upstreams. A value lives `ttlMs` from
 * the moment its load settled, judged by the injected clock, so tests move time instead of
 * sleeping. Concurrent reads of a key share one load (single flight): a burst of requests makes
 * one upstream call. A failed load is not kept: the next read after it tries again.
 */
export interface SingleFlightCache<K, V> {
  /** The live value of `key`, or the load already under way, or a new load. */
  get(key: K, load: () => Promise<V>): Promise<V>
  /**
   * Forgets `key`. A load still under way keeps answering the reads that joined it, but its
   * result is not kept, so the next read loads again. True when something was forgotten.
   */
  drop(key: K): boolean
  /** True while a load of `key` is under way. */
  loading(key: K): boolean
}

interface Entry<V> {
  promise: Promise<V>
  /** Clock time (ms) the load settled at; undefined while it runs. */
  settledAt: number | undefined
}

export function createSingleFlightCache<K, V>({ ttlMs, clock }: { ttlMs: number; clock: Clock }): SingleFlightCache<K, V> {
  const entries = new Map<K, Entry<V>>()

  function live(entry: Entry<V>): boolean {
    return entry.settledAt === undefined || clock.now().getTime() - entry.settledAt < ttlMs
  }

  return {
    get(key, load) {
      const current = entries.get(key)
      if (current && live(current)) return current.promise
      const entry: Entry<V> = { promise: undefined as unknown as Promise<V>, settledAt: undefined }
      // In the map before the load starts, so even a load that fails at once is cleaned up.
      entries.set(key, entry)
      entry.promise = (async () => {
        try {
          const value = await load()
          if (entries.get(key) === entry) entry.settledAt = clock.now().getTime()
          return value
        } catch (error) {
          if (entries.get(key) === entry) entries.delete(key)
          throw error
        }
      })()
      // Expired entries of other keys go on each new load, so the map holds at most the keys read within a TTL.
      for (const [other, candidate] of entries) if (other !== key && !live(candidate)) entries.delete(other)
      return entry.promise
    },
    drop(key) {
      return entries.delete(key)
    },
    loading(key) {
      const entry = entries.get(key)
      return entry !== undefined && entry.settledAt === undefined
    },
  }
}
