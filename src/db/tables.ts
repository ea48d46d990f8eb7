import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'
import type { AvailFeedColumn } from './avail-columns.ts'
import type { FlatRateUnit } from '../shared/flat-rate.ts'
import type { MeasurementWindow } from '../shared/measurement-windows.ts'

/**
 * Hand-written row types, one block per table, matching migrations/*.sql.
 * bigint columns are parsed to numbers (see database.ts); ids are exposed as strings at the edges.
 */
type Timestamp = ColumnType<Date, Date | string, Date | string>
type Json<T = unknown> = ColumnType<T, string, string>
type JsonObject = Record<string, unknown>

/** The TypeScript type of each SQL type the avail feed columns use (avail-columns.ts). */
interface FeedSqlTypes {
  text: string
  timestamptz: Timestamp
  bigint: number
  'numeric(14, 4)': number
  jsonb: Json<JsonObject>
}
type FeedValue<C extends AvailFeedColumn> =
  | (C extends { field: 'measurementWindows' } ? Json<MeasurementWindow[]> : FeedSqlTypes[C['type']])
  | (C extends { nullable: true } ? null : never)
/** The feed columns as avails_preview_row stores them. */
type PreviewFeedColumns = { [C in AvailFeedColumn as C['column']]: FeedValue<C> }
/** The feed columns as avail stores them; a column with a default may be left out of an insert. */
type AvailFeedColumns = { [C in AvailFeedColumn as C['availColumn']]: C extends { availDefault: true } ? Defaulted<FeedValue<C>> : FeedValue<C> }
/** A column an insert may leave out; a JSON column stays JSON text on the way in. */
type Defaulted<T> = T extends ColumnType<infer S, infer I, infer U> ? ColumnType<S, I | undefined, U> : Generated<T>

export interface StorefrontTable {
  id: Generated<number>
  name: string
  created_at: Timestamp
}

export interface ApiKeyTable {
  id: Generated<number>
  storefront_id: number
  key_hash: string
  key_prefix: string
  label: string | null
  role: Generated<ApiKeyRole>
  sandbox: Generated<boolean>
  created_at: Timestamp
  last_used_at: Timestamp | null
  revoked_at: Timestamp | null
}

/** A one-time console sign-in link (migration 0023); only the token's hash is stored. */
export interface ConsoleSignInLinkTable {
  id: Generated<number>
  token_hash: string
  api_key_id: number
  created_at: Timestamp
  expires_at: Timestamp
  used_at: Timestamp | null
}

/** operator keys open the REST API; buyer keys open the AdCP agent at /mcp. */
export type ApiKeyRole = 'operator' | 'buyer'

export interface BuyerAccountTable {
  id: Generated<number>
  storefront_id: number
  api_key_id: number
  account_id: string
  brand_domain: string
  operator: string
  billing: 'operator' | 'agent' | 'advertiser' | null
  payment_terms: string | null
  sandbox: boolean
  status: BuyerAccountStatus
  created_at: Timestamp
  updated_at: Timestamp
}

export type BuyerAccountStatus = 'active' | 'pending_approval' | 'rejected' | 'payment_required' | 'suspended' | 'closed'

export type MediaBuyStatus =
  | 'submitted'
  | 'pending_creatives'
  | 'pending_start'
  | 'active'
  | 'paused'
  | 'completed'
  | 'rejected'
  | 'canceled'

export interface MediaBuyTable {
  id: Generated<number>
  storefront_id: number
  api_key_id: number
  buyer_account_id: number
  media_buy_id: string
  idempotency_key: string
  sandbox: boolean
  status: MediaBuyStatus
  currency: string
  start_time: Timestamp
  end_time: Timestamp
  po_number: string | null
  task_id: string | null
  push_notification_sealed: string | null
  /** The buyer's reporting_webhook, sealed (migration 0025): where delivery notifications go. */
  reporting_webhook_sealed: Generated<string | null>
  revision: Generated<number>
  confirmed_at: Timestamp | null
  canceled_at: Timestamp | null
  canceled_by: 'buyer' | 'seller' | null
  cancellation_reason: string | null
  /** Rejected while other lines were live: the sweep releases them (migration 0016). */
  lines_to_release: Generated<boolean>
  created_at: Timestamp
  updated_at: Timestamp
}

