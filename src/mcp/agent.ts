import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import {
  AdcpError,
  createAdcpServerFromPlatform,
  createPinAndBindFetch,
  createIdempotencyStore,
  createPostgresTaskRegistry,
  InMemoryStateStore,
  pgBackend,
  type Account,
  type AccountStore,
  type CreateAdcpServerFromPlatformOptions,
  type DecisioningPlatform,
  type SyncAccountsResultRow,
} from '@adcp/sdk/server'
import type {
  AccountReference,
  GetProductsRequest,
  GetProductsResponse,
  ListAccountsRequest,
  ListAccountsResponse,
  ListCreativeFormatsRequest,
  ListCreativeFormatsResponse,
} from '@adcp/sdk/types'
import type { Caller } from '../access/access-service.ts'
import { isStorefrontError } from '../shared/errors.ts'
import type { Services } from '../services.ts'
import type { AccountRef, BuyerAccountStatus } from '../workflows/buyer-workflows.ts'
import { adcpAccount, adcpFormat, adcpProduct, sandboxKeyAccount, type AccountMeta, type AdcpFormatId, type AdcpProduct } from './adcp-wire.ts'
import { creativeTools } from './creative-tools.ts'
import { deliveryToolsFor } from './delivery-tools.ts'
import type { ToolCall } from './mcp-routes.ts'
import { complyTestFor, DECLARED_SCENARIOS } from './test-controller.ts'
import { mediaBuyTools, storeOwnedTasks, toMediaBuyError } from './media-buy-tools.ts'
import { served, sourceIdOfProduct } from './served-calls.ts'

/**
 * The AdCP sales agent (SPEC §4), built on @adcp/sdk's decisioning platform: the SDK owns the
 * protocol (schema validation of every request and response, idempotency_key replay, error
 * envelopes, get_adcp_capabilities, tasks/get); this file maps each task onto one buyer workflow.
 *
 * Only what the storefront really does is registered: discovery (get_products, with upstream
 * agents' products, list_creative_formats), accounts (sync_accounts, list_accounts), creatives
 * (sync_creatives, list_creatives: creative-tools.ts), buying and managing (create_media_buy,
 * get_media_buys, update_media_buy and their tasks: media-buy-tools.ts, forwarded to an upstream
 * agent for its products) and delivery (get_media_buy_delivery: delivery-tools.ts). What is not
 * done is absent from tools/list rather than stubbed.
 */

export const AGENT_NAME = 'storefront'

export interface BuyerRequest {
  caller: Caller
  /** This agent's public URL (…/mcp): the agent_url of every format it serves. */
  agentUrl: string
  /** The request's one tools/call as sent (creative-tools.ts reads what the SDK does not pass on). */
  toolCall?: ToolCall | null | undefined
}

/**
 * Additions to the SDK-built get_adcp_capabilities: every product is priced by CPM, the v3
 * envelope's task `status` (the answer is always complete at once), and webhook signing. No
 * account block: the storefront records a billing party but bills no one, so it claims no
 * billing model. They are written into the capabilities object the SDK exposes under
 * `Symbol.for('@adcp/client.capabilities')` for blocks added after construction (its own
 * registerTestController uses it): the `capabilities.overrides` option is replaced whole by the
 * SDK's projection once comply_test_controller is wired, which dropped these for sandbox keys.
 */
const SDK_CAPABILITIES = Symbol.for('@adcp/client.capabilities')

function addCapabilities(server: object, signsWebhooks: boolean): void {
  const capabilities = (server as { [SDK_CAPABILITIES]?: Record<string, unknown> })[SDK_CAPABILITIES]
  if (!capabilities) throw new Error('@adcp/sdk no longer exposes its capabilities object: re-check this seam on upgrade')
  capabilities.status = 'completed'
  capabilities.media_buy = { ...(capabilities.media_buy as Record<string, unknown> | undefined), supported_pricing_models: ['cpm', 'flat_rate'] }
  // Every webhook is signed with the key published at /.well-known/jwks.json. No legacy HMAC
  // claim: the SDK's own completion webhooks are always RFC 9421-signed.
  if (signsWebhooks) capabilities.webhook_signing = { supported: true, profile: 'adcp/webhook-signing/v1', algorithms: ['ed25519'] }
}

