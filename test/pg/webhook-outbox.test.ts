import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { DatabaseHandle } from '../../src/db/database.ts'
import { migrate } from '../../src/db/migrate.ts'
import { startServerProcess, type ServerProcess } from '../helpers/processes.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts'
import { assertEveryEventDelivered, enqueueEvents, killWhileDelivering, outboxServerEnv } from '../helpers/webhook-crash.ts'
import { createScratchDatabase, skipWithoutPostgres, waitUntil, type ScratchDatabase } from './pg-harness.ts'

/**
 * The outbox across real `storefront serve` processes on one PostgreSQL database: several
 * senders never have two deliveries of one event in flight, and a process killed mid-delivery
 * loses nothing.
 */

async function withScratch(prefix: string) {
  const scratch = await createScratchDatabase(prefix)
  const handle = await scratch.open()
  await migrate(handle.db)
  return { scratch, handle }
}

describe('the webhook outbox with two server processes', { skip: skipWithoutPostgres }, () => {
  let scratch: ScratchDatabase
  let handle: DatabaseHandle
  let receiver: WebhookReceiver
  const servers: ServerProcess[] = []

  before(async () => {
    ;({ scratch, handle } = await withScratch('sf_outbox_two'))
    // Every first attempt of an event fails, so each event is claimed twice; answers take a while.
    receiver = await startWebhookReceiver({ holdMs: 150, answer: (attempt) => (attempt === 1 ? 500 : 200) })
  })
  after(async () => {
    for (const server of servers) await server.stop()
    await receiver?.close()
    await handle?.close()
    await scratch?.drop()
  })

  it('never has two deliveries of one event in flight at once, and sends each event exactly as often as its answers ask', async () => {
    // info: each process logs the failed first attempts it made, which shows both took part.
    const env = { ...outboxServerEnv(), DATABASE_URL: scratch.url, DATABASE_POOL_SIZE: '5', LOG_LEVEL: 'info' }
    servers.push(...(await Promise.all([startServerProcess(env), startServerProcess(env)])))
    // Enqueued once both are polling: they compete for the same due events.
    const keys = await enqueueEvents(handle.db, receiver.url, 60, 'two')
    await waitUntil(async () => {
      const pending = await handle.db.selectFrom('webhook_outbox').select('id').where('status', '<>', 'delivered').limit(1).execute()
      return pending.length === 0
    }, `every event delivered (received ${receiver.received.length})\n${servers.map((server) => server.output()).join('\n')}`, { timeoutMs: 120_000, intervalMs: 100 })

    assert.equal(receiver.maxInFlightPerKey(), 1, 'one in-flight delivery per event')
    const retriedBy = servers.map((server) => server.output().split('\n').filter((line) => line.includes('retried later')).length)
    console.log(`# first attempts per process: ${JSON.stringify(retriedBy)}`)
    assert.ok(retriedBy.every((count) => count > 0), `both processes sent: ${JSON.stringify(retriedBy)}`)
    assert.equal(retriedBy[0]! + retriedBy[1]!, keys.length)
    assert.equal(receiver.distinctKeys().size, keys.length)
    const perKey = new Map<string, number>()
    for (const captured of receiver.received) perKey.set(captured.idempotencyKey!, (perKey.get(captured.idempotencyKey!) ?? 0) + 1)
    assert.deepEqual([...new Set(perKey.values())], [2], 'a 500 then a 200: two attempts per event, never a third')
    const rows = await handle.db.selectFrom('webhook_outbox').select(['attempts']).execute()
    assert.ok(rows.every((row) => row.attempts === 2))
    const logged = await handle.db.selectFrom('webhook_delivery').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    assert.equal(Number(logged.n), receiver.received.length, 'one delivery-log row per attempt')
  })
})

describe('the webhook outbox when a server process is killed mid-delivery (PostgreSQL)', { skip: skipWithoutPostgres }, () => {
  let scratch: ScratchDatabase
  let handle: DatabaseHandle
  let receiver: WebhookReceiver

  before(async () => {
    ;({ scratch, handle } = await withScratch('sf_outbox_crash'))
    receiver = await startWebhookReceiver({ holdMs: 1_500 })
  })
  after(async () => {
    await receiver?.close()
    await handle?.close()
    await scratch?.drop()
  })

  it('delivers every pending event after SIGKILL and restart: distinct keys at the receiver == events', async () => {
    const keys = await enqueueEvents(handle.db, receiver.url, 30, 'crash')
    const env = { ...outboxServerEnv(), DATABASE_URL: scratch.url, DATABASE_POOL_SIZE: '5' }
    const outcome = await killWhileDelivering({
      receiver,
      keys,
      start: () => startServerProcess(env),
      killAfterOpen: 5,
      allDelivered: async () => (await handle.db.selectFrom('webhook_outbox').select('id').where('status', '<>', 'delivered').limit(1).execute()).length === 0,
    })
    console.log(`# outbox crash (postgres): ${JSON.stringify({ events: keys.length, distinct: receiver.distinctKeys().size, ...outcome })}`)
    await assertEveryEventDelivered(handle.db, keys, receiver, outcome)
  })
})
