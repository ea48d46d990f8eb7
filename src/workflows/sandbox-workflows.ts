import type { Caller } from '../access/access-service.ts'
import type { Database, Transaction } from '../db/database.ts'
import type { BuyerAccountRow, BuyerAccountStatus, InventorySourceRow, MediaBuyRow, MediaBuyStatus, SandboxCreateArmRow } from '../db/tables.ts'
import { noTvTerms, upsertAvails, type NormalizedAvail } from '../modules/avails-feed/index.ts'
import type { LedgerService } from '../modules/booking-ledger/index.ts'
import { deleteSandboxAccounts, setSandboxAccountStatus } from '../modules/buyer-accounts/index.ts'
import { deleteSandboxWebhooks } from '../modules/buyer-webhooks/index.ts'
import { addSimulatedDelivery, sumSpendByReservation } from '../modules/delivery/index.ts'
import {
  deleteSandboxMediaBuys,
  findOwnBuy,
  insertSeededMediaBuy,
  isTaskIdTaken,
  listBuyPackages,
  listLiveReservationsOfBuy,
  lockBuyByRowId,
  setMediaBuyStatus,
} from '../modules/media-buys/index.ts'
import { attachModule, findSandboxSource, insertModularSource } from '../modules/modular-sources/index.ts'
import { FIXTURE_METADATA_KEY, productFixtureOf } from '../modules/products/index.ts'
import {
  deactivateNonFixtureAvails,
  deleteSandboxSdkRows,
  ensureSeededFormat,
  findSandboxAvail,
  isTaskIdForcedByAnotherKey,
  listSandboxKeyIds,
  listSeededFormats,
  putCreateArm,
  takeCreateArm,
  upsertSeededFormat,
} from '../modules/sandbox/index.ts'
import type { Clock } from '../shared/clock.ts'
import { fail } from '../shared/errors.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'
import { deleteSourceRow } from '../sources/source-store.ts'
import type { SecretBox } from '../shared/secret-box.ts'
import { enqueueStatusChangeWebhook } from './buy-notifications.ts'
import { demoAvails } from './cadent-demo-avails.ts'

/**
 * The sandbox of the AdCP agent (SPEC §4): a sandbox buyer key buys the storefront's sandbox
 * modular source, a real source row (flagged sandbox) with the demo's modules, a booking ledger
 * and demo avails, so sandbox buys take real holds on real tables and never touch live capacity.
 * comply_test_controller writes its fixtures into that source; reset deletes it wholesale with
 * every sandbox buy, account, task and replay row of the storefront, and builds it afresh.
 */

export const SANDBOX_SOURCE_ID = 'adcp-sandbox'

const SANDBOX_CADENT_CONFIG = {
  campaignDeliveryType: 'GUARANTEED',
  lineDeliveryType: 'GUARANTEED',
  adType: 'VIDEO',
  adClass: 'COMMERCIAL',
}

/** A seeded product's flight: from the start of the seeding day for two years (storyboard flights are weeks to a quarter). */
const FIXTURE_FLIGHT_DAYS = 730
/** A seeded product's capacity: far above any storyboard budget at any CPM. */
const FIXTURE_CAPACITY = 1_000_000_000

export type SandboxPrincipal = Pick<Caller, 'storefrontId' | 'apiKeyId' | 'sandbox'>

export interface SandboxWorkflowDeps {
  db: Database
  clock: Clock
  ledger: Pick<LedgerService, 'release' | 'lockById'>
  /** Opens the buys' sealed push_notification_config: a forced status change notifies the buyer. */
  secrets?: SecretBox | undefined
}

export interface SeededFormat {
  id: string
  name: string
  formatType: string | null
}

export interface ResetSummary {
  mediaBuys: number
  accounts: number
  idempotencyRecords: number
  tasks: number
  sourceId: string
}

export interface TransitionOutcome<S extends string> {
  previous: S
  current: S
}

