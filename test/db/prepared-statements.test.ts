import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sql } from 'kysely'
import { openDatabase } from '../../src/db/database.ts'
import { StatementNames } from '../../src/db/prepared-statements.ts'
import { withScratchDatabase } from '../helpers/database.ts'

const adminUrl = process.env.TEST_DATABASE_URL
const needsPostgres = adminUrl ? false : 'needs TEST_DATABASE_URL: statements are prepared by name on PostgreSQL only'

describe('prepared statements', () => {
  describe('StatementNames', () => {
    it('names a statement text once, the same name for every later use', () => {
      const names = new StatementNames(10)
      const first = names.nameOf('select * from avail where id = $1', 1)
      assert.ok(first)
      assert.equal(names.nameOf('select * from avail where id = $1', 1), first)
      assert.notEqual(names.nameOf('select * from avail where avail_id = $1', 1), first)
      assert.equal(names.size, 2)
    })

    it('leaves unnamed what must not or need not be prepared', () => {
      const names = new StatementNames(10)
      assert.equal(names.nameOf('begin', 0), null, 'no parameters: a BEGIN, or a script of several commands')
      assert.equal(names.nameOf(`insert into t values ${Array.from({ length: 101 }, (_, i) => `($${i + 1})`).join(', ')}`, 101), null, 'a bulk statement')
      assert.equal(names.nameOf(`select $1 -- ${'x'.repeat(9000)}`, 1), null, 'a text too long to keep')
      assert.equal(names.size, 0)
    })

    it('names at most its capacity of texts; later ones run unnamed', () => {
      const names = new StatementNames(2)
      assert.ok(names.nameOf('select $1::int', 1))
      assert.ok(names.nameOf('select $1::text', 1))
      assert.equal(names.nameOf('select $1::bigint', 1), null)
      assert.ok(names.nameOf('select $1::int', 1), 'a named text keeps its name')
    })
  })

  describe('on PostgreSQL', { skip: needsPostgres }, () => {
    it('parses a statement once per connection and executes it by name afterwards', async () => {
      await withScratchDatabase(adminUrl!, 'sf_prepared', async (url) => {
        const handle = await openDatabase({ databaseUrl: url, poolSize: 1 })
        try {
          for (const n of [1, 2, 3]) assert.equal((await sql<{ n: number }>`select ${n}::int as n`.execute(handle.db)).rows[0]!.n, n)
          const prepared = await sql<{ statement: string }>`select statement from pg_prepared_statements where statement like 'select $1::int as n%'`.execute(handle.db)
          assert.equal(prepared.rows.length, 1)
        } finally {
          await handle.close()
        }
      })
    })

    it('prepares nothing with DATABASE_PREPARED_STATEMENTS=off', async () => {
      await withScratchDatabase(adminUrl!, 'sf_prepared', async (url) => {
        const handle = await openDatabase({ databaseUrl: url, poolSize: 1, preparedStatements: false })
        try {
          await sql`select ${1}::int as n`.execute(handle.db)
          const prepared = await sql<{ count: number }>`select count(*)::int as count from pg_prepared_statements where ${true}`.execute(handle.db)
          assert.equal(prepared.rows[0]!.count, 0)
        } finally {
          await handle.close()
        }
      })
    })

    it('replaces a connection whose prepared SELECT * outlived a change of its table', async () => {
      await withScratchDatabase(adminUrl!, 'sf_prepared', async (url) => {
        const handle = await openDatabase({ databaseUrl: url, poolSize: 1 })
        try {
          await sql`create table spot (id int primary key)`.execute(handle.db)
          await sql`insert into spot values (1)`.execute(handle.db)
          const read = () => handle.db.selectFrom('spot' as never).selectAll().where('id' as never, '=', 1 as never).execute()
          assert.deepEqual(await read(), [{ id: 1 }])
          // What a newer version's migration does under a running process.
          await sql`alter table spot add column label text default 'new'`.execute(handle.db)
          await assert.rejects(read(), (error: { code?: string }) => error.code === '0A000')
          assert.deepEqual(await read(), [{ id: 1, label: 'new' }], 'the next read is prepared afresh on a new connection')
        } finally {
          await handle.close()
        }
      })
    })
  })
})
