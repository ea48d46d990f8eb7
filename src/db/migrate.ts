import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { sql } from 'kysely'
import { openDatabase, type Database, type DatabaseHandle, type OpenDatabaseOptions } from './database.ts'
import { holdsDatabase, setUpInChildProcess, type EmbeddedSetUp } from './embedded-setup.ts'
import { pgliteWasmModule } from './embedded-pglite.ts'
import { templateName } from './embedded-template.ts'
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

/** A migration's SQL failed; the message names the migration, `cause` is the database's error. */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError'
  constructor(readonly migration: string, cause: unknown) {
    super(`Migration ${migration} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause })
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
      try {
        await sql.raw(migration.sql).execute(trx)
      } catch (error) {
        throw new MigrationFailedError(migration.name, error)
      }
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

/** The migrations not yet applied, in order; throws when the database is newer than the code. */
export async function pendingMigrations(db: Database, migrations?: Migration[]): Promise<Migration[]> {
  const all = migrations ?? (await loadMigrations())
  const { rows } = await sql<{ present: boolean }>`SELECT to_regclass('schema_migration') IS NOT NULL AS present`.execute(db)
  if (!rows[0]?.present) return all
  const versions = new Set((await db.selectFrom('schema_migration').select('version').execute()).map((r) => r.version))
  const latest = all.at(-1)?.version ?? 0
  const newest = Math.max(0, ...versions)
  if (newest > latest) throw new DatabaseNewerThanCodeError(newest, latest)
  return all.filter((m) => !versions.has(m.version))
}

export interface MigratedDatabase {
  handle: DatabaseHandle
  /** The migrations this start applied, by file name. */
  applied: string[]
  /** On PGlite, when the data directory had to be set up first: the child process that did it. */
  setUp: EmbeddedSetUp | null
}

/**
 * Opens the database with every migration applied. On PostgreSQL (and on an already open PGlite)
 * the pending migrations are applied here. A PGlite data directory that holds no database, or one
 * with pending migrations, is set up by a child process first (embedded-setup.ts), and this process
 * opens it only once it is current: PGlite's WebAssembly heap never shrinks, and what initdb and
 * migrations grow would otherwise stay resident for the life of the server.
 */
export async function openMigratedDatabase(options: OpenDatabaseOptions & MigrateOptions): Promise<MigratedDatabase> {
  const { migrationsDir, template, ...openOptions } = options
  if (!openOptions.databaseUrl && !openOptions.pglite && openOptions.dataDir) return openMigratedDataDir(openOptions.dataDir, openOptions, { migrationsDir, template })
  const handle = await openDatabase(openOptions)
  try {
    const { applied } = await migrate(handle.db, await loadMigrations(migrationsDir))
    return { handle, applied, setUp: null }
  } catch (error) {
    await handle.close().catch(() => undefined)
    throw error
  }
}

export interface MigrateOptions {
  /** Other migrations than the application's (tests). */
  migrationsDir?: string | undefined
  /** false: a fresh PGlite data directory runs initdb even when there is a template of it (tests of initdb). */
  template?: boolean | undefined
}

async function openMigratedDataDir(dataDir: string, options: OpenDatabaseOptions, { migrationsDir, template: useTemplate }: MigrateOptions): Promise<MigratedDatabase> {
  const migrations = await loadMigrations(migrationsDir)
  // Compiled while the child works: the open after it then costs no compile.
  pgliteWasmModule().catch(() => undefined)
  // Checked here rather than left to PGlite, which would run initdb in this process.
  // The template is of the application's own migrations only (a test's migrations would each make one).
  const template = migrationsDir === undefined && useTemplate !== false
    ? { name: templateName(migrations), migrations: migrations.map((m) => m.name) }
    : undefined
  let setUp = (await holdsDatabase(dataDir)) ? null : await setUpInChildProcess(dataDir, { migrationsDir, template })
  let handle: DatabaseHandle | null = await openDatabase(options)
  try {
    if (!setUp && (await pendingMigrations(handle.db, migrations)).length > 0) {
      await handle.close()
      handle = null
      collectGarbage()
      setUp = await setUpInChildProcess(dataDir, { migrationsDir })
      handle = await openDatabase(options)
    }
    if (setUp) await assertSchemaCurrent(handle.db, migrations)
    return { handle, applied: setUp?.applied ?? [], setUp }
  } catch (error) {
    await handle?.close().catch(() => undefined)
    throw error
  }
}
