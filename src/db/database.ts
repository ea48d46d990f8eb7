import { mkdir } from 'node:fs/promises'
import { Kysely, PostgresDialect, type Transaction as KyselyTransaction, type TransactionBuilder } from 'kysely'
import pg from 'pg'
import type { PGlite } from '@electric-sql/pglite'
import { createPgConfig } from '@electric-sql/pglite/node-postgres'
import { metrics } from '../shared/metrics.ts'
import { createPglite } from './embedded-pglite.ts'
import { pgliteNotifications, postgresNotifications, type Notifications } from './notifications.ts'
import { preparingPool } from './prepared-statements.ts'
import type { DB } from './tables.ts'

export type Database = Kysely<DB>
/**
 * An open transaction. A function that must run inside its caller's transaction (it locks rows,
 * or its writes must commit with the caller's) takes this: Kysely types a transaction apart from
 * the database (`isTransaction: true`), so handing it `db` does not compile.
 */
export type Transaction = KyselyTransaction<DB>
/** Any handle a query can run on: the database or an open transaction. */
export type Queryable = Database | Transaction

/**
 * The runtime half of `Transaction`, as atproto's ozone does it: a caller that cast its way past
 * the type gets an error instead of a row lock released at once and writes committed on their own.
 */
export function assertTransaction(handle: Queryable): asserts handle is Transaction {
  if (!handle.isTransaction) throw new Error('This must run inside the caller\'s transaction')
}

export type Engine = 'pglite' | 'postgres'

/** What runs once a transaction of this process committed, keyed by the transaction's handle. */
const commitHooks = new WeakMap<Transaction, Array<() => void>>()

/**
 * Runs `hook` once the work done on `handle` is committed: at once for a statement on `db` (it
 * committed on its own), after COMMIT for a transaction, never when it rolls back. For what only
 * a committed change may do, such as counting it in the metrics (src/shared/metrics.ts). A hook
 * must not throw; one that does is swallowed so the committed answer still reaches its caller.
 * A transaction of a Kysely handle not opened here (a test's own) has no commit to wait for: the
 * hook runs at once.
 */
export function afterCommit(handle: Queryable, hook: () => void): void {
  const pending = handle.isTransaction ? commitHooks.get(handle as Transaction) : undefined
  if (pending) pending.push(hook)
  else runHook(hook)
}

function runHook(hook: () => void): void {
  try {
    hook()
  } catch {
    // A metric must never turn a committed change into an error.
  }
}

/** `db.transaction()` whose transactions run their afterCommit hooks after COMMIT. */
function withCommitHooks(builder: TransactionBuilder<DB>): TransactionBuilder<DB> {
  const execute = builder.execute.bind(builder)
  const setIsolationLevel = builder.setIsolationLevel.bind(builder)
  const setAccessMode = builder.setAccessMode.bind(builder)
  builder.execute = async (work) => {
    const hooks: Array<() => void> = []
    const result = await execute((trx) => {
      commitHooks.set(trx, hooks)
      return work(trx)
    })
    for (const hook of hooks) runHook(hook)
    return result
  }
  builder.setIsolationLevel = (level) => withCommitHooks(setIsolationLevel(level))
  builder.setAccessMode = (mode) => withCommitHooks(setAccessMode(mode))
  return builder
}

/** The Kysely handle of this process: its transactions know afterCommit. */
class StorefrontDatabase extends Kysely<DB> {
  override transaction(): TransactionBuilder<DB> {
    return withCommitHooks(super.transaction())
  }
}

/** The db-pool gauges of src/shared/metrics.ts read a pg.Pool's own counters. */
function trackPool(pool: pg.Pool): () => void {
  return metrics.trackPool(() => ({ max: pool.options.max, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }))
}

export interface DatabaseHandle {
  db: Database
  engine: Engine
  /** NOTIFY of committed transactions, heard by this process (src/db/notifications.ts). */
  notifications: Notifications
  close(): Promise<void>
}

// Impressions and ids fit in a double; parse them as numbers once, for both engines.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value))
// Keep calendar dates as 'YYYY-MM-DD' strings: a Date would shift them by the local offset.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value)

export interface OpenDatabaseOptions {
  /** postgres://... : a PostgreSQL server. Otherwise PGlite. */
  databaseUrl?: string | undefined
  /** PGlite data directory; ignored with databaseUrl. */
  dataDir?: string | undefined
  /** An already open PGlite (tests clone one migrated instance per file). */
  pglite?: PGlite | undefined
  /** Connections per process on PostgreSQL. */
  poolSize?: number | undefined
  /** Prepare statements by name on PostgreSQL (src/db/prepared-statements.ts); on unless false. */
  preparedStatements?: boolean | undefined
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 10_000,
    })
    const db: Database = new StorefrontDatabase({ dialect: new PostgresDialect({ pool: options.preparedStatements === false ? pool : preparingPool(pool) }) })
    const untrack = trackPool(pool)
    return {
      db,
      engine: 'postgres',
      notifications: postgresNotifications(options.databaseUrl),
      async close() {
        untrack()
        await db.destroy()
      },
    }
  }

  let pglite = options.pglite
  const ownsPglite = !pglite
  if (!pglite) {
    if (!options.dataDir) throw new Error('openDatabase needs databaseUrl, dataDir or pglite')
    await mkdir(options.dataDir, { recursive: true })
    pglite = await createPglite(options.dataDir)
  }
  // PGlite is one connection: a query outside the open transaction's handle would wait forever,
  // so a bounded wait turns that bug into an error instead of a hang.
  const pool = new pg.Pool({ ...createPgConfig(pglite), connectionTimeoutMillis: 30_000 })
  // PGlite runs each statement synchronously on this thread. Acquiring the connection through a
  // macrotask lets the event loop read waiting sockets between statements; without it, under many
  // concurrent requests, a request could wait seconds before it is even read.
  const yieldingPool = {
    connect: () => new Promise<pg.PoolClient>((resolve, reject) => setImmediate(() => pool.connect().then(resolve, reject))),
    end: () => pool.end(),
  }
  const db: Database = new StorefrontDatabase({ dialect: new PostgresDialect({ pool: yieldingPool }) })
  const untrack = trackPool(pool)
  const instance = pglite
  return {
    db,
    engine: 'pglite',
    notifications: pgliteNotifications(instance),
    async close() {
      untrack()
      await db.destroy()
      if (ownsPglite) await instance.close()
    },
  }
}

/** jsonb parameters are always sent as JSON text (pg would turn JS arrays into SQL arrays). */
export function json(value: unknown): string {
  return JSON.stringify(value ?? null)
}

/** SQLSTATE of a unique violation, the same on both engines. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string }
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint)
}

export function isCheckViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string }
  return e?.code === '23514' && (constraint === undefined || e.constraint === constraint)
}