export type PackagePricingModel = 'cpm' | 'flat_rate'

export interface MediaBuyPackageTable {
  id: Generated<number>
  media_buy_row_id: number
  package_id: string
  inventory_source_id: number
  avail_row_id: number
  product_id: string
  pricing_option_id: string
  budget: number
  impressions: number
  cpm: number
  /** Migration 0024: the avail's CPM, or its flat rate (per spot: `spots` of them; per package: the whole avail). */
  pricing_model: Generated<PackagePricingModel>
  flat_rate: Generated<number | null>
  flat_rate_unit: Generated<FlatRateUnit | null>
  spots: Generated<number | null>
  paused: Generated<boolean>
  canceled_at: Timestamp | null
  targeting_overlay: ColumnType<unknown, string | null, string | null> | null
  created_at: Timestamp
  updated_at: Timestamp
}

export interface InventorySourceTable {
  id: Generated<number>
  storefront_id: number
  source_id: string
  name: string
  execution_type: 'AGENT' | 'MANAGED_SALES_AGENT' | 'LINKED_STOREFRONT' | 'MODULAR_SOURCE'
  status: 'PENDING' | 'ACTIVE' | 'DISABLED'
  description: string | null
  agent_id: string | null
  agent_type: string | null
  endpoint_url: string | null
  protocol: string | null
  authentication_type: string | null
  auth_ciphertext: string | null
  /** A managed tenant principal's access token for its MCP endpoint (migration 0021); auth_ciphertext is its tenant-management key. */
  agent_auth_ciphertext: string | null
  oauth_audience: string | null
  reporting_type: string | null
  reporting_polling_cadence: string | null
  probe_passed_at: Timestamp | null
  last_error: string | null
  last_checked_at: Timestamp | null
  setup_metadata: Json<JsonObject>
  /** The storefront's sandbox source (migration 0015): listed only to sandbox buyer keys. */
  sandbox: Generated<boolean>
  /** An AGENT source serving the storefront's sandbox keys (migration 0019): see docs/sources.md. */
  sandbox_supply: Generated<boolean>
  created_at: Timestamp
  updated_at: Timestamp
}

/** A creative format seeded into a sandbox source by comply_test_controller (migration 0015). */
export interface SandboxCreativeFormatTable {
  inventory_source_id: number
  format_id: string
  name: string
  format_type: string | null
  created_at: Timestamp
}

/** A sandbox key's pending force_create_media_buy_arm directive (migration 0015). */
export interface SandboxCreateArmTable {
  api_key_id: number
  arm: 'submitted' | 'input-required'
  task_id: string | null
  message: string | null
  created_at: Timestamp
}

export interface IdempotencyRecordTable {
  storefront_id: number
  idempotency_key: string
  request_hash: string
  status_code: number | null
  response_body: string | null
  /** Injected Clock: starts the 24 h replay window. */
  created_at: Timestamp
  /** Random; only the request holding it may record or drop the answer. */
  claim_token: string
  /** Database clock: judges abandonment. */
  claimed_at: Timestamp
}

export interface ModuleInstanceTable {
  id: Generated<number>
  inventory_source_id: number
  module_instance_id: string
  kind: string
  provider: string
  name: string
  config: Json<JsonObject>
  status_override: 'DISABLED' | 'ERROR' | null
  last_error: string | null
  last_checked_at: Timestamp | null
  created_at: Timestamp
  updated_at: Timestamp
}

