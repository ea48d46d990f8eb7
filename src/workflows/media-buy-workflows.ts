import { enqueueWebhook, taskWebhookPayload, webhookIdempotencyKey, type WireWebhookAuthentication } from '../modules/buyer-webhooks/index.ts'
import type { Database, Transaction } from '../db/database.ts'
import type { AvailRow, InventorySourceRow, ReservationRow } from '../db/tables.ts'
import type { HoldResolution, LedgerService } from '../modules/booking-ledger/index.ts'
import {
  assertMeasurementTerms,
  assertProductWindow,
  flatRateLineOf,
  assertTransition,
  buyerStatusOf,
  findBuyByIdempotencyKey,
  findBuysOfReservations,
  findOwnBuy,
  findSellableAvails,
  sellableAvailKey,
  flightOf,
  impressionsOf,
  insertMediaBuy,
  listBuysWithLinesToRelease,
  listLiveReservationsOfBuy,
  listOwnBuys,
  listPackagesWithHolds,
  listStorefrontBuys,
  lockBuyByRowId,
  newMediaBuyId,
  newPackageId,
  newTaskId,
  settleTask,
  updateBuy,
  toMediaBuyResponse,
  updatePackage,
  type AdcpMediaBuyStatus,
  type MediaBuy,
  type MediaBuyListQuery,
  type MeasurementTerms,
  type MediaBuyRow,
  type MediaBuyStatus,
  type NewPackage,
  type PackageWithHold,
} from '../modules/media-buys/index.ts'
import { findActiveModulesOfSources, listActiveModularSources } from '../modules/modular-sources/index.ts'
import { parseAdcpProductId, pricingOptionIdOf, pricingOptionsOf, type PricingOption } from '../modules/products/index.ts'
import type { Actor } from '../modules/work-queue/index.ts'
import type { Clock } from '../shared/clock.ts'
import { fail, isStorefrontError, StorefrontError } from '../shared/errors.ts'
import type { SecretBox } from '../shared/secret-box.ts'
import type { ApprovalRequest, BuyLine, ExecutionWorkflows, FreshHold, HandoffModules, PreparedHandoff } from './execution-workflows.ts'
import type { CreativeWorkflows } from './creative-workflows.ts'
import { enqueueStatusChangeWebhook } from './buy-notifications.ts'
import { SANDBOX_SOURCE_ID, type SandboxWorkflows } from './sandbox-workflows.ts'

/**
 * Buying through the ledger (SPEC §4, AdCP create/get/update_media_buy), in the storefront's own
 * terms: a media buy is one package per product, each backed by one ledger hold; the holds are
 * placed all together or not at all, and each is handed to its source's execution module exactly
 * as bookings/finalize hands off a REST reservation. The MCP edge maps these onto AdCP shapes.
 */

/** The buyer key and the account a request resolved to. */
export interface BuyPrincipal {
  storefrontId: number
  apiKeyId: number
  sandbox: boolean
  /** buyer_account.id: the reservations' buyerCustomerId. */
  accountRowId: number
  /** buyer_account.account_id: the AdCP account the task belongs to. */
  accountId: string
}

export interface PackageRequest {
  productId: string
  pricingOptionId: string
  budget: number
  impressions?: number | undefined
  paused?: boolean | undefined
  targetingOverlay?: unknown
  measurementTerms?: MeasurementTerms | undefined
}

export interface CreateBuyInput {
  idempotencyKey: string
  brandDomain: string
  startTime: string
  endTime: string
  poNumber?: string | undefined
  packages: PackageRequest[]
  /** push_notification_config as sent: sealed at rest (it may carry the buyer's credentials). */
  pushNotification?: { url: string } & Record<string, unknown> | undefined
  /** reporting_webhook as sent: sealed at rest (its authentication is the buyer's credential). */
  reportingWebhook?: { url: string } & Record<string, unknown> | undefined
}

/** A buy with its packages, as its owner sees it. */
export interface BuyView {
  row: MediaBuyRow
  packages: PackageWithHold[]
}

export type CreateBuyOutcome =
  | { kind: 'confirmed'; buy: BuyView }
  /** Live keys: people work the hand-off; the task completes when every hold is booked. */
  | { kind: 'submitted'; taskId: string; buy: BuyView }

export interface PackagePatch {
  packageId: string
  budget?: number | undefined
  impressions?: number | undefined
  paused?: boolean | undefined
  canceled?: boolean | undefined
  targetingOverlay?: unknown
  /** Replaces the package's creatives (AdCP replacement semantics). */
  creativeAssignments?: Array<{ creativeId: string; weight: number | null }> | undefined
}

