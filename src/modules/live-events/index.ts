// The public surface of live-events/: other folders import it from here, never from its files (eslint.config.js).
export { announceWorkItemChanges, CHANGES_CHANNEL, type AnnouncedWorkItem } from './change-feed-store.ts'
export {
  createLiveEvents,
  DEFAULT_MAX_LIVE_SUBSCRIBERS,
  LIVE_EVENTS_RETRY_AFTER_SECONDS,
  type LiveEventListener,
  type LiveEvents,
  type LiveEventsLog,
} from './live-events.ts'
export { WorkItemChangeSchema, type LiveEvent, type WorkItemChange } from './live-event.schema.ts'
