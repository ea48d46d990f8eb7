import type { Caller } from '../access/access-service.ts'
import type { Database } from '../db/database.ts'
import type { BuyerAccountRow, BuyerAccountStatus, InventorySourceRow } from '../db/tables.ts'
import {
  ACCOUNTS_MAX_LIMIT,
  findAccountByBrand,
  findAccountById,
  listAccounts,
  upsertAccount,
  type AccountInput,
  type AccountOwner,
} from '../modules/buyer-accounts/index.ts'
import type { SpotFormat } from '../modules/creative-formats/index.ts'
import { findActiveModule, listActiveModularSources, type ActiveModule } from '../modules/modular-sources/index.ts'
import { PRODUCTS_MAX_LIMIT, type Product } from '../modules/products/index.ts'
import { formatsOfTraffickingModule } from '../modules/registry.ts'
import type { Clock } from '../shared/clock.ts'
import { fail } from '../shared/errors.ts'
import { listUpstreamAgentSources } from '../sources/upstream-store.ts'
import type { AvailsFeedWorkflows } from './avails-feed-workflows.ts'
import type { SandboxWorkflows, SeededFormat } from './sandbox-workflows.ts'

/**
 * What a buyer's agent sees of a storefront (SPEC §4): the sellable products of its ACTIVE modular
 * sources, the formats their trafficking modules carry, and the buyer key's own accounts. Protocol
 * shapes (AdCP) are the MCP edge's job; this layer speaks the storefront's own terms.
 */

export type { BuyerAccountRow, BuyerAccountStatus }

export interface BuyerWorkflowDeps {
  db: Database
  clock: Clock
  availsFeed: Pick<AvailsFeedWorkflows, 'listProducts' | 'productsOfSource'>
  sandbox: Pick<SandboxWorkflows, 'ensureSource' | 'seededFormats'>
}

/** A buyer key as the buyer workflows need it. */
export type BuyerPrincipal = Pick<Caller, 'storefrontId' | 'apiKeyId' | 'sandbox'>

export interface CatalogSource {
  sourceId: string
  name: string
  /** The source's publisher domain setting (setup metadata `publisherDomain`), when the operator gave one. */
  publisherDomain: string | null
  /** The storefront's sandbox source (seen by sandbox keys only). */
  sandbox: boolean
  formats: BuyerFormat[]
}

/** A format a source carries: a spot its trafficking module takes, or a sandbox fixture's format. */
export type BuyerFormat = SpotFormat | SeededBuyerFormat
export type SeededBuyerFormat = SeededFormat & { seeded: true }

export function isSeededFormat(format: BuyerFormat): format is SeededBuyerFormat {
  return 'seeded' in format
}

export interface CatalogEntry {
  source: CatalogSource
  product: Product
}

export interface CatalogPage {
  entries: CatalogEntry[]
  nextCursor: string | null
  /** The sources whose products this page read, in order (the traffic record: who was asked). */
  read: string[]
}

interface CatalogCursor {
  /** The source the next page starts in. */
  s: string
  /** That source's own products cursor, or null to start at its first product. */
  c: string | null
}

function encodeCatalogCursor(cursor: CatalogCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url')
}

function decodeCatalogCursor(cursor: string): CatalogCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (value && typeof value === 'object') {
      const { s, c } = value as Record<string, unknown>
      if (typeof s === 'string' && (c === null || typeof c === 'string')) return { s, c }
    }
  } catch {
    // fall through to the validation error
  }
  throw fail.invalidField('pagination.cursor', 'is not a cursor this agent returned')
}

function publisherDomainOf(source: InventorySourceRow): string | null {
  const value = source.setup_metadata.publisherDomain
  return typeof value === 'string' && value.length > 0 ? value : null
}

export type AccountRef =
  | { accountId: string }
  | { brandDomain: string; operator: string; sandbox?: boolean | undefined }

export interface SyncAccountInput extends AccountInput {
  sandbox?: boolean | undefined
}