export interface UpdateBuyInput {
  revision?: number | undefined
  paused?: boolean | undefined
  canceled?: boolean | undefined
  cancellationReason?: string | undefined
  packages?: PackagePatch[] | undefined
}

export interface BuyListQuery {
  mediaBuyIds?: string[] | undefined
  statuses?: AdcpMediaBuyStatus[] | undefined
  limit: number
  cursor?: string | undefined
}

export interface MediaBuyWorkflowDeps {
  db: Database
  clock: Clock
  ledger: LedgerService
  execution: Pick<ExecutionWorkflows, 'handOffBuyLines' | 'dispatchHandoff'>
  secrets: SecretBox
  /** A sandbox key's one-shot force_create_media_buy_arm directive, taken by the next create. */
  sandbox: Pick<SandboxWorkflows, 'takeCreateDirective'>
  /** The creative library's assignment rule, run inside update_media_buy's transaction. */
  creatives: Pick<CreativeWorkflows, 'replacePackageAssignments' | 'formatsOf'>
}

export const BUYS_PAGE_MAX = 100
const BUYER_ACTOR = (principal: BuyPrincipal): Actor => ({ type: 'BUYER', id: `api_key:${principal.apiKeyId}` })

/** The campaign a buy's line is trafficked or approved under. */
function campaignNameOf(buy: Pick<MediaBuyRow, 'po_number' | 'media_buy_id'>, brandDomain: string): string {
  return buy.po_number ? `${brandDomain} ${buy.po_number}` : `${brandDomain} ${buy.media_buy_id}`
}

/** What the seller approves when the line's source has no execution module. */
function approvalOf(
  principal: BuyPrincipal,
  buy: MediaBuyRow,
  line: { reservationId: string; packageId: string; productId: string; budget: number; cpm: number; pricing: NewPackage['pricing'] },
  brandDomain: string,
): ApprovalRequest {
  return {
    reservationId: line.reservationId,
    mediaBuyId: buy.media_buy_id,
    packageId: line.packageId,
    productId: line.productId,
    buyerAccountId: principal.accountId,
    campaignName: campaignNameOf(buy, brandDomain),
    advertiserName: brandDomain,
    pricing: {
      model: line.pricing.model,
      cpm: line.cpm,
      budget: line.budget,
      currency: buy.currency,
      ...(line.pricing.model === 'flat_rate' ? { flatRate: line.pricing.flatRate, flatRateUnit: line.pricing.unit, spots: line.pricing.spots } : {}),
    },
    flight: { start: buy.start_time, end: buy.end_time },
    poNumber: buy.po_number,
  }
}

function reasonOf(error: unknown): string | undefined {
  return isStorefrontError(error) ? error.details?.reason : undefined
}

/** The body of the task a submitted buy completes with: the create_media_buy success arm. */
export function creationResult(buy: BuyView): Record<string, unknown> {
  return {
    media_buy_id: buy.row.media_buy_id,
    status: buyerStatusOf(buy.row.status),
    confirmed_at: buy.row.confirmed_at?.toISOString(),
    revision: buy.row.revision,
    packages: buy.packages.map((pkg) => ({
      package_id: pkg.package_id,
      product_id: pkg.product_id,
      pricing_option_id: pkg.pricing_option_id,
      budget: pkg.budget,
      impressions: pkg.impressions,
      paused: pkg.paused,
      ...(pkg.targeting_overlay ? { targeting_overlay: pkg.targeting_overlay } : {}),
    })),
  }
}

/** A flat-rate package of an avail: its spots (per spot) or the whole avail (per package). */
function flatRatePackage(option: Extract<PricingOption, { model: 'flat_rate' }>, avail: AvailRow, pkg: PackageRequest, field: string) {
  const line = flatRateLineOf({
    budget: pkg.budget,
    flatRate: option.price,
    unit: option.unit,
    impressionsPerSpot: option.spotCount ? Math.floor(avail.feed_capacity / option.spotCount) : null,
    packageImpressions: avail.feed_capacity,
    impressions: pkg.impressions,
  }, field)
  return { impressions: line.impressions, cpm: line.cpm, pricing: { model: 'flat_rate' as const, flatRate: option.price, unit: option.unit, spots: line.spots } }
}

