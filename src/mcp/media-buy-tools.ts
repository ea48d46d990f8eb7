import {
  AdcpError,
  validActionsForStatus,
  type Account,
  type RequestContext,
  type TaskRegistry,
} from '@adcp/sdk/server'
import type {
  CreateMediaBuyRequest,
  CreateMediaBuySuccess,
  GetMediaBuysRequest,
  GetMediaBuysResponse,
  UpdateMediaBuyRequest,
  UpdateMediaBuySuccess,
} from '@adcp/sdk/types'
import type { Caller } from '../access/access-service.ts'
import { buyerStatusOf, type AdcpMediaBuyStatus } from '../modules/media-buys/index.ts'
import { isStorefrontError } from '../shared/errors.ts'
import type { Services } from '../services.ts'
import { creationResult, type BuyPrincipal, type BuyView } from '../workflows/media-buy-workflows.ts'
import type { AccountMeta } from './adcp-wire.ts'
import { served, sourcesOfPackages } from './served-calls.ts'

/**
 * create_media_buy, get_media_buys and update_media_buy: the AdCP shapes of the media-buy
 * workflows, and the one mapping of their refusals onto AdCP error codes.
 */

type Ctx = RequestContext<Account<AccountMeta>>

const BUYS_PAGE_DEFAULT = 50

/** Storefront refusals (by reason) as AdCP errors; the buyer can correct every one of them. */
const ADCP_CODES: Record<string, string> = {
  PRODUCT_NOT_FOUND: 'PRODUCT_NOT_FOUND',
  PRICING_OPTION_NOT_FOUND: 'INVALID_REQUEST',
  BUDGET_TOO_LOW: 'BUDGET_TOO_LOW',
  CURRENCY_MISMATCH: 'INVALID_REQUEST',
  // Not enough avails: the product cannot take this much now; details carry what it can.
  INSUFFICIENT_CAPACITY: 'PRODUCT_UNAVAILABLE',
  AVAIL_NOT_SELLABLE: 'PRODUCT_UNAVAILABLE',
  NO_BOOKING_LEDGER: 'PRODUCT_UNAVAILABLE',
  MEDIA_BUY_NOT_FOUND: 'MEDIA_BUY_NOT_FOUND',
  PACKAGE_NOT_FOUND: 'PACKAGE_NOT_FOUND',
  MEDIA_BUY_NOT_CANCELLABLE: 'NOT_CANCELLABLE',
  INVALID_MEDIA_BUY_TRANSITION: 'INVALID_STATE',
  REVISION_MISMATCH: 'CONFLICT',
  TERMS_REJECTED: 'TERMS_REJECTED',
  PACKAGES_SPAN_SOURCES: 'INVALID_REQUEST',
  UPSTREAM_AGENT_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
}

function snake(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(details).map(([key, value]) => [key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), value]))
}

export function toMediaBuyError(error: unknown): never {
  if (!isStorefrontError(error)) throw error
  const { reason, issues, field: detailField, ...rest } = error.details ?? {}
  const field = (typeof detailField === 'string' ? detailField : undefined) ?? issues?.[0]?.path
  // An upstream agent's refusal keeps the agent's own AdCP code: it is the buyer's to read.
  const upstreamCode = reason === 'UPSTREAM_AGENT_REFUSED' && typeof rest.upstreamCode === 'string' ? rest.upstreamCode : undefined
  if (upstreamCode) delete rest.upstreamCode
  const code = upstreamCode ?? (reason && ADCP_CODES[reason]) ?? (error.code === 'VALIDATION_ERROR' ? 'INVALID_REQUEST' : undefined)
  if (!code) throw error
  const details = Object.keys(rest).length > 0 ? snake(rest) : undefined
  throw new AdcpError(code, { message: error.message, recovery: 'correctable', ...(field ? { field } : {}), ...(details ? { details } : {}) })
}

