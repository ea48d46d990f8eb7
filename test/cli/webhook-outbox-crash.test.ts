import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openDatabase } from '../../src/db/database.ts'
import { migrate } from '../../src/db/migrate.ts'
import { startServerProcess } from '../helpers/processes.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts'
import { assertEveryEventDelivered, enqueueEvents, killWhileDelivering, outboxServerEnv } from '../helpers/webhook-crash.ts'

/**
 * Goal: a webhook committed to the outbox is never lost. Method: 30 events wait in the embedded
 * database; `storefront serve` starts sending them to a receiver that holds every answer 1.5 s,
 * is SIGKILLed with deliveries in flight, and is restarted on the same data directory. Afterwards
 * the receiver has every idempotency_key (it dedupes by them), only deliveries cut off by the kill
 * arrived twice, and every event is delivered in the outbox.
 */

describe('the webhook outbox when the server is killed mid-delivery (embedded database)', () => {
  let dataDir: string
  let receiver: WebhookReceiver

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'storefront-outbox-'))
    receiver = await startWebhookReceiver({ holdMs: 1_500 })
  })
  after(async () => {
    await receiver?.close()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('delivers every pending event after SIGKILL and restart: distinct keys at the receiver == events', async () => {
    // The embedded database has one owner: events are written before the server starts, checked after it stops.
    const seeding = await openDatabase({ dataDir: path.join(dataDir, 'pglite') })
    await migrate(seeding.db)
    const keys = await enqueueEvents(seeding.db, receiver.url, 30, 'crash')
    await seeding.close()

    const env = { ...outboxServerEnv(), DATA_DIR: dataDir }
    const outcome = await killWhileDelivering({ receiver, keys, start: () => startServerProcess(env), killAfterOpen: 5 })
    console.log(`# outbox crash (pglite): ${JSON.stringify({ events: keys.length, distinct: receiver.distinctKeys().size, ...outcome })}`)

    const checking = await openDatabase({ dataDir: path.join(dataDir, 'pglite') })
    try {
      await assertEveryEventDelivered(checking.db, keys, receiver, outcome)
    } finally {
      await checking.close()
    }
  })
})