export function createMediaBuyWorkflows(deps: MediaBuyWorkflowDeps) {
  const { db, clock, ledger, execution, secrets, sandbox, creatives } = deps

  async function view(handle: Database | Transaction, row: MediaBuyRow): Promise<BuyView> {
    return { row, packages: await listPackagesWithHolds(handle, [row]) }
  }

  /** Each package's product, priced and in impressions; every refusal names its field. */
  async function planPackages(principal: BuyPrincipal, packages: PackageRequest[], now: Date) {
    if (packages.length === 0) throw fail.invalidField('packages', 'must name at least one package')
    // A sandbox key buys the sandbox source only, a live key never: the rule of get_products.
    const sources = new Map((await listActiveModularSources(db, principal.storefrontId, { sandbox: principal.sandbox })).map((source) => [source.source_id, source]))
    const wanted = packages.map((pkg) => {
      const ids = parseAdcpProductId(pkg.productId, principal.sandbox ? SANDBOX_SOURCE_ID : null)
      const source = ids ? sources.get(ids.sourceId) : undefined
      return source && ids ? { source, availId: ids.availId } : null
    })
    // Every package's avail in one statement; the refusals below still name the first bad package.
    const avails = await findSellableAvails(db, wanted.filter((entry) => entry !== null).map(({ source, availId }) => ({ inventorySourceId: source.id, availId })), now)
    const planned: Array<NewPackage & { source: InventorySourceRow; availId: string; currency: string }> = []
    for (const [index, pkg] of packages.entries()) {
      const field = `packages[${index}]`
      const target = wanted[index]
      const source = target?.source
      const avail = target ? avails.get(sellableAvailKey(target.source.id, target.availId)) : undefined
      const options = source && avail
        ? pricingOptionsOf({ cpm: avail.cpm, flatRate: avail.flat_rate, flatRateUnit: avail.flat_rate_unit, spotCount: avail.spot_count }, pricingOptionIdOf(avail.source_metadata, source.sandbox))
        : []
      if (!source || !avail || options.length === 0) {
        throw new StorefrontError('NOT_FOUND', `${field}.product_id: no sellable product ${pkg.productId}`, {
          reason: 'PRODUCT_NOT_FOUND', issues: [{ path: `${field}.product_id`, message: 'is not a sellable product' }],
        })
      }
      const option = options.find((candidate) => candidate.id === pkg.pricingOptionId)
      if (!option) {
        throw fail.invalidField(`${field}.pricing_option_id`, `${JSON.stringify(pkg.pricingOptionId)} is not a pricing option of product ${pkg.productId}, whose options are ${options.map((candidate) => candidate.id).join(', ')}`, 'PRICING_OPTION_NOT_FOUND')
      }
      if (!Number.isFinite(pkg.budget) || pkg.budget < 0) throw fail.invalidField(`${field}.budget`, 'must be a number of at least 0')
      assertProductWindow(pkg.measurementTerms, avail.measurement_windows, field)
      const line = option.model === 'cpm'
        ? { impressions: impressionsOf({ budget: pkg.budget, cpm: option.price, impressions: pkg.impressions }, field), cpm: option.price, pricing: { model: 'cpm' as const } }
        : flatRatePackage(option, avail, pkg, field)
      planned.push({
        source,
        availId: avail.avail_id,
        currency: avail.currency,
        packageId: newPackageId(index),
        inventorySourceId: source.id,
        availRowId: avail.id,
        productId: pkg.productId,
        pricingOptionId: pkg.pricingOptionId,
        budget: pkg.budget,
        impressions: line.impressions,
        cpm: line.cpm,
        pricing: line.pricing,
        paused: pkg.paused ?? false,
        targetingOverlay: pkg.targetingOverlay,
      })
    }
    const currencies = [...new Set(planned.map((pkg) => pkg.currency))]
    if (currencies.length > 1) {
      throw fail.invalidField('packages', `are priced in several currencies (${currencies.join(', ')}); one media buy has one currency`, 'CURRENCY_MISMATCH')
    }
    return { planned, currency: currencies[0]! }
  }

  /** A capacity refusal names the package and carries what the avail still has. */
  function capacityError(error: unknown, pkg: { productId: string }, index: number): unknown {
    if (reasonOf(error) !== 'INSUFFICIENT_CAPACITY') return error
    const details = (error as StorefrontError).details ?? {}
    return fail.conflict('INSUFFICIENT_CAPACITY', `packages[${index}]: product ${pkg.productId} has ${String(details.availableImpressions)} available impressions; ${String(details.requestedImpressions)} were requested`, {
      field: `packages[${index}]`,
      productId: pkg.productId,
      availableImpressions: details.availableImpressions,
      requestedImpressions: details.requestedImpressions,
    })
  }

  /**
   * Every package's hold, in ascending avail row order (the order concurrent buys lock avails in,
   * so two buys of the same avails cannot deadlock), then each hold's hand-off, in `trx`. A buy
   * that waits on people asks the seller to approve each line whose source has no execution
   * module; a buy booked at once needs nobody's approval.
   * Every hold is placed without an expiry: each one is handed off, sent for approval or booked
   * before this transaction commits, which is what suspending its expiry would have left. The
   * hand-offs reuse what the reserve statements returned (the row, the avail as this transaction
   * left it) and read each source's modules once.
   */
  async function holdAndHandOff(trx: Transaction, principal: BuyPrincipal, buy: MediaBuyRow, planned: Array<NewPackage & { source: InventorySourceRow; availId: string }>, brandDomain: string, waitsOnPeople: boolean): Promise<Array<{ source: InventorySourceRow; prepared: PreparedHandoff | null; reservationId: string }>> {
    const order = planned.map((pkg, index) => ({ pkg, index })).sort((a, b) => a.pkg.availRowId - b.pkg.availRowId || a.index - b.index)
    const held: Array<{ pkg: (typeof planned)[number]; reservationId: string; fresh: FreshHold | undefined }> = []
    // The avail rows as the last reserve on each left them: what a read after all the holds returns.
    const availsNow = new Map<number, AvailRow>()
    for (const { pkg, index } of order) {
      try {
        const { reservation, created, row, avail } = await ledger.reserve({
          sourceRowId: pkg.inventorySourceId,
          availId: pkg.availId,
          mediaBuyId: buy.media_buy_id,
          packageId: pkg.packageId,
          buyerCustomerId: principal.accountRowId,
          requestedImpressions: pkg.impressions,
          holdMinutes: null,
        }, trx)
        availsNow.set(avail.id, avail)
        // A replay (an equal live hold already had this key) was not placed here: it is looked up as finalize does.
        held.push({ pkg, reservationId: reservation.reservationId, fresh: created ? { reservation: row, avail } : undefined })
      } catch (error) {
        throw capacityError(error, pkg, index)
      }
    }
    // The modules of every source the buy touches, in one statement.
    const activeOf = await findActiveModulesOfSources(trx, held.map(({ pkg }) => pkg.source.id), ['TRAFFICKING', 'REPORTING_IMPORT'])
    const lines: BuyLine[] = []
    const lineOf: Array<{ source: InventorySourceRow; reservationId: string; line: number | null }> = []
    for (const { pkg, reservationId, fresh: placed } of held) {
      const fresh = placed && { reservation: placed.reservation, avail: availsNow.get(placed.avail.id) ?? placed.avail }
      const active = activeOf.get(pkg.source.id)
      const modules: HandoffModules = { trafficking: active?.get('TRAFFICKING'), reporting: active?.get('REPORTING_IMPORT') }
      if (modules.trafficking) {
        lines.push({
          kind: 'handoff',
          source: pkg.source,
          body: {
            mediaBuyId: buy.media_buy_id,
            availId: pkg.availId,
            packageId: pkg.packageId,
            buyerCustomerId: principal.accountRowId,
            campaignName: campaignNameOf(buy, brandDomain),
            advertiserName: brandDomain,
            creative: null,
          },
          known: { fresh, modules },
        })
      } else if (waitsOnPeople) {
        lines.push({ kind: 'approval', source: pkg.source, request: approvalOf(principal, buy, { reservationId, ...pkg }, brandDomain), fresh })
      } else {
        // Booked at once by the caller: nobody's approval.
        lineOf.push({ source: pkg.source, reservationId, line: null })
        continue
      }
      lineOf.push({ source: pkg.source, reservationId, line: lines.length - 1 })
    }
    const prepared = await execution.handOffBuyLines(trx, lines, BUYER_ACTOR(principal))
    const handoffs = lineOf.map(({ source, reservationId, line }) => ({ source, reservationId, prepared: line === null ? null : prepared[line]! }))
    return handoffs
  }

  /**
   * create_media_buy. One transaction inserts the buy and its packages, holds every package and
   * hands each hold off; any refusal rolls all of it back. A sandbox key's human steps are done
   * at once (the holds are booked and the buy is confirmed in the same transaction); a live key's
   * buy is `submitted` with its AdCP task until people book every hold.
   */
  async function create(principal: BuyPrincipal, input: CreateBuyInput): Promise<CreateBuyOutcome> {
    const now = clock.now()
    // Terms the seller cannot commit to are refused first, whatever else the request gets wrong.
    for (const [index, pkg] of input.packages.entries()) assertMeasurementTerms(pkg.measurementTerms, `packages[${index}]`)
    const flight = flightOf({ startTime: input.startTime, endTime: input.endTime }, now)
    const { planned, currency } = await planPackages(principal, input.packages, now)
    const owner = { storefrontId: principal.storefrontId, apiKeyId: principal.apiKeyId }

    const created = await db.transaction().execute(async (trx) => {
      // A sandbox key's human steps are done at once, unless comply_test_controller forced the
      // next create onto the submitted arm: then it waits on people like a live key's, under the
      // forced task_id.
      const forced = await sandbox.takeCreateDirective(trx, principal)
      const waitsOnPeople = !principal.sandbox || forced !== undefined
      const taskId = !waitsOnPeople ? null : forced?.task_id ?? newTaskId()
      const buy = await insertMediaBuy(trx, {
        storefrontId: principal.storefrontId,
        apiKeyId: principal.apiKeyId,
        buyerAccountId: principal.accountRowId,
        mediaBuyId: newMediaBuyId(),
        idempotencyKey: input.idempotencyKey,
        sandbox: principal.sandbox,
        status: waitsOnPeople ? 'submitted' : 'pending_creatives',
        currency,
        startTime: flight.start,
        endTime: flight.end,
        poNumber: input.poNumber ?? null,
        taskId,
        pushNotificationSealed: input.pushNotification ? secrets.sealJson(input.pushNotification) : null,
        reportingWebhookSealed: input.reportingWebhook ? secrets.sealJson(input.reportingWebhook) : null,
        confirmedAt: waitsOnPeople ? null : now,
        now,
      }, planned, taskId === null ? null : { tool: 'create_media_buy', accountId: principal.accountId, hasWebhook: input.pushNotification !== undefined })
      // The key already bought with this idempotency_key: the SDK's replay cache missed a race.
      if (!buy) return null
      const handoffs = await holdAndHandOff(trx, principal, buy, planned, input.brandDomain, waitsOnPeople)
      if (!waitsOnPeople) {
        for (const handoff of handoffs) await ledger.book(trx, { sourceRowId: handoff.source.id, reservationId: handoff.reservationId })
      }
      return { buy, handoffs }
    })

    if (!created) {
      const existing = await findBuyByIdempotencyKey(db, owner, input.idempotencyKey)
      if (!existing) throw new Error('media buy insert conflicted but no buy was found')
      const buy = await view(db, existing)
      return existing.task_id ? { kind: 'submitted', taskId: existing.task_id, buy } : { kind: 'confirmed', buy }
    }
    let dispatched = false
    for (const { source, prepared } of created.handoffs) {
      if (!prepared?.dispatch) continue
      await execution.dispatchHandoff(source, prepared)
      dispatched = true
    }
    // A dispatch's answer may have moved the buy on; without one the row is what the transaction wrote.
    const row = dispatched ? (await findOwnBuy(db, owner, created.buy.media_buy_id))! : created.buy
    const buy = await view(db, row)
    return created.buy.task_id ? { kind: 'submitted', taskId: created.buy.task_id, buy } : { kind: 'confirmed', buy }
  }

  function decodeCursor(cursor: string | undefined): number | undefined {
    if (cursor === undefined) return undefined
    const id = /^\d{1,15}$/.test(cursor) ? Number(cursor) : NaN
    if (!Number.isSafeInteger(id)) throw fail.invalidField('pagination.cursor', 'is not a cursor this agent returned')
    return id
  }

  /** get_media_buys: the key's own buys; a submitted buy is not the buyer's until its task completes. */
  async function list(principal: BuyPrincipal, query: BuyListQuery): Promise<{ buys: BuyView[]; nextCursor: string | null; total: number }> {
    const owner = { storefrontId: principal.storefrontId, apiKeyId: principal.apiKeyId }
    const limit = Math.min(Math.max(1, query.limit), BUYS_PAGE_MAX)
    const statuses: MediaBuyStatus[] | undefined = query.statuses?.length ? query.statuses : undefined
    const { rows, hasMore, total } = await listOwnBuys(db, owner, {
      mediaBuyIds: query.mediaBuyIds,
      statuses: statuses ?? ['pending_creatives', 'pending_start', 'active', 'paused', 'completed', 'rejected', 'canceled'],
      afterId: decodeCursor(query.cursor),
      limit,
    })
    const packages = await listPackagesWithHolds(db, rows)
    const buys = rows.map((row) => ({ row, packages: packages.filter((pkg) => pkg.media_buy_row_id === row.id) }))
    const last = rows.at(-1)
    return { buys, nextCursor: hasMore && last ? String(last.id) : null, total }
  }

  /** Releases the live hold of a package, if it has one (its booking and open items follow, via the ledger). */
  async function releasePackage(trx: Transaction, live: ReservationRow | undefined, reason: string): Promise<void> {
    if (live) await ledger.release({ sourceRowId: live.inventory_source_id, reservationId: String(live.id), reason }, trx)
  }

  /**
   * A package's new size: its hold is released and a new one placed for the new amount in the same
   * transaction, so a refusal (not enough capacity) leaves the old hold as it was. A booked line
   * stays booked at its new size: the people already trafficked (or approved) it.
   */
  async function resizePackage(trx: Transaction, principal: BuyPrincipal, buy: MediaBuyRow, pkg: PackageWithHold, current: ReservationRow | undefined, impressions: number, index: number): Promise<void> {
    if (!current) throw fail.invalidField(`packages[${index}]`, 'has no live hold to resize')
    await ledger.release({ sourceRowId: current.inventory_source_id, reservationId: String(current.id), reason: 'update_media_buy: resized' }, trx)
    try {
      const { reservation } = await ledger.reserve({
        sourceRowId: current.inventory_source_id,
        availId: current.avail_id,
        mediaBuyId: buy.media_buy_id,
        packageId: pkg.package_id,
        buyerCustomerId: principal.accountRowId,
        requestedImpressions: impressions,
        // Placed without an expiry, as a suspended one: the buy's holds wait on people, not the clock.
        holdMinutes: null,
      }, trx)
      if (current.status === 'BOOKED') await ledger.book(trx, { sourceRowId: current.inventory_source_id, reservationId: reservation.reservationId })
    } catch (error) {
      throw capacityError(error, { productId: pkg.product_id }, index)
    }
  }

  /**
   * update_media_buy: pause/resume and cancel of the buy or a package, package budget or
   * impressions (re-holding capacity), targeting_overlay (replaced whole). One transaction: a
   * refusal anywhere leaves the buy, its packages and its holds as they were.
   */
  async function update(principal: BuyPrincipal, mediaBuyId: string, input: UpdateBuyInput): Promise<{ buy: BuyView; affectedPackageIds: string[] }> {
    const owner = { storefrontId: principal.storefrontId, apiKeyId: principal.apiKeyId }
    const formats = input.packages?.some((patch) => patch.creativeAssignments !== undefined) ? await creatives.formatsOf(principal) : []
    const result = await db.transaction().execute(async (trx) => {
      const now = clock.now()
      const found = await findOwnBuy(trx, owner, mediaBuyId)
      // A submitted buy has no media_buy_id on the buyer's side yet: it answers like a missing one.
      if (!found || found.status === 'submitted') throw fail.mediaBuyNotFound()
      // Reservations before the buy row: the order a completion or release locks them in.
      const live = await listLiveReservationsOfBuy(trx, found)
      for (const reservation of live) await ledger.lockById(trx, reservation.id)
      // A package has at most one live reservation (reservation_live_key).
      const liveOf = new Map(live.map((reservation) => [reservation.package_row_id, reservation]))
      let buy = (await lockBuyByRowId(trx, found.id))!
      // Read under the lock: `found` may predate a change committed while the lock was awaited.
      const statusBeforeCancel = buy.status
      if (input.revision !== undefined && input.revision !== buy.revision) {
        throw fail.conflict('REVISION_MISMATCH', `The media buy is at revision ${buy.revision}, not ${input.revision}`, { revision: buy.revision })
      }
      const packages = await listPackagesWithHolds(trx, [buy])
      const affected = new Set<string>()

      if (input.canceled === true) {
        await assertTransition(buy.status, 'canceled')
        for (const pkg of packages) if (!pkg.canceled_at) await releasePackage(trx, liveOf.get(pkg.id), 'update_media_buy: canceled by the buyer')
        buy = await updateBuy(trx, buy.id, {
          status: 'canceled', canceled_at: now, canceled_by: 'buyer', cancellation_reason: input.cancellationReason ?? null, bumpRevision: true,
        }, now)
        await enqueueStatusChangeWebhook(trx, secrets, buy, statusBeforeCancel, now)
        return { buy, affected: packages.map((pkg) => pkg.package_id) }
      }
      if (input.paused !== undefined) {
        const to: AdcpMediaBuyStatus = input.paused ? 'paused' : 'active'
        await assertTransition(buy.status, to)
      }
      // A buy already ended or canceled takes no package changes either.
      if (input.packages?.length && ['canceled', 'completed', 'rejected'].includes(buy.status)) {
        throw fail.conflict('INVALID_MEDIA_BUY_TRANSITION', `The media buy is ${buy.status}; its packages cannot change`, { status: buy.status })
      }
      for (const [index, patch] of (input.packages ?? []).entries()) {
        const pkg = packages.find((candidate) => candidate.package_id === patch.packageId)
        if (!pkg) {
          throw new StorefrontError('NOT_FOUND', `packages[${index}].package_id: the media buy has no package ${patch.packageId}`, { reason: 'PACKAGE_NOT_FOUND', issues: [{ path: `packages[${index}].package_id`, message: 'is not a package of this media buy' }] })
        }
        if (pkg.canceled_at) throw fail.conflict('INVALID_MEDIA_BUY_TRANSITION', `packages[${index}]: package ${pkg.package_id} is canceled`, { field: `packages[${index}]` })
        if (patch.canceled === true) {
          await releasePackage(trx, liveOf.get(pkg.id), 'update_media_buy: package canceled by the buyer')
          await updatePackage(trx, pkg.id, { canceled_at: now }, now)
          affected.add(pkg.package_id)
          continue
        }
        const budget = patch.budget ?? pkg.budget
        const resized = patch.impressions !== undefined || patch.budget !== undefined
        // A flat-rate package is resized in whole spots at its rate (a per-package one stays the avail).
        const flat = resized && pkg.pricing_model === 'flat_rate' && pkg.flat_rate !== null && pkg.flat_rate_unit !== null
          ? flatRateLineOf({
            budget,
            flatRate: pkg.flat_rate,
            unit: pkg.flat_rate_unit,
            impressionsPerSpot: pkg.spots ? pkg.impressions / pkg.spots : null,
            packageImpressions: pkg.impressions,
            impressions: patch.impressions,
          }, `packages[${index}]`)
          : null
        const impressions = flat ? flat.impressions : resized ? impressionsOf({ budget, cpm: pkg.cpm, impressions: patch.impressions }, `packages[${index}]`) : pkg.impressions
        if (impressions !== pkg.impressions) await resizePackage(trx, principal, buy, pkg, liveOf.get(pkg.id), impressions, index)
        await updatePackage(trx, pkg.id, {
          ...(budget !== pkg.budget ? { budget } : {}),
          ...(impressions !== pkg.impressions ? { impressions } : {}),
          ...(flat && flat.spots !== pkg.spots ? { spots: flat.spots, cpm: flat.cpm } : {}),
          ...(patch.paused !== undefined ? { paused: patch.paused } : {}),
          ...(patch.targetingOverlay !== undefined ? { targetingOverlay: patch.targetingOverlay } : {}),
        }, now)
        if (patch.creativeAssignments !== undefined) {
          await creatives.replacePackageAssignments(trx, principal, { packageId: pkg.package_id, packageRowId: pkg.id }, patch.creativeAssignments, `packages[${index}].creative_assignments`, formats)
        }
        affected.add(pkg.package_id)
      }
      // The assignments may have moved the buy out of pending_creatives: read it again.
      buy = (await lockBuyByRowId(trx, buy.id))!
      const from = buy.status
      const status = input.paused === undefined ? buy.status : input.paused ? 'paused' : 'active'
      buy = await updateBuy(trx, buy.id, { status, bumpRevision: true }, now)
      // Pause or resume told to the buy's push_notification_config (a move out of pending_creatives
      // by the assignments above was told when it happened).
      await enqueueStatusChangeWebhook(trx, secrets, buy, from, now)
      return { buy, affected: [...affected] }
    })
    return { buy: await view(db, result.buy), affectedPackageIds: result.affected }
  }

  /** GET /api/v2/storefront/media-buys: every buy of the storefront, newest first. */
  async function listForOperator(storefrontId: number, query: MediaBuyListQuery): Promise<{ mediaBuys: MediaBuy[]; total: number }> {
    const { rows, total } = await listStorefrontBuys(db, storefrontId, { status: query.status, limit: query.take, skip: query.skip })
    const packages = await listPackagesWithHolds(db, rows)
    return { mediaBuys: rows.map((row) => toMediaBuyResponse(row, packages.filter((pkg) => pkg.media_buy_row_id === row.id))), total }
  }

  /**
   * The sweep's reconciler of all-or-none buys: a submitted buy rejected because one line ended
   * (settleSubmittedBuys) still has its other lines live, held or booked, with their work items
   * open. Each such buy's lines are released in one transaction per buy (their items cancelled by
   * the releases), locking the reservations in id order before the buy, as update_media_buy does;
   * two processes sweeping one buy both find the lines released, which is no error.
   */
  async function releaseLinesOfRejectedBuys(options: { pageSize?: number; onError?: (mediaBuyId: string, error: unknown) => void } = {}): Promise<{ released: number; failed: number }> {
    let released = 0
    let failed = 0
    // Every marked buy is tried once per sweep, a page at a time: buys that keep failing must not
    // fill the one page the sweep reads and starve the buys behind them.
    let afterRowId = 0
    for (;;) {
      const page = await listBuysWithLinesToRelease(db, afterRowId, options.pageSize ?? 100)
      for (const marked of page) {
        // One buy that fails (a deadlock victim, a lost connection) is retried next sweep; the rest go on.
        try {
          released += await releaseLinesOf(marked)
        } catch (error) {
          failed += 1
          options.onError?.(marked.media_buy_id, error)
        }
      }
      if (page.length === 0) return { released, failed }
      afterRowId = page[page.length - 1]!.id
    }
  }

  async function releaseLinesOf(marked: MediaBuyRow): Promise<number> {
    return db.transaction().execute(async (trx) => {
      let count = 0
      for (const line of await listLiveReservationsOfBuy(trx, marked)) {
        const outcome = await ledger.release({
          sourceRowId: line.inventory_source_id,
          reservationId: String(line.id),
          reason: `media buy ${marked.media_buy_id} was rejected: another of its lines ended`,
        }, trx)
        if (outcome.released) count++
      }
      const buy = await lockBuyByRowId(trx, marked.id)
      if (buy?.lines_to_release) await updateBuy(trx, buy.id, { lines_to_release: false }, clock.now())
      return count
    })
  }

  return { create, list, update, listForOperator, releaseLinesOfRejectedBuys }
}

