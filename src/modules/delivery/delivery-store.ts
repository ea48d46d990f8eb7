import { sql } from 'kysely'
import { z } from 'zod'
import type { Queryable, Transaction } from '../../db/database.ts'
import type { DeliveryRowRow } from '../../db/tables.ts'
import { toIso } from '../../shared/clock.ts'
import { TimestampSchema } from '../../shared/common.schema.ts'
import { windowRank, type MeasurementWindow } from '../../shared/measurement-windows.ts'
import { ReportRowErrors, type DeliveryReportRow } from './parse-report.ts'

/** Imported delivery: one row per media buy, line (reservation) and day. */

export interface ReplaceDeliveryInput {
  inventorySourceId: number
  mediaBuyId: string
  reservationId: number
  availId: string
  workItemId: number | null
  rows: readonly DeliveryReportRow[]
  now: Date
}

const INSERT_BATCH = 1000

/** The flight of a line: its avail's start and end. */
export async function lineFlight(db: Queryable, reservationId: number): Promise<{ startTime: Date; endTime: Date }> {
  const row = await db
    .selectFrom('reservation')
    .innerJoin('avail', 'avail.id', 'reservation.avail_row_id')
    .select(['avail.start_time', 'avail.end_time'])
    .where('reservation.id', '=', reservationId)
    .executeTakeFirstOrThrow()
  return { startTime: row.start_time, endTime: row.end_time }
}

export interface ReplacedDelivery {
  importedRows: number
  replacedRows: number
  /** The report's measurement window, when it names one. */
  measurementWindow?: MeasurementWindow
  /** The narrower window of the line's earlier report that this one replaced (live -> c7). */
  supersededWindow?: MeasurementWindow
}

/** The widest window of the line's stored rows (null: none windowed). */
async function storedWindowOfLine(trx: Transaction, input: ReplaceDeliveryInput): Promise<MeasurementWindow | null> {
  const rows = await trx
    .selectFrom('delivery_row')
    .select('measurement_window')
    .distinct()
    .where('inventory_source_id', '=', input.inventorySourceId)
    .where('media_buy_id', '=', input.mediaBuyId)
    .where('reservation_id', '=', input.reservationId)
    .where('measurement_window', 'is not', null)
    .execute()
  const windows = rows.map((row) => row.measurement_window!).sort((a, b) => windowRank(a) - windowRank(b))
  return windows.at(-1) ?? null
}

/**
 * Replaces the line's delivery with the report: a final report is the whole flight, so days
 * that a corrected report no longer lists are dropped too. Call inside the completion's transaction.
 *
 * Measurement windows (TV): a report in a wider window than the line's stored one supersedes it
 * (its rows carry `supersedes_window`, the stored window, unless the report names one); the same
 * window corrects it; a narrower one is refused, since a wider window supersedes a narrower one,
 * never the other way round. A report without windows replaces the line as before.
 */
export async function replaceDelivery(trx: Transaction, input: ReplaceDeliveryInput): Promise<ReplacedDelivery> {
  const window = input.rows[0]?.measurementWindow
  let supersededWindow: MeasurementWindow | undefined
  if (window) {
    const stored = await storedWindowOfLine(trx, input)
    if (stored && windowRank(stored) > windowRank(window)) {
      throw new ReportRowErrors([{
        row: 0,
        field: 'measurementWindow',
        message: `is ${window}, narrower than the ${stored} report already imported for this line; a wider window supersedes a narrower one, never the other way round`,
      }])
    }
    if (stored && windowRank(stored) < windowRank(window)) supersededWindow = stored
  }
  const removed = await trx
    .deleteFrom('delivery_row')
    .where('inventory_source_id', '=', input.inventorySourceId)
    .where('media_buy_id', '=', input.mediaBuyId)
    .where('reservation_id', '=', input.reservationId)
    .executeTakeFirst()
  for (let offset = 0; offset < input.rows.length; offset += INSERT_BATCH) {
    await trx
      .insertInto('delivery_row')
      .values(input.rows.slice(offset, offset + INSERT_BATCH).map((row) => ({
        inventory_source_id: input.inventorySourceId,
        media_buy_id: input.mediaBuyId,
        reservation_id: input.reservationId,
        avail_id: input.availId,
        delivery_date: row.date,
        impressions: row.impressions,
        spend: row.spend,
        clicks: row.clicks,
        completed_views: row.completedViews,
        work_item_id: input.workItemId,
        imported_at: input.now,
        measurement_window: row.measurementWindow ?? null,
        is_final: row.isFinal ?? null,
        supersedes_window: row.supersedesWindow ?? supersededWindow ?? null,
      })))
      .execute()
  }
  return {
    importedRows: input.rows.length,
    replacedRows: Number(removed.numDeletedRows),
    ...(window ? { measurementWindow: window } : {}),
    ...(supersededWindow ? { supersededWindow } : {}),
  }
}

