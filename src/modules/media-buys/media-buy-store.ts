import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import type { Queryable, Transaction } from '../../db/database.ts'
import { json } from '../../db/database.ts'
import type { AvailRow, MediaBuyPackageRow, MediaBuyRow, MediaBuyStatus, ReservationRow } from '../../db/tables.ts'
import type { FlatRateUnit } from '../../shared/flat-rate.ts'

/**
 * AdCP media buys and their packages (migration 0013). Every buyer read is scoped by the buyer
 * key: another key's buy is simply not found, so it answers exactly like a missing one.
 */

export type { MediaBuyPackageRow, MediaBuyRow, MediaBuyStatus }

/** The public ids are random: they reveal nothing about other buyers' buys. */
export function newMediaBuyId(): string {
  return `mb_${randomBytes(12).toString('base64url')}`
}

export function newPackageId(index: number): string {
  return `pkg_${index + 1}_${randomBytes(6).toString('base64url')}`
}

/** The AdCP task id of a submitted buy, allocated by us so it is stored with the buy. */
export function newTaskId(): string {
  return `task_${randomBytes(16).toString('hex')}`
}

/** A buy as the buyer key that owns it sees it. */
export interface BuyOwner {
  storefrontId: number
  apiKeyId: number
}

export interface NewMediaBuy {
  storefrontId: number
  apiKeyId: number
  buyerAccountId: number
  mediaBuyId: string
  idempotencyKey: string
  sandbox: boolean
  status: MediaBuyStatus
  currency: string
  startTime: Date
  endTime: Date
  poNumber: string | null
  taskId: string | null
  pushNotificationSealed: string | null
  /** reporting_webhook as sent, sealed: delivery notifications go there. */
  reportingWebhookSealed?: string | null | undefined
  confirmedAt: Date | null
  now: Date
}

export interface NewPackage {
  packageId: string
  inventorySourceId: number
  availRowId: number
  productId: string
  pricingOptionId: string
  budget: number
  impressions: number
  cpm: number
  /** cpm, or the avail's flat rate: per spot (`spots` of them) or for the whole package. */
  pricing: { model: 'cpm' } | { model: 'flat_rate'; flatRate: number; unit: FlatRateUnit; spots: number | null }
  paused: boolean
  targetingOverlay: unknown
}

/** A package with the state of the reservation that backs it (null: none is live). */
export interface PackageWithHold extends MediaBuyPackageRow {
  avail_id: string
  source_id: string
  reservation_status: ReservationRow['status'] | null
}

function revivePackage<T extends MediaBuyPackageRow>(row: T): T {
  return { ...row, budget: Number(row.budget), cpm: Number(row.cpm), impressions: Number(row.impressions) }
}

/** The key of `findSellableAvails`'s answer for an avail of a source (by row id). */
export function sellableAvailKey(inventorySourceId: number, availId: string): string {
  return `${inventorySourceId}:${availId}`
}

/**
 * The ACTIVE avails of the sources (by row id) whose flights have not ended at `now`, in one
 * statement, keyed by `sellableAvailKey`; an avail that is not sellable is absent.
 */
export async function findSellableAvails(db: Queryable, wanted: ReadonlyArray<{ inventorySourceId: number; availId: string }>, now: Date): Promise<Map<string, AvailRow>> {
  if (wanted.length === 0) return new Map()
  const rows = await db
    .selectFrom('avail')
    .selectAll()
    .where((eb) => eb(eb.refTuple('inventory_source_id', 'avail_id'), 'in', wanted.map(({ inventorySourceId, availId }) => eb.tuple(inventorySourceId, availId))))
    .where('status', '=', 'ACTIVE')
    .where('end_time', '>', now)
    .execute()
  return new Map(rows.map((row) => [sellableAvailKey(row.inventory_source_id, row.avail_id), { ...row, cpm: row.cpm === null ? null : Number(row.cpm) }]))
}

/**
 * Inserts the buy; undefined when the key already has a buy with this idempotency_key (the
 * backstop behind the SDK's replay cache: a concurrent retry waits on the unique index).
 */
