import type { Database, Transaction } from '../db/database.ts'
import type { CreativeRow, CreativeStatus } from '../db/tables.ts'
import type { LedgerService } from '../modules/booking-ledger/index.ts'
import {
  CREATIVES_MAX_LIMIT,
  insertCreative,
  isLegalCreativeTransition,
  listCreatives,
  lockCreatives,
  packagesWithServableCreative,
  removeAssignmentsExcept,
  setCreativeStatus,
  statusAfterSync,
  updateCreative,
  upsertAssignment,
  type CreativeContent,
  type CreativeOwner,
} from '../modules/creatives/index.ts'
import { AD_ID_RULE, isAdId, type SpotFormat } from '../modules/creative-formats/index.ts'
import { isSeededFormat, type BuyerFormat } from './buyer-workflows.ts'
import { findBookingByReservation, RESERVATION_RESOURCE } from '../modules/execution/index.ts'
import { handoffPayload, plannedItem, taskOf } from '../modules/handoff.ts'
import {
  advanceCreativeReadyBuys,
  isOpenForCreatives,
  livePackagesOfBuys,
  lockAssignablePackages,
  type AssignablePackage,
} from '../modules/media-buys/index.ts'
import { findActiveModule } from '../modules/modular-sources/index.ts'
import { listWorkItemsForResource, OPEN_STATUSES, openWorkItem, type Actor } from '../modules/work-queue/index.ts'
import type { Clock } from '../shared/clock.ts'
import { fail, isStorefrontError } from '../shared/errors.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'
import type { SecretBox } from '../shared/secret-box.ts'
import { enqueueStatusChangeWebhook } from './buy-notifications.ts'
import type { BuyerPrincipal } from './buyer-workflows.ts'

/**
 * The buyer's creative library (SPEC §4, AdCP sync_creatives / list_creatives): creatives are
 * checked against the formats the storefront's trafficking modules carry, kept per buyer key, and
 * put in rotation on the key's own packages. A new assignment asks the package's source to map
 * the creative (its MAP_CREATIVE_REF work item) and may take the buy out of pending_creatives, all
 * in the sync's one transaction.
 */

export interface CreativeWorkflowDeps {
  db: Database
  clock: Clock
  ledger: LedgerService
  /** The formats the storefront serves (buyer-workflows listFormats): the one list a format is checked against. */
  listFormats(principal: BuyerPrincipal): Promise<BuyerFormat[]>
  /** Opens the buys' sealed push_notification_config: a buy leaving pending_creatives notifies its buyer. */
  secrets?: SecretBox | undefined
}

export interface CreativeInput {
  creativeId: string
  name: string
  /** The AdCP format_id as sent; agentUrl and id are what identifies it. */
  format: { agentUrl: string; id: string; raw: Record<string, unknown> }
  assets: Record<string, unknown>
  industryIdentifiers: Array<{ type: string; value: string }>
  tags: string[]
}

export interface AssignmentInput {
  creativeId: string
  packageId: string
  weight: number | null
}

export interface SyncCreativesInput {
  /** The buyer_account row the request resolved to. */
  buyerAccountId: number
  /** This agent's URL: the agent_url of every format it serves. */
  agentUrl: string
  creatives: CreativeInput[]
  assignments: AssignmentInput[]
}

export interface CreativeProblem {
  code: 'INVALID_REQUEST' | 'CREATIVE_REJECTED'
  message: string
  field: string
}

export interface SyncCreativeResult {
  creativeId: string
  action: 'created' | 'updated' | 'unchanged' | 'failed'
  status?: CreativeStatus | undefined
  changes?: string[] | undefined
  errors?: CreativeProblem[] | undefined
  assignedTo?: string[] | undefined
  /** By package id: why the creative was not put on that package. */
  assignmentErrors?: Record<string, string> | undefined
}

export interface CreativeListQuery {
  creativeIds?: string[] | undefined
  statuses?: CreativeStatus[] | undefined
  formats?: Array<{ agentUrl: string; id: string }> | undefined
  limit: number
  cursor?: string | undefined
}

export interface CreativePage {
  rows: CreativeRow[]
  totalMatching: number
  nextCursor: string | null
}