const MetricsShape = {
  impressions: z.number().int().min(0),
  spend: z.number().nullable().describe('null when no imported row carried spend'),
  clicks: z.number().int().nullable(),
  completedViews: z.number().int().nullable(),
}

export const DeliverySchema = z
  .object({
    mediaBuyId: z.string(),
    totals: z.object({ ...MetricsShape, days: z.number().int().min(0) }),
    daily: z.array(z.object({ date: z.iso.date(), ...MetricsShape })).describe('Summed over the lines of the media buy, oldest first.'),
    lines: z.array(z.object({
      reservationId: z.string(),
      availId: z.string(),
      ...MetricsShape,
      firstDate: z.iso.date(),
      lastDate: z.iso.date(),
      importedAt: TimestampSchema,
    })),
  })
  .meta({ id: 'MediaBuyDelivery' })
export type Delivery = z.output<typeof DeliverySchema>

type Metrics = { impressions: number; spend: number | null; clicks: number | null; completedViews: number | null }

function addMetrics(into: Metrics, row: DeliveryRowRow): void {
  into.impressions += row.impressions
  // A metric stays null until some row reports it, so "not reported" never reads as zero.
  if (row.spend !== null) into.spend = Math.round(((into.spend ?? 0) + row.spend) * 1e4) / 1e4
  if (row.clicks !== null) into.clicks = (into.clicks ?? 0) + row.clicks
  if (row.completed_views !== null) into.completedViews = (into.completedViews ?? 0) + row.completed_views
}

const emptyMetrics = (): Metrics => ({ impressions: 0, spend: null, clicks: null, completedViews: null })

/** Totals, daily sums and per-line sums of a media buy's imported delivery. */
export async function readDelivery(db: Queryable, inventorySourceId: number, mediaBuyId: string): Promise<Delivery> {
  const rows = await db
    .selectFrom('delivery_row')
    .selectAll()
    .where('inventory_source_id', '=', inventorySourceId)
    .where('media_buy_id', '=', mediaBuyId)
    .orderBy('delivery_date')
    .orderBy('reservation_id')
    .execute()
  const totals = emptyMetrics()
  const daily = new Map<string, Metrics & { date: string }>()
  const lines = new Map<number, Metrics & { reservationId: string; availId: string; firstDate: string; lastDate: string; importedAt: string }>()
  for (const row of rows) {
    addMetrics(totals, row)
    const day = daily.get(row.delivery_date) ?? { date: row.delivery_date, ...emptyMetrics() }
    addMetrics(day, row)
    daily.set(row.delivery_date, day)
    const line = lines.get(row.reservation_id) ?? {
      reservationId: String(row.reservation_id), availId: row.avail_id, ...emptyMetrics(),
      firstDate: row.delivery_date, lastDate: row.delivery_date, importedAt: toIso(row.imported_at)!,
    }
    addMetrics(line, row)
    line.lastDate = row.delivery_date
    lines.set(row.reservation_id, line)
  }
  return { mediaBuyId, totals: { ...totals, days: daily.size }, daily: [...daily.values()], lines: [...lines.values()] }
}

