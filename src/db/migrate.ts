import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { sql } from 'kysely'
import { openDatabase, type Database, type DatabaseHandle, type OpenDatabaseOptions } from './database.ts'
import { collectGarbage } from '../shared/collect-garbage.ts'

export const migrationsDir = fileURLToPath(new URL('../../migrations/', import.meta.url))

export interface Migration {
  version: number
  name: string
  sql: string
}

export async function loadMigrations(dir = migrationsDir): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort()
  const migrations: Migration[] = []
  for (const file of files) {
    const version = Number(file.slice(0, 4))
    if (migrations.some((m) => m.version === version)) throw new Error(`Two migrations share version ${version}`)
    migrations.push({ version, name: file, sql: await readFile(path.join(dir, file), 'utf8') })
  }
  return migrations
}

export class DatabaseNewerThanCodeError extends Error {
  constructor(readonly databaseVersion: number, readonly codeVersion: number) {
    super(
      `The database is at schema version ${databaseVersion}, but this code only knows up to ${codeVersion}. ` +
        'Refusing to start: run the newer Storefront release that migrated it.',
    )
  }
}

// Any fixed number works; it only has to be the same in every process.
const MIGRATION_LOCK_ID = 7_420_001

/**
 * Applies pending migrations, each in its own transaction. An advisory lock serialises
 * several processes starting at once against one PostgreSQL server.
 */
export async function migrate(db: Database, migrations?: Migration[]): Promise<{ applied: string[] }> {
  const all = migrations ?? (await loadMigrations())
  const latest = all.at(-1)?.version ?? 0
  await sql`CREATE TABLE IF NOT EXISTS schema_migration (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`.execute(db)

  const applied: string[] = []
  for (const migration of all) {
    await db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`.execute(trx)
      const newest = await trx.selectFrom('schema_migration').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst()
      const current = Number(newest?.v ?? 0)
      if (current > latest) throw new DatabaseNewerThanCodeError(current, latest)
      const done = await trx.selectFrom('schema_migration').select('version').where('version', '=', migration.version).executeTakeFirst()
      if (done) return
      await sql.raw(migration.sql).execute(trx)
      await trx.insertInto('schema_migration').values({ version: migration.version, name: migration.name, applied_at: new Date() }).execute()
      applied.push(migration.name)
    })
  }
  await assertSchemaCurrent(db, all)
  return { applied }
}

/** Throws unless every known migration is applied and none unknown is. */
export async function assertSchemaCurrent(db: Database, migrations?: Migration[]): Promise<void> {
  const all = migrations ?? (await loadMigrations())
  const latest = all.at(-1)?.version ?? 0
  const rows = await db.selectFrom('schema_migration').select('version').execute()
  const versions = new Set(rows.map((r) => r.version))
  const newest = Math.max(0, ...versions)
  if (newest > latest) throw new DatabaseNewerThanCodeError(newest, latest)
  const missing = all.filter((m) => !versions.has(m.version)).map((m) => m.name)
  if (missing.length > 0) throw new Error(`Migrations not applied: ${missing.join(', ')}`)
}

/**
 * Opens the database and applies pending migrations. On PGlite, when that changed anything (initdb
 * on a fresh data directory, or migrations applied), the database is closed and opened again before
 * it serves: PGlite's WebAssembly heap never shrinks, so what initdb and the migrations grew it to, and
 * initdb's own scratch instance, would otherwise stay resident for the life of the process.
 */
export async function openMigratedDatabase(
  options: OpenDatabaseOptions,
): Promise<{ handle: DatabaseHandle; applied: string[]; reopened: boolean }> {
  const first = await openDatabase(options)
  let applied: string[]
  try {
    ;({ applied } = await migrate(first.db))
  } catch (error) {
    await first.close().catch(() => undefined)
    throw error
  }
  if (first.engine !== 'pglite' || !options.dataDir || applied.length === 0) return { handle: first, applied, reopened: false }
  await first.close()
  collectGarbage()
  const handle = await openDatabase(options)
  try {
    await assertSchemaCurrent(handle.db)
  } catch (error) {
    await handle.close().catch(() => undefined)
    throw error
  }
  return { handle, applied, reopened: true }
}