/**
 * The MCP server inside the SDK's AdCP server (`Symbol.for('@adcp/client.sdkServer')`) and its tool
 * table (`_registeredTools`, name -> {handler}): read to tell which tools this request's server
 * serves, and to correct the answers of the SDK's own tasks_get (below). Both are internals:
 * re-check this seam on every upgrade (a test pins it).
 */
const SDK_MCP_SERVER = Symbol.for('@adcp/client.sdkServer')

type ToolAnswer = { content?: Array<{ type: string; text?: string }>; structuredContent?: Record<string, unknown>; isError?: boolean }
type RegisteredTool = { handler: (args: unknown, extra: unknown) => Promise<ToolAnswer> }

function registeredToolsOf(server: object): Record<string, RegisteredTool> {
  const mcp = (server as { [SDK_MCP_SERVER]?: { _registeredTools?: Record<string, RegisteredTool> } })[SDK_MCP_SERVER]
  const tools = mcp?._registeredTools
  if (!tools || typeof tools !== 'object') throw new Error('@adcp/sdk no longer exposes its MCP tool table: re-check this seam on upgrade')
  return tools
}

/** The message of a task id the key cannot read, missing or another account's: never the id asked for. */
export const TASK_NOT_FOUND_MESSAGE = 'Task not found for this buyer key'

/**
 * The SDK's tasks_get (and its `tasks/get` alias) with two corrections, so it answers like every
 * other tool: (1) its REFERENCE_NOT_FOUND says "Task <the id asked> not found", so a task of
 * another tenant and a missing one differ by the id echoed; it says TASK_NOT_FOUND_MESSAGE
 * instead (AdCP uniform-error rule); (2) it drops the request's `context`, which every AdCP answer
 * echoes unchanged, error or not.
 */
function uniformTaskLookups(server: object, toolCall: ToolCall | null | undefined): void {
  const tools = registeredToolsOf(server)
  for (const name of ['tasks_get', 'tasks/get']) {
    const tool = tools[name]
    if (!tool) throw new Error(`@adcp/sdk no longer registers ${name}: re-check this seam on upgrade`)
    const sdkHandler = tool.handler
    tool.handler = async (args, extra) => {
      const answer = await sdkHandler(args, extra)
      const content = answer.structuredContent
      if (!content) return answer
      const error = content.adcp_error as { code?: string; field?: string } | undefined
      const corrected: Record<string, unknown> = error?.code === 'REFERENCE_NOT_FOUND' && error.field === 'task_id'
        ? { ...content, adcp_error: { ...error, message: TASK_NOT_FOUND_MESSAGE } }
        : { ...content }
      // The SDK's input schema for this tool strips `context`: it is read from the call as sent.
      const context = toolCall?.arguments.context
      if (context !== undefined) corrected.context = context
      // An error's text is its structured content (as the SDK writes it); a success keeps its summary line.
      return { ...answer, structuredContent: corrected, ...(answer.isError ? { content: [{ type: 'text', text: JSON.stringify(corrected) }] } : {}) }
    }
  }
}

/**
 * @modelcontextprotocol/sdk warns on stderr, five console.warn lines, for each tool it registers
 * whose name breaks its naming rule, and @adcp/sdk registers its spec-named `tasks/get` on every
 * server it builds: on every request here (MCP is stateless). Writing the same lines per request
 * was about a third of a request's CPU in bench/adcp (BENCHMARKS.md). A name's warning is printed
 * the first time; its repeats are dropped. console.warn is replaced only while a server is built,
 * which is synchronous, so no other code's warnings pass through the filter.
 */
const TOOL_NAME_WARNING = /^Tool name validation warning for "(.*)":$/
const TOOL_NAME_WARNING_END = /^See SEP: Specify Format for Tool Names/
const warnedToolNames = new Set<string>()

function quietRepeatedToolNameWarnings<T>(build: () => T): T {
  const warn = console.warn
  let dropping = false
  let block: string | null = null
  console.warn = (...args: unknown[]) => {
    const line = typeof args[0] === 'string' ? args[0] : ''
    const start = TOOL_NAME_WARNING.exec(line)
    if (start) {
      block = start[1]!
      dropping = warnedToolNames.has(block)
    }
    if (!dropping) warn.apply(console, args)
    if (block !== null && TOOL_NAME_WARNING_END.test(line)) {
      warnedToolNames.add(block)
      block = null
      dropping = false
    }
  }
  try {
    return build()
  } finally {
    console.warn = warn
  }
}

