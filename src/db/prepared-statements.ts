import type pg from 'pg'
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely'

/**
 * Server-side prepared statements on PostgreSQL: each distinct statement text gets a name, and
 * each connection parses it once (node-postgres remembers per connection which names it has
 * parsed); afterwards only Bind/Execute travel, and PostgreSQL skips parsing and, once its plan
 * cache has chosen, planning. Unnamed statements are parsed and planned on every execution: at
 * 50 buys a second that was about a third of PostgreSQL's CPU per buy (BENCHMARKS.md, "Fourth
 * pass").
 *
 * Which statements get a name, and why:
 * - only those with parameters: a statement without is either a one-off (a migration's script,
 *   which may hold several commands and cannot be prepared) or a BEGIN/COMMIT;
 * - only texts of at most MAX_TEXT characters and MAX_PARAMETERS parameters: a bulk insert's text
 *   grows with its rows, and preparing it once per row count would only fill the cache;
 * - only the first `capacity` distinct texts of the process: each connection's backend keeps
 *   every statement it prepared until the connection closes, so the names are bounded, not the
 *   texts they come from. Later texts run unnamed, as before.
 *
 * A table whose columns change under a running process (a migration of a newer version, a rolling
 * deploy) makes a prepared `SELECT *` of it fail once per connection with "cached plan must not
 * change result type" (SQLSTATE 0A000). The connection it failed on is then closed rather than
 * returned to the pool, so the next statement of that text is prepared afresh on another connection.
 */

const DEFAULT_CAPACITY = 500
const MAX_TEXT = 8_192
const MAX_PARAMETERS = 100
const CHANGED_RESULT_TYPE = '0A000'

/** The name of each statement text this process prepares, in a bounded table shared by its connections. */
export class StatementNames {
  readonly #names = new Map<string, string>()
  readonly #capacity: number

  constructor(capacity = DEFAULT_CAPACITY) {
    this.#capacity = capacity
  }

  /** The name `text` is prepared under, or null when it runs unnamed. */
  nameOf(text: string, parameterCount: number): string | null {
    if (parameterCount === 0 || parameterCount > MAX_PARAMETERS || text.length > MAX_TEXT) return null
    const known = this.#names.get(text)
    if (known !== undefined) return known
    if (this.#names.size >= this.#capacity) return null
    const name = `storefront_${this.#names.size + 1}`
    this.#names.set(text, name)
    return name
  }

  get size(): number {
    return this.#names.size
  }
}

function isChangedResultType(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === CHANGED_RESULT_TYPE
}

/**
 * A pg.Pool as Kysely's PostgresDialect sees it, with its statements prepared by name. One wrapper
 * per pooled connection, so Kysely's own per-connection state stays attached to it.
 */
export function preparingPool(pool: pg.Pool): PostgresPool {
  const names = new StatementNames()
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>()

  function wrap(client: pg.PoolClient): PostgresPoolClient {
    let discard = false
    function query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>
    function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>
    function query<R>(sqlOrCursor: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
      if (typeof sqlOrCursor !== 'string') return (client.query as (cursor: PostgresCursor<R>) => PostgresCursor<R>)(sqlOrCursor)
      const values = parameters === undefined ? [] : [...parameters]
      const name = names.nameOf(sqlOrCursor, values.length)
      if (name === null) return client.query(sqlOrCursor, values) as unknown as Promise<PostgresQueryResult<R>>
      return (client.query({ name, text: sqlOrCursor, values }) as unknown as Promise<PostgresQueryResult<R>>).catch((error: unknown) => {
        if (isChangedResultType(error)) discard = true
        throw error
      })
    }
    return {
      query,
      // A truthy argument makes pg-pool close the connection instead of keeping it.
      release: () => client.release(discard || undefined),
    }
  }

  return {
    async connect() {
      const client = await pool.connect()
      let wrapper = wrappers.get(client)
      if (!wrapper) {
        wrapper = wrap(client)
        wrappers.set(client, wrapper)
      }
      return wrapper
    },
    end: () => pool.end(),
  }
}