function principalOf(caller: Caller, ctx: Ctx): BuyPrincipal {
  const account = ctx.account
  const rowId = account?.ctx_metadata?.rowId
  if (!account || rowId === undefined) throw new AdcpError('ACCOUNT_NOT_FOUND', { message: 'The request names no account of this buyer key', field: 'account', recovery: 'correctable' })
  return { storefrontId: caller.storefrontId, apiKeyId: caller.apiKeyId, sandbox: caller.sandbox, accountRowId: rowId, accountId: account.id }
}

function wirePackages(buy: BuyView) {
  return buy.packages.map((pkg) => ({
    package_id: pkg.package_id,
    product_id: pkg.product_id,
    pricing_option_id: pkg.pricing_option_id,
    budget: pkg.budget,
    currency: buy.row.currency,
    impressions: pkg.impressions,
    paused: pkg.paused,
    canceled: pkg.canceled_at !== null || buy.row.status === 'canceled',
    ...(pkg.targeting_overlay ? { targeting_overlay: pkg.targeting_overlay as Record<string, unknown> } : {}),
    start_time: buy.row.start_time.toISOString(),
    end_time: buy.row.end_time.toISOString(),
  }))
}

function wireBuy(buy: BuyView): GetMediaBuysResponse['media_buys'][number] {
  const { row } = buy
  const status = buyerStatusOf(row.status)
  return {
    media_buy_id: row.media_buy_id,
    status,
    currency: row.currency,
    total_budget: buy.packages.filter((pkg) => pkg.canceled_at === null).reduce((sum, pkg) => sum + pkg.budget, 0),
    start_time: row.start_time.toISOString(),
    end_time: row.end_time.toISOString(),
    ...(row.confirmed_at ? { confirmed_at: row.confirmed_at.toISOString() } : {}),
    ...(row.status === 'canceled' && row.canceled_at && row.canceled_by
      ? { cancellation: { canceled_at: row.canceled_at.toISOString(), canceled_by: row.canceled_by, ...(row.cancellation_reason ? { reason: row.cancellation_reason } : {}) } }
      : {}),
    revision: row.revision,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    valid_actions: validActionsForStatus(status),
    packages: wirePackages(buy),
  } as GetMediaBuysResponse['media_buys'][number]
}

/** The registry as the framework calls it: `_registerBackground` is internal (absent from the .d.ts). */
type BackgroundRegistry = TaskRegistry & { _registerBackground(taskId: string, completion: Promise<unknown>): void }

/**
 * The SDK's task registry, with one difference for the tasks of submitted media buys: their row is
 * written in the buy's own transaction (so the task exists exactly when the buy does) and settled
 * by whichever process books the holds. The framework's `create` for such a task finds it already
 * there, and its process-local background arm is left unregistered: nothing of this process waits.
 */
export function storeOwnedTasks(registryOfSdk: TaskRegistry, followUpstream?: (taskId: string) => Promise<void>) {
  const inner = registryOfSdk as BackgroundRegistry
  const owned = new Set<string>()
  const registry: BackgroundRegistry = {
    async create(opts) {
      if (opts.overrideTaskId !== undefined && owned.has(opts.overrideTaskId)) return { taskId: opts.overrideTaskId }
      return inner.create(opts)
    },
    // A forwarded buy's task is settled from the upstream agent's before it is read.
    async getTask(taskId) {
      if (followUpstream) await followUpstream(taskId)
      return inner.getTask(taskId)
    },
    complete: (taskId, result) => inner.complete(taskId, result),
    fail: (taskId, error) => inner.fail(taskId, error),
    updateProgress: (taskId, progress) => inner.updateProgress(taskId, progress),
    _registerBackground(taskId, completion) {
      if (owned.delete(taskId)) return
      inner._registerBackground(taskId, completion)
    },
    awaitTask: (taskId) => inner.awaitTask(taskId),
  }
  return {
    registry,
    /** The handler's answer for a submitted buy: the framework's submitted envelope, with our task id. */
    submitted(ctx: Ctx, taskId: string) {
      owned.add(taskId)
      // The store settles the task; this arm never does (a promise nothing references is collected).
      return ctx.handoffToTask<CreateMediaBuySuccess>(() => new Promise<never>(() => {}), { task_id: taskId })
    },
  }
}