/** The MCP edge checks media-buy edges with the SDK's state machine; the workflow only asks. */
export type TransitionRule = (from: MediaBuyStatus, to: MediaBuyStatus) => boolean

function assertSandboxKey(principal: SandboxPrincipal): void {
  // The controller is registered only for sandbox keys; this is the domain's own backstop.
  if (!principal.sandbox) throw fail.accessDenied('WRONG_KEY_ROLE', 'Only sandbox buyer keys drive the sandbox')
}

function dayOf(date: Date): string {
  return date.toISOString().slice(0, 10)
}

function textOf(value: unknown, path: string): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) throw fail.invalidField(path, 'must be a non-empty string of at most 255 characters')
  return value
}

function formatIdsOf(value: unknown): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw fail.invalidField('fixture.format_ids', 'must be an array of format ids')
  return value.map((item, index) => {
    const id = typeof item === 'string' ? item : item && typeof item === 'object' ? (item as Record<string, unknown>).id : undefined
    return textOf(id, `fixture.format_ids[${index}].id`) ?? (() => { throw fail.invalidField(`fixture.format_ids[${index}].id`, 'is required') })()
  })
}

/**
 * The product the AdCP storyboards name when they seed none (`test-product`: the idempotency and
 * deterministic_testing bundles buy it by that id, with the pricing option the runner puts in place
 * of their `test-pricing` sentinel when nothing was seeded: `default`). A standing fixture of every sandbox: a real
 * avail on the real ledger, replaced when a run seeds its own.
 */
function storyboardSentinel(now: Date): NormalizedAvail {
  const start = new Date(`${dayOf(now)}T00:00:00.000Z`)
  return {
    availId: 'test-product',
    collectionId: 'sandbox-fixtures',
    collectionName: 'Sandbox fixtures',
    collectionDescription: null,
    name: 'Storyboard test product',
    channel: 'ctv',
    startTime: start.toISOString(),
    endTime: new Date(start.getTime() + FIXTURE_FLIGHT_DAYS * 86_400_000).toISOString(),
    impressionsCapacity: FIXTURE_CAPACITY,
    upstreamBookedImpressions: 0,
    cpm: 20,
    currency: 'USD',
    ...noTvTerms(),
    targeting: {},
    // Standing: it gives way, like the demo avails, to the products a run seeds.
    sourceMetadata: { [FIXTURE_METADATA_KEY]: { pricingOptionId: 'default', formatIds: [], standing: true } },
  }
}

