import type { Notifications } from '../../db/notifications.ts'
import { StorefrontError } from '../../shared/errors.ts'
import { CHANGES_CHANNEL } from './change-feed-store.ts'
import { ChangeNoticeSchema, type LiveEvent } from './live-event.schema.ts'

export type LiveEventListener = (event: LiveEvent) => void

/** Where the feed reports what it cannot hand to anyone (a lost connection, a malformed notice). */
export interface LiveEventsLog {
  warn(details: Record<string, unknown>, message: string): void
}

export interface LiveEventsOptions {
  notifications: Notifications
  /** Subscribers this process serves at once; one more is refused with 429. */
  maxSubscribers?: number | undefined
}

export const DEFAULT_MAX_LIVE_SUBSCRIBERS = 1000
/** What a refused subscriber is told to wait before trying again. */
export const LIVE_EVENTS_RETRY_AFTER_SECONDS = 10

/**
 * The change feed of one server process: a single listener on the database's NOTIFY channel,
 * fanned out in memory to the subscribers of each storefront. Every entry point that streams
 * changes (the operator SSE route, the console) subscribes here; none opens its own connection.
 * Delivery is at most once and after commit: nothing is replayed, and after a `resync` event
 * (or a subscriber's own reconnect) the subscriber re-reads what it shows.
 */
export function createLiveEvents({ notifications, maxSubscribers = DEFAULT_MAX_LIVE_SUBSCRIBERS }: LiveEventsOptions) {
  const byStorefront = new Map<number, Set<LiveEventListener>>()
  let count = 0
  let listening: Promise<() => Promise<void>> | null = null
  let log: LiveEventsLog | undefined

  function deliver(listeners: Iterable<LiveEventListener>, event: LiveEvent): void {
    // A copy: a listener may unsubscribe (its client went away) while this runs.
    for (const listener of [...listeners]) {
      try {
        listener(event)
      } catch (error) {
        log?.warn({ err: error }, 'a live-events subscriber failed on an event')
      }
    }
  }

  function onPayload(payload: string): void {
    let notice
    try {
      notice = ChangeNoticeSchema.parse(JSON.parse(payload))
    } catch (error) {
      log?.warn({ err: error }, 'ignored a malformed change notice')
      return
    }
    const listeners = byStorefront.get(notice.storefrontId)
    if (!listeners) return
    const { type: _type, storefrontId: _storefrontId, ...change } = notice
    deliver(listeners, { type: 'workItem', change })
  }

  return {
    /**
     * Starts listening (idempotent); the app that serves subscribers calls it before it listens
     * for requests, so that on PGlite the LISTEN never lands inside another request's transaction.
     */
    async start(options: { log?: LiveEventsLog } = {}): Promise<void> {
      log = options.log ?? log
      listening ??= notifications.listen(CHANGES_CHANNEL, {
        onPayload,
        onGap: () => {
          log?.warn({}, 'live-events listener is listening again; subscribers are told to re-read')
          for (const listeners of byStorefront.values()) deliver(listeners, { type: 'resync' })
        },
        onError: (error) => log?.warn({ err: error }, 'live-events listener lost its database connection; reconnecting'),
      })
      try {
        await listening
      } catch (error) {
        listening = null
        throw error
      }
    },

    /** Stops listening; subscribers stay registered but hear nothing more (their streams are closed by their owner). */
    async stop(): Promise<void> {
      const current = listening
      listening = null
      if (!current) return
      const stopListening = await current.catch(() => null)
      await stopListening?.()
    },

    get subscriberCount(): number {
      return count
    },

    maxSubscribers,

    /**
     * Hands every committed change of the storefront's work items to `listener` until the
     * returned function is called. Throws 429 RATE_LIMITED (LIVE_EVENTS_FULL) at the cap.
     */
    subscribe(storefrontId: number, listener: LiveEventListener): () => void {
      if (!listening) throw new StorefrontError('INTERNAL_ERROR', 'The live-events feed is not started')
      if (count >= maxSubscribers) {
        throw new StorefrontError(
          'RATE_LIMITED',
          `This server process already streams live events to ${maxSubscribers} subscriber(s); retry in ${LIVE_EVENTS_RETRY_AFTER_SECONDS} seconds`,
          { reason: 'LIVE_EVENTS_FULL', maxSubscribers, retryAfterSeconds: LIVE_EVENTS_RETRY_AFTER_SECONDS },
        )
      }
      let listeners = byStorefront.get(storefrontId)
      if (!listeners) byStorefront.set(storefrontId, (listeners = new Set()))
      // Each subscription is its own entry, even for one function subscribed twice.
      const entry: LiveEventListener = (event) => listener(event)
      listeners.add(entry)
      count++
      let subscribed = true
      return () => {
        if (!subscribed) return
        subscribed = false
        count--
        listeners.delete(entry)
        if (listeners.size === 0 && byStorefront.get(storefrontId) === listeners) byStorefront.delete(storefrontId)
      }
    },
  }
}

export type LiveEvents = ReturnType<typeof createLiveEvents>
