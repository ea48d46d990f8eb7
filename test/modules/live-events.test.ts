import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { NotificationHandlers, Notifications } from '../../src/db/notifications.ts'
import { CHANGES_CHANNEL, createLiveEvents, type LiveEvent } from '../../src/modules/live-events/index.ts'

/** The database side of the feed, driven by hand: what a NOTIFY or a reconnect would hand the feed. */
function channel() {
  let handlers: NotificationHandlers | undefined
  let listening: string | undefined
  let stopped = 0
  const notifications: Notifications = {
    async listen(name, given) {
      listening = name
      handlers = given
      return async () => { stopped++ }
    },
  }
  return {
    notifications,
    get listening() { return listening },
    get stopped() { return stopped },
    notify: (payload: unknown) => handlers!.onPayload(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    gap: () => handlers!.onGap(),
  }
}

const change = (storefrontId: number, workItemId: string) => ({
  type: 'workItem', storefrontId, workItemId, sourceId: 'demo', kind: 'TRAFFIC_TO_CADENT', status: 'OPEN', changedAt: '2026-12-02T10:00:00.000Z',
})

describe('live events: one listener fanned out per storefront', () => {
  it('listens once on the changes channel and routes each notice to its storefront only, without the routing fields', async () => {
    const db = channel()
    const live = createLiveEvents({ notifications: db.notifications })
    await live.start()
    await live.start()
    assert.equal(db.listening, CHANGES_CHANNEL)
    const one: LiveEvent[] = []
    const two: LiveEvent[] = []
    live.subscribe(1, (event) => one.push(event))
    live.subscribe(2, (event) => two.push(event))
    db.notify(change(1, '10'))
    db.notify(change(2, '20'))
    assert.deepEqual(one, [{ type: 'workItem', change: { workItemId: '10', sourceId: 'demo', kind: 'TRAFFIC_TO_CADENT', status: 'OPEN', changedAt: '2026-12-02T10:00:00.000Z' } }])
    assert.deepEqual(two.map((event) => event.type === 'workItem' && event.change.workItemId), ['20'])
  })

  it('tells every subscriber to resync after the listener was reconnected', async () => {
    const db = channel()
    const live = createLiveEvents({ notifications: db.notifications })
    await live.start()
    const seen: string[] = []
    live.subscribe(1, (event) => seen.push(`1:${event.type}`))
    live.subscribe(2, (event) => seen.push(`2:${event.type}`))
    db.gap()
    assert.deepEqual(seen.sort(), ['1:resync', '2:resync'])
  })

  it('ignores a malformed notice and keeps delivering when one subscriber throws', async () => {
    const db = channel()
    const warnings: string[] = []
    const live = createLiveEvents({ notifications: db.notifications })
    await live.start({ log: { warn: (_details, message) => warnings.push(message) } })
    const seen: string[] = []
    live.subscribe(1, () => { throw new Error('broken client') })
    live.subscribe(1, (event) => seen.push(event.type))
    db.notify('not json')
    db.notify({ type: 'workItem', storefrontId: 1 })
    db.notify(change(1, '10'))
    assert.deepEqual(seen, ['workItem'])
    assert.equal(warnings.length, 3)
  })

  it('refuses a subscriber over the cap with 429 LIVE_EVENTS_FULL, counts an unsubscribe once, and hears nothing after it', async () => {
    const db = channel()
    const live = createLiveEvents({ notifications: db.notifications, maxSubscribers: 2 })
    await live.start()
    const seen: string[] = []
    const first = live.subscribe(1, (event) => seen.push(event.type))
    live.subscribe(1, () => undefined)
    assert.throws(() => live.subscribe(2, () => undefined), (error: { code?: string; details?: { reason?: string } }) => {
      return error.code === 'RATE_LIMITED' && error.details?.reason === 'LIVE_EVENTS_FULL'
    })
    first()
    first()
    assert.equal(live.subscriberCount, 1)
    db.notify(change(1, '10'))
    assert.deepEqual(seen, [])
    live.subscribe(2, () => undefined)
    assert.equal(live.subscriberCount, 2)
  })

  it('refuses to subscribe before it listens, and stops its listener once', async () => {
    const db = channel()
    const live = createLiveEvents({ notifications: db.notifications })
    assert.throws(() => live.subscribe(1, () => undefined), /not started/)
    await live.start()
    await live.stop()
    await live.stop()
    assert.equal(db.stopped, 1)
  })
})
