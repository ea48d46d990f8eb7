import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import type { DatabaseHandle } from '../../src/db/database.ts'
import { PGLITE_SETTINGS } from '../../src/db/embedded-pglite.ts'
import { childExecArgv, EmbeddedSetUpError } from '../../src/db/embedded-setup.ts'
import { copyTemplate, saveTemplate, templateName } from '../../src/db/embedded-template.ts'
import { loadMigrations, migrationsDir, openMigratedDatabase } from '../../src/db/migrate.ts'

async function settingsOf(handle: DatabaseHandle): Promise<Record<string, string>> {
  const found: Record<string, string> = {}
  for (const name of Object.keys(PGLITE_SETTINGS)) {
    const { rows } = await sql<{ value: string }>`SELECT current_setting(${name}) AS value`.execute(handle.db)
    found[name] = rows[0]!.value
  }
  return found
}

/** This release's migrations plus `extra` (file name -> SQL), in a directory of their own. */
async function migrationsWith(dir: string, extra: Record<string, string>): Promise<string> {
  await mkdir(dir, { recursive: true })
  for (const migration of await loadMigrations()) await copyFile(path.join(migrationsDir, migration.name), path.join(dir, migration.name))
  for (const [name, text] of Object.entries(extra)) await writeFile(path.join(dir, name), text)
  return dir
}

const leftovers = async (dir: string) => (await readdir(dir)).filter((entry) => entry.includes('.setting-up-'))

describe('the embedded database (PGlite) at start-up', () => {
  let dir: string
  let dataDir: string

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'storefront-embedded-'))
    dataDir = path.join(dir, 'pglite')
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('sets a fresh data directory up in a child process (initdb and every migration), then opens the finished directory with the memory settings', async () => {
    const { handle, applied, setUp } = await openMigratedDatabase({ dataDir, template: false })
    try {
      assert.ok(setUp, 'a fresh directory is set up')
      assert.notEqual(setUp.pid, process.pid)
      assert.equal(setUp.initdb, true)
      assert.equal(setUp.fromTemplate, false)
      assert.deepEqual(applied, (await loadMigrations()).map((m) => m.name))
      assert.equal(handle.engine, 'pglite')
      assert.deepEqual(await settingsOf(handle), PGLITE_SETTINGS)
      assert.equal(PGLITE_SETTINGS.shared_buffers, '16MB')
      assert.deepEqual(await leftovers(dir), [])
    } finally {
      await handle.close()
    }
  })

  it('starts another fresh data directory as a copy of the template a set-up kept, with nothing run', async () => {
    // The first open makes the template if the checkout's cache has none yet (npm install's prepare makes one).
    const first = await openMigratedDatabase({ dataDir: path.join(dir, 'template-first') })
    await first.handle.close()
    const copyDir = path.join(dir, 'template-copy')
    const { handle, applied, setUp } = await openMigratedDatabase({ dataDir: copyDir })
    try {
      assert.ok(setUp)
      assert.equal(setUp.fromTemplate, true)
      assert.equal(setUp.pid, null, 'no set-up process ran')
      assert.equal(setUp.initdb, false)
      const migrations = (await loadMigrations()).map((m) => m.name)
      assert.deepEqual(applied, migrations)
      assert.deepEqual(await settingsOf(handle), PGLITE_SETTINGS)
      const { rows } = await sql<{ name: string }>`SELECT name FROM schema_migration ORDER BY version`.execute(handle.db)
      assert.deepEqual(rows.map((r) => r.name), migrations)
      assert.deepEqual(await leftovers(dir), [])
    } finally {
      await handle.close()
    }
  })

  it('opens an existing, migrated data directory in this process, with nothing to set up', async () => {
    const { handle, applied, setUp } = await openMigratedDatabase({ dataDir })
    try {
      assert.equal(setUp, null)
      assert.deepEqual(applied, [])
      assert.deepEqual(await settingsOf(handle), PGLITE_SETTINGS)
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM schema_migration`.execute(handle.db)
      assert.equal(rows[0]!.n, (await loadMigrations()).length)
    } finally {
      await handle.close()
    }
  })

  it('applies the migrations an existing data directory lacks in a child process, keeping its data', async () => {
    const newer = await migrationsWith(path.join(dir, 'newer-migrations'), { '9990_extra_table.sql': 'CREATE TABLE extra_table (id int);' })
    const { handle, applied, setUp } = await openMigratedDatabase({ dataDir, migrationsDir: newer })
    try {
      assert.ok(setUp)
      assert.notEqual(setUp.pid, process.pid)
      assert.equal(setUp.initdb, false)
      assert.deepEqual(applied, ['9990_extra_table.sql'])
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM extra_table`.execute(handle.db)
      assert.equal(rows[0]!.n, 0)
    } finally {
      await handle.close()
    }
  })

  it('fails with the child\'s error, naming the migration, when a migration of an existing data directory fails, and applies nothing of it', async () => {
    const broken = await migrationsWith(path.join(dir, 'broken-migrations'), {
      '9990_extra_table.sql': 'CREATE TABLE extra_table (id int);',
      '9991_broken.sql': 'CREATE TABLE half_done (id int); SELECT no_such_function();',
    })
    await assert.rejects(openMigratedDatabase({ dataDir, migrationsDir: broken }), (error: Error) => {
      assert.ok(error instanceof EmbeddedSetUpError)
      assert.ok(error.message.startsWith(`Setting up the embedded database in ${dataDir} failed: `), error.message)
      assert.match(error.message, /Migration 9991_broken\.sql failed: .*no_such_function/)
      return true
    })
    const newer = await migrationsWith(path.join(dir, 'newer-migrations'), {})
    const { handle, setUp } = await openMigratedDatabase({ dataDir, migrationsDir: newer })
    try {
      assert.equal(setUp, null)
      const { rows } = await sql<{ table: string | null }>`SELECT to_regclass('half_done')::text AS table`.execute(handle.db)
      assert.equal(rows[0]!.table, null)
    } finally {
      await handle.close()
    }
  })

  it('leaves no data directory behind when the set-up of a fresh one fails, and says why', async () => {
    const onlyBroken = path.join(dir, 'only-broken')
    await mkdir(onlyBroken)
    await writeFile(path.join(onlyBroken, '0001_broken.sql'), 'SELECT no_such_function();')
    const freshDir = path.join(dir, 'fresh-broken')
    await assert.rejects(openMigratedDatabase({ dataDir: freshDir, migrationsDir: onlyBroken }), /Migration 0001_broken\.sql failed: .*no_such_function/)
    assert.equal(existsSync(freshDir), false)
    assert.deepEqual(await leftovers(dir), [])
  })

  it('refuses a data directory that holds files but no database, instead of building on them', async () => {
    const notADatabase = path.join(dir, 'not-a-database')
    await mkdir(notADatabase)
    await writeFile(path.join(notADatabase, 'notes.txt'), 'mine')
    await assert.rejects(openMigratedDatabase({ dataDir: notADatabase }), /holds files \(notes\.txt\) but no database \(no PG_VERSION\)/)
  })
})