export type StoreOwnedTasks = ReturnType<typeof storeOwnedTasks>

type PushConfig = { url: string } & Record<string, unknown>

export function mediaBuyTools(services: Services, caller: Caller, tasks: StoreOwnedTasks) {
  const { mediaBuys, upstreamSupply } = services
  return {
    createMediaBuy: (request: CreateMediaBuyRequest, ctx: Ctx) => served(services, caller, 'create_media_buy', async (note) => {
      const principal = principalOf(caller, ctx)
      if (!request.packages?.length) throw new AdcpError('INVALID_REQUEST', { message: 'packages: at least one package is required', field: 'packages', recovery: 'correctable' })
      const upstream = await upstreamSupply.upstreamSourceOf(caller, request.packages.map((pkg) => pkg.product_id)).catch(toMediaBuyError)
      if (upstream) {
        const forwarded = await upstreamSupply.createForwarded(principal, upstream, {
          idempotencyKey: request.idempotency_key,
          brandDomain: ctx.account.brand?.domain ?? request.brand?.domain ?? 'unknown',
          operator: ctx.account.operator ?? 'unknown',
          request: request as unknown as Parameters<typeof upstreamSupply.createForwarded>[2]['request'],
        }).catch(toMediaBuyError)
        if (forwarded.kind === 'submitted') return tasks.submitted(ctx, forwarded.taskId)
        return { ...forwarded.result, idempotency_key: request.idempotency_key } as unknown as CreateMediaBuySuccess
      }
      // The buy's modular sources served the call, whether it is placed or refused.
      note.sources = sourcesOfPackages(caller, request.packages)
      const outcome = await mediaBuys.create(principal, {
        idempotencyKey: request.idempotency_key,
        brandDomain: request.brand?.domain ?? ctx.account.brand?.domain ?? 'unknown',
        startTime: request.start_time,
        endTime: request.end_time,
        poNumber: request.po_number,
        packages: request.packages.map((pkg) => ({
          productId: pkg.product_id,
          pricingOptionId: pkg.pricing_option_id,
          budget: pkg.budget,
          impressions: pkg.impressions,
          paused: pkg.paused,
          targetingOverlay: pkg.targeting_overlay,
          measurementTerms: pkg.measurement_terms && {
            billingMeasurement: pkg.measurement_terms.billing_measurement && {
              measurementWindow: pkg.measurement_terms.billing_measurement.measurement_window,
              maxVariancePercent: pkg.measurement_terms.billing_measurement.max_variance_percent,
            },
          },
        })),
        pushNotification: request.push_notification_config as PushConfig | undefined,
        reportingWebhook: request.reporting_webhook as PushConfig | undefined,
      }).catch(toMediaBuyError)
      // The placed buy's packages know their sources' rows: the record needs no lookup of them.
      const rowIdOf = new Map(outcome.buy.packages.map((pkg) => [pkg.source_id, pkg.inventory_source_id]))
      note.sources = note.sources.map((source) => ({ ...source, sourceRowId: rowIdOf.get(source.sourceId), currency: outcome.buy.row.currency, mediaBuyId: outcome.buy.row.media_buy_id }))
      if (outcome.kind === 'submitted') {
        note.submitted = true
        return tasks.submitted(ctx, outcome.taskId)
      }
      // The key echoed: a buyer (and the idempotency storyboard) ties the answer to the request.
      return { ...creationResult(outcome.buy), packages: wirePackages(outcome.buy), idempotency_key: outcome.buy.row.idempotency_key } as unknown as CreateMediaBuySuccess
    }),

    getMediaBuys: (request: GetMediaBuysRequest, ctx: Ctx): Promise<GetMediaBuysResponse> => served(services, caller, 'get_media_buys', async (note) => {
      const principal = principalOf(caller, ctx)
      const ids = request.media_buy_ids
      note.mediaBuyIds = ids ?? []
      // AdCP: without ids the default filter is ["active"]; with ids every status is returned.
      const statuses = (request.status_filter === undefined
        ? (ids?.length ? undefined : ['active'])
        : Array.isArray(request.status_filter) ? request.status_filter : [request.status_filter]) as AdcpMediaBuyStatus[] | undefined
      const page = await note.measure(() => mediaBuys.list(principal, {
        mediaBuyIds: ids,
        statuses,
        limit: request.pagination?.max_results ?? BUYS_PAGE_DEFAULT,
        cursor: request.pagination?.cursor,
      })).catch(toMediaBuyError)
      // Buys forwarded to upstream agents follow the storefront's own, on the last page.
      // The sources of the buys named or listed here served the call (forwarded buys are the upstream client's to record).
      note.mediaBuyIds = [...new Set([...(ids ?? []), ...page.buys.map((buy) => buy.row.media_buy_id)])]
      const forwarded = page.nextCursor === null
        ? await upstreamSupply.listForwarded(caller, ids, statuses).catch(toMediaBuyError)
        : []
      return {
        media_buys: [...page.buys.map(wireBuy), ...(forwarded as unknown as GetMediaBuysResponse['media_buys'])],
        pagination: { has_more: page.nextCursor !== null, ...(page.nextCursor ? { cursor: page.nextCursor } : {}), total_count: page.total + forwarded.length },
      }
    }),

    updateMediaBuy: (mediaBuyId: string, patch: UpdateMediaBuyRequest, ctx: Ctx): Promise<UpdateMediaBuySuccess> => served(services, caller, 'update_media_buy', async (note) => {
      const principal = principalOf(caller, ctx)
      const forwarded = await upstreamSupply.findForwarded(caller, mediaBuyId)
      if (forwarded) {
        const { media_buy_id: _id, account: _account, ...asked } = patch as UpdateMediaBuyRequest & { account?: unknown }
        return await upstreamSupply.updateForwarded(caller, forwarded, asked).catch(toMediaBuyError) as unknown as UpdateMediaBuySuccess
      }
      note.mediaBuyIds = [mediaBuyId]
      const request = patch as UpdateMediaBuyRequest & { canceled?: boolean; cancellation_reason?: string; paused?: boolean; revision?: number }
      const { buy, affectedPackageIds } = await mediaBuys.update(principal, mediaBuyId, {
        revision: request.revision,
        paused: request.paused,
        canceled: request.canceled,
        cancellationReason: request.cancellation_reason,
        packages: request.packages?.map((pkg) => {
          const item = pkg as typeof pkg & { package_id: string; canceled?: boolean; creative_assignments?: Array<{ creative_id: string; weight?: number }> }
          return {
            packageId: item.package_id,
            creativeAssignments: item.creative_assignments?.map((assignment) => ({ creativeId: assignment.creative_id, weight: assignment.weight ?? null })),
            budget: item.budget,
            impressions: item.impressions,
            paused: item.paused,
            canceled: item.canceled,
            targetingOverlay: item.targeting_overlay,
          }
        }),
      }).catch(toMediaBuyError)
      const packages = wirePackages(buy).filter((pkg) => affectedPackageIds.includes(pkg.package_id))
      return {
        media_buy_id: buy.row.media_buy_id,
        status: buyerStatusOf(buy.row.status),
        revision: buy.row.revision,
        affected_packages: packages,
        valid_actions: validActionsForStatus(buyerStatusOf(buy.row.status)),
      } as UpdateMediaBuySuccess
    }),
  }
}
