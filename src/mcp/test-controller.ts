import { isLegalMediaBuyTransition, TestControllerError } from '@adcp/sdk/server'
import type { ComplyControllerConfig, ComplyControllerContext } from '@adcp/sdk/testing'
import type { AccountReference } from '@adcp/sdk/types'
import type { Caller } from '../access/access-service.ts'
import type { BuyerAccountRow, CreativeStatus, MediaBuyStatus } from '../db/tables.ts'
import { CREATIVE_STATUSES } from '../modules/creatives/index.ts'
import { isStorefrontError } from '../shared/errors.ts'
import type { Services } from '../services.ts'
import type { AccountRef } from '../workflows/buyer-workflows.ts'

/**
 * comply_test_controller for sandbox buyer keys (SPEC §4): every scenario writes the real
 * sandbox tables through the sandbox workflows, so what get_products, create_media_buy and
 * get_media_buy_delivery read afterwards is what the controller wrote. The SDK registers the
 * tool and admits only calls whose account resolves to a sandbox account; the agent builds this
 * config only for sandbox keys, so a live key has no such tool at all.
 *
 * A storefront whose sandbox is served by an upstream agent (sandbox supply, docs/sources.md)
 * runs the scenarios about what lives there on the upstream's controller: upstreamSupply.controlUpstream
 * decides which, and translates the ids; the rest run here.
 */

/** The scenarios get_adcp_capabilities may name (its 3.0.6 enum): seeds and the create arm are listed by list_scenarios only. */
export const DECLARED_SCENARIOS = ['force_creative_status', 'force_account_status', 'force_media_buy_status', 'simulate_delivery', 'simulate_budget_spend'] as const

const SEEDABLE_BUY_STATUSES = ['pending_creatives', 'pending_start', 'active', 'paused', 'completed', 'rejected'] as const
type SeedableBuyStatus = (typeof SEEDABLE_BUY_STATUSES)[number]

/** The runner's default sandbox account, for a seed that names none. */
const DEFAULT_SANDBOX_ACCOUNT: AccountRef = { brandDomain: 'test.example', operator: 'test.example', sandbox: true }

/** The storefront's own errors as the controller's typed ones: a bad fixture, a missing entity, an illegal edge. */
function controllerError(error: unknown): never {
  if (!isStorefrontError(error)) throw error
  if (error.code === 'NOT_FOUND') throw new TestControllerError('NOT_FOUND', error.message)
  if (error.code === 'CONFLICT' && error.details?.reason === 'INVALID_STATUS_TRANSITION') {
    const current = error.details.currentState
    throw new TestControllerError('INVALID_TRANSITION', error.message, typeof current === 'string' ? current : null)
  }
  if (error.code === 'VALIDATION_ERROR' || error.code === 'CONFLICT') throw new TestControllerError('INVALID_PARAMS', error.message)
  if (error.code === 'ACCESS_DENIED') throw new TestControllerError('FORBIDDEN', error.message)
  throw error
}

function guarded<P, R>(adapter: (params: P, ctx: ComplyControllerContext) => Promise<R>) {
  return (params: P, ctx: ComplyControllerContext) => adapter(params, ctx).catch(controllerError)
}

/** Our 'submitted' (a buy whose task is open) is not an AdCP status: nothing is forced out of it. */
function isLegalEdge(from: MediaBuyStatus, to: MediaBuyStatus): boolean {
  if (from === 'submitted' || to === 'submitted') return false
  return isLegalMediaBuyTransition(from, to)
}

function wireRefOf(input: Record<string, unknown>): AccountReference | undefined {
  const context = input.context as { account?: unknown } | undefined
  const ref = (input.account ?? context?.account) as AccountReference | undefined
  return ref && typeof ref === 'object' ? ref : undefined
}

function toAccountRef(ref: AccountReference): AccountRef {
  if ('account_id' in ref) return { accountId: ref.account_id }
  return { brandDomain: ref.brand.domain, operator: ref.operator, sandbox: ref.sandbox }
}

