import { createHash } from 'node:crypto'
import type { Database, Transaction } from '../db/database.ts'
import type { ForwardedMediaBuyRow, InventorySourceRow } from '../db/tables.ts'
import { enqueueWebhook, taskWebhookPayload, webhookIdempotencyKey, type WireWebhookAuthentication } from '../modules/buyer-webhooks/index.ts'
import { CREATIVES_MAX_LIMIT, listCreatives } from '../modules/creatives/index.ts'
import { insertTask, newMediaBuyId, newTaskId, settleTask } from '../modules/media-buys/index.ts'
import { adcpProductId, parseAdcpProductId } from '../modules/products/index.ts'
import { putCreateArm, takeCreateArm } from '../modules/sandbox/index.ts'
import type { Clock } from '../shared/clock.ts'
import { fail, StorefrontError } from '../shared/errors.ts'
import type { SecretBox } from '../shared/secret-box.ts'
import type { UpstreamAgentClient, UpstreamCallResult } from '../sources/upstream-agent-client.ts'
import { upstreamProductsOf } from '../sources/upstream-products.ts'
import {
  agentTargetOf,
  ensureForwardedPackages,
  findForwardedBuyByIdempotencyKey,
  findForwardedBuyByTask,
  findSourceByRowId,
  insertForwardedBuy,
  listForwardedBuysAwaitingUpstream,
  listUpstreamAgentSources,
  listForwardedPackages,
  listOwnForwardedBuys,
  recordUpstreamOutcome,
  setUpstreamMediaBuyId,
} from '../sources/upstream-store.ts'
import type { BuyerPrincipal } from './buyer-workflows.ts'
import type { BuyPrincipal } from './media-buy-workflows.ts'

/**
 * Upstream AdCP agents (ACTIVE AGENT sources, and ACTIVE managed sources with their tenant's MCP
 * endpoint: listUpstreamAgentSources) as supply of the storefront's one buyer-facing
 * agent: their products are listed next to the modular sources' under the source's namespace
 * (`<sourceId>:<upstream product_id>`), and a buy of their products is forwarded to the agent,
 * where it lives; the storefront keeps only its own media_buy_id for it (forwarded_media_buy).
 *
 * The storefront is the upstream's buyer, with the source's stored credential; the upstream
 * account of a forwarded buy is the buyer account's brand + operator, synced upstream before
 * the buy, billed to the agent (the storefront). Payloads stay AdCP: the storefront only renames ids on the way back.
 *
 * Sandbox supply (docs/sources.md): an AGENT source flagged sandbox (its credential a sandbox key
 * of the upstream) serves the storefront's sandbox keys exactly as live agents serve live keys, and
 * nothing else: a live key never reaches it, a sandbox key reaches no live agent. Its product ids
 * are bare, as the storefront's own sandbox products are, and comply_test_controller scenarios
 * about products, buys and delivery run on the upstream's controller (controlUpstream).
 */

export interface UpstreamSupplyDeps {
  db: Database
  clock: Clock
  secrets: SecretBox
  call: UpstreamAgentClient
}

export interface UpstreamProduct {
  sourceId: string
  /** The upstream's AdCP product, its product_id namespaced by the source. */
  product: Record<string, unknown> & { product_id: string }
}

export interface ForwardedCreateInput {
  idempotencyKey: string
  brandDomain: string
  operator: string
  /** The AdCP create_media_buy request as the buyer sent it; packages name storefront product ids. */
  request: Record<string, unknown> & { packages: Array<Record<string, unknown> & { product_id: string }> }
}

export type ForwardedCreateOutcome =
  | { kind: 'confirmed'; result: Record<string, unknown> }
  | { kind: 'submitted'; taskId: string }

type Payload = Record<string, unknown>

/** The comply_test_controller scenarios about what lives on a sandbox supply agent (controlUpstream). */
const UPSTREAM_SCENARIOS = new Set([
  'seed_product',
  'seed_pricing_option',
  'seed_creative_format',
  'force_media_buy_status',
  'force_create_media_buy_arm',
  'simulate_delivery',
  'simulate_budget_spend',
])