/** Impressions delivered on the given UTC days (the status endpoint's last-24h figure). */
export async function sumImpressionsOnDates(db: Queryable, inventorySourceId: number, dates: readonly string[]): Promise<number> {
  const row = await db
    .selectFrom('delivery_row')
    .select(sql<number>`coalesce(sum(impressions), 0)`.as('impressions'))
    .where('inventory_source_id', '=', inventorySourceId)
    .where('delivery_date', 'in', [...dates])
    .executeTakeFirstOrThrow()
  return Number(row.impressions)
}

export interface SimulatedDelivery {
  inventorySourceId: number
  mediaBuyId: string
  reservationId: number
  availId: string
  date: string
  impressions: number
  spend: number
  clicks: number | null
  now: Date
}

/**
 * comply_test_controller simulate_*: adds to the line's row of the day, in the same table the
 * final-report import writes, so get_media_buy_delivery reads simulated and imported alike.
 */
export async function addSimulatedDelivery(trx: Transaction, input: SimulatedDelivery): Promise<void> {
  await trx
    .insertInto('delivery_row')
    .values({
      inventory_source_id: input.inventorySourceId,
      media_buy_id: input.mediaBuyId,
      reservation_id: input.reservationId,
      avail_id: input.availId,
      delivery_date: input.date,
      impressions: input.impressions,
      spend: input.spend,
      clicks: input.clicks,
      completed_views: null,
      work_item_id: null,
      imported_at: input.now,
    })
    .onConflict((oc) => oc.columns(['inventory_source_id', 'media_buy_id', 'reservation_id', 'delivery_date']).doUpdateSet((eb) => ({
      impressions: eb('delivery_row.impressions', '+', eb.ref('excluded.impressions')),
      spend: sql<number>`coalesce(delivery_row.spend, 0) + coalesce(excluded.spend, 0)`,
      clicks: sql<number | null>`case when delivery_row.clicks is null and excluded.clicks is null then null else coalesce(delivery_row.clicks, 0) + coalesce(excluded.clicks, 0) end`,
      imported_at: input.now,
    })))
    .execute()
}

export interface PackageDeliveryRow {
  reservation_id: number
  package_id: string | null
  delivery_date: string
  impressions: number
  spend: number | null
  clicks: number | null
  completed_views: number | null
  measurement_window: MeasurementWindow | null
  is_final: boolean | null
  supersedes_window: MeasurementWindow | null
  work_item_id: number | null
}

/**
 * The delivery of one media buy's lines, with each line's package, oldest day first; `from` / `to`
 * ('YYYY-MM-DD', inclusive) narrow the days.
 */
export async function listBuyDelivery(
  db: Queryable,
  input: { mediaBuyId: string; buyerCustomerId: number; from?: string | undefined; to?: string | undefined },
): Promise<PackageDeliveryRow[]> {
  let select = db
    .selectFrom('delivery_row as d')
    .innerJoin('reservation as r', 'r.id', 'd.reservation_id')
    .select(['d.reservation_id', 'r.package_id', 'd.delivery_date', 'd.impressions', 'd.spend', 'd.clicks', 'd.completed_views', 'd.measurement_window', 'd.is_final', 'd.supersedes_window', 'd.work_item_id'])
    .where('d.media_buy_id', '=', input.mediaBuyId)
    .where('r.media_buy_id', '=', input.mediaBuyId)
    .where('r.buyer_customer_id', '=', input.buyerCustomerId)
  if (input.from !== undefined) select = select.where('d.delivery_date', '>=', input.from)
  if (input.to !== undefined) select = select.where('d.delivery_date', '<=', input.to)
  return select.orderBy('d.delivery_date').orderBy('d.reservation_id').execute()
}

/** Total spend delivered so far on each reservation. */
export async function sumSpendByReservation(db: Queryable, reservationIds: readonly number[]): Promise<Map<number, number>> {
  if (reservationIds.length === 0) return new Map()
  const rows = await db
    .selectFrom('delivery_row')
    .select(['reservation_id', sql<number>`coalesce(sum(spend), 0)`.as('spend')])
    .where('reservation_id', 'in', [...reservationIds])
    .groupBy('reservation_id')
    .execute()
  return new Map(rows.map((row) => [row.reservation_id, Number(row.spend)]))
}
