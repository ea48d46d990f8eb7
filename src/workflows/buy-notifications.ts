import type { Transaction } from '../db/database.ts'
import type { MediaBuyRow, MediaBuyStatus } from '../db/tables.ts'
import { countWebhooksOfBuy, enqueueWebhook, webhookIdempotencyKey, type WireWebhookAuthentication } from '../modules/buyer-webhooks/index.ts'
import { listBuyDelivery } from '../modules/delivery/index.ts'
import { buyerStatusOf, listBuyPackages, lockBuyByRowId, type AdcpMediaBuyStatus } from '../modules/media-buys/index.ts'
import type { SecretBox } from '../shared/secret-box.ts'
import { deliveryOf } from './buyer-delivery-workflows.ts'

/**
 * What a media buy's buyer is told after its buy exists, besides its tasks' completion
 * (settleSubmittedBuys): each change of the buy's status, and each delivery report an operator
 * imports for it. Every event is written to the webhook outbox (migration 0022) in the
 * transaction of the change, under an operation_id that names the event once (its
 * idempotency_key derives from it), so a change that rolls back announces nothing and a retried
 * delivery carries the same key.
 */

/** Where a buy's notifications go: what the buyer registered, opened from its seal. */
interface Destination {
  url: string
  authentication?: WireWebhookAuthentication | undefined
  token?: string | undefined
}

function destinationOf(secrets: SecretBox, sealed: string | null): Destination | null {
  if (!sealed) return null
  const config = secrets.openJson<{ url?: unknown; token?: unknown; authentication?: WireWebhookAuthentication }>(sealed)
  if (typeof config.url !== 'string' || config.url.length === 0) return null
  return {
    url: config.url,
    ...(config.authentication ? { authentication: config.authentication } : {}),
    ...(typeof config.token === 'string' ? { token: config.token } : {}),
  }
}

// ---------------------------------------------------------------------------------------------
// Status changes

/**
 * A change of a confirmed buy's status (pending_creatives -> pending_start | active, paused,
 * resumed, completed, canceled by the buyer or the seller), announced to the buy's
 * push_notification_config. Call after the row is updated, in its transaction, with the status
 * it had before; a buy still `submitted` is its task's to announce, and an unchanged status
 * announces nothing. The envelope is the MCP webhook payload of an update_media_buy task for the
 * buy (task_id = media_buy_id) whose result is the update_media_buy success shape, so a buyer's
 * update handler reads the new status and revision as it reads its own updates'.
 */
export async function enqueueStatusChangeWebhook(trx: Transaction, secrets: SecretBox | undefined, buy: MediaBuyRow, from: MediaBuyStatus, now: Date): Promise<boolean> {
  if (!secrets || from === buy.status || from === 'submitted' || buy.status === 'submitted') return false
  const destination = destinationOf(secrets, buy.push_notification_sealed)
  if (!destination) return false
  const status = buyerStatusOf(buy.status)
  // One event per (buy, revision, status): a status change always bumps the revision.
  const operationId = `media_buy_status.${buy.media_buy_id}.r${buy.revision}.${status}`
  const result: Record<string, unknown> = {
    media_buy_id: buy.media_buy_id,
    status,
    revision: buy.revision,
    implementation_date: now.toISOString(),
    ...(buy.sandbox ? { sandbox: true } : {}),
    ...(status === 'canceled' && buy.canceled_at && buy.canceled_by
      ? { cancellation: { canceled_at: buy.canceled_at.toISOString(), canceled_by: buy.canceled_by, ...(buy.cancellation_reason ? { reason: buy.cancellation_reason } : {}) } }
      : {}),
  }
  const message = `Media buy ${buy.media_buy_id} is now ${status} (was ${buyerStatusOf(from)})`
  return enqueueBuyEvent(trx, secrets, buy, destination, { operationId, taskType: 'update_media_buy', message, result, now })
}

// ---------------------------------------------------------------------------------------------
// Delivery reports

/**
 * The envelope's task_type of a delivery notification: AdCP's value for reporting-webhook events
 * (3.1; the 3.0 task-type enum has none), the one the SDK's buyer client routes to its
 * onMediaBuyDeliveryNotification handler.
 */
export const DELIVERY_NOTIFICATION_TASK_TYPE = 'media_buy_delivery'

/** get_media_buy_delivery's notification_type values. */
export type DeliveryNotificationType = 'scheduled' | 'final' | 'delayed' | 'adjusted' | 'window_update'

/** What is known of a buy's delivery once a report is imported: the input of its notification type. */
export interface DeliveryImportFacts {
  /** The buy's packages that are not canceled. */
  livePackages: number
  /** Of those, the ones with an imported report (a final report of their line). */
  reportedPackages: number
  /** The import's report is a wider measurement window than the line's earlier one (live -> c7). */
  windowUpgraded?: boolean
}