const BUYER: Actor = { type: 'BUYER', id: null }

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`
  }
  return JSON.stringify(value ?? null)
}

/** The fields of a stored creative a sync would change, in wire names; [] when it sends the same creative. */
function changedFields(row: CreativeRow, content: CreativeContent): string[] {
  const changes: string[] = []
  if (row.name !== content.name) changes.push('name')
  if (canonical(row.format) !== canonical(content.format)) changes.push('format_id')
  if (canonical(row.assets) !== canonical(content.assets)) changes.push('assets')
  if (canonical(row.industry_identifiers) !== canonical(content.industryIdentifiers)) changes.push('industry_identifiers')
  if (canonical(row.tags) !== canonical(content.tags)) changes.push('tags')
  return changes
}

/** The spot asset the trafficking system needs: the first asset of the format's kind with an http(s) URL. */
function spotAsset(assets: Record<string, unknown>, format: SpotFormat): { url: string; durationMs: number | null } | null {
  for (const asset of Object.values(assets)) {
    if (!asset || typeof asset !== 'object') continue
    const { asset_type: type, url, duration_ms: durationMs } = asset as Record<string, unknown>
    if (type !== format.kind || typeof url !== 'string' || !/^https?:\/\//i.test(url)) continue
    return { url, durationMs: typeof durationMs === 'number' ? durationMs : null }
  }
  return null
}

interface CheckedCreative {
  input: CreativeInput
  /** null for a sandbox fixture's format: it is not a spot, and nothing is trafficked for it. */
  format: SpotFormat | null
  /** false when the storefront could not review it (a sandbox creative on another agent's format). */
  reviewed: boolean
  content: CreativeContent
  spot: { url: string; durationMs: number | null } | null
}

function contentOf(input: CreativeInput, adId: string | null): CreativeContent {
  return {
    name: input.name,
    format: input.format.raw,
    formatKey: input.format.id,
    formatAgentUrl: input.format.agentUrl,
    assets: input.assets,
    industryIdentifiers: input.industryIdentifiers,
    adId,
    tags: input.tags,
  }
}

/**
 * The storefront's review of a creative, done when it is synced: a format this agent serves, the
 * spot asset that format needs, and the Ad-ID a TV spot is trafficked with.
 */
function checkCreative(input: CreativeInput, index: number, formats: BuyerFormat[], agentUrl: string, sandbox: boolean): CheckedCreative | CreativeProblem[] {
  const at = `creatives[${index}]`
  // A sandbox key's creative may name another creative agent's format (the storyboards' display
  // creatives do): the sandbox keeps it as sent, as it does a seeded format, since nothing of a
  // sandbox is trafficked. A live key's creative is trafficked, so it must be a format served here.
  if (sandbox && input.format.agentUrl !== agentUrl) return { input, format: null, spot: null, reviewed: false, content: contentOf(input, null) }
  const format = input.format.agentUrl === agentUrl ? formats.find((candidate) => candidate.id === input.format.id) : undefined
  if (!format) {
    return [{
      code: 'INVALID_REQUEST',
      field: `${at}.format_id`,
      message: `format_id ${input.format.agentUrl} ${input.format.id} is not a format this agent serves (see list_creative_formats)`,
    }]
  }
  // A format the sandbox's comply_test_controller seeded (a display or image format of a
  // storyboard) takes the creative as sent: it has no spot to check and is never trafficked.
  if (isSeededFormat(format)) return { input, format: null, spot: null, reviewed: true, content: contentOf(input, null) }
  const problems: CreativeProblem[] = []
  const spot = spotAsset(input.assets, format)
  const durationMs = format.durationSeconds * 1000
  if (!spot) {
    problems.push({ code: 'INVALID_REQUEST', field: `${at}.assets`, message: `${format.id} needs a ${format.kind} asset with an http(s) url` })
  } else if (spot.durationMs !== null && spot.durationMs !== durationMs) {
    problems.push({ code: 'INVALID_REQUEST', field: `${at}.assets`, message: `${format.id} is a ${durationMs} ms spot; the ${format.kind} asset is ${spot.durationMs} ms` })
  }
  const adIds = input.industryIdentifiers.filter((identifier) => identifier.type === 'ad_id')
  if (format.carriesAdId) {
    if (adIds.length !== 1) {
      problems.push({
        code: 'CREATIVE_REJECTED',
        field: `${at}.industry_identifiers`,
        message: adIds.length === 0
          ? `${format.id} is a TV spot: send its Ad-ID in industry_identifiers as {type: 'ad_id', value}`
          : 'a spot has one Ad-ID; industry_identifiers names several',
      })
    } else if (!isAdId(adIds[0]!.value)) {
      problems.push({ code: 'CREATIVE_REJECTED', field: `${at}.industry_identifiers`, message: `${adIds[0]!.value} is not an Ad-ID (${AD_ID_RULE})` })
    }
  }
  if (problems.length > 0 || !spot) return problems
  return { input, format, spot, reviewed: true, content: contentOf(input, adIds[0]?.value ?? null) }
}

function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined
  const id = /^\d{1,15}$/.test(cursor) ? Number(cursor) : NaN
  if (!Number.isSafeInteger(id)) throw fail.invalidField('pagination.cursor', 'is not a cursor this agent returned')
  return id
}

/** The buys among these whose every live package now has a creative that can serve leave pending_creatives. */
async function advanceReadyBuys(trx: Transaction, mediaBuyRowIds: number[], now: Date, secrets: SecretBox | undefined): Promise<void> {
  const live = await livePackagesOfBuys(trx, mediaBuyRowIds)
  const ready = await packagesWithServableCreative(trx, [...live.values()].flat())
  const readyBuys = [...live].filter(([, packageRowIds]) => packageRowIds.length > 0 && packageRowIds.every((id) => ready.has(id))).map(([buyRowId]) => buyRowId)
  // Each buy that moved tells its buyer, in this transaction.
  for (const moved of await advanceCreativeReadyBuys(trx, readyBuys, now)) await enqueueStatusChangeWebhook(trx, secrets, moved, 'pending_creatives', now)
}

export function createCreativeWorkflows({ db, clock, ledger, listFormats, secrets }: CreativeWorkflowDeps) {
  function ownerOf(principal: BuyerPrincipal): CreativeOwner {
    return { storefrontId: principal.storefrontId, apiKeyId: principal.apiKeyId, sandbox: principal.sandbox }
  }

  /**
   * The source's MAP_CREATIVE_REF item for a creative newly put on a package: the campaign went
   * to the trafficking system without it, so a person registers it there and completes the item
   * with its creativeRef (stored on the booking by the provider's completion effect). Only a
   * source whose trafficking provider declares the kind gets one, and only once per creative
   * and booking while it is open.
   */
  async function requestCreativeMapping(trx: Transaction, pkg: AssignablePackage, creative: CreativeRow, spot: CheckedCreative['spot'] | null, format: SpotFormat | null, now: Date): Promise<void> {
    const module = await findActiveModule(trx, pkg.inventorySourceId, 'TRAFFICKING')
    if (!module || !taskOf(module.contract, 'MAP_CREATIVE_REF')) return
    const avail = await ledger.readAvail(trx, pkg.availRowId)
    const reservation = await ledger
      .lockLiveByKey(trx, { sourceRowId: pkg.inventorySourceId, mediaBuyId: pkg.mediaBuyId, availId: avail.avail_id, packageId: pkg.packageId })
      .then(({ row }) => row, (error: unknown) => {
        // No live hold behind the package: nothing is trafficked that the creative could join.
        if (isStorefrontError(error) && error.details?.reason === 'NO_HELD_RESERVATION') return null
        throw error
      })
    if (!reservation) return
    const booking = await findBookingByReservation(trx, reservation.id)
    if (!booking) return
    const items = await listWorkItemsForResource(trx, pkg.inventorySourceId, RESERVATION_RESOURCE, String(reservation.id))
    const alreadyAsked = items.some((item) => item.kind === 'MAP_CREATIVE_REF' && OPEN_STATUSES.includes(item.status) && item.payload.creativeId === creative.creative_id)
    if (alreadyAsked) return
    const durationSeconds = format?.durationSeconds ?? (spot?.durationMs ? Math.round(spot.durationMs / 1000) : null)
    const planned = plannedItem(module, 'MAP_CREATIVE_REF', {
      title: `Map creative "${creative.name}" (${creative.creative_id}) of ${pkg.mediaBuyId} to a trafficking creative`,
      dueAt: avail.start_time,
      payload: {
        ...handoffPayload(reservation, avail, { campaignName: booking.campaign_name, advertiserName: booking.advertiser_name }),
        creativeId: creative.creative_id,
        creative: { format: creative.format_key, durationSeconds, assetUrl: spot?.url ?? null, adId: creative.ad_id },
      },
    })
    await openWorkItem(trx, {
      storefrontId: creative.storefront_id,
      inventorySourceId: pkg.inventorySourceId,
      moduleRowId: planned.moduleRowId,
      kind: planned.kind,
      title: planned.title,
      description: planned.description,
      resourceType: RESERVATION_RESOURCE,
      resourceId: String(reservation.id),
      mediaBuyId: pkg.mediaBuyId,
      buyerCustomerId: reservation.buyer_customer_id,
      dueAt: planned.dueAt,
      payload: planned.payload,
      requiredResultKeys: planned.requiredResultKeys,
    }, BUYER, now)
  }

  /**
   * sync_creatives: each creative is checked, then created, updated or left unchanged; a creative
   * that fails its check is reported `failed` and nothing of it is written. Assignments go to the
   * key's own packages; an unknown or closed package is an assignment error of that creative.
   */
  async function syncCreatives(principal: BuyerPrincipal, input: SyncCreativesInput): Promise<SyncCreativeResult[]> {
    const formats = await listFormats(principal)
    const owner = ownerOf(principal)
    const results = new Map<string, SyncCreativeResult>()
    const checked = new Map<string, CheckedCreative>()
    input.creatives.forEach((creative, index) => {
      // Two rows with one id cannot both be reported: the request is refused as a whole.
      if (results.has(creative.creativeId)) throw fail.invalidField(`creatives[${index}].creative_id`, `${creative.creativeId} is sent twice in this sync`)
      const outcome = checkCreative(creative, index, formats, input.agentUrl, principal.sandbox)
      if (Array.isArray(outcome)) {
        results.set(creative.creativeId, { creativeId: creative.creativeId, action: 'failed', errors: outcome })
      } else {
        checked.set(creative.creativeId, outcome)
        results.set(creative.creativeId, { creativeId: creative.creativeId, action: 'unchanged' })
      }
    })

    return outcomeTransaction(db, async (trx) => {
      const now = clock.now()
      const assignedIds = input.assignments.map((assignment) => assignment.creativeId).filter((id) => !results.has(id))
      const rows = await lockCreatives(trx, owner, [...new Set([...checked.keys(), ...assignedIds])])
      const byId = new Map(rows.map((row) => [row.creative_id, row]))

      for (const [creativeId, creative] of checked) {
        const result = results.get(creativeId)!
        let existing = byId.get(creativeId)
        if (!existing) {
          const status = statusAfterSync(null, creative.reviewed)
          const inserted = await insertCreative(trx, owner, { creativeId, buyerAccountId: input.buyerAccountId, content: creative.content, status }, now)
          if (inserted) {
            byId.set(creativeId, inserted)
            Object.assign(result, { action: 'created', status })
            continue
          }
          // A concurrent sync of this key created it first: this one compares against that row.
          existing = (await lockCreatives(trx, owner, [creativeId]))[0]!
        }
        const changes = changedFields(existing, creative.content)
        if (changes.length === 0) {
          result.status = existing.status
          continue
        }
        const status = statusAfterSync(existing.status, creative.reviewed)
        byId.set(creativeId, await updateCreative(trx, existing.id, { buyerAccountId: input.buyerAccountId, content: creative.content, status }, now))
        Object.assign(result, { action: 'updated', status, changes })
      }

      const packages = await lockAssignablePackages(trx, owner.apiKeyId, [...new Set(input.assignments.map((assignment) => assignment.packageId))])
      const touchedBuys = new Set<number>()
      for (const assignment of input.assignments) {
        let result = results.get(assignment.creativeId)
        const creative = byId.get(assignment.creativeId)
        if (!result) {
          // A library creative assigned without being re-sent: reported on a row of its own.
          result = creative
            ? { creativeId: assignment.creativeId, action: 'unchanged', status: creative.status }
            : { creativeId: assignment.creativeId, action: 'failed', errors: [{ code: 'INVALID_REQUEST', field: 'assignments', message: `creative_id ${assignment.creativeId} is neither in this sync nor in the library` }] }
          results.set(assignment.creativeId, result)
        }
        const refuse = (message: string) => { result.assignmentErrors = { ...result.assignmentErrors, [assignment.packageId]: message } }
        if (result.action === 'failed' || !creative) {
          refuse('the creative was not accepted, so it was not assigned')
          continue
        }
        if (creative.status === 'rejected' || creative.status === 'archived') {
          refuse(`the creative is ${creative.status}`)
          continue
        }
        const candidates = packages.filter((pkg) => pkg.packageId === assignment.packageId)
        const open = candidates.filter(isOpenForCreatives)
        if (candidates.length === 0) {
          refuse(`package ${assignment.packageId} not found`)
          continue
        }
        if (open.length === 0) {
          refuse(`package ${assignment.packageId} belongs to a ${candidates[0]!.canceled ? 'canceled package' : `${candidates[0]!.buyStatus} media buy`}`)
          continue
        }
        if (open.length > 1) {
          refuse(`package_id ${assignment.packageId} names packages of several of your media buys`)
          continue
        }
        const pkg = open[0]!
        const { created } = await upsertAssignment(trx, { creativeRowId: creative.id, packageRowId: pkg.packageRowId, weight: assignment.weight }, now)
        if (created) {
          const check = checked.get(assignment.creativeId)
          const known = formats.find((candidate) => candidate.id === creative.format_key)
          const format = check ? check.format : known && !isSeededFormat(known) ? known : null
          await requestCreativeMapping(trx, pkg, creative, check?.spot ?? spotAssetOfRow(creative, format), format, now)
        }
        result.assignedTo = [...new Set([...(result.assignedTo ?? []), assignment.packageId])]
        touchedBuys.add(pkg.mediaBuyRowId)
      }

      if (touchedBuys.size > 0) await advanceReadyBuys(trx, [...touchedBuys], now, secrets)
      return [...results.values()]
    })
  }

  function spotAssetOfRow(row: CreativeRow, format: SpotFormat | null) {
    return format ? spotAsset(row.assets, format) : null
  }

  /** list_creatives: one keyset page of the key's own library; another key's creatives are never matched. */
  async function listOwnCreatives(principal: BuyerPrincipal, query: CreativeListQuery): Promise<CreativePage> {
    const limit = Math.min(Math.max(1, query.limit), CREATIVES_MAX_LIMIT)
    const { rows, hasMore, totalMatching } = await listCreatives(db, ownerOf(principal), {
      creativeIds: query.creativeIds,
      statuses: query.statuses,
      formats: query.formats,
      afterId: decodeCursor(query.cursor),
      limit,
    })
    const last = rows.at(-1)
    return { rows, totalMatching, nextCursor: hasMore && last ? String(last.id) : null }
  }

  function assertSandbox(principal: BuyerPrincipal): void {
    // Seeding and forcing bypass the review: only a sandbox key's library may be written so.
    if (!principal.sandbox) throw fail.accessDenied('WRONG_KEY_ROLE', 'Seeding and forcing creatives needs a sandbox buyer key')
  }

  /**
   * A sandbox fixture (comply_test_controller seed_creative): the creative as given, with the
   * status it names, outside the review a sync does. Seeding an id again replaces it.
   */
  async function seedCreative(
    principal: BuyerPrincipal,
    input: { buyerAccountId: number; creativeId: string; name?: string | undefined; format: { agentUrl: string; id: string }; status: CreativeStatus; assets?: Record<string, unknown> | undefined },
  ): Promise<CreativeRow> {
    assertSandbox(principal)
    const owner = ownerOf(principal)
    const content: CreativeContent = {
      name: input.name ?? input.creativeId,
      format: { agent_url: input.format.agentUrl, id: input.format.id },
      formatKey: input.format.id,
      formatAgentUrl: input.format.agentUrl,
      assets: input.assets ?? {},
      industryIdentifiers: [],
      adId: null,
      tags: [],
    }
    return outcomeTransaction(db, async (trx) => {
      const now = clock.now()
      const [existing] = await lockCreatives(trx, owner, [input.creativeId])
      if (existing) return updateCreative(trx, existing.id, { buyerAccountId: input.buyerAccountId, content, status: input.status }, now)
      const inserted = await insertCreative(trx, owner, { creativeId: input.creativeId, buyerAccountId: input.buyerAccountId, content, status: input.status }, now)
      return inserted ?? (await lockCreatives(trx, owner, [input.creativeId]))[0]!
    })
  }

  /**
   * comply_test_controller force_creative_status: one step of the AdCP creative graph on the key's
   * creative. Another key's creative is as missing as an unknown one.
   */
  async function forceCreativeStatus(
    principal: BuyerPrincipal,
    creativeId: string,
    status: CreativeStatus,
  ): Promise<{ ok: true; previous: CreativeStatus; current: CreativeStatus } | { ok: false; reason: 'NOT_FOUND' | 'INVALID_TRANSITION'; current?: CreativeStatus }> {
    assertSandbox(principal)
    return outcomeTransaction(db, async (trx) => {
      const [row] = await lockCreatives(trx, ownerOf(principal), [creativeId])
      if (!row) return { ok: false as const, reason: 'NOT_FOUND' as const }
      if (!isLegalCreativeTransition(row.status, status)) return { ok: false as const, reason: 'INVALID_TRANSITION' as const, current: row.status }
      const updated = await setCreativeStatus(trx, row.id, status, clock.now())
      return { ok: true as const, previous: row.status, current: updated.status }
    })
  }

  /**
   * update_media_buy `packages[i].creative_assignments`: the package's creatives become exactly
   * these (replacement semantics), inside the update's transaction. Each creative must be one of
   * the key's library creatives that can serve; a refusal names the field and the whole update
   * rolls back. A buy whose every live package now has a creative leaves pending_creatives.
   */
  async function replacePackageAssignments(
    trx: Transaction,
    principal: BuyerPrincipal,
    target: { packageId: string; packageRowId: number },
    assignments: ReadonlyArray<{ creativeId: string; weight: number | null }>,
    field: string,
    // Read by the caller before its transaction (PGlite is one connection).
    formats: BuyerFormat[],
  ): Promise<void> {
    const now = clock.now()
    const owner = ownerOf(principal)
    const [pkg] = (await lockAssignablePackages(trx, owner.apiKeyId, [target.packageId])).filter((candidate) => candidate.packageRowId === target.packageRowId)
    if (!pkg || !isOpenForCreatives(pkg)) throw fail.invalidField(field, `package ${target.packageId} takes no creatives in its state`)
    const creatives = await lockCreatives(trx, owner, [...new Set(assignments.map((assignment) => assignment.creativeId))])
    const byId = new Map(creatives.map((row) => [row.creative_id, row]))
    for (const [index, assignment] of assignments.entries()) {
      const creative = byId.get(assignment.creativeId)
      if (!creative) throw fail.invalidField(`${field}[${index}].creative_id`, `${assignment.creativeId} is not a creative of your library (sync_creatives first)`)
      if (creative.status === 'rejected' || creative.status === 'archived') throw fail.invalidField(`${field}[${index}].creative_id`, `the creative is ${creative.status}`)
    }
    await removeAssignmentsExcept(trx, pkg.packageRowId, assignments.map((assignment) => byId.get(assignment.creativeId)!.id))
    for (const assignment of assignments) {
      const creative = byId.get(assignment.creativeId)!
      const { created } = await upsertAssignment(trx, { creativeRowId: creative.id, packageRowId: pkg.packageRowId, weight: assignment.weight }, now)
      if (created) {
        const known = formats.find((candidate) => candidate.id === creative.format_key)
        const format = known && !isSeededFormat(known) ? known : null
        await requestCreativeMapping(trx, pkg, creative, spotAssetOfRow(creative, format), format, now)
      }
    }
    await advanceReadyBuys(trx, [pkg.mediaBuyRowId], now, secrets)
  }

  return { syncCreatives, listOwnCreatives, seedCreative, forceCreativeStatus, replacePackageAssignments, formatsOf: listFormats }
}

export type CreativeWorkflows = ReturnType<typeof createCreativeWorkflows>