export type MediaBuyWorkflows = ReturnType<typeof createMediaBuyWorkflows>

/**
 * What a hold's resolution means for the submitted buy that holds it, in the resolving transaction
 * (the ledger's onResolved port, after the booking and work items): once every package's hold is
 * BOOKED the buy is confirmed and its task completes with the create_media_buy success; a hold
 * released or expired while the buy waits fails its task and the buy is rejected. Whichever
 * process resolves the hold writes the task row, so `tasks/get` from any process reports it.
 * The buyer's webhook (if it registered push_notification_config) is written to the outbox in the
 * same transaction: a settlement that rolls back announces nothing, one that commits always has
 * its event, sent by whichever process's outbox sender claims it. Returns the events enqueued.
 */
export async function settleSubmittedBuys(trx: Transaction, resolution: HoldResolution, secrets?: SecretBox): Promise<number> {
  let enqueued = 0
  for (const found of await findBuysOfReservations(trx, resolution.reservationIds)) {
    if (found.status !== 'submitted' || !found.task_id) continue
    const buy = (await lockBuyByRowId(trx, found.id))!
    if (buy.status !== 'submitted' || !buy.task_id) continue
    const now = resolution.now
    const config = buy.push_notification_sealed && secrets
      ? secrets.openJson<{ url?: unknown; token?: unknown; authentication?: WireWebhookAuthentication }>(buy.push_notification_sealed)
      : null
    const token = typeof config?.token === 'string' ? config.token : undefined
    let payload: Record<string, unknown>
    if (resolution.to === 'BOOKED') {
      const packages = await listPackagesWithHolds(trx, [buy])
      if (!packages.every((pkg) => pkg.reservation_status === 'BOOKED')) continue
      const confirmed = await updateBuy(trx, buy.id, { status: 'pending_creatives', confirmed_at: now }, now)
      const result = creationResult({ row: confirmed, packages })
      await settleTask(trx, buy.task_id, { status: 'completed', result }, now)
      payload = taskWebhookPayload({ task_id: buy.task_id, task_type: 'create_media_buy', status: 'completed', timestamp: now, result, token })
    } else {
      const error = { code: 'PRODUCT_UNAVAILABLE', message: `The seller did not book the media buy: a hold was ${resolution.to.toLowerCase()}${resolution.reason ? ` (${resolution.reason})` : ''}`, recovery: 'terminal' }
      // Its other lines are released by the sweep (releaseLinesOfRejectedBuys): not here, where the
      // ending line's lock is held (migration 0016).
      await updateBuy(trx, buy.id, { status: 'rejected', lines_to_release: true }, now)
      await settleTask(trx, buy.task_id, { status: 'failed', error }, now)
      payload = taskWebhookPayload({ task_id: buy.task_id, task_type: 'create_media_buy', status: 'failed', timestamp: now, error, token })
    }
    if (config && secrets && typeof config.url === 'string') {
      const operationId = `create_media_buy.${buy.task_id}`
      const event = await enqueueWebhook(trx, secrets, {
        storefrontId: buy.storefront_id,
        mediaBuyRowId: buy.id,
        operationId,
        idempotencyKey: webhookIdempotencyKey(operationId),
        url: config.url,
        authentication: config.authentication,
        sandbox: buy.sandbox,
        payload,
      }, now)
      if (event.enqueued) enqueued++
    }
  }
  return enqueued
}