const PRODUCTS_PAGE_DEFAULT = 50
const FORMATS_PAGE_DEFAULT = 50
const ACCOUNTS_PAGE_DEFAULT = 50

function toAccountRef(ref: AccountReference): AccountRef {
  if ('account_id' in ref) return { accountId: ref.account_id }
  return { brandDomain: ref.brand.domain, operator: ref.operator, sandbox: ref.sandbox }
}

/** Storefront errors that reach the agent are the buyer's to fix (a bad cursor); anything else is ours. */
function toAdcpError(error: unknown): never {
  if (isStorefrontError(error) && error.code === 'VALIDATION_ERROR') {
    const field = error.details?.issues?.[0]?.path
    throw new AdcpError('INVALID_REQUEST', { message: error.message, recovery: 'correctable', ...(field ? { field } : {}) })
  }
  throw error
}

function sameFormatId(a: AdcpFormatId, b: { agent_url: string; id: string }): boolean {
  return a.id === b.id && a.agent_url === b.agent_url
}

function pageOf(pagination: { max_results?: number | undefined; cursor?: string | undefined } | undefined, fallback: number) {
  return { limit: pagination?.max_results ?? fallback, cursor: pagination?.cursor }
}

export function createBuyerAgent({ services, version }: { services: Services; version: string }) {
  const { buyer } = services
  // One replay cache and one task registry per process, in the database: an idempotent retry
  // answered by another process (or after a restart) replays the same response.
  const pool = services.sdkPool
  const idempotency = createIdempotencyStore({ backend: pgBackend(pool), ttlSeconds: 86_400 })
  const tasks = storeOwnedTasks(createPostgresTaskRegistry({ pool }), services.upstreamSupply.followTask)
  const taskRegistry = tasks.registry
  // ctx.store, the SDK's per-handler scratch state: no handler here uses it (all state is in our
  // tables), so an explicit per-process store only satisfies the SDK's production guard.
  const stateStore = new InMemoryStateStore()
  const strictResponses = process.env.NODE_ENV !== 'production'
  const { signerKey } = services.buyerWebhooks
  // The SDK refuses http:// webhook URLs unless this process-wide switch is on, and reads it from
  // process.env on every request: it cannot be scoped to a key. It is turned on (unless the
  // operator set it) because sandbox keys' receivers are plain-http loopback ones; live keys'
  // http:// URLs are refused on the message by the route (mcp-routes.ts) before the SDK sees them.
  process.env.ADCP_DECISIONING_ALLOW_HTTP_WEBHOOKS ??= '1'
  // allowPrivateWebhookUrls is true only on a sandbox key's server (below): the per-key scoping
  // the SDK's warning asks for. The acknowledgement silences that warning, which it would otherwise
  // print on every sandbox request (it reads nothing else).
  process.env.ADCP_DECISIONING_ALLOW_PRIVATE_WEBHOOK_URLS ??= '1'
  // A live buyer's webhook host is resolved at delivery and refused if it points inside this
  // network (DNS rebinding after the URL passed the request-time check); a sandbox key's
  // receiver is local by design.
  const liveWebhookFetch = createPinAndBindFetch()

  function platformFor(request: BuyerRequest, fallbackPublisherDomain: string): DecisioningPlatform<Record<string, never>, AccountMeta> {
    const { caller, agentUrl } = request
    const accounts: AccountStore<AccountMeta> = {
      resolution: 'explicit',
      // A request without an account is served for the key's storefront (discovery needs none);
      // a sandbox key's is a sandbox request (the controller admits only sandbox accounts, and the
      // runner sends some controller calls and task polls without one).
      async resolve(ref) {
        if (!ref) return caller.sandbox ? sandboxKeyAccount(caller.apiKeyId) : null
        const row = await buyer.resolveAccount(caller, toAccountRef(ref))
        return row ? adcpAccount(row) : null
      },
      async upsert(refs) {
        const inputs = refs.map((ref) => {
          // sync_accounts registers brand + operator; an account_id is not something to sync.
          if ('account_id' in ref) {
            throw new AdcpError('INVALID_REQUEST', { message: 'sync_accounts takes brand + operator, not account_id', field: 'accounts', recovery: 'correctable' })
          }
          const terms = ref as typeof ref & { billing?: 'operator' | 'agent' | 'advertiser'; payment_terms?: string }
          return {
            brandDomain: ref.brand.domain,
            operator: ref.operator,
            billing: terms.billing ?? null,
            paymentTerms: terms.payment_terms ?? null,
            sandbox: ref.sandbox,
          }
        })
        const results = await buyer.syncAccounts(caller, inputs)
        return results.map((result): SyncAccountsResultRow => {
          if (!result.ok) {
            return {
              brand: { domain: result.input.brandDomain },
              operator: result.input.operator,
              action: 'failed',
              status: 'rejected',
              errors: [{ code: 'INVALID_REQUEST', message: result.message }],
            }
          }
          const { row, action } = result
          return {
            account_id: row.account_id,
            name: `${row.brand_domain} via ${row.operator}`,
            brand: { domain: row.brand_domain },
            operator: row.operator,
            action,
            status: row.status,
            ...(row.billing ? { billing: row.billing } : {}),
            ...(row.sandbox ? { sandbox: true } : {}),
          }
        })
      },
    }

    return {
      capabilities: {
        // No specialism claimed yet, though create_media_buy is offered: claiming one is a separate decision.
        specialisms: [],
        requireOperatorAuth: false,
        config: {},
        // Only a sandbox key has comply_test_controller, so only it is told of the scenarios.
        ...(caller.sandbox ? { compliance_testing: { scenarios: [...DECLARED_SCENARIOS] } } : {}),
      },
      accounts,
      sales: {
        ...creativeTools(services, request),
        ...deliveryToolsFor(services, caller),
        ...mediaBuyTools(services, caller, tasks),
        getProducts: (request: GetProductsRequest): Promise<GetProductsResponse> => served(services, caller, 'get_products', async (note) => {
          const { limit, cursor } = pageOf(request.pagination, PRODUCTS_PAGE_DEFAULT)
          const wanted = request.filters?.channels
          const keep = (product: AdcpProduct) => !wanted?.length || product.channels?.some((channel) => wanted.includes(channel))
          // Upstream agents' products lead the first page (their own later pages are not followed);
          // the modular catalog fills the rest and pages on with its cursor.
          const { pagination: _pagination, context: _context, ext: _ext, account: _account, ...asked } = request as GetProductsRequest & { context?: unknown; ext?: unknown; account?: unknown }
          const upstream = cursor === undefined ? await services.upstreamSupply.listProducts(caller, asked, limit) : []
          const upstreamProducts = upstream.map((entry) => entry.product as unknown as AdcpProduct).filter(keep)
          // Every modular product is guaranteed; a buyer asking for non-guaranteed inventory gets none of them.
          if (request.filters?.delivery_type === 'non_guaranteed') return { products: upstreamProducts, pagination: { has_more: false } }
          const room = limit - upstream.length
          const page = room > 0
            ? await note.measure(() => buyer.listCatalog(caller, { limit: room, cursor })).catch(toAdcpError)
            : { entries: [], nextCursor: await buyer.firstCatalogCursor(caller), read: [] }
          const products = page.entries
            .map((entry) => adcpProduct(entry, agentUrl, fallbackPublisherDomain))
            .filter((product) => product !== null)
            .filter(keep)
          // Each modular source the catalog read was asked; what it contributed is what the buyer is shown.
          const shown = new Map(page.read.map((sourceId) => [sourceId, 0]))
          for (const product of products) {
            const sourceId = sourceIdOfProduct(caller, product.product_id)
            if (sourceId !== null && shown.has(sourceId)) shown.set(sourceId, shown.get(sourceId)! + 1)
          }
          note.sources = [...shown].map(([sourceId, count]) => ({ sourceId, products: count }))
          return { products: [...upstreamProducts, ...products], pagination: { has_more: page.nextCursor !== null, ...(page.nextCursor ? { cursor: page.nextCursor } : {}) } }
        }),
        async listCreativeFormats(request: ListCreativeFormatsRequest): Promise<ListCreativeFormatsResponse> {
          const ids = request.format_ids
          // A sandbox served by an upstream agent sells its products, whose formats are its own.
          const upstream = (await services.upstreamSupply.listFormats(caller, ids?.length ? { format_ids: ids } : {}).catch(toMediaBuyError)) as unknown as Array<ReturnType<typeof adcpFormat>>
          let formats = [...(await buyer.listFormats(caller)).map((format) => adcpFormat(format, agentUrl)), ...upstream]
          if (ids?.length) formats = formats.filter((format) => ids.some((id) => sameFormatId(format.format_id, id)))
          const { limit, cursor } = pageOf(request.pagination, FORMATS_PAGE_DEFAULT)
          // The catalog is a handful of formats: the cursor is the offset of the next page.
          const offset = cursor === undefined ? 0 : Number(cursor)
          if (!Number.isSafeInteger(offset) || offset < 0) throw new AdcpError('INVALID_REQUEST', { message: 'pagination.cursor is not a cursor this agent returned', field: 'pagination.cursor', recovery: 'correctable' })
          const page = formats.slice(offset, offset + limit)
          const next = offset + page.length < formats.length ? String(offset + page.length) : null
          return { formats: page, pagination: { has_more: next !== null, ...(next ? { cursor: next } : {}), total_count: formats.length } }
        },
      },
    }
  }

  /**
   * An AdCP server bound to one authenticated buyer key for one request (MCP is stateless here).
   * The stores it uses are the process-wide ones above; the binding keeps every account read,
   * idempotency scope and catalog read on the key that asked.
   */
  function serverFor(request: BuyerRequest, fallbackPublisherDomain: string) {
    const { caller } = request
    const options = {
      name: AGENT_NAME,
      version,
      idempotency,
      taskRegistry,
      stateStore,
      validation: { requests: 'strict', responses: strictResponses ? 'strict' : 'warn' },
      resolveIdempotencyPrincipal: () => `api_key:${caller.apiKeyId}`,
      // A live key never gets the controller: its tool is not even listed.
      ...(caller.sandbox ? { complyTest: complyTestFor(services, caller, request.agentUrl) } : {}),
      // Signed completion webhooks (RFC 9421). Loopback and private receivers for sandbox keys only.
      ...(signerKey ? { webhooks: { signerKey, userAgent: 'storefront-adcp-webhooks', ...(caller.sandbox ? {} : { fetch: liveWebhookFetch }) } } : {}),
      allowPrivateWebhookUrls: caller.sandbox,
      // list_accounts through the SDK's merge seam: its platform projection drops the AdCP
      // `pagination` envelope (it writes `next_cursor`), which buyers page with.
      accounts: {
        listAccounts: async (params: ListAccountsRequest): Promise<ListAccountsResponse> => {
          const statuses = params.status === undefined ? undefined : [params.status as BuyerAccountStatus]
          const page = await buyer
            .listOwnAccounts(caller, { statuses, ...pageOf(params.pagination, ACCOUNTS_PAGE_DEFAULT) })
            .catch(toAdcpError)
          const accounts = page.rows
            .filter((row) => params.sandbox === undefined || row.sandbox === params.sandbox)
            .map((row) => toWire(adcpAccount(row)))
          return { accounts, pagination: { has_more: page.nextCursor !== null, ...(page.nextCursor ? { cursor: page.nextCursor } : {}) } }
        },
      },
    }
    const server = quietRepeatedToolNameWarnings(() => createAdcpServerFromPlatform(platformFor(request, fallbackPublisherDomain), options as CreateAdcpServerFromPlatformOptions))
    addCapabilities(server, signerKey !== null)
    uniformTaskLookups(server, request.toolCall)
    return server
  }

  /** The tools a server of serverFor serves; any other tools/call is UNSUPPORTED_FEATURE (mcp-routes.ts). */
  function servedToolNames(server: object): ReadonlySet<string> {
    return new Set(Object.keys(registeredToolsOf(server)))
  }

  /** The stateless MCP transport of one HTTP request: no Mcp-Session-Id, JSON answers instead of a stream. */
  function transportFor(): StreamableHTTPServerTransport {
    return new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
  }

  return { serverFor, servedToolNames, transportFor }
}

function toWire(account: Account<AccountMeta>): ListAccountsResponse['accounts'][number] {
  return {
    account_id: account.id,
    name: account.name,
    status: account.status,
    ...(account.brand ? { brand: account.brand } : {}),
    ...(account.operator ? { operator: account.operator } : {}),
    ...(account.billing ? { billing: typeof account.billing.invoicedTo === 'string' ? account.billing.invoicedTo : 'advertiser' } : {}),
    ...(account.sandbox ? { sandbox: true } : {}),
  }
}

export type BuyerAgent = ReturnType<typeof createBuyerAgent>
