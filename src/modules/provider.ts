import type { Transaction } from '../db/database.ts'
import type { AvailRow, BookingRow, InventorySourceRow, ModuleInstanceRow, ReservationRow, WorkItemRow } from '../db/tables.ts'
import type { LedgerService } from './booking-ledger/index.ts'
import type { ModuleConfig, ModuleContract } from './contract.ts'
import type { SpotFormat } from './creative-formats/index.ts'
import type { FinalizeRequest } from './execution/index.ts'
import type { ProductCadent } from './products/index.ts'
import type { Actor, WorkItemKind } from './work-queue/index.ts'

/**
 * A provider is one folder under catalog/: its contract (data the readiness projection, the
 * work queue and the docs read) plus the behaviour only it knows. The workflows dispatch over
 * the registry and never branch on a provider name. docs/modules.md, "Writing a provider".
 */
export interface Provider {
  contract: ModuleContract
  /** What finalize renders, dispatches and opens for a booking on a module of this provider. */
  planHandoff?: HandoffPlanner | undefined
  /** The push to an external system, when a plan names a `dispatchTo`. */
  dispatch?: ProviderDispatch | undefined
  /** What completing an item of each kind this provider opens does, besides closing it. */
  completionEffects?: Partial<Record<WorkItemKind, CompletionEffect>> | undefined
  /**
   * Kinds whose work comes again for the same line after its item closed (a later delivery report:
   * the C7 report weeks after the live one), and how the next item is made from the one before.
   * The rule of when one may be opened is the work queue's (src/workflows/work-item-workflows.ts).
   */
  followUps?: Partial<Record<WorkItemKind, FollowUpPlanner>> | undefined
  /** Kinds whose completion books the reservation: the hand-off kinds. */
  handOffKinds?: readonly WorkItemKind[] | undefined
  /** Kinds this provider opens outside its stages (e.g. a trafficking error to clean up by hand). */
  extraWorkItemKinds?: readonly WorkItemKind[] | undefined
  /**
   * The block each product of a source with this ACTIVE module carries (the product's `cadent`
   * field today): from the module config, once per source, then per avail.
   */
  productBlock?: ((config: ModuleConfig) => ProductBlock) | undefined
  /** Creative formats a module of this provider can carry, for the AdCP buyer surface. */
  creativeFormats?: ((config: ModuleConfig) => SpotFormat[]) | undefined
}

export type ProductBlock = (avail: Pick<AvailRow, 'targeting'>) => ProductCadent

/** The module a hand-off runs on; `row` is null only for a module removed meanwhile. */
export interface HandoffModule {
  row: ModuleInstanceRow | null
  contract: ModuleContract | undefined
}

export interface HandoffContext {
  source: InventorySourceRow
  reservation: ReservationRow
  avail: AvailRow
  module: { row: ModuleInstanceRow; contract: ModuleContract }
  body: FinalizeRequest
  buyerCustomerId: number | null
}

/** A work item the hand-off opens, before the fields every hand-off item shares. */
export interface PlannedItem {
  kind: WorkItemKind
  moduleRowId: number | null
  title: string
  description: string | null
  dueAt: Date | null
  payload: Record<string, unknown>
  requiredResultKeys: string[]
}

export interface HandoffPlan {
  /** Stored on the booking (e.g. the Cadent campaign XML); what a dispatch sends. */
  traffickingPayload: string | null
  /** Set when the payload is sent to an external system instead of a person handling it. */
  dispatchTo: string | null
  items: PlannedItem[]
}

export type HandoffPlanner = (context: HandoffContext) => HandoffPlan

/** What an operator asks of a follow-up: when it is due (null: no due date). */
export interface FollowUpRequest {
  dueAt: Date | null
}

/** The item that follows `previous` (a closed item of the same line), on its module (null: removed since). */
export type FollowUpPlanner = (previous: WorkItemRow, module: ModuleInstanceRow | null, request: FollowUpRequest) => PlannedItem

export type DispatchOutcome =
  | { ok: true; httpStatus: number; reference: string | null; attempts: number }
  | { ok: false; httpStatus: number | null; error: string; attempts: number }

export interface DispatchOptions {
  timeoutMs: number
  /** Sent with the request so the receiver can recognise a retry of the same booking. */
  idempotencyKey: string
}

export type DispatchSender = (url: string, payload: string, options: DispatchOptions) => Promise<DispatchOutcome>

/**
 * The push of a booking's payload to an external system. Sent outside any transaction; the
 * execution workflow claims, settles and reconciles it, this says what the provider's side means.
 */
export interface ProviderDispatch {
  /** Who the work items and events opened on the dispatch's behalf name. */
  actor: Actor
  send: DispatchSender
  /** Per attempt, unless the deployment sets its own; a stale claim is one older than twice this plus 30 s. */
  timeoutMs: number
  /** Where to send, from the module config (a retry reads it again). */
  targetOf(config: ModuleConfig): string | null
  /** The external reference a successful answer carries lands under this key of the booking's externalRefs. */
  referenceKey: string
  /** The item a person gets when the dispatch did not book the line. */
  fallbackItem(input: { module: HandoffModule; avail: AvailRow; payload: Record<string, unknown>; campaignName: string; mediaBuyId: string }, traffickingPayload: string, error: string | null): PlannedItem
  /** The module-health item that records a failed dispatch on the module. */
  healthItem(module: ModuleInstanceRow, error: string): { title: string; description: string; payload: Record<string, unknown> }
  /** The item opened when the system accepted a booking whose hold ended meanwhile. */
  orphanItem(booking: BookingRow, reference: string | null): { kind: WorkItemKind; title: string; description: string }
  /** Text for messages when the target is no longer known. */
  describeTarget: string
  /** What an operator checks before handling by hand a booking whose answer was lost. */
  lostAnswerHint(idempotencyKey: string): string
}

export interface CompletionContext {
  trx: Transaction
  source: InventorySourceRow
  item: WorkItemRow
  result: Record<string, unknown>
  actor: Actor
  now: Date
  ledger: LedgerService
  commitAvailsPreview: CommitAvailsPreview | undefined
}

/** Runs inside the completion's transaction; returns a short summary for the COMPLETED event. */
export type CompletionEffect = (context: CompletionContext) => Promise<Record<string, unknown>>

/** The avails feed's "commit exactly the previewed rows", joined to the completion's transaction. */
export type CommitAvailsPreview = (
  trx: Transaction,
  input: { source: InventorySourceRow; previewId: string; workItemId: number; actor: Actor; now: Date },
) => Promise<Record<string, unknown>>