/** The AdCP task a submitted buy answers with (its id is the buy's task_id). */
export interface NewBuyTask {
  tool: string
  accountId: string
  hasWebhook: boolean
}

/** The package columns a new buy writes; media_buy_row_id is the new buy's id. */
const NEW_PACKAGE_COLUMNS = [
  'package_id', 'inventory_source_id', 'avail_row_id', 'product_id', 'pricing_option_id', 'budget', 'impressions', 'cpm',
  'pricing_model', 'flat_rate', 'flat_rate_unit', 'spots', 'paused', 'targeting_overlay', 'created_at', 'updated_at',
] as const

/**
 * A new buy, its packages in order and, when it has a task_id, its submitted AdCP task, in one
 * statement. Undefined, with nothing written, when the key already has a buy with this
 * idempotency_key (the insert's conflict): neither packages nor a task hang on another buy.
 */
export async function insertMediaBuy(trx: Transaction, input: NewMediaBuy, packages: readonly NewPackage[], task: NewBuyTask | null): Promise<MediaBuyRow | undefined> {
  if ((input.taskId === null) !== (task === null)) throw new Error('a buy has a task exactly when it has a task_id')
  const rows = packages.map((pkg) => ({
    package_id: pkg.packageId,
    inventory_source_id: pkg.inventorySourceId,
    avail_row_id: pkg.availRowId,
    product_id: pkg.productId,
    pricing_option_id: pkg.pricingOptionId,
    budget: pkg.budget,
    impressions: pkg.impressions,
    cpm: pkg.cpm,
    pricing_model: pkg.pricing.model,
    ...(pkg.pricing.model === 'flat_rate' ? { flat_rate: pkg.pricing.flatRate, flat_rate_unit: pkg.pricing.unit, spots: pkg.pricing.spots } : {}),
    paused: pkg.paused,
    targeting_overlay: pkg.targetingOverlay ?? null,
    created_at: input.now,
    updated_at: input.now,
  }))
  return trx
    .with('buy', (db) => db
      .insertInto('media_buy')
      .values({
        storefront_id: input.storefrontId,
        api_key_id: input.apiKeyId,
        buyer_account_id: input.buyerAccountId,
        media_buy_id: input.mediaBuyId,
        idempotency_key: input.idempotencyKey,
        sandbox: input.sandbox,
        status: input.status,
        currency: input.currency,
        start_time: input.startTime,
        end_time: input.endTime,
        po_number: input.poNumber,
        task_id: input.taskId,
        push_notification_sealed: input.pushNotificationSealed,
        reporting_webhook_sealed: input.reportingWebhookSealed ?? null,
        confirmed_at: input.confirmedAt,
        created_at: input.now,
        updated_at: input.now,
      })
      .onConflict((oc) => oc.columns(['api_key_id', 'idempotency_key']).doNothing())
      .returningAll())
    // Typed by the table itself (a JSON null is SQL NULL), in the order given: the ids follow it.
    .with('package', (db) => db
      .insertInto('media_buy_package')
      .columns(['media_buy_row_id', ...NEW_PACKAGE_COLUMNS])
      .expression(sql`
        SELECT buy.id, ${sql.join(NEW_PACKAGE_COLUMNS.map((column) => sql.ref(`given.${column}`)))}
        FROM buy CROSS JOIN jsonb_populate_recordset(NULL::media_buy_package, ${json(rows)}::jsonb) WITH ORDINALITY AS given
        ORDER BY given.ordinality
      `))
    .with('task', (db) => db
      .insertInto('adcp_decisioning_tasks')
      .columns(['task_id', 'tool', 'account_id', 'status', 'has_webhook', 'created_at', 'updated_at'])
      .expression(sql`
        SELECT buy.task_id, ${task?.tool ?? null}::text, ${task?.accountId ?? null}::text, 'submitted', ${task?.hasWebhook ?? false}, ${input.now}::timestamptz, ${input.now}::timestamptz
        FROM buy WHERE buy.task_id IS NOT NULL
      `))
    .selectFrom('buy')
    .selectAll()
    .executeTakeFirst()
}

