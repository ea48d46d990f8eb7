import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import pg from 'pg'
import type { ServerProcess } from '../helpers/processes.ts'
import { claimedMinutesAgo } from '../helpers/idempotency.ts'
import { BOOTSTRAP_KEY, skipWithoutPostgres, useServerCluster, waitUntil } from './pg-harness.ts'

/**
 * Goal: a server process SIGKILLed inside a request's outcome transaction leaves neither the
 * change nor an answer, and a retry on another process applies the change once. Method: a
 * trigger makes the answer's write wait on an advisory lock the test holds, so the process is
 * killed at a known point: its change written, its answer being recorded, nothing committed.
 */

const GATE = 7_001
const agent = {
  name: 'Killed Agent',
  sourceId: 'killed-agent',
  type: 'SALES',
  endpointUrl: 'https://agent.example.com/mcp',
  protocol: 'MCP',
  authenticationType: 'API_KEY',
  auth: { type: 'bearer', token: 'tok_killed' },
}

describe('Idempotency-Key when a server process is killed inside the outcome transaction', { skip: skipWithoutPostgres }, () => {
  let gate: pg.Client
  // Registered before the cluster, so the gate's connection is closed before the database is dropped.
  after(async () => {
    await gate?.end()
  })
  const cluster = useServerCluster('sf_idem_crash')
  before(async () => {
    gate = new pg.Client({ connectionString: cluster.scratch.url })
    await gate.connect()
  })

  function create(server: ServerProcess) {
    return fetch(`${server.url}/api/v2/storefront/inventory-sources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOOTSTRAP_KEY}`, 'content-type': 'application/json', 'idempotency-key': 'killed-1' },
      body: JSON.stringify(agent),
    })
  }

  it('leaves neither the source nor an answer, and the retry on another process creates it once', async () => {
    await sql`CREATE FUNCTION wait_for_test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.status_code IS NOT NULL THEN
          PERFORM pg_advisory_lock_shared(${sql.lit(GATE)});
          PERFORM pg_advisory_unlock_shared(${sql.lit(GATE)});
        END IF;
        RETURN NEW;
      END $$`.execute(cluster.db)
    await sql`CREATE TRIGGER wait_for_test_gate BEFORE UPDATE ON idempotency_record FOR EACH ROW EXECUTE FUNCTION wait_for_test_gate()`.execute(cluster.db)
    await gate.query('SELECT pg_advisory_lock($1)', [GATE])

    const victim = cluster.servers[0]!
    const cutOff = create(victim).then(() => 'answered', () => 'cut off')
    await waitUntil(async () => {
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`.execute(cluster.db)
      return rows[0]!.n === 1
    }, 'the create to wait at the gate')
    // The source is inserted, the answer is being recorded: the process dies before COMMIT.
    victim.child.kill('SIGKILL')
    await victim.stop()
    assert.equal(await cutOff, 'cut off')
    await gate.query('SELECT pg_advisory_unlock($1)', [GATE])
    await sql`DROP TRIGGER wait_for_test_gate ON idempotency_record`.execute(cluster.db)

    // PostgreSQL rolls the dead connection's transaction back once it notices the disconnect.
    await waitUntil(async () => {
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`.execute(cluster.db)
      return rows[0]!.n === 0
    }, 'the dead connection\'s transaction to roll back')
    const sources = () => cluster.db.selectFrom('inventory_source').select('id').where('source_id', '=', agent.sourceId).execute()
    assert.equal((await sources()).length, 0)
    const claim = await cluster.db.selectFrom('idempotency_record').select(['storefront_id', 'status_code']).where('idempotency_key', '=', 'killed-1').executeTakeFirstOrThrow()
    assert.equal(claim.status_code, null)

    const survivor = cluster.servers[1]!
    const early = await create(survivor)
    assert.equal(early.status, 409)
    assert.equal((await early.json()).error.details.reason, 'IDEMPOTENCY_KEY_IN_PROGRESS')
    await claimedMinutesAgo(cluster.db, claim.storefront_id, 'killed-1', 3)
    const retry = await create(survivor)
    const retryBody = await retry.text()
    assert.equal(retry.status, 201, retryBody)
    assert.equal(retry.headers.get('idempotent-replayed'), null)
    const replay = await create(survivor)
    assert.equal(replay.status, 201)
    assert.equal(replay.headers.get('idempotent-replayed'), 'true')
    assert.equal(await replay.text(), retryBody)
    assert.equal((await sources()).length, 1)
  })
})