export type SyncAccountResult =
  | { ok: true; row: BuyerAccountRow; action: 'created' | 'updated' | 'unchanged' }
  | { ok: false; input: SyncAccountInput; message: string }

export function createBuyerWorkflows({ db, clock, availsFeed, sandbox }: BuyerWorkflowDeps) {
  async function catalogSource(source: InventorySourceRow): Promise<CatalogSource> {
    return (await describeSource(source)).described
  }

  /** catalogSource, with the trafficking module it read (null when seeded formats made reading it needless). */
  async function describeSource(source: InventorySourceRow): Promise<{ described: CatalogSource; trafficking: { module: ActiveModule | undefined } | null }> {
    // Once formats are seeded into the sandbox they are its whole catalog (a storyboard that
    // seeds formats gets exactly those); until then the trafficking module's formats stand.
    const seeded = source.sandbox ? await sandbox.seededFormats(source) : null
    const trafficking = seeded ? null : { module: await findActiveModule(db, source.id, 'TRAFFICKING') }
    return {
      described: {
        sourceId: source.source_id,
        name: source.name,
        publisherDomain: publisherDomainOf(source),
        sandbox: source.sandbox,
        formats: seeded ? seeded.map((format) => ({ ...format, seeded: true as const })) : formatsOfTraffickingModule(trafficking?.module?.row),
      },
      trafficking,
    }
  }

  /**
   * The sources a key buys from: a live key the live ones, a sandbox key only the sandbox source
   * (built on its first need), so sandbox buys never take live capacity; none when the sandbox
   * has sandbox supply, which then serves sandbox keys alone (upstream-supply-workflows.ts).
   */
  async function sourcesOf(principal: BuyerPrincipal): Promise<InventorySourceRow[]> {
    // A sandbox served by an upstream agent (sandbox supply) sells only that agent's products.
    if (principal.sandbox && (await listUpstreamAgentSources(db, principal.storefrontId, { sandbox: true })).length > 0) return []
    if (principal.sandbox) await sandbox.ensureSource(principal.storefrontId)
    return listActiveModularSources(db, principal.storefrontId, { sandbox: principal.sandbox })
  }

  /**
   * One page of products across the storefront's ACTIVE modular sources, sources in sourceId order
   * and each source's products in its own keyset order. Each source's page is the same read as
   * GET .../modular/products, so availability is the ledger's rule, not a copy of it.
   */
  async function listCatalog(principal: BuyerPrincipal, page: { limit: number; cursor?: string | undefined }): Promise<CatalogPage> {
    const limit = Math.min(Math.max(1, page.limit), PRODUCTS_MAX_LIMIT)
    const cursor = page.cursor === undefined ? null : decodeCatalogCursor(page.cursor)
    const sources = await sourcesOf(principal)
    // A cursor's source may have been disabled since: the page starts at the next source after it.
    let index = cursor ? sources.findIndex((source) => source.source_id >= cursor.s) : 0
    if (index === -1) return { entries: [], nextCursor: null, read: [] }
    const entries: CatalogEntry[] = []
    const read: string[] = []
    for (; index < sources.length; index++) {
      const source = sources[index]!
      read.push(source.source_id)
      const resumeAt = cursor && source.source_id === cursor.s ? cursor.c : null
      // The source row and its trafficking module are read once: the formats and the products'
      // blocks both come from that module.
      const { described, trafficking } = await describeSource(source)
      const { products, nextCursor } = await availsFeed.productsOfSource(source, {
        limit: limit - entries.length,
        ...(resumeAt ? { cursor: resumeAt } : {}),
      }, trafficking ?? undefined)
      for (const product of products) entries.push({ source: described, product })
      if (nextCursor) return { entries, nextCursor: encodeCatalogCursor({ s: source.source_id, c: nextCursor }), read }
      if (entries.length >= limit) {
        const next = sources[index + 1]
        return { entries, nextCursor: next ? encodeCatalogCursor({ s: next.source_id, c: null }) : null, read }
      }
    }
    return { entries, nextCursor: null, read }
  }

  /** The cursor of the catalog's first product, or null when it has none: for a page that upstream products filled. */
  async function firstCatalogCursor(principal: BuyerPrincipal): Promise<string | null> {
    for (const source of await sourcesOf(principal)) {
      // Whether the source has a product at all: no block is needed, so no module is read.
      const { products } = await availsFeed.productsOfSource(source, { limit: 1 }, { module: undefined })
      if (products.length > 0) return encodeCatalogCursor({ s: source.source_id, c: null })
    }
    return null
  }

  /** Every format the storefront's ACTIVE modular sources can traffic, each once, in id order. */
  async function listFormats(principal: BuyerPrincipal): Promise<BuyerFormat[]> {
    const byId = new Map<string, BuyerFormat>()
    for (const source of await sourcesOf(principal)) {
      for (const format of (await catalogSource(source)).formats) byId.set(format.id, format)
    }
    return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id))
  }

  function ownerOf(principal: BuyerPrincipal): AccountOwner {
    return { storefrontId: principal.storefrontId, apiKeyId: principal.apiKeyId, sandbox: principal.sandbox }
  }

  /**
   * sync_accounts: brand + operator -> the key's account. A sandbox key's accounts are sandbox
   * accounts; a live key cannot open one (it never sees sandbox data), so that row fails alone.
   */
  async function syncAccounts(principal: BuyerPrincipal, inputs: SyncAccountInput[]): Promise<SyncAccountResult[]> {
    const results: SyncAccountResult[] = []
    for (const input of inputs) {
      if (input.sandbox === true && !principal.sandbox) {
        results.push({ ok: false, input, message: 'Sandbox accounts need a sandbox buyer key' })
        continue
      }
      const { row, action } = await upsertAccount(db, ownerOf(principal), input, clock.now())
      results.push({ ok: true, row, action })
    }
    return results
  }

  async function listOwnAccounts(
    principal: BuyerPrincipal,
    filter: { brandDomain?: string | undefined; operator?: string | undefined; statuses?: BuyerAccountStatus[] | undefined; limit: number; cursor?: string | undefined },
  ): Promise<{ rows: BuyerAccountRow[]; nextCursor: string | null }> {
    const afterId = filter.cursor === undefined ? undefined : Number(filter.cursor)
    if (afterId !== undefined && !Number.isSafeInteger(afterId)) throw fail.invalidField('pagination.cursor', 'is not a cursor this agent returned')
    const limit = Math.min(Math.max(1, filter.limit), ACCOUNTS_MAX_LIMIT)
    const { rows, hasMore } = await listAccounts(db, ownerOf(principal), { ...filter, afterId, limit })
    const last = rows.at(-1)
    return { rows, nextCursor: hasMore && last ? String(last.id) : null }
  }

  /**
   * The key's account a request names, or null: another key's account and a missing one are the
   * same null. A sandbox key's first reference to a brand + operator opens its sandbox account
   * (conformance runners name accounts they never synced); a live key only finds synced accounts.
   */
  async function resolveAccount(principal: BuyerPrincipal, ref: AccountRef): Promise<BuyerAccountRow | null> {
    const owner = ownerOf(principal)
    if ('accountId' in ref) return (await findAccountById(db, owner, ref.accountId)) ?? null
    if (ref.sandbox === true && !principal.sandbox) return null
    const found = await findAccountByBrand(db, owner, ref.brandDomain, ref.operator)
    if (found || !principal.sandbox) return found ?? null
    const { row } = await upsertAccount(db, owner, { brandDomain: ref.brandDomain, operator: ref.operator, billing: null, paymentTerms: null }, clock.now())
    return row
  }

  return { listCatalog, firstCatalogCursor, listFormats, syncAccounts, listOwnAccounts, resolveAccount }
}

export type BuyerWorkflows = ReturnType<typeof createBuyerWorkflows>