export async function findBuyByIdempotencyKey(db: Queryable, owner: BuyOwner, idempotencyKey: string): Promise<MediaBuyRow | undefined> {
  return db
    .selectFrom('media_buy')
    .selectAll()
    .where('storefront_id', '=', owner.storefrontId)
    .where('api_key_id', '=', owner.apiKeyId)
    .where('idempotency_key', '=', idempotencyKey)
    .executeTakeFirst()
}

/** The key's buy by its public id; `forUpdate` serialises the changes of one buy. */
export async function findOwnBuy(db: Queryable, owner: BuyOwner, mediaBuyId: string, options: { forUpdate?: boolean } = {}): Promise<MediaBuyRow | undefined> {
  const query = db
    .selectFrom('media_buy')
    .selectAll()
    .where('storefront_id', '=', owner.storefrontId)
    .where('api_key_id', '=', owner.apiKeyId)
    .where('media_buy_id', '=', mediaBuyId)
  return options.forUpdate ? query.forNoKeyUpdate().executeTakeFirst() : query.executeTakeFirst()
}

export async function lockBuyByRowId(trx: Transaction, buyRowId: number): Promise<MediaBuyRow | undefined> {
  return trx.selectFrom('media_buy').selectAll().where('id', '=', buyRowId).forNoKeyUpdate().executeTakeFirst()
}

export interface BuyListFilter {
  mediaBuyIds?: string[] | undefined
  statuses?: MediaBuyStatus[] | undefined
  /** Keyset: buys after this row id. */
  afterId?: number | undefined
  limit: number
}

/** One page of the key's buys, oldest first, and the total that match the filter. */
export async function listOwnBuys(db: Queryable, owner: BuyOwner, filter: BuyListFilter): Promise<{ rows: MediaBuyRow[]; hasMore: boolean; total: number }> {
  let base = db
    .selectFrom('media_buy')
    .where('storefront_id', '=', owner.storefrontId)
    .where('api_key_id', '=', owner.apiKeyId)
  if (filter.mediaBuyIds?.length) base = base.where('media_buy_id', 'in', filter.mediaBuyIds)
  if (filter.statuses?.length) base = base.where('status', 'in', filter.statuses)
  let page = base.selectAll()
  if (filter.afterId !== undefined) page = page.where('id', '>', filter.afterId)
  const [rows, count] = await Promise.all([
    page.orderBy('id').limit(filter.limit + 1).execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ])
  return { rows: rows.slice(0, filter.limit), hasMore: rows.length > filter.limit, total: Number(count.n) }
}

/** The storefront's buys for its operator, newest first. */
export async function listStorefrontBuys(db: Queryable, storefrontId: number, filter: { status?: MediaBuyStatus | undefined; limit: number; skip: number }): Promise<{ rows: Array<MediaBuyRow & { account_id: string }>; total: number }> {
  let base = db.selectFrom('media_buy').where('media_buy.storefront_id', '=', storefrontId)
  if (filter.status) base = base.where('media_buy.status', '=', filter.status)
  const [rows, count] = await Promise.all([
    base
      .innerJoin('buyer_account', 'buyer_account.id', 'media_buy.buyer_account_id')
      .selectAll('media_buy')
      .select('buyer_account.account_id')
      .orderBy('media_buy.id', 'desc')
      .limit(filter.limit)
      .offset(filter.skip)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ])
  return { rows, total: Number(count.n) }
}

/** The packages of the buys, each with its source, avail id and the status of its live (or last) reservation. */
export async function listPackagesWithHolds(db: Queryable, buys: Pick<MediaBuyRow, 'id' | 'media_buy_id'>[]): Promise<PackageWithHold[]> {
  if (buys.length === 0) return []
  const rows = await db
    .selectFrom('media_buy_package as p')
    .innerJoin('media_buy as b', 'b.id', 'p.media_buy_row_id')
    .innerJoin('avail as a', 'a.id', 'p.avail_row_id')
    .innerJoin('inventory_source as s', 's.id', 'p.inventory_source_id')
    .selectAll('p')
    .select(['a.avail_id', 's.source_id'])
    .select((eb) => eb
      .selectFrom('reservation as r')
      .select('r.status')
      .whereRef('r.inventory_source_id', '=', 'p.inventory_source_id')
      .whereRef('r.media_buy_id', '=', 'b.media_buy_id')
      .whereRef('r.package_id', '=', 'p.package_id')
      .orderBy(sql`r.status IN ('HELD', 'BOOKED')`, 'desc')
      .orderBy('r.id', 'desc')
      .limit(1)
      .as('reservation_status'))
    .where('p.media_buy_row_id', 'in', buys.map((buy) => buy.id))
    .orderBy('p.media_buy_row_id')
    .orderBy('p.id')
    .execute()
  return rows.map((row) => revivePackage(row as PackageWithHold))
}

