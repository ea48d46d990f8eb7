import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { openDatabase, type DatabaseHandle } from '../../src/db/database.ts'
import { loadMigrations, migrate } from '../../src/db/migrate.ts'

const cacheDir = path.resolve('node_modules/.cache/storefront-test')

/**
 * For `{ skip }` on tests of concurrent requests in one process: PGlite is one connection that
 * runs one query at a time, so requests that race there are serialized and cannot show a race.
 */
export const skipOnPglite = process.env.TEST_DATABASE_URL
  ? false
  : 'needs TEST_DATABASE_URL: PGlite serializes every query on one connection, so concurrent requests cannot race there'

/**
 * A fresh, migrated database for one test file.
 * - TEST_DATABASE_URL set: a new database on that PostgreSQL server, dropped on close.
 * - otherwise: PGlite loaded from a migrated template, built once per migration set
 *   (a fresh PGlite runs initdb and takes seconds; loading a dump takes about one).
 */
export async function openTestDatabase(): Promise<DatabaseHandle & { url?: string }> {
  const adminUrl = process.env.TEST_DATABASE_URL
  if (adminUrl) return openPostgresTestDatabase(adminUrl)
  const template = await pgliteTemplate()
  const pglite = await PGlite.create({ loadDataDir: new Blob([new Uint8Array(template)]) })
  const handle = await openDatabase({ pglite })
  return {
    ...handle,
    async close() {
      await handle.close()
      await pglite.close()
    },
  }
}

async function pgliteTemplate(): Promise<Buffer> {
  const migrations = await loadMigrations()
  const digest = createHash('sha256')
  for (const m of migrations) digest.update(m.name).update(m.sql)
  const file = path.join(cacheDir, `pglite-template-${digest.digest('hex').slice(0, 16)}.tar.gz`)
  try {
    return await readFile(file)
  } catch {
    const pglite = await PGlite.create()
    const handle = await openDatabase({ pglite })
    await migrate(handle.db, migrations)
    await handle.close()
    const dump = Buffer.from(await (await pglite.dumpDataDir('gzip')).arrayBuffer())
    await pglite.close()
    await mkdir(cacheDir, { recursive: true })
    // Parallel test files may build it at once: write aside, then rename atomically.
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
    await writeFile(partial, dump)
    await rename(partial, file)
    return dump
  }
}

/** A new, empty database on the server of `adminUrl`, named `<prefix>_<pid>_<random>`: its name and URL. */
export async function createScratchDatabase(adminUrl: string, prefix: string): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return { name, url: url.toString() }
}

/** Runs `work` on a scratch database (createScratchDatabase), dropped afterwards whatever happens. */
export async function withScratchDatabase<T>(adminUrl: string, prefix: string, work: (url: string) => Promise<T>): Promise<T> {
  const { name, url } = await createScratchDatabase(adminUrl, prefix)
  try {
    return await work(url)
  } finally {
    await dropScratchDatabase(adminUrl, name)
  }
}

async function openPostgresTestDatabase(adminUrl: string) {
  const { name, url } = await createScratchDatabase(adminUrl, 'sf_test')
  const handle = await openDatabase({ databaseUrl: url, poolSize: 20 })
  await migrate(handle.db)
  return {
    ...handle,
    url,
    async close() {
      await handle.close()
      await dropScratchDatabase(adminUrl, name)
    },
  }
}

/**
 * Drops a scratch database on a test or bench server. A plain DROP DATABASE makes PostgreSQL stop
 * an autovacuum worker that is visiting it, which FORCE cannot do for a role without the right to
 * signal that superuser process; connections just closed by our own pools may take a moment to
 * go, so it retries while the database is in use, and only then forces their end.
 */
export async function dropScratchDatabase(adminUrl: string, name: string): Promise<void> {
  const cleanup = new pg.Client({ connectionString: adminUrl })
  await cleanup.connect()
  try {
    for (let attempt = 1; attempt <= 50; attempt++) {
      try {
        await cleanup.query(`DROP DATABASE IF EXISTS ${name}`)
        return
      } catch (error) {
        if ((error as { code?: string }).code !== '55006') throw error
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  } finally {
    await cleanup.end()
  }
}