export function createSandboxWorkflows({ db, clock, ledger, secrets }: SandboxWorkflowDeps) {
  async function buildSource(trx: Transaction, storefrontId: number, now: Date): Promise<InventorySourceRow | null> {
    const row = await insertModularSource(trx, {
      storefrontId,
      sourceId: SANDBOX_SOURCE_ID,
      name: 'AdCP sandbox',
      description: 'Sandbox inventory for sandbox buyer keys: demo avails and comply_test_controller fixtures on the real ledger. Never listed to live keys.',
      setupMetadata: {
        sandbox: true,
        availsSource: { type: 'manual', description: 'Demo avails and seeded fixtures' },
        booking: { mode: 'booking_ledger' },
        execution: { mode: 'upstream_system', systemName: 'Cadent' },
        reporting: { mode: 'upload' },
      },
      sandbox: true,
      now,
    })
    if (!row) return null
    await attachModule(trx, row, { kind: 'INVENTORY_FEED', provider: 'agentic' }, now)
    await attachModule(trx, row, { kind: 'BOOKING_LEDGER', provider: 'agentic' }, now)
    await attachModule(trx, row, { kind: 'TRAFFICKING', provider: 'cadent', config: SANDBOX_CADENT_CONFIG }, now)
    await attachModule(trx, row, { kind: 'REPORTING_IMPORT', provider: 'upload' }, now)
    await upsertAvails(trx, { inventorySourceId: row.id, avails: [...demoAvails(now), storyboardSentinel(now)], now, replaceMissing: false })
    return row
  }

  /** The storefront's sandbox source, built on first need (two first needs at once build it once). */
  async function ensureSource(storefrontId: number): Promise<InventorySourceRow> {
    const existing = await findSandboxSource(db, storefrontId)
    if (existing) return existing
    const built = await db.transaction().execute((trx) => buildSource(trx, storefrontId, clock.now()))
    if (built) return built
    const raced = await findSandboxSource(db, storefrontId)
    if (raced) return raced
    throw fail.conflict('DUPLICATE_SOURCE_ID', `The sandbox needs the sourceId ${SANDBOX_SOURCE_ID}, which a live source of this storefront uses`)
  }

  /**
   * The sandbox source's format catalog: its seeded formats once any were seeded (a storyboard
   * that seeds formats gets exactly those), else null (the trafficking module's formats stand).
   */
  async function seededFormats(source: InventorySourceRow): Promise<SeededFormat[] | null> {
    const rows = await listSeededFormats(db, source.id)
    if (rows.length === 0) return null
    return rows.map((row) => ({ id: row.format_id, name: row.name, formatType: row.format_type }))
  }

  /**
   * POST /sandbox/reset: one transaction deletes the sandbox source (its avails, holds, ledger
   * entries, bookings, delivery and work items go with it, so no counter is left to drift), the
   * storefront's sandbox buys and accounts, their SDK tasks and every replay row of its sandbox
   * keys, then builds the source afresh. Live rows are never touched.
   */
  async function reset(storefrontId: number): Promise<ResetSummary> {
    return outcomeTransaction(db, async (trx) => {
      const now = clock.now()
      const source = await findSandboxSource(trx, storefrontId)
      await deleteSandboxWebhooks(trx, storefrontId)
      const mediaBuys = await deleteSandboxMediaBuys(trx, storefrontId)
      if (source) await deleteSourceRow(trx, source.id)
      const accountIds = await deleteSandboxAccounts(trx, storefrontId)
      const apiKeyIds = await listSandboxKeyIds(trx, storefrontId)
      const sdk = await deleteSandboxSdkRows(trx, { apiKeyIds, accountIds })
      const rebuilt = await buildSource(trx, storefrontId, now)
      if (!rebuilt) throw fail.conflict('DUPLICATE_SOURCE_ID', `The sandbox needs the sourceId ${SANDBOX_SOURCE_ID}, which a live source of this storefront uses`)
      return { mediaBuys, accounts: accountIds.length, idempotencyRecords: sdk.idempotency, tasks: sdk.tasks, sourceId: rebuilt.source_id }
    })
  }

  /**
   * The first product seed of a run replaces the demo catalog (see deactivateNonFixtureAvails).
   * Seeding formats, creatives or buys leaves the products as they are: a run that seeds only
   * formats still finds the catalog it had.
   */
  async function startSeeding(trx: Transaction, source: InventorySourceRow, now: Date): Promise<void> {
    await deactivateNonFixtureAvails(trx, source.id, FIXTURE_METADATA_KEY, now)
  }

  /**
   * seed_product: the fixture becomes an avail of the sandbox source whose avail id is the
   * product id exactly; it is offered once seed_pricing_option gives it a price. Its format ids
   * join the sandbox's format catalog.
   */
  async function seedProduct(principal: SandboxPrincipal, input: { productId: string; fixture: Record<string, unknown> }): Promise<void> {
    assertSandboxKey(principal)
    const productId = textOf(input.productId, 'product_id')!
    const deliveryType = input.fixture.delivery_type
    if (deliveryType !== undefined && deliveryType !== 'guaranteed') {
      throw fail.invalidField('fixture.delivery_type', 'must be guaranteed: the storefront sells ledger-held, guaranteed inventory only')
    }
    const channels = input.fixture.channels
    if (channels !== undefined && !Array.isArray(channels)) throw fail.invalidField('fixture.channels', 'must be an array')
    const channel = textOf(Array.isArray(channels) ? channels[0] : undefined, 'fixture.channels[0]')
    const formatIds = formatIdsOf(input.fixture.format_ids)
    const name = textOf(input.fixture.name, 'fixture.name') ?? productId
    const source = await ensureSource(principal.storefrontId)
    await db.transaction().execute(async (trx) => {
      const now = clock.now()
      await startSeeding(trx, source, now)
      const existing = await findSandboxAvail(trx, source.id, productId)
      const previous = existing ? productFixtureOf(existing.source_metadata) : null
      const start = new Date(`${dayOf(now)}T00:00:00.000Z`)
      const avail: NormalizedAvail = {
        availId: productId,
        collectionId: 'sandbox-fixtures',
        collectionName: 'Sandbox fixtures',
        collectionDescription: textOf(input.fixture.description, 'fixture.description'),
        name,
        channel,
        startTime: (existing?.start_time ?? start).toISOString(),
        endTime: (existing?.end_time ?? new Date(start.getTime() + FIXTURE_FLIGHT_DAYS * 86_400_000)).toISOString(),
        impressionsCapacity: FIXTURE_CAPACITY,
        upstreamBookedImpressions: 0,
        cpm: existing?.cpm ?? null,
        currency: existing?.currency ?? 'USD',
        ...noTvTerms(),
        targeting: {},
        sourceMetadata: { [FIXTURE_METADATA_KEY]: { pricingOptionId: previous?.pricingOptionId ?? null, formatIds } },
      }
      await upsertAvails(trx, { inventorySourceId: source.id, avails: [avail], now, replaceMissing: false })
      for (const formatId of formatIds) {
        await ensureSeededFormat(trx, { inventorySourceId: source.id, formatId, name: formatId, formatType: channel, now })
      }
    })
  }

  /** seed_pricing_option: prices a seeded product (fixed CPM, or the floor as the CPM). One option per product. */
  async function seedPricingOption(
    principal: SandboxPrincipal,
    input: { productId: string; pricingOptionId: string; fixture: Record<string, unknown> },
  ): Promise<void> {
    assertSandboxKey(principal)
    const pricingOptionId = textOf(input.pricingOptionId, 'pricing_option_id')!
    const model = input.fixture.pricing_model
    if (model !== undefined && model !== 'cpm') throw fail.invalidField('fixture.pricing_model', 'must be cpm: every product is priced by a fixed CPM')
    const price = input.fixture.fixed_price ?? input.fixture.floor_price
    if (typeof price !== 'number' || !Number.isFinite(price) || price <= 0) throw fail.invalidField('fixture.fixed_price', 'must be a positive number')
    const currency = input.fixture.currency ?? 'USD'
    if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) throw fail.invalidField('fixture.currency', 'must be an ISO 4217 code')
    const source = await ensureSource(principal.storefrontId)
    await db.transaction().execute(async (trx) => {
      const now = clock.now()
      const existing = await findSandboxAvail(trx, source.id, input.productId)
      const fixture = existing ? productFixtureOf(existing.source_metadata) : null
      if (!existing || !fixture) throw fail.notFound(`Seeded product ${input.productId}`)
      await upsertAvails(trx, {
        inventorySourceId: source.id,
        avails: [{
          availId: existing.avail_id,
          collectionId: existing.collection_id,
          collectionName: existing.collection_name,
          collectionDescription: existing.collection_description,
          name: existing.name,
          channel: existing.channel,
          startTime: existing.start_time.toISOString(),
          endTime: existing.end_time.toISOString(),
          impressionsCapacity: existing.feed_capacity,
          upstreamBookedImpressions: existing.upstream_booked_impressions,
          cpm: price,
          currency,
          ...noTvTerms(),
          targeting: existing.targeting,
          sourceMetadata: { ...existing.source_metadata, [FIXTURE_METADATA_KEY]: { ...fixture, pricingOptionId } },
        }],
        now,
        replaceMissing: false,
      })
    })
  }

  /** seed_creative_format: a format of the sandbox catalog (name and type from the fixture). */
  async function seedCreativeFormat(principal: SandboxPrincipal, input: { formatId: string; fixture: Record<string, unknown> }): Promise<void> {
    assertSandboxKey(principal)
    const formatId = textOf(input.formatId, 'format_id')!
    const name = textOf(input.fixture.name, 'fixture.name') ?? formatId
    const formatType = textOf(input.fixture.type, 'fixture.type')
    const source = await ensureSource(principal.storefrontId)
    await upsertSeededFormat(db, { inventorySourceId: source.id, formatId, name, formatType, now: clock.now() })
  }

  /** seed_media_buy: a sandbox buy of the given account with no packages (it holds nothing). */
  async function seedMediaBuy(
    principal: SandboxPrincipal,
    account: BuyerAccountRow,
    input: { mediaBuyId: string; status: Exclude<MediaBuyStatus, 'submitted' | 'canceled'>; currency: string },
  ): Promise<void> {
    assertSandboxKey(principal)
    const mediaBuyId = textOf(input.mediaBuyId, 'media_buy_id')!
    await db.transaction().execute(async (trx) => {
      const now = clock.now()
      // The flight agrees with the seeded status, or the sweep's flight moves would change it at
      // once: a buy not yet running starts tomorrow, a running one began now.
      const startTime = input.status === 'pending_start' || input.status === 'pending_creatives' ? new Date(now.getTime() + 86_400_000) : now
      const inserted = await insertSeededMediaBuy(trx, {
        storefrontId: principal.storefrontId,
        apiKeyId: principal.apiKeyId,
        buyerAccountId: account.id,
        mediaBuyId,
        status: input.status,
        currency: input.currency,
        startTime,
        endTime: new Date(startTime.getTime() + 30 * 86_400_000),
        now,
      })
      if (inserted) return
      // A re-seed of the key's own buy is fine; another key's id is not this key's to take.
      const own = await findOwnBuy(trx, principal, mediaBuyId)
      if (!own) throw fail.invalidField('media_buy_id', 'is taken by a buy this key cannot see')
    })
  }

  async function forceAccountStatus(principal: SandboxPrincipal, accountId: string, status: BuyerAccountStatus): Promise<TransitionOutcome<BuyerAccountStatus>> {
    assertSandboxKey(principal)
    const changed = await setSandboxAccountStatus(db, { storefrontId: principal.storefrontId, apiKeyId: principal.apiKeyId, sandbox: true }, accountId, status, clock.now())
    if (!changed) throw fail.notFound(`Account ${accountId}`)
    return { previous: changed.previous, current: changed.row.status }
  }

  /**
   * force_media_buy_status: any edge of the AdCP media-buy graph (`isLegal`). Canceling or
   * rejecting a buy releases its live holds and bookings through the ledger, as a seller's
   * cancellation does; completing it leaves them (the capacity was used).
   */
  async function forceMediaBuyStatus(
    principal: SandboxPrincipal,
    input: { mediaBuyId: string; status: MediaBuyStatus; reason: string | null },
    isLegal: TransitionRule,
  ): Promise<TransitionOutcome<MediaBuyStatus>> {
    assertSandboxKey(principal)
    return db.transaction().execute(async (trx) => {
      const now = clock.now()
      const found = await findOwnBuy(trx, principal, input.mediaBuyId)
      if (!found) throw fail.notFound(`Media buy ${input.mediaBuyId}`)
      // Reservations before the buy row, the order update_media_buy and a completion lock them in.
      const live = await listLiveReservationsOfBuy(trx, found)
      for (const reservation of live) await ledger.lockById(trx, reservation.id)
      const buy = (await lockBuyByRowId(trx, found.id))!
      if (!isLegal(buy.status, input.status)) {
        throw fail.conflict('INVALID_STATUS_TRANSITION', `Media buy ${input.mediaBuyId} cannot move from ${buy.status} to ${input.status}`, { currentState: buy.status })
      }
      if (input.status === 'canceled' || input.status === 'rejected') {
        for (const reservation of live) {
          await ledger.release({ sourceRowId: reservation.inventory_source_id, reservationId: String(reservation.id), reason: `Sandbox: forced ${input.status}` }, trx)
        }
      }
      const changed = await setMediaBuyStatus(trx, buy.id, {
        status: input.status,
        now,
        ...(input.status === 'canceled' ? { cancellation: { reason: input.reason } } : {}),
      })
      // The seller's change, announced to the buyer in its transaction.
      await enqueueStatusChangeWebhook(trx, secrets, changed, buy.status, now)
      return { previous: buy.status, current: changed.status }
    })
  }

  /** force_create_media_buy_arm: the key's next create_media_buy answers with this arm. */
  async function forceCreateArm(principal: SandboxPrincipal, input: { arm: 'submitted' | 'input-required'; taskId: string | null; message: string | null }): Promise<void> {
    assertSandboxKey(principal)
    if (input.arm === 'submitted' && !input.taskId) throw fail.invalidField('task_id', 'is required for the submitted arm')
    // Refused here, not at the create: a create under a used task id cannot succeed, and the
    // directive it leaves behind (a failed create keeps it for the retry) would fail every later one.
    if (input.taskId && (await isTaskIdTaken(db, input.taskId) || await isTaskIdForcedByAnotherKey(db, { apiKeyId: principal.apiKeyId, taskId: input.taskId }))) {
      throw fail.invalidField('task_id', 'is already in use: choose another, or reset the sandbox (storefront sandbox reset)')
    }
    await putCreateArm(db, { apiKeyId: principal.apiKeyId, arm: input.arm, taskId: input.taskId, message: input.message, now: clock.now() })
  }

  /**
   * For create_media_buy: takes the key's pending directive, if any, inside the create's own
   * transaction (a create that rolls back leaves the directive for the retry). Live keys never
   * have one.
   */
  async function takeCreateDirective(trx: Transaction, principal: SandboxPrincipal): Promise<SandboxCreateArmRow | undefined> {
    if (!principal.sandbox) return undefined
    return takeCreateArm(trx, principal.apiKeyId)
  }

  async function liveLinesOf(trx: Transaction, principal: SandboxPrincipal, mediaBuyId: string): Promise<{ buy: MediaBuyRow; lines: Awaited<ReturnType<typeof listLiveReservationsOfBuy>>; budgets: Map<number, { budget: number; cpm: number }> }> {
    const buy = await findOwnBuy(trx, principal, mediaBuyId)
    if (!buy) throw fail.notFound(`Media buy ${mediaBuyId}`)
    // In package order: the remainder of a split lands on the first package.
    const lines = (await listLiveReservationsOfBuy(trx, buy)).sort((a, b) => a.package_row_id - b.package_row_id)
    if (lines.length === 0) throw fail.invalidField('media_buy_id', 'names a buy without live packages: nothing can deliver')
    const packages = await listBuyPackages(trx, [buy.id])
    const budgets = new Map(packages.map((pkg) => [pkg.id, { budget: Number(pkg.budget), cpm: Number(pkg.cpm) }]))
    return { buy, lines, budgets }
  }

  /** Splits `total` over the weights, in whole units, the remainder on the first line. */
  function split(total: number, weights: number[], decimals: number): number[] {
    const sum = weights.reduce((a, b) => a + b, 0)
    const scale = 10 ** decimals
    const parts = weights.map((weight) => Math.floor((total * scale * weight) / (sum || 1)) / scale)
    const rest = Math.round((total - parts.reduce((a, b) => a + b, 0)) * scale) / scale
    if (parts.length > 0) parts[0] = Math.round((parts[0]! + rest) * scale) / scale
    return parts
  }

  /**
   * simulate_delivery: today's delivery of the buy, split over its packages by their impressions,
   * added to the delivery rows (cumulative, like a day of reports). Spend defaults to impressions x CPM.
   */
  async function simulateDelivery(
    principal: SandboxPrincipal,
    input: { mediaBuyId: string; impressions: number; clicks: number | null; spend: number | null },
  ): Promise<{ impressions: number; clicks: number | null; spend: number; date: string }> {
    assertSandboxKey(principal)
    return db.transaction().execute(async (trx) => {
      const now = clock.now()
      const { buy, lines, budgets } = await liveLinesOf(trx, principal, input.mediaBuyId)
      const weights = lines.map((line) => line.requested_impressions)
      const impressions = split(input.impressions, weights, 0)
      const clicks = input.clicks === null ? null : split(input.clicks, weights, 0)
      const spend = input.spend === null
        ? lines.map((line, i) => Math.round((impressions[i]! * (budgets.get(line.package_row_id)?.cpm ?? 0)) / 10) / 100)
        : split(input.spend, weights, 2)
      for (const [i, line] of lines.entries()) {
        await addSimulatedDelivery(trx, {
          inventorySourceId: line.inventory_source_id, mediaBuyId: buy.media_buy_id, reservationId: line.id, availId: line.avail_id,
          date: dayOf(now), impressions: impressions[i]!, spend: spend[i]!, clicks: clicks ? clicks[i]! : null, now,
        })
      }
      return { impressions: input.impressions, clicks: input.clicks, spend: Math.round(spend.reduce((a, b) => a + b, 0) * 100) / 100, date: dayOf(now) }
    })
  }

  /**
   * simulate_budget_spend: brings each package's delivered spend up to `percentage` of its budget
   * (today's row gets the difference, with the impressions that spend buys at the package's CPM).
   * Spend already past the mark stays: delivery is never taken back.
   */
  async function simulateBudgetSpend(principal: SandboxPrincipal, input: { mediaBuyId: string; percentage: number }): Promise<{ spend: number; budget: number; percentage: number }> {
    assertSandboxKey(principal)
    if (!Number.isFinite(input.percentage) || input.percentage < 0 || input.percentage > 100) throw fail.invalidField('spend_percentage', 'must be between 0 and 100')
    return db.transaction().execute(async (trx) => {
      const now = clock.now()
      const { buy, lines, budgets } = await liveLinesOf(trx, principal, input.mediaBuyId)
      const spent = await sumSpendByReservation(trx, lines.map((line) => line.id))
      let total = 0
      let budgetTotal = 0
      for (const line of lines) {
        const terms = budgets.get(line.package_row_id) ?? { budget: 0, cpm: 0 }
        const target = Math.round(terms.budget * input.percentage) / 100
        const already = spent.get(line.id) ?? 0
        budgetTotal += terms.budget
        total += Math.max(target, already)
        const more = Math.round((target - already) * 100) / 100
        if (more <= 0) continue
        await addSimulatedDelivery(trx, {
          inventorySourceId: line.inventory_source_id, mediaBuyId: buy.media_buy_id, reservationId: line.id, availId: line.avail_id,
          date: dayOf(now), impressions: terms.cpm > 0 ? Math.round((more / terms.cpm) * 1000) : 0, spend: more, clicks: null, now,
        })
      }
      return { spend: Math.round(total * 100) / 100, budget: budgetTotal, percentage: input.percentage }
    })
  }

  return {
    ensureSource,
    seededFormats,
    reset,
    seedProduct,
    seedPricingOption,
    seedCreativeFormat,
    seedMediaBuy,
    forceAccountStatus,
    forceMediaBuyStatus,
    forceCreateArm,
    takeCreateDirective,
    simulateDelivery,
    simulateBudgetSpend,
  }
}

export type SandboxWorkflows = ReturnType<typeof createSandboxWorkflows>
