import { randomBytes } from 'node:crypto'
import { after, before } from 'node:test'
import pg from 'pg'
import { openDatabase, type DatabaseHandle } from '../../src/db/database.ts'
import { startServerProcesses, type ServerProcess } from '../helpers/processes.ts'
import type { ReservationAttempt, SendAttempt } from '../ledger/concurrency-scenario.ts'
import { dropScratchDatabase } from '../helpers/database.ts'

/**
 * Real server processes (`storefront serve`) on one scratch PostgreSQL database, for the suites
 * that prove the ledger across processes. Needs TEST_DATABASE_URL (a role with CREATEDB).
 */

export const adminUrl = process.env.TEST_DATABASE_URL
export const skipWithoutPostgres = adminUrl ? false : 'needs TEST_DATABASE_URL (npm run test:pg)'

export interface ScratchDatabase {
  url: string
  /** Opened after the first server migrated it. */
  open(): Promise<DatabaseHandle>
  drop(): Promise<void>
}

export async function createScratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(adminUrl!)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    open: () => openDatabase({ databaseUrl: url.toString(), poolSize: 5 }),
    async drop() {
      await dropScratchDatabase(adminUrl!, name)
    },
  }
}

export const BOOTSTRAP_KEY = `sf_ledger_test_${randomBytes(12).toString('hex')}`

export function serverEnv(databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    STOREFRONT_SECRET_KEY: 'ledger-test-secret-key-0123456789',
    STOREFRONT_BOOTSTRAP_KEY: BOOTSTRAP_KEY,
    STOREFRONT_DEFAULT_NAME: 'acme',
    DATABASE_POOL_SIZE: '20',
    HOST: '127.0.0.1',
  }
}

/** Started one after the other: the first migrates and registers the bootstrap key. */
export async function startServers(databaseUrl: string, count: number): Promise<ServerProcess[]> {
  return startServerProcesses(count, serverEnv(databaseUrl))
}

export interface ServerCluster {
  readonly scratch: ScratchDatabase
  /** The running processes; a suite may replace one it killed, and the replacement is stopped too. */
  readonly servers: ServerProcess[]
  /** This process's pool on the database. */
  readonly db: DatabaseHandle['db']
}

/**
 * `count` server processes on one fresh scratch database for the calling describe: started in its
 * `before`, stopped and dropped in its `after` (registered now, so an `after` the suite registered
 * earlier runs first). Read the members inside hooks and tests, once the cluster is up.
 */
export function useServerCluster(prefix: string, count = 2): ServerCluster {
  let scratch: ScratchDatabase | undefined
  let handle: DatabaseHandle | undefined
  const servers: ServerProcess[] = []
  before(async () => {
    scratch = await createScratchDatabase(prefix)
    servers.push(...(await startServers(scratch.url, count)))
    handle = await scratch.open()
  })
  after(async () => {
    for (const server of servers) await server.stop()
    await handle?.close()
    await scratch?.drop()
  })
  return {
    get scratch() {
      return scratch!
    },
    servers,
    get db() {
      return handle!.db
    },
  }
}

/** POSTs an attempt to whichever server `urlFor` names; a dropped connection rejects. */
export function sendOverHttp(sourceId: string, urlFor: (index: number) => string): SendAttempt {
  return async (attempt: ReservationAttempt, index: number) => {
    const response = await fetch(`${urlFor(index)}/api/v2/storefront/inventory-sources/${sourceId}/modular/reservations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOOTSTRAP_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(attempt),
    })
    return { status: response.status, body: await response.json() }
  }
}

/** Polls `condition` every `intervalMs` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitUntil(condition: () => Promise<boolean>, what: string, { timeoutMs = 20_000, intervalMs = 20 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
