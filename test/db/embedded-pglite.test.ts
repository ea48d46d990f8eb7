import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import type { DatabaseHandle } from '../../src/db/database.ts'
import { PGLITE_SETTINGS } from '../../src/db/embedded-pglite.ts'
import { loadMigrations, openMigratedDatabase } from '../../src/db/migrate.ts'

async function settingsOf(handle: DatabaseHandle): Promise<Record<string, string>> {
  const found: Record<string, string> = {}
  for (const name of Object.keys(PGLITE_SETTINGS)) {
    const { rows } = await sql<{ value: string }>`SELECT current_setting(${name}) AS value`.execute(handle.db)
    found[name] = rows[0]!.value
  }
  return found
}

describe('the embedded database (PGlite) at start-up', () => {
  let dir: string

  before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'storefront-embedded-')) })
  after(() => rm(dir, { recursive: true, force: true }))

  it('runs initdb and the migrations on a fresh data directory, then serves from a reopened instance with the memory settings', async () => {
    const { handle, applied, reopened } = await openMigratedDatabase({ dataDir: path.join(dir, 'pglite') })
    try {
      assert.deepEqual(applied, (await loadMigrations()).map((m) => m.name))
      assert.equal(reopened, true)
      assert.equal(handle.engine, 'pglite')
      assert.deepEqual(await settingsOf(handle), PGLITE_SETTINGS)
      assert.equal(PGLITE_SETTINGS.shared_buffers, '16MB')
    } finally {
      await handle.close()
    }
  })

  it('opens an existing, migrated data directory once, with the same settings', async () => {
    const { handle, applied, reopened } = await openMigratedDatabase({ dataDir: path.join(dir, 'pglite') })
    try {
      assert.deepEqual(applied, [])
      assert.equal(reopened, false)
      assert.deepEqual(await settingsOf(handle), PGLITE_SETTINGS)
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM schema_migration`.execute(handle.db)
      assert.equal(rows[0]!.n, (await loadMigrations()).length)
    } finally {
      await handle.close()
    }
  })
})
