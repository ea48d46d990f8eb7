import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { DatabaseHandle } from '../../src/db/database.ts'
import { assertSchemaCurrent, DatabaseNewerThanCodeError, loadMigrations, migrate } from '../../src/db/migrate.ts'
import { openTestDatabase } from '../helpers/database.ts'

describe('migrate', () => {
  let database: DatabaseHandle

  before(async () => { database = await openTestDatabase() })
  after(() => database.close())

  it('applies nothing twice', async () => {
    const { applied } = await migrate(database.db)
    assert.deepEqual(applied, [])
    await assertSchemaCurrent(database.db)
  })

  it('names migration files with a unique four-digit version', async () => {
    const migrations = await loadMigrations()
    assert.ok(migrations.length >= 2)
    assert.deepEqual(migrations.map((m) => m.version), [...new Set(migrations.map((m) => m.version))].sort((a, b) => a - b))
  })

  it('refuses a database newer than the code', async () => {
    await database.db.insertInto('schema_migration').values({ version: 9999, name: '9999_from_the_future.sql', applied_at: new Date() }).execute()
    await assert.rejects(migrate(database.db), DatabaseNewerThanCodeError)
    await assert.rejects(assertSchemaCurrent(database.db), /schema version 9999/)
    await database.db.deleteFrom('schema_migration').where('version', '=', 9999).execute()
  })

  it('runs a failing migration in its own transaction, leaving nothing behind', async () => {
    const migrations = await loadMigrations()
    const broken = { version: 9998, name: '9998_broken.sql', sql: 'CREATE TABLE half_done (id int); SELECT no_such_function();' }
    await assert.rejects(migrate(database.db, [...migrations, broken]))
    const tables = await database.db.selectFrom('information_schema.tables' as never).select('table_name' as never).where('table_name' as never, '=', 'half_done' as never).execute()
    assert.equal(tables.length, 0)
    const versions = await database.db.selectFrom('schema_migration').select('version').execute()
    assert.ok(!versions.some((v) => v.version === 9998))
  })
})