describe('the set-up process\'s Node flags', () => {
  it('keeps this process\'s loader and memory flags and drops the test runner\'s, the inspector\'s and an eval\'s', () => {
    assert.deepEqual(
      childExecArgv(['--import', 'tsx', '--max-old-space-size=512', '--test', '--test-reporter=spec', '--inspect-port', '9230', '-e', 'code()']),
      ['--import', 'tsx', '--max-old-space-size=512'],
    )
  })
})

describe('the embedded database\'s template', () => {
  it('is named by its migrations: another migration, or another SQL of one, makes another template', async () => {
    const migrations = await loadMigrations()
    const name = templateName(migrations)
    assert.match(name, /^[0-9a-f]{16}$/)
    assert.equal(templateName(migrations), name)
    assert.notEqual(templateName([...migrations, { version: 9990, name: '9990_extra.sql', sql: 'SELECT 1' }]), name)
    assert.notEqual(templateName(migrations.map((m, i) => (i === 0 ? { ...m, sql: `${m.sql}\n-- edited` } : m))), name)
  })

  /** A small stand-in for a set-up data directory: PG_VERSION, a nested file and an empty directory. */
  async function fakeDataDirectory(dir: string): Promise<string> {
    await mkdir(path.join(dir, 'base', '5'), { recursive: true })
    await mkdir(path.join(dir, 'pg_wal', 'archive_status'), { recursive: true })
    await writeFile(path.join(dir, 'PG_VERSION'), '17\n')
    await writeFile(path.join(dir, 'base', '5', '1259'), Buffer.alloc(8192, 7))
    return dir
  }

  async function listing(dir: string): Promise<Array<[string, string | null]>> {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true })
    const rows = await Promise.all(entries.map(async (entry): Promise<[string, string | null]> => {
      const where = path.join(entry.parentPath, entry.name)
      return [path.relative(dir, where), entry.isFile() ? (await readFile(where)).toString('base64') : null]
    }))
    return rows.sort(([a], [b]) => a.localeCompare(b))
  }

  it('is saved whole and copied whole: every directory and file, the directories private', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'storefront-template-'))
    try {
      const templates = path.join(dir, 'templates')
      await mkdir(templates, { mode: 0o700 })
      const from = await fakeDataDirectory(path.join(dir, 'set-up'))
      await saveTemplate('00000000000000aa', from, templates)
      assert.deepEqual(await readdir(templates), ['00000000000000aa'], 'no partial copy is left beside it')
      const to = path.join(dir, 'copy')
      assert.equal(await copyTemplate('00000000000000aa', to, templates), true)
      assert.deepEqual(await listing(to), await listing(from))
      for (const level of [to, path.join(to, 'base', '5'), path.join(to, 'pg_wal', 'archive_status')]) {
        assert.equal((await stat(level)).mode & 0o077, 0, level)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('replaces the templates of other migrations once they are a minute old, and keeps a recent one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'storefront-template-'))
    try {
      const templates = path.join(dir, 'templates')
      await mkdir(templates, { mode: 0o700 })
      const old = await fakeDataDirectory(path.join(templates, '00000000000000bb'))
      await fakeDataDirectory(path.join(templates, '00000000000000cc'))
      const twoMinutesAgo = new Date(Date.now() - 120_000)
      await utimes(old, twoMinutesAgo, twoMinutesAgo)
      await saveTemplate('00000000000000aa', await fakeDataDirectory(path.join(dir, 'set-up')), templates)
      assert.deepEqual((await readdir(templates)).sort(), ['00000000000000aa', '00000000000000cc'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('is not copied when it holds anything but files and directories, and the copy leaves nothing behind', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'storefront-template-'))
    try {
      const templates = path.join(dir, 'templates')
      await mkdir(templates, { mode: 0o700 })
      const template = await fakeDataDirectory(path.join(templates, '00000000000000aa'))
      await symlink('/etc/passwd', path.join(template, 'base', '5', 'elsewhere'))
      assert.equal(await copyTemplate('00000000000000aa', path.join(dir, 'copy'), templates), false)
      assert.deepEqual(await readdir(dir), ['templates'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('is not copied when there is none of that name, and nothing is left where the copy would go', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'storefront-template-'))
    try {
      assert.equal(await copyTemplate('0000000000000000', path.join(dir, 'copy')), false)
      assert.deepEqual(await readdir(dir), [])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