export async function updateBuy(
  trx: Transaction,
  buyRowId: number,
  patch: Partial<Pick<MediaBuyRow, 'status' | 'confirmed_at' | 'canceled_at' | 'canceled_by' | 'cancellation_reason' | 'lines_to_release'>> & { bumpRevision?: boolean },
  now: Date,
): Promise<MediaBuyRow> {
  const { bumpRevision, ...fields } = patch
  return trx
    .updateTable('media_buy')
    .set((eb) => ({ ...fields, updated_at: now, ...(bumpRevision ? { revision: eb('revision', '+', 1) } : {}) }))
    .where('id', '=', buyRowId)
    .returningAll()
    .executeTakeFirstOrThrow()
}

export async function updatePackage(
  trx: Transaction,
  packageRowId: number,
  patch: Partial<Pick<MediaBuyPackageRow, 'budget' | 'impressions' | 'cpm' | 'spots' | 'paused' | 'canceled_at'>> & { targetingOverlay?: unknown },
  now: Date,
): Promise<MediaBuyPackageRow> {
  const { targetingOverlay, ...fields } = patch
  const row = await trx
    .updateTable('media_buy_package')
    .set({ ...fields, ...(targetingOverlay !== undefined ? { targeting_overlay: json(targetingOverlay) } : {}), updated_at: now })
    .where('id', '=', packageRowId)
    .returningAll()
    .executeTakeFirstOrThrow()
  return revivePackage(row)
}

/** The buys that hold these reservations, with the statuses of every reservation of each buy. */
export async function findBuysOfReservations(trx: Transaction, reservationIds: number[]): Promise<MediaBuyRow[]> {
  if (reservationIds.length === 0) return []
  return trx
    .selectFrom('media_buy as b')
    .selectAll('b')
    .where((eb) => eb.exists(eb
      .selectFrom('reservation as r')
      .innerJoin('media_buy_package as p', (join) => join
        .onRef('p.inventory_source_id', '=', 'r.inventory_source_id')
        .onRef('p.package_id', '=', 'r.package_id'))
      .select('r.id')
      .whereRef('r.media_buy_id', '=', 'b.media_buy_id')
      .whereRef('p.media_buy_row_id', '=', 'b.id')
      .where('r.id', 'in', reservationIds)))
    .orderBy('b.id')
    .execute()
}

/**
 * One page of the rejected buys whose other lines are still to be released (migration 0016),
 * oldest first, after the row id `afterRowId` (keyset paging: a sweep walks every marked buy once).
 */
export async function listBuysWithLinesToRelease(db: Queryable, afterRowId: number, limit: number): Promise<MediaBuyRow[]> {
  return db.selectFrom('media_buy').selectAll()
    .where('lines_to_release', '=', true)
    .where('id', '>', afterRowId)
    .orderBy('id').limit(limit).execute()
}

/** The live (HELD or BOOKED) reservations of a buy's packages, in reservation id order. */
export async function listLiveReservationsOfBuy(db: Queryable, buy: Pick<MediaBuyRow, 'id' | 'media_buy_id'>): Promise<Array<ReservationRow & { package_row_id: number }>> {
  const rows = await db
    .selectFrom('reservation as r')
    .innerJoin('media_buy_package as p', (join) => join
      .onRef('p.inventory_source_id', '=', 'r.inventory_source_id')
      .onRef('p.package_id', '=', 'r.package_id'))
    .selectAll('r')
    .select('p.id as package_row_id')
    .where('p.media_buy_row_id', '=', buy.id)
    .where('r.media_buy_id', '=', buy.media_buy_id)
    .where('r.status', 'in', ['HELD', 'BOOKED'])
    .orderBy('r.id')
    .execute()
  return rows
}