function numberOr(value: unknown, fallback: number | null, path: string): number | null {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TestControllerError('INVALID_PARAMS', `${path} must be a non-negative number`)
  return value
}

export function complyTestFor(services: Services, caller: Caller, agentUrl: string): ComplyControllerConfig {
  const { sandbox, buyer, creatives, upstreamSupply } = services

  /** The scenario run on the sandbox supply's controller, its answer as ours; null: it runs here. */
  async function upstream<R>(scenario: string, params: object): Promise<R | null> {
    const answer = await upstreamSupply.controlUpstream(caller, scenario, params as Record<string, unknown>)
    if (answer === null) return null
    const { context: _context, ext: _ext, adcp_version: _version, ...rest } = answer
    if (rest.success !== true) {
      const code = (typeof rest.error === 'string' ? rest.error : 'INVALID_STATE') as ConstructorParameters<typeof TestControllerError>[0]
      throw new TestControllerError(code, typeof rest.error_detail === 'string' ? rest.error_detail : 'The upstream agent\'s controller refused', typeof rest.current_state === 'string' ? rest.current_state : null)
    }
    return rest as R
  }

  async function accountOf(input: Record<string, unknown>): Promise<BuyerAccountRow> {
    const ref = wireRefOf(input)
    const row = await buyer.resolveAccount(caller, ref ? toAccountRef(ref) : DEFAULT_SANDBOX_ACCOUNT)
    if (!row) throw new TestControllerError('NOT_FOUND', 'The account this call names is not one of this key\'s accounts')
    return row
  }

  return {
    seed: {
      product: guarded(async (params) => {
        if (await upstream('seed_product', params)) return
        await sandbox.seedProduct(caller, { productId: params.product_id, fixture: params.fixture })
      }),
      pricing_option: guarded(async (params) => {
        if (await upstream('seed_pricing_option', params)) return
        await sandbox.seedPricingOption(caller, { productId: params.product_id, pricingOptionId: params.pricing_option_id, fixture: params.fixture })
      }),
      creative_format: guarded(async (params) => {
        if (await upstream('seed_creative_format', params)) return
        await sandbox.seedCreativeFormat(caller, { formatId: params.format_id, fixture: params.fixture })
      }),
      creative: guarded(async ({ creative_id, fixture }, ctx) => {
        const status = fixture.status ?? 'approved'
        if (!CREATIVE_STATUSES.includes(status as CreativeStatus)) throw new TestControllerError('INVALID_PARAMS', `fixture.status must be one of ${CREATIVE_STATUSES.join(', ')}`)
        // A format named by id alone is one of this agent's.
        const raw = fixture.format_id
        const format = typeof raw === 'string'
          ? { agentUrl, id: raw }
          : raw && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string'
            ? { agentUrl: typeof (raw as { agent_url?: unknown }).agent_url === 'string' ? (raw as { agent_url: string }).agent_url : agentUrl, id: (raw as { id: string }).id }
            : null
        if (!format) throw new TestControllerError('INVALID_PARAMS', 'fixture.format_id must be a format id')
        const name = typeof fixture.name === 'string' ? fixture.name : undefined
        const assets = fixture.assets && typeof fixture.assets === 'object' ? fixture.assets as Record<string, unknown> : undefined
        const account = await accountOf(ctx.input)
        await creatives.seedCreative(caller, { buyerAccountId: account.id, creativeId: creative_id, name, format, status: status as CreativeStatus, assets })
      }),
      media_buy: guarded(async ({ media_buy_id, fixture }, ctx) => {
        const status = fixture.status ?? 'active'
        if (!SEEDABLE_BUY_STATUSES.includes(status as SeedableBuyStatus)) {
          throw new TestControllerError('INVALID_PARAMS', `fixture.status must be one of ${SEEDABLE_BUY_STATUSES.join(', ')}`)
        }
        const currency = fixture.currency ?? 'USD'
        if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) throw new TestControllerError('INVALID_PARAMS', 'fixture.currency must be an ISO 4217 code')
        await sandbox.seedMediaBuy(caller, await accountOf(ctx.input), { mediaBuyId: media_buy_id, status: status as SeedableBuyStatus, currency })
      }),
    },
    force: {
      account_status: guarded(async ({ account_id, status }) => {
        const { previous, current } = await sandbox.forceAccountStatus(caller, account_id, status)
        return { success: true as const, previous_state: previous, current_state: current }
      }),
      media_buy_status: guarded(async (params) => {
        const forwarded = await upstream<{ success: true; previous_state: string; current_state: string }>('force_media_buy_status', params)
        if (forwarded) return forwarded
        const { media_buy_id, status, rejection_reason } = params
        const { previous, current } = await sandbox.forceMediaBuyStatus(caller, { mediaBuyId: media_buy_id, status, reason: rejection_reason ?? null }, isLegalEdge)
        return { success: true as const, previous_state: previous, current_state: current }
      }),
      creative_status: guarded(async ({ creative_id, status }) => {
        const outcome = await creatives.forceCreativeStatus(caller, creative_id, status as CreativeStatus)
        if (!outcome.ok && outcome.reason === 'NOT_FOUND') throw new TestControllerError('NOT_FOUND', `Creative ${creative_id} not found`)
        if (!outcome.ok) throw new TestControllerError('INVALID_TRANSITION', `A creative cannot go from ${outcome.current} to ${status}`, outcome.current ?? null)
        return { success: true as const, previous_state: outcome.previous, current_state: outcome.current }
      }),
      create_media_buy_arm: guarded(async (params) => {
        const forwarded = await upstream<{ success: true; forced: { arm: typeof params.arm; task_id?: string } }>('force_create_media_buy_arm', params)
        if (forwarded) return forwarded
        const { arm, task_id, message } = params
        await sandbox.forceCreateArm(caller, { arm, taskId: task_id ?? null, message: message ?? null })
        return { success: true as const, forced: { arm, ...(task_id ? { task_id } : {}) }, ...(message ? { message } : {}) }
      }),
    },
    simulate: {
      delivery: guarded(async (params) => {
        const forwarded = await upstream<{ success: true; simulated: Record<string, unknown> }>('simulate_delivery', params)
        if (forwarded) return forwarded
        const impressions = numberOr(params.impressions, 0, 'impressions')!
        const clicks = numberOr(params.clicks, null, 'clicks')
        const spend = params.reported_spend === undefined ? null : numberOr(params.reported_spend.amount, null, 'reported_spend.amount')
        const simulated = await sandbox.simulateDelivery(caller, { mediaBuyId: params.media_buy_id, impressions: Math.round(impressions), clicks: clicks === null ? null : Math.round(clicks), spend })
        return {
          success: true as const,
          simulated: { media_buy_id: params.media_buy_id, date: simulated.date, impressions: simulated.impressions, ...(simulated.clicks === null ? {} : { clicks: simulated.clicks }), spend: simulated.spend },
        }
      }),
      budget_spend: guarded(async (params) => {
        const forwarded = await upstream<{ success: true; simulated: Record<string, unknown> }>('simulate_budget_spend', params)
        if (forwarded) return forwarded
        if (!params.media_buy_id) throw new TestControllerError('INVALID_PARAMS', 'media_buy_id is required: spend is simulated on one buy')
        const percentage = numberOr(params.spend_percentage, null, 'spend_percentage')
        if (percentage === null) throw new TestControllerError('INVALID_PARAMS', 'spend_percentage is required')
        const simulated = await sandbox.simulateBudgetSpend(caller, { mediaBuyId: params.media_buy_id, percentage })
        return { success: true as const, simulated: { media_buy_id: params.media_buy_id, spend_percentage: simulated.percentage, spend: simulated.spend, budget: simulated.budget } }
      }),
    },
  }
}