/**
 * The notification_type of the delivery notification an import sends: `window_update` when the
 * import's report supersedes a narrower measurement window of its line (the period resent in a
 * wider window), else `final` once every live package of the buy has its final report (nothing
 * more will come), `scheduled` before. The one place the type is decided.
 */
export function deliveryNotificationTypeOf(facts: DeliveryImportFacts): DeliveryNotificationType {
  if (facts.windowUpgraded) return 'window_update'
  return facts.livePackages > 0 && facts.reportedPackages >= facts.livePackages ? 'final' : 'scheduled'
}

export interface DeliveryImported {
  mediaBuyRowId: number
  /** The work item whose completion imported the report: one event per import. */
  workItemId: number
  now: Date
}

/**
 * A delivery report imported for a buy (an operator's UPLOAD_FINAL_REPORT completion): the
 * buy's whole delivery, in the get_media_buy_delivery response shape with notification_type and
 * sequence_number, goes to its reporting_webhook, or without one to its push_notification_config.
 * Runs in the import's transaction; the buy row is locked so two imports of the same buy number
 * their notifications 1, 2, ... in commit order.
 */
export async function enqueueDeliveryReportWebhook(trx: Transaction, secrets: SecretBox | undefined, imported: DeliveryImported): Promise<boolean> {
  if (!secrets) return false
  const buy = await lockBuyByRowId(trx, imported.mediaBuyRowId)
  if (!buy || buy.status === 'submitted') return false
  const destination = destinationOf(secrets, buy.reporting_webhook_sealed) ?? destinationOf(secrets, buy.push_notification_sealed)
  if (!destination) return false
  const packages = await listBuyPackages(trx, [buy.id])
  const rows = await listBuyDelivery(trx, { mediaBuyId: buy.media_buy_id, buyerCustomerId: buy.buyer_account_id })
  const live = packages.filter((pkg) => !pkg.canceled_at)
  const reported = new Set(rows.map((row) => row.package_id))
  // The import's rows name the window they superseded only when it upgraded the line's window.
  const windowUpgraded = rows.some((row) => row.work_item_id === imported.workItemId && row.supersedes_window !== null)
  const notificationType = deliveryNotificationTypeOf({
    livePackages: live.length,
    reportedPackages: live.filter((pkg) => reported.has(pkg.package_id)).length,
    windowUpgraded,
  })
  const operationPrefix = `${DELIVERY_NOTIFICATION_TASK_TYPE}.${buy.media_buy_id}.`
  const sequenceNumber = (await countWebhooksOfBuy(trx, buy.id, operationPrefix)) + 1
  // A window update is an event of its own (its own operation id, so its own idempotency_key),
  // one per import like every delivery notification.
  const operationId = windowUpgraded ? `${operationPrefix}window_update.w${imported.workItemId}` : `${operationPrefix}w${imported.workItemId}`
  const delivery = deliveryOf({ buy, packages, rows }, true)
  const end = notificationType === 'final' || buy.end_time < imported.now ? buy.end_time : imported.now
  const result = {
    notification_type: notificationType,
    sequence_number: sequenceNumber,
    reporting_period: { start: buy.start_time.toISOString(), end: (end < buy.start_time ? buy.start_time : end).toISOString() },
    currency: buy.currency,
    media_buy_deliveries: [delivery],
    ...(buy.sandbox ? { sandbox: true } : {}),
  }
  const status: AdcpMediaBuyStatus = buyerStatusOf(buy.status)
  const message = `Delivery report ${sequenceNumber} (${notificationType}) of media buy ${buy.media_buy_id} (${status}): ${delivery.totals.impressions ?? 0} impressions`
  return enqueueBuyEvent(trx, secrets, buy, destination, { operationId, taskType: DELIVERY_NOTIFICATION_TASK_TYPE, message, result, now: imported.now })
}

/**
 * One event about a buy, in the MCP webhook envelope of a completed task named by the buy's id,
 * written to the outbox in the caller's transaction under its stable operation id.
 */
async function enqueueBuyEvent(
  trx: Transaction,
  secrets: SecretBox,
  buy: MediaBuyRow,
  destination: Destination,
  event: { operationId: string; taskType: string; message: string; result: Record<string, unknown>; now: Date },
): Promise<boolean> {
  const payload = {
    task_id: buy.media_buy_id,
    task_type: event.taskType,
    status: 'completed',
    timestamp: event.now.toISOString(),
    protocol: 'media-buy',
    message: event.message,
    ...(destination.token === undefined ? {} : { token: destination.token }),
    result: event.result,
  }
  const { enqueued } = await enqueueWebhook(trx, secrets, {
    storefrontId: buy.storefront_id,
    mediaBuyRowId: buy.id,
    operationId: event.operationId,
    idempotencyKey: webhookIdempotencyKey(event.operationId),
    url: destination.url,
    authentication: destination.authentication,
    sandbox: buy.sandbox,
    payload,
  }, event.now)
  return enqueued
}