function isRecord(value: unknown): value is Payload {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The idempotency_key sent upstream: one per (storefront, buyer key, buyer's key), so a retry
 * after a lost answer replays upstream too, and nothing of the buyer's key travels.
 */
function upstreamKeyOf(principal: { storefrontId: number; apiKeyId: number }, idempotencyKey: string, purpose: string): string {
  return `sf_${createHash('sha256').update(`${principal.storefrontId}:${principal.apiKeyId}:${purpose}:${idempotencyKey}`).digest('hex').slice(0, 40)}`
}

function unavailable(source: InventorySourceRow, message: string): StorefrontError {
  return new StorefrontError('UPSTREAM_ERROR', `The agent of source ${source.source_id} could not complete the task: ${message}`, { reason: 'UPSTREAM_AGENT_UNAVAILABLE' })
}

function refusal(result: Extract<UpstreamCallResult, { ok: false }>, source: InventorySourceRow): StorefrontError {
  if (result.kind === 'unavailable') return unavailable(source, result.message)
  return new StorefrontError('VALIDATION_ERROR', `The agent of source ${source.source_id} refused: ${result.message}`, {
    reason: 'UPSTREAM_AGENT_REFUSED',
    upstreamCode: result.code,
    ...(result.field ? { field: result.field } : {}),
  })
}

/** An upstream buy or package payload with the storefront's ids: its media_buy_id, namespaced product ids. */
function renamed(payload: Payload, source: InventorySourceRow, mediaBuyId: string): Payload {
  const rename = (pkg: unknown) => (isRecord(pkg) && typeof pkg.product_id === 'string' ? { ...pkg, product_id: buyerProductId(source, pkg.product_id) } : pkg)
  return {
    ...payload,
    media_buy_id: mediaBuyId,
    ...(Array.isArray(payload.packages) ? { packages: payload.packages.map(rename) } : {}),
    ...(Array.isArray(payload.affected_packages) ? { affected_packages: payload.affected_packages.map(rename) } : {}),
  }
}

/**
 * The payload with every package id (`package_id`, `package_ids`, at any depth) passed through
 * rename, which is told where it stands: packages are named in packages, affected_packages,
 * by_package and more, and none may slip through unrenamed.
 */
function withPackageIds(value: unknown, rename: (id: string, path: string) => string, path = ''): unknown {
  if (Array.isArray(value)) return value.map((item, index) => withPackageIds(item, rename, `${path}[${index}]`))
  if (!isRecord(value)) return value
  return Object.fromEntries(Object.entries(value).map(([key, item]) => {
    const at = path ? `${path}.${key}` : key
    if (key === 'package_id' && typeof item === 'string') return [key, rename(item, at)]
    if (key === 'package_ids' && Array.isArray(item)) return [key, item.map((id, index) => (typeof id === 'string' ? rename(id, `${at}[${index}]`) : id))]
    return [key, withPackageIds(item, rename, at)]
  }))
}

/** The product id a buyer sees for an upstream product: namespaced by the source, bare for sandbox supply. */
function buyerProductId(source: InventorySourceRow, upstreamProductId: string): string {
  return adcpProductId(source.source_id, upstreamProductId, { sandbox: source.sandbox_supply })
}

/**
 * The upstream's own id of a product the buyer names (`path` says where), refusing a product of
 * any other source: what a forwarded create or update sends is always the agent's own product.
 */
function upstreamProductIdOf(source: InventorySourceRow, productId: unknown, path: string): string {
  const ids = typeof productId === 'string' ? parseAdcpProductId(productId, source.sandbox_supply ? source.source_id : null) : null
  if (!ids || ids.sourceId !== source.source_id) {
    throw fail.invalidField(path, `is not a product of upstream agent ${source.source_id}, where this media buy lives; one media buy lives on one agent`, 'PACKAGES_SPAN_SOURCES')
  }
  return ids.availId
}

/** The creative ids a create or update assigns (creative_assignments, creative_ids) in its packages and new_packages. */
function assignedCreativeIds(request: Payload): string[] {
  const ids = new Set<string>()
  for (const key of ['packages', 'new_packages']) {
    const packages = request[key]
    if (!Array.isArray(packages)) continue
    for (const pkg of packages) {
      if (!isRecord(pkg)) continue
      if (Array.isArray(pkg.creative_assignments)) {
        for (const assignment of pkg.creative_assignments) if (isRecord(assignment) && typeof assignment.creative_id === 'string') ids.add(assignment.creative_id)
      }
      if (Array.isArray(pkg.creative_ids)) for (const id of pkg.creative_ids) if (typeof id === 'string') ids.add(id)
    }
  }
  return [...ids]
}

export function createUpstreamSupplyWorkflows({ db, clock, secrets, call }: UpstreamSupplyDeps) {
  async function ask(source: InventorySourceRow, tool: string, args: Payload): Promise<UpstreamCallResult> {
    const result = await call(agentTargetOf(source, secrets), tool, args)
    // An agent that cannot be reached is the source's health; a refusal of one buyer's request is not.
    if (!result.ok && result.kind === 'unavailable') await recordUpstreamOutcome(db, source, clock.now(), `${tool}: ${result.message}`)
    return result
  }

  function accountOf(row: Pick<ForwardedMediaBuyRow, 'upstream_brand_domain' | 'upstream_operator'>) {
    return { brand: { domain: row.upstream_brand_domain }, operator: row.upstream_operator }
  }

  /** The agents a key buys from: a live key the live AGENT sources, a sandbox key its storefront's sandbox supply. */
  function agentsOf(principal: BuyerPrincipal): Promise<InventorySourceRow[]> {
    return listUpstreamAgentSources(db, principal.storefrontId, { sandbox: principal.sandbox })
  }

  /** The storefront's ACTIVE sandbox supply for a sandbox key; null for a live key or when the storefront's own sandbox serves it. */
  async function sandboxSupplyOf(principal: BuyerPrincipal): Promise<InventorySourceRow | null> {
    if (!principal.sandbox) return null
    return (await agentsOf(principal))[0] ?? null
  }

  /**
   * The creatives a forwarded create or update assigns, sent to the agent first (sync_creatives
   * under the buy's upstream account) from the key's library: the buyer synced them here, and the
   * upstream can only assign creatives it has. One it refuses is the upstream's to name on the buy.
   */
  async function pushCreatives(principal: BuyerPrincipal, source: InventorySourceRow, account: Payload, request: Payload, key: string, purpose: string): Promise<void> {
    const creativeIds = assignedCreativeIds(request)
    if (creativeIds.length === 0) return
    const { rows } = await listCreatives(db, { storefrontId: principal.storefrontId, apiKeyId: principal.apiKeyId, sandbox: principal.sandbox }, { creativeIds, limit: CREATIVES_MAX_LIMIT })
    if (rows.length === 0) return
    const creatives = rows.map((row) => ({
      creative_id: row.creative_id,
      name: row.name,
      format_id: row.format,
      assets: row.assets,
      ...(row.industry_identifiers.length ? { industry_identifiers: row.industry_identifiers } : {}),
      ...(row.tags.length ? { tags: row.tags } : {}),
    }))
    // The content is part of the key: a retry replays upstream, a creative changed since is a new sync.
    const content = createHash('sha256').update(JSON.stringify(creatives)).digest('hex')
    const synced = await ask(source, 'sync_creatives', { account, creatives, idempotency_key: upstreamKeyOf(principal, key, `${purpose}:${content}`) })
    if (!synced.ok) throw refusal(synced, source)
  }

  /**
   * An upstream answer about a forwarded buy as its buyer sees it: the storefront's media_buy_id
   * and package ids (each upstream package mapped the first time it is named), namespaced
   * product ids.
   */
  async function ours(payload: Payload, source: InventorySourceRow, row: ForwardedMediaBuyRow): Promise<Payload> {
    const upstreamIds: string[] = []
    withPackageIds(payload, (id) => {
      upstreamIds.push(id)
      return id
    })
    const mapping = new Map((await ensureForwardedPackages(db, row.id, upstreamIds, clock.now())).map((pkg) => [pkg.upstream_package_id, pkg.package_id]))
    return renamed(withPackageIds(payload, (id) => mapping.get(id)!) as Payload, source, row.media_buy_id)
  }

  /**
   * get_products of every upstream agent, asked in parallel, each within the client's time
   * bound; an agent that fails or times out is left out and recorded on its source. A sandbox
   * key sees only its sandbox supply (bare ids), never a live agent.
   */
  async function listProducts(principal: BuyerPrincipal, request: Payload, limit: number): Promise<UpstreamProduct[]> {
    const sources = await agentsOf(principal)
    const lists = await Promise.all(sources.map(async (source): Promise<UpstreamProduct[]> => {
      const result = await call(agentTargetOf(source, secrets), 'get_products', { ...request, pagination: { max_results: limit } })
      const now = clock.now()
      if (!result.ok) {
        await recordUpstreamOutcome(db, source, now, `get_products: ${result.kind === 'adcp_error' ? `${result.code}: ${result.message}` : result.message}`)
        return []
      }
      const { products, rejected } = await upstreamProductsOf(result.payload)
      await recordUpstreamOutcome(db, source, now, rejected > 0 ? `get_products: ${rejected} products are not AdCP products and are not sold` : null)
      return products.map((product) => ({ sourceId: source.source_id, product: { ...product, product_id: buyerProductId(source, product.product_id) } }))
    }))
    return lists.flat().slice(0, limit)
  }

  /**
   * The upstream agent a buy's packages live on, or null when none is upstream. One buy lives in
   * one place: packages on an upstream agent and on another source (or another agent) are refused.
   * A sandbox key with sandbox supply buys only there: a bare id is the supply's, any other is no product.
   */
  async function upstreamSourceOf(principal: BuyerPrincipal, productIds: string[]): Promise<InventorySourceRow | null> {
    const agents = new Map((await agentsOf(principal)).map((source) => [source.source_id, source]))
    if (agents.size === 0) return null
    const supply = principal.sandbox ? [...agents.values()][0]! : null
    let upstream: { source: InventorySourceRow; index: number } | null = null
    let local: number | null = null
    for (const [index, productId] of productIds.entries()) {
      const ids = parseAdcpProductId(productId, supply?.source_id ?? null)
      const source = ids ? agents.get(ids.sourceId) : undefined
      if (!source && supply) {
        throw new StorefrontError('NOT_FOUND', `packages[${index}].product_id: no sellable product ${productId}`, {
          reason: 'PRODUCT_NOT_FOUND', issues: [{ path: `packages[${index}].product_id`, message: 'is not a product of the sandbox' }],
        })
      }
      if (!source) {
        local ??= index
        continue
      }
      if (upstream && upstream.source.id !== source.id) {
        throw fail.invalidField(`packages[${index}].product_id`, `is a product of upstream agent ${source.source_id}, while packages[${upstream.index}] is one of ${upstream.source.source_id}; one media buy lives on one agent`, 'PACKAGES_SPAN_SOURCES')
      }
      upstream ??= { source, index }
    }
    if (upstream && local !== null) {
      const index = Math.max(local, upstream.index)
      throw fail.invalidField(`packages[${index}].product_id`, `mixes products of upstream agent ${upstream.source.source_id} with products of this storefront's own sources; one media buy lives in one place`, 'PACKAGES_SPAN_SOURCES')
    }
    return upstream?.source ?? null
  }

  /**
   * create_media_buy forwarded to the agent its packages live on. A confirmed upstream buy is
   * mapped at once; a submitted one gets a storefront task the buyer polls, which follows the
   * upstream's task (followTask).
   */
  async function createForwarded(principal: BuyPrincipal, source: InventorySourceRow, input: ForwardedCreateInput): Promise<ForwardedCreateOutcome> {
    const account = { brand: { domain: input.brandDomain }, operator: input.operator }
    // Billed to the agent: the upstream's buyer is the storefront, whose credential places the buy.
    const synced = await ask(source, 'sync_accounts', { accounts: [{ ...account, billing: 'agent' }], idempotency_key: upstreamKeyOf(principal, input.idempotencyKey, 'sync_accounts') })
    if (!synced.ok) throw refusal(synced, source)

    const { request } = input
    const packages = request.packages.map((pkg, index) => ({ ...pkg, product_id: upstreamProductIdOf(source, pkg.product_id, `packages[${index}].product_id`) }))
    await pushCreatives(principal, source, account, request, input.idempotencyKey, 'sync_creatives')
    const forwarded: Payload = {
      idempotency_key: upstreamKeyOf(principal, input.idempotencyKey, 'create_media_buy'),
      account,
      brand: request.brand ?? { domain: input.brandDomain },
      start_time: request.start_time,
      end_time: request.end_time,
      ...(request.po_number !== undefined ? { po_number: request.po_number } : {}),
      packages,
    }
    const created = await ask(source, 'create_media_buy', forwarded)
    if (!created.ok) throw refusal(created, source)
    const payload = created.payload
    // force_create_media_buy_arm was also sent upstream (controlUpstream); the key's own directive
    // is consumed with it, and its task_id is the one the buyer sees.
    const directive = principal.sandbox ? await db.transaction().execute((trx) => takeCreateArm(trx, principal.apiKeyId)) : undefined
    const owner = { storefrontId: principal.storefrontId, apiKeyId: principal.apiKeyId }
    // A retry the SDK's replay cache missed: the upstream replayed its answer, and so do we.
    const existing = await findForwardedBuyByIdempotencyKey(db, owner, input.idempotencyKey)
    const now = clock.now()
    const base = {
      storefrontId: principal.storefrontId,
      apiKeyId: principal.apiKeyId,
      accountRowId: principal.accountRowId,
      sourceRowId: source.id,
      idempotencyKey: input.idempotencyKey,
      brandDomain: input.brandDomain,
      operator: input.operator,
      // Kept for the storefront's own task webhook; never sent upstream (it would carry upstream ids).
      pushNotificationSealed: isRecord(request.push_notification_config) ? secrets.sealJson(request.push_notification_config) : null,
      now,
    }
    // The key's buy with this idempotency_key, written by the first of two racing creates: the
    // second answers as the first did.
    const replay = async (): Promise<ForwardedCreateOutcome> => {
      const row = (await findForwardedBuyByIdempotencyKey(db, owner, input.idempotencyKey))!
      return row.task_id ? { kind: 'submitted', taskId: row.task_id } : { kind: 'confirmed', result: await ours(payload, source, row) }
    }
    if (typeof payload.media_buy_id === 'string') {
      if (existing) return { kind: 'confirmed', result: await ours(payload, source, existing) }
      const row = await insertForwardedBuy(db, { ...base, mediaBuyId: newMediaBuyId(), upstreamMediaBuyId: payload.media_buy_id, upstreamTaskId: null, taskId: null })
      return row ? { kind: 'confirmed', result: await ours(payload, source, row) } : replay()
    }
    if (payload.status === 'submitted' && typeof payload.task_id === 'string') {
      if (existing?.task_id) return { kind: 'submitted', taskId: existing.task_id }
      const taskId = directive?.arm === 'submitted' && directive.task_id ? directive.task_id : newTaskId()
      const upstreamTaskId = payload.task_id
      const inserted = await db.transaction().execute(async (trx) => {
        // The buy first: when a racing create wrote it, no task of ours is opened for nothing.
        const row = await insertForwardedBuy(trx, { ...base, mediaBuyId: newMediaBuyId(), upstreamMediaBuyId: null, upstreamTaskId, taskId })
        if (row) await insertTask(trx, { taskId, tool: 'create_media_buy', accountId: principal.accountId, hasWebhook: false, now })
        return row
      })
      return inserted ? { kind: 'submitted', taskId } : replay()
    }
    throw unavailable(source, 'create_media_buy answered neither a media_buy_id nor a submitted task')
  }

  /**
   * Before the storefront answers tasks/get for a forwarded buy's task, the upstream's task is
   * read: once it completed (or failed) the storefront's task settles with the same outcome, ids
   * renamed. An upstream that cannot be asked leaves the task as it was (still submitted).
   */
  async function followTask(taskId: string): Promise<void> {
    const row = await findForwardedBuyByTask(db, taskId)
    if (row) await followForwarded(row)
  }

  /** One forwarded buy's upstream task read and, once it ended, the storefront's task settled. */
  async function followForwarded(row: ForwardedMediaBuyRow): Promise<'settled' | 'open' | 'unreachable'> {
    const taskId = row.task_id
    if (taskId === null || row.upstream_media_buy_id !== null || row.upstream_task_id === null) return 'open'
    const source = await findSourceByRowId(db, row.inventory_source_id)
    if (!source) return 'open'
    const result = await ask(source, 'tasks_get', { task_id: row.upstream_task_id, account: accountOf(row) })
    if (!result.ok) return result.kind === 'unavailable' ? 'unreachable' : 'open'
    const { status, result: body, error } = result.payload
    const now = clock.now()
    const config = row.push_notification_sealed ? secrets.openJson<{ url?: unknown; token?: unknown; authentication?: WireWebhookAuthentication }>(row.push_notification_sealed) : null
    const token = typeof config?.token === 'string' ? config.token : undefined
    // The buyer's webhook, with the storefront's own ids, is written to the outbox in the
    // transaction that settles the task (as settleSubmittedBuys does for the storefront's own buys).
    const enqueueNotice = async (trx: Transaction, payload: Payload): Promise<void> => {
      if (!config || typeof config.url !== 'string') return
      const operationId = `create_media_buy.${taskId}`
      await enqueueWebhook(trx, secrets, {
        storefrontId: row.storefront_id,
        mediaBuyRowId: null,
        operationId,
        idempotencyKey: webhookIdempotencyKey(operationId),
        url: config.url,
        authentication: config.authentication,
        sandbox: source.sandbox_supply,
        payload,
      }, now)
    }
    if (status === 'completed' && isRecord(body) && typeof body.media_buy_id === 'string') {
      const upstreamId = body.media_buy_id
      const result = await ours(body, source, row)
      return db.transaction().execute(async (trx) => {
        await setUpstreamMediaBuyId(trx, row.id, upstreamId, now)
        if (!await settleTask(trx, taskId, { status: 'completed', result }, now)) return 'open' as const
        await enqueueNotice(trx, taskWebhookPayload({ task_id: taskId, task_type: 'create_media_buy', status: 'completed', timestamp: now, result, token }))
        return 'settled' as const
      })
    }
    if (status === 'failed' || status === 'canceled' || status === 'rejected') {
      const detail = isRecord(error) ? error : {}
      const failure = {
        code: typeof detail.code === 'string' ? detail.code : 'SERVICE_UNAVAILABLE',
        message: typeof detail.message === 'string' ? detail.message : `The upstream agent's task ended ${String(status)}`,
        recovery: 'terminal',
      }
      return db.transaction().execute(async (trx) => {
        if (!await settleTask(trx, taskId, { status: 'failed', error: failure }, now)) return 'open' as const
        await enqueueNotice(trx, taskWebhookPayload({ task_id: taskId, task_type: 'create_media_buy', status: 'failed', timestamp: now, error: failure, token }))
        return 'settled' as const
      })
    }
    return 'open'
  }

  /**
   * The sweep's follow of every forwarded buy still waiting on its upstream task, a page at a
   * time: a buyer who only waits for its webhook is told once the upstream decides, without anyone
   * polling tasks/get. An upstream that cannot be asked is skipped for the rest of the sweep (its
   * other buys are not asked: one dead agent costs one time bound, not one per buy) and tried again next sweep.
   */
  async function followOpenTasks(options: { pageSize?: number; onError?: (taskId: string | null, error: unknown) => void } = {}): Promise<{ settled: number; failed: number }> {
    let settled = 0
    let failed = 0
    let afterRowId = 0
    const unreachable = new Set<number>()
    for (;;) {
      const page = await listForwardedBuysAwaitingUpstream(db, afterRowId, options.pageSize ?? 100)
      if (page.length === 0) return { settled, failed }
      // One call at a time: the sweep must not fan a burst of calls out to one upstream.
      for (const row of page) {
        if (unreachable.has(row.inventory_source_id)) continue
        try {
          const outcome = await followForwarded(row)
          if (outcome === 'settled') settled++
          if (outcome === 'unreachable') unreachable.add(row.inventory_source_id)
        } catch (error) {
          failed++
          options.onError?.(row.task_id, error)
        }
      }
      afterRowId = page[page.length - 1]!.id
    }
  }

  /**
   * get_media_buys of the key's forwarded buys (all of them, or these ids), read from the agents
   * they live on. A buy whose upstream task is still open has no media_buy_id yet and is not listed.
   */
  async function listForwarded(principal: BuyerPrincipal, mediaBuyIds: string[] | undefined, statuses: string[] | undefined): Promise<Payload[]> {
    const { rows, groups } = await forwardedGroups(principal, mediaBuyIds)
    // One call per agent and upstream account: each account's buys are read under it.
    const lists = await Promise.all(groups.map(async (group) => {
      const source = (await findSourceByRowId(db, group.sourceRowId))!
      const byUpstreamId = new Map(group.rows.map((row) => [row.upstream_media_buy_id!, row]))
      const result = await ask(source, 'get_media_buys', { account: accountOf(group.rows[0]!), media_buy_ids: [...byUpstreamId.keys()] })
      if (!result.ok) throw refusal(result, source)
      const buys = Array.isArray(result.payload.media_buys) ? result.payload.media_buys : []
      return Promise.all(buys.flatMap((buy) => {
        const row = isRecord(buy) && typeof buy.media_buy_id === 'string' ? byUpstreamId.get(buy.media_buy_id) : undefined
        return row ? [ours(buy as Payload, source, row)] : []
      }))
    }))
    const order = new Map(rows.map((row, index) => [row.media_buy_id, index]))
    return lists
      .flat()
      .filter((buy) => !statuses?.length || statuses.includes(String(buy.status)))
      .sort((a, b) => order.get(String(a.media_buy_id))! - order.get(String(b.media_buy_id))!)
  }

  /**
   * The key's forwarded buys (these ids, or all that the upstream named) grouped by the agent and
   * upstream account they live under: the one walk get_media_buys and delivery share.
   */
  async function forwardedGroups(principal: BuyerPrincipal, mediaBuyIds: string[] | undefined) {
    const rows = (await listOwnForwardedBuys(db, principal, mediaBuyIds)).filter((row) => row.upstream_media_buy_id !== null)
    const groups = new Map<string, { sourceRowId: number; rows: ForwardedMediaBuyRow[] }>()
    for (const row of rows) {
      const key = `${row.inventory_source_id}\n${row.upstream_brand_domain}\n${row.upstream_operator}`
      const group = groups.get(key) ?? { sourceRowId: row.inventory_source_id, rows: [] }
      group.rows.push(row)
      groups.set(key, group)
    }
    return { rows, groups: [...groups.values()] }
  }

  /**
   * get_media_buy_delivery of the key's forwarded buys, read from the agents they live on, with
   * the storefront's media_buy_ids; `found` names the storefront ids answered.
   */
  async function deliveryOfForwarded(principal: BuyerPrincipal, mediaBuyIds: string[] | undefined, query: Payload): Promise<{ deliveries: Payload[]; found: string[] }> {
    const { groups } = await forwardedGroups(principal, mediaBuyIds)
    const lists = await Promise.all(groups.map(async (group) => {
      const source = (await findSourceByRowId(db, group.sourceRowId))!
      const byUpstreamId = new Map(group.rows.map((row) => [row.upstream_media_buy_id!, row]))
      const result = await ask(source, 'get_media_buy_delivery', { ...query, account: accountOf(group.rows[0]!), media_buy_ids: [...byUpstreamId.keys()] })
      if (!result.ok) throw refusal(result, source)
      const deliveries = Array.isArray(result.payload.media_buy_deliveries) ? result.payload.media_buy_deliveries : []
      return Promise.all(deliveries.flatMap((delivery) => {
        const row = isRecord(delivery) && typeof delivery.media_buy_id === 'string' ? byUpstreamId.get(delivery.media_buy_id) : undefined
        return row ? [ours(delivery as Payload, source, row)] : []
      }))
    }))
    const deliveries = lists.flat()
    return { deliveries, found: deliveries.map((delivery) => String(delivery.media_buy_id)) }
  }

  /** The key's forwarded buy with this id, or null when it is not a forwarded buy of the key. */
  async function findForwarded(principal: BuyerPrincipal, mediaBuyId: string): Promise<ForwardedMediaBuyRow | null> {
    return (await listOwnForwardedBuys(db, principal, [mediaBuyId]))[0] ?? null
  }

  /** update_media_buy forwarded to the agent the buy lives on; the answer carries the storefront's ids. */
  async function updateForwarded(principal: BuyerPrincipal, row: ForwardedMediaBuyRow, request: Payload): Promise<Payload> {
    if (row.upstream_media_buy_id === null) throw fail.mediaBuyNotFound()
    const source = (await findSourceByRowId(db, row.inventory_source_id))!
    const key = typeof request.idempotency_key === 'string' ? request.idempotency_key : `${row.media_buy_id}:${clock.now().toISOString()}`
    const { push_notification_config: push, ...rest } = request
    if (push !== undefined) throw fail.invalidField('push_notification_config', `is not relayed for buys on upstream agent ${source.source_id} yet`)
    // The buyer names the storefront's package ids; the upstream knows only its own.
    const upstreamIds = new Map((await listForwardedPackages(db, row.id)).map((pkg) => [pkg.package_id, pkg.upstream_package_id]))
    const asked = withPackageIds(rest, (id, path) => {
      const upstreamId = upstreamIds.get(id)
      if (upstreamId === undefined) {
        throw new StorefrontError('NOT_FOUND', `${path}: the media buy has no package ${id}`, { reason: 'PACKAGE_NOT_FOUND', issues: [{ path, message: 'is not a package of this media buy' }] })
      }
      return upstreamId
    }) as Payload
    // New packages name the buyer's product ids; the upstream knows only its own.
    if (Array.isArray(asked.new_packages)) {
      asked.new_packages = asked.new_packages.map((pkg, index) => (isRecord(pkg) ? { ...pkg, product_id: upstreamProductIdOf(source, pkg.product_id, `new_packages[${index}].product_id`) } : pkg))
    }
    await pushCreatives(principal, source, accountOf(row), asked, key, `sync_creatives:${row.media_buy_id}`)
    const result = await ask(source, 'update_media_buy', {
      ...asked,
      account: accountOf(row),
      media_buy_id: row.upstream_media_buy_id,
      idempotency_key: upstreamKeyOf(principal, key, `update_media_buy:${row.media_buy_id}`),
    })
    if (!result.ok) throw refusal(result, source)
    return ours(result.payload, source, row)
  }

  /**
   * list_creative_formats of a sandbox key's sandbox supply: its products name the upstream's
   * formats (agent_url the upstream's), which only the upstream can describe. Live keys: none.
   */
  async function listFormats(principal: BuyerPrincipal, request: Payload): Promise<Payload[]> {
    const source = await sandboxSupplyOf(principal)
    if (!source) return []
    const result = await ask(source, 'list_creative_formats', { ...request, pagination: { max_results: 100 } })
    if (!result.ok) throw refusal(result, source)
    return Array.isArray(result.payload.formats) ? result.payload.formats.filter(isRecord) : []
  }

  /**
   * comply_test_controller of a sandbox key whose storefront has sandbox supply: the scenarios
   * about what lives upstream (product, pricing and format fixtures, buys, their delivery, the
   * create arm) run on the upstream's controller, ids translated both ways; null when the key has
   * no sandbox supply or the scenario is about what the storefront keeps itself (accounts,
   * creatives, a seeded buy of its own), so the storefront's own sandbox runs it.
   * The answer is the upstream controller's, with the storefront's ids.
   */
  async function controlUpstream(principal: BuyerPrincipal, scenario: string, params: Payload): Promise<Payload | null> {
    if (!UPSTREAM_SCENARIOS.has(scenario)) return null
    const source = await sandboxSupplyOf(principal)
    if (!source) return null
    const asked: Payload = { ...params }
    let row: ForwardedMediaBuyRow | undefined
    if (typeof params.media_buy_id === 'string') {
      row = (await listOwnForwardedBuys(db, principal, [params.media_buy_id]))[0]
      if (!row || row.upstream_media_buy_id === null || row.inventory_source_id !== source.id) {
        throw fail.mediaBuyNotFound()
      }
      asked.media_buy_id = row.upstream_media_buy_id
    }
    const taskId = scenario === 'force_create_media_buy_arm' && typeof params.task_id === 'string' ? params.task_id : null
    // The buyer's task id stays here (the create answers with it); the upstream gets one of ours.
    if (taskId) asked.task_id = upstreamKeyOf(principal, taskId, 'task_id')
    const result = await ask(source, 'comply_test_controller', { scenario, params: asked })
    if (!result.ok) throw refusal(result, source)
    const answer = result.payload
    if (scenario === 'force_create_media_buy_arm' && answer.success === true) {
      const arm = params.arm === 'input-required' ? 'input-required' : 'submitted'
      await putCreateArm(db, { apiKeyId: principal.apiKeyId, arm, taskId, message: typeof params.message === 'string' ? params.message : null, now: clock.now() })
    }
    // Upstream ids out: the buy's id is ours, a forced task id the buyer's.
    return JSON.parse(JSON.stringify(answer, (key, value) => {
      if (row && key === 'media_buy_id' && value === row.upstream_media_buy_id) return row.media_buy_id
      if (taskId && key === 'task_id' && value === asked.task_id) return taskId
      return value
    })) as Payload
  }

  return { listProducts, upstreamSourceOf, createForwarded, followTask, followOpenTasks, listForwarded, deliveryOfForwarded, findForwarded, updateForwarded, listFormats, controlUpstream }
}

export type UpstreamSupplyWorkflows = ReturnType<typeof createUpstreamSupplyWorkflows>