/** An avail: the feed columns (avail-columns.ts; feed_capacity among them) and the ledger's counters. */
export interface AvailTable extends AvailFeedColumns {
  id: Generated<number>
  inventory_source_id: number
  held_impressions: Generated<number>
  booked_impressions: Generated<number>
  status: Generated<'ACTIVE' | 'INACTIVE'>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface WorkItemTable {
  id: Generated<number>
  storefront_id: number
  inventory_source_id: number
  module_row_id: number | null
  kind: string
  status: Generated<'OPEN' | 'IN_PROGRESS' | 'BLOCKED' | 'COMPLETED' | 'CANCELLED'>
  title: string
  description: string | null
  resource_type: string | null
  resource_id: string | null
  media_buy_id: string | null
  buyer_customer_id: number | null
  assigned_to: string | null
  due_at: Timestamp | null
  payload: Json<JsonObject>
  result: Json<JsonObject> | null
  required_result_keys: Json<string[]>
  blocked_reason: string | null
  created_by_type: string
  created_by_id: string | null
  completed_by: string | null
  completed_at: Timestamp | null
  created_at: Timestamp
  updated_at: Timestamp
}

export interface WorkItemEventTable {
  id: Generated<number>
  work_item_id: number
  event_type: string
  actor_type: string
  actor_id: string | null
  notes: string | null
  payload: Json<JsonObject> | null
  created_at: Timestamp
}

export type ReservationStatus = 'HELD' | 'BOOKED' | 'RELEASED' | 'EXPIRED'
export type LedgerEntryKind = 'HOLD' | 'BOOK' | 'RELEASE' | 'EXPIRE'

export interface ReservationTable {
  id: Generated<number>
  inventory_source_id: number
  avail_row_id: number
  avail_id: string
  media_buy_id: string
  package_id: string | null
  buyer_customer_id: number | null
  requested_impressions: number
  status: ReservationStatus
  expires_at: Timestamp | null
  created_at: Timestamp
  updated_at: Timestamp
  booked_at: Timestamp | null
  released_at: Timestamp | null
  expired_at: Timestamp | null
  release_reason: string | null
}

/** Immutable: a trigger refuses UPDATE. */
export interface LedgerEntryTable {
  id: Generated<number>
  reservation_id: number
  avail_row_id: number
  kind: LedgerEntryKind
  impressions: number
  held_delta: number
  booked_delta: number
  reason: string | null
  created_at: Timestamp
}

export type BookingStatus = 'HELD' | 'BOOKED' | 'RELEASED' | 'EXPIRED'

/** One per finalized reservation (migrations/0005_execution.sql). */
export interface BookingTable {
  id: Generated<number>
  inventory_source_id: number
  reservation_id: number
  module_row_id: number | null
  provider: string
  media_buy_id: string
  avail_id: string
  package_id: string | null
  buyer_customer_id: number | null
  campaign_name: string
  advertiser_name: string
  creative: Json<JsonObject> | null
  trafficking_payload: string | null
  trafficking_mode: 'AUTOMATED' | 'HITL'
  external_refs: Json<JsonObject>
  status: BookingStatus
  endpoint_claimed_at: Timestamp | null
  endpoint_attempt: Json<JsonObject> | null
  /** Sent as Idempotency-Key with every POST of this booking to the Cadent endpoint (migration 0008). */
  endpoint_idempotency_key: string
  created_at: Timestamp
  updated_at: Timestamp
  booked_at: Timestamp | null
}

export interface DeliveryRowTable {
  id: Generated<number>
  inventory_source_id: number
  media_buy_id: string
  reservation_id: number
  avail_id: string
  /** 'YYYY-MM-DD' (DATE is parsed as text, see database.ts). */
  delivery_date: string
  impressions: number
  spend: number | null
  clicks: number | null
  completed_views: number | null
  work_item_id: number | null
  imported_at: Timestamp
  /** Migration 0024: the window the row was measured in (null: not windowed). */
  measurement_window: Generated<MeasurementWindow | null>
  is_final: Generated<boolean | null>
  /** The narrower window this row's report replaced. */
  supersedes_window: Generated<MeasurementWindow | null>
}

export type AvailsPreviewStatus = 'STAGING' | 'PENDING' | 'COMMITTED' | 'SUPERSEDED'

export interface AvailsPreviewTable {
  id: Generated<number>
  preview_id: string
  inventory_source_id: number
  status: AvailsPreviewStatus
  input_source: 'api' | 'upload' | 'paste' | 'assistant'
  replace_missing: boolean
  parsed_avail_count: Generated<number>
  valid_avail_count: Generated<number>
  error_count: Generated<number>
  errors: Json<{ row: number; field: string; message: string }[]>
  warning_count: Generated<number>
  diff: Json<{ created: number; updated: number; unchanged: number; deactivated: number }> | null
  work_item_id: number | null
  expires_at: Timestamp
  created_at: Timestamp
  updated_at: Timestamp
  committed_at: Timestamp | null
  committed_by: string | null
}

/** A staged row of a preview: its place in the file and the feed columns (avail-columns.ts). */
export interface AvailsPreviewRowTable extends PreviewFeedColumns {
  preview_row_id: number
  position: number
  row_number: number
}

export type CreativeStatus = 'processing' | 'pending_review' | 'approved' | 'rejected' | 'archived'

/** migrations/0014_creatives.sql */
export interface CreativeTable {
  id: Generated<number>
  storefront_id: number
  api_key_id: number
  buyer_account_id: number
  creative_id: string
  name: string
  format: Json<JsonObject>
  format_key: string
  format_agent_url: string
  assets: Json<JsonObject>
  industry_identifiers: Json<Array<{ type: string; value: string }>>
  ad_id: string | null
  tags: Json<string[]>
  status: CreativeStatus
  sandbox: boolean
  created_at: Timestamp
  updated_at: Timestamp
}

export interface CreativeAssignmentTable {
  id: Generated<number>
  creative_row_id: number
  package_row_id: number
  weight: number | null
  created_at: Timestamp
  updated_at: Timestamp
}

export interface SchemaMigrationTable {
  version: number
  name: string
  applied_at: Timestamp
}

export interface DB {
  storefront: StorefrontTable
  api_key: ApiKeyTable
  console_sign_in_link: ConsoleSignInLinkTable
  inventory_source: InventorySourceTable
  idempotency_record: IdempotencyRecordTable
  module_instance: ModuleInstanceTable
  avail: AvailTable
  work_item: WorkItemTable
  work_item_event: WorkItemEventTable
  schema_migration: SchemaMigrationTable
  reservation: ReservationTable
  ledger_entry: LedgerEntryTable
  booking: BookingTable
  delivery_row: DeliveryRowTable
  avails_preview: AvailsPreviewTable
  avails_preview_row: AvailsPreviewRowTable
  buyer_account: BuyerAccountTable
  media_buy: MediaBuyTable
  media_buy_package: MediaBuyPackageTable
  forwarded_media_buy: ForwardedMediaBuyTable
  forwarded_package: ForwardedPackageTable
  source_call: SourceCallTable
  creative: CreativeTable
  creative_assignment: CreativeAssignmentTable
  sandbox_creative_format: SandboxCreativeFormatTable
  sandbox_create_arm: SandboxCreateArmTable
  adcp_idempotency: AdcpIdempotencyTable
  adcp_decisioning_tasks: AdcpDecisioningTaskTable
  webhook_outbox: WebhookOutboxTable
  webhook_delivery: WebhookDeliveryTable
}

export type WebhookOutboxStatus = 'pending' | 'delivered' | 'failed'

/** One buyer webhook event of the persistent outbox (migration 0022). */
export interface WebhookOutboxTable {
  id: Generated<number>
  storefront_id: number
  media_buy_row_id: number | null
  operation_id: string
  idempotency_key: string
  /** {url, authentication?} sealed with the secret box. */
  destination_sealed: string
  /** scheme://host[:port] of the destination: what logs and operators see. */
  destination_origin: string
  sandbox: boolean
  /** The mcp-webhook-payload body as JSON text, without idempotency_key. */
  payload: string
  status: ColumnType<WebhookOutboxStatus, WebhookOutboxStatus | undefined, WebhookOutboxStatus>
  attempts: Generated<number>
  next_attempt_at: Timestamp
  claimed_until: Timestamp | null
  claim_token: string | null
  first_attempt_at: Timestamp | null
  last_attempt_at: Timestamp | null
  last_status_code: number | null
  last_error: string | null
  delivered_at: Timestamp | null
  failed_at: Timestamp | null
  created_at: Timestamp
  updated_at: Timestamp
}

export type WebhookDeliveryOutcome = 'delivered' | 'retry' | 'failed'

/** The delivery log: one row per attempt (migration 0022). */
export interface WebhookDeliveryTable {
  id: Generated<number>
  outbox_id: number
  attempt: number
  outcome: WebhookDeliveryOutcome
  status_code: number | null
  error: string | null
  started_at: Timestamp
  duration_ms: number
}

/** A media buy that lives on an upstream AGENT source (migration 0017). */
export interface ForwardedMediaBuyTable {
  id: Generated<number>
  storefront_id: number
  api_key_id: number
  buyer_account_id: number
  inventory_source_id: number
  media_buy_id: string
  upstream_media_buy_id: string | null
  upstream_task_id: string | null
  task_id: string | null
  idempotency_key: string
  upstream_brand_domain: string
  upstream_operator: string
  /** The buyer's push_notification_config, sealed (migration 0019). */
  push_notification_sealed: Generated<string | null>
  created_at: Timestamp
  updated_at: Timestamp
}

/** A forwarded buy's package: the storefront's package_id for the upstream's (migration 0018). */
export interface ForwardedPackageTable {
  id: Generated<number>
  forwarded_media_buy_id: number
  package_id: string
  upstream_package_id: string
  created_at: Timestamp
}

export type SourceCallOutcome = 'completed' | 'failed' | 'input_required' | 'timeout'

/** One call of the storefront's traffic with a source, for its diagnostics (migration 0020). */
export interface SourceCallTable {
  id: Generated<number>
  storefront_id: number
  inventory_source_id: number
  tool: string
  outcome: SourceCallOutcome
  error_code: string | null
  error_message: string | null
  latency_ms: number
  products: number | null
  packages: number | null
  budget: number | null
  currency: string | null
  media_buy_id: string | null
  at: Timestamp
}

/** SDK-owned (migration 0011); the storefront only deletes a sandbox key's rows on sandbox reset. */
export interface AdcpIdempotencyTable {
  scoped_key: string
  payload_hash: string
  expires_at: Timestamp
}

/** SDK-owned (migration 0011); the storefront only deletes sandbox accounts' tasks on sandbox reset. */
export interface AdcpDecisioningTaskTable {
  task_id: string
  tool: string
  account_id: string
  status: Generated<string>
  has_webhook: Generated<boolean>
  created_at: Generated<Timestamp>
  updated_at: Generated<Timestamp>
}

export type InventorySourceRow = Selectable<InventorySourceTable>
export type SourceCallRow = Selectable<SourceCallTable>
export type NewInventorySource = Insertable<InventorySourceTable>
export type InventorySourceUpdate = Updateable<InventorySourceTable>
export type ModuleInstanceRow = Selectable<ModuleInstanceTable>
export type AvailRow = Selectable<AvailTable>
export type WorkItemRow = Selectable<WorkItemTable>
export type WorkItemEventRow = Selectable<WorkItemEventTable>
export type ReservationRow = Selectable<ReservationTable>
export type LedgerEntryRow = Selectable<LedgerEntryTable>
export type BookingRow = Selectable<BookingTable>
export type DeliveryRowRow = Selectable<DeliveryRowTable>
export type AvailsPreviewRow = Selectable<AvailsPreviewTable>
export type AvailsPreviewRowRow = Selectable<AvailsPreviewRowTable>
export type BuyerAccountRow = Selectable<BuyerAccountTable>
export type MediaBuyRow = Selectable<MediaBuyTable>
export type MediaBuyPackageRow = Selectable<MediaBuyPackageTable>
export type ForwardedMediaBuyRow = Selectable<ForwardedMediaBuyTable>
export type ForwardedPackageRow = Selectable<ForwardedPackageTable>
export type CreativeRow = Selectable<CreativeTable>
export type CreativeAssignmentRow = Selectable<CreativeAssignmentTable>
export type SandboxCreativeFormatRow = Selectable<SandboxCreativeFormatTable>
export type SandboxCreateArmRow = Selectable<SandboxCreateArmTable>
export type WebhookOutboxRow = Selectable<WebhookOutboxTable>
export type WebhookDeliveryRow = Selectable<WebhookDeliveryTable>