/**
 * Whether an AdCP task id is in use: a buy's task (kept after it settles) or any task of the SDK's
 * registry (forwarded buys' tasks included). Task ids are one namespace across the install.
 */
export async function isTaskIdTaken(db: Queryable, taskId: string): Promise<boolean> {
  const { rows } = await sql<{ taken: boolean }>`
    SELECT EXISTS (SELECT 1 FROM media_buy WHERE task_id = ${taskId})
        OR EXISTS (SELECT 1 FROM adcp_decisioning_tasks WHERE task_id = ${taskId}) AS taken
  `.execute(db)
  return rows[0]?.taken === true
}

/**
 * The AdCP task row of a submitted buy, written in the buy's own transaction so the task exists
 * exactly when the buy does. Same table and row shape as @adcp/sdk's createPostgresTaskRegistry,
 * whose `tasks/get` reads it from any process.
 */
export async function insertTask(trx: Transaction, input: { taskId: string; tool: string; accountId: string; hasWebhook: boolean; now: Date }): Promise<void> {
  await sql`
    INSERT INTO adcp_decisioning_tasks (task_id, tool, account_id, status, has_webhook, created_at, updated_at)
    VALUES (${input.taskId}, ${input.tool}, ${input.accountId}, 'submitted', ${input.hasWebhook}, ${input.now}, ${input.now})
  `.execute(trx)
}

/** The task's terminal state, once: a task already completed or failed is left as it is. */
export async function settleTask(
  trx: Transaction,
  taskId: string,
  outcome: { status: 'completed'; result: unknown } | { status: 'failed'; error: { code: string; message: string; recovery?: string } },
  now: Date,
): Promise<boolean> {
  const result = outcome.status === 'completed'
    ? await sql`
        UPDATE adcp_decisioning_tasks SET status = 'completed', result = ${json(outcome.result)}::jsonb, updated_at = ${now}
        WHERE task_id = ${taskId} AND status NOT IN ('completed', 'failed')
      `.execute(trx)
    : await sql`
        UPDATE adcp_decisioning_tasks SET status = 'failed', error = ${json(outcome.error)}::jsonb, status_message = ${outcome.error.message}, updated_at = ${now}
        WHERE task_id = ${taskId} AND status NOT IN ('completed', 'failed')
      `.execute(trx)
  return Number(result.numAffectedRows ?? 0) > 0
}

/** Media buys per status of one source's packages: the readiness projection's count. */
export async function countBuysOfSource(db: Queryable, inventorySourceId: number): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('media_buy as b')
    .where((eb) => eb.exists(eb.selectFrom('media_buy_package as p').select('p.id').whereRef('p.media_buy_row_id', '=', 'b.id').where('p.inventory_source_id', '=', inventorySourceId)))
    .select(['b.status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('b.status')
    .execute()
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]))
}

/**
 * The sources that hold capacity of these media buys of a storefront, as (media_buy_id,
 * sourceId) pairs: whom a buyer call about the buys was served by (the traffic record).
 */
export async function listSourcesOfBuys(db: Queryable, storefrontId: number, mediaBuyIds: string[]): Promise<Array<{ mediaBuyId: string; sourceId: string }>> {
  if (mediaBuyIds.length === 0) return []
  const rows = await db
    .selectFrom('media_buy as b')
    .innerJoin('media_buy_package as p', 'p.media_buy_row_id', 'b.id')
    .innerJoin('inventory_source as s', 's.id', 'p.inventory_source_id')
    .select(['b.media_buy_id', 's.source_id'])
    .distinct()
    .where('b.storefront_id', '=', storefrontId)
    .where('b.media_buy_id', 'in', [...new Set(mediaBuyIds)])
    .execute()
  return rows.map((row) => ({ mediaBuyId: row.media_buy_id, sourceId: row.source_id }))
}
