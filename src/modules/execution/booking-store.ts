import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { z } from 'zod'
import type { Queryable, Transaction } from '../../db/database.ts'
import { json } from '../../db/database.ts'
import type { BookingRow, BookingStatus } from '../../db/tables.ts'
import { toIso } from '../../shared/clock.ts'
import { OPEN_WORK_ITEM_STATUSES } from '../work-queue/index.ts'
import { CONTROL_CHARACTER_MESSAGE, hasControlCharacter, idSchema, nameSchema, TimestampSchema } from '../../shared/common.schema.ts'

/** Bookings: the execution hand-off of one finalized reservation (SPEC §3 "Execution hand-off"). */

/** Work items of a hand-off name their reservation, so a release can cancel exactly them. */
export const RESERVATION_RESOURCE = 'reservation'

export const BOOKING_STATUSES = ['HELD', 'BOOKED', 'RELEASED', 'EXPIRED'] as const satisfies readonly BookingStatus[]

export const CreativeSchema = z
  .object({
    // Every field reaches the Cadent XML, so none may hold a control character.
    format: nameSchema(64),
    durationSeconds: z.number().int().positive().max(86_400),
    // Checked before z.url, which would drop a tab or line break (WHATWG URL parsing) instead of refusing it.
    assetUrl: z
      .string()
      .refine((url) => !hasControlCharacter(url), CONTROL_CHARACTER_MESSAGE)
      .pipe(z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2048)),
    adId: idSchema(20).nullable().optional().describe('Ad-ID code, e.g. ABCD1234000H.'),
  })
  .strict()
  .meta({ id: 'BookingCreative' })
export type Creative = z.output<typeof CreativeSchema>

export const BookingSchema = z
  .object({
    bookingId: z.string(),
    reservationId: z.string(),
    availId: z.string(),
    mediaBuyId: z.string(),
    packageId: z.string().nullable(),
    buyerCustomerId: z.number().int().nullable(),
    requestedImpressions: z.number().int(),
    status: z.enum(BOOKING_STATUSES).describe('HELD while the hand-off is open, BOOKED once executed, RELEASED or EXPIRED as its reservation.'),
    provider: z.string(),
    traffickingMode: z.enum(['AUTOMATED', 'HITL']),
    campaignName: z.string(),
    advertiserName: z.string(),
    creative: CreativeSchema.nullable(),
    externalRefs: z.record(z.string(), z.unknown()).describe('cadentCampaignId, upstreamOrderId, creativeRef once known.'),
    createdAt: TimestampSchema,
    bookedAt: TimestampSchema.nullable(),
  })
  .meta({ id: 'Booking' })
export type Booking = z.output<typeof BookingSchema>

export function toBookingResponse(row: BookingRow, requestedImpressions: number): Booking {
  return {
    bookingId: String(row.id),
    reservationId: String(row.reservation_id),
    availId: row.avail_id,
    mediaBuyId: row.media_buy_id,
    packageId: row.package_id,
    buyerCustomerId: row.buyer_customer_id,
    requestedImpressions,
    status: row.status,
    provider: row.provider,
    traffickingMode: row.trafficking_mode,
    campaignName: row.campaign_name,
    advertiserName: row.advertiser_name,
    creative: row.creative as Creative | null,
    externalRefs: row.external_refs,
    createdAt: toIso(row.created_at)!,
    bookedAt: toIso(row.booked_at),
  }
}

export interface NewBooking {
  inventorySourceId: number
  reservationId: number
  moduleRowId: number
  provider: string
  mediaBuyId: string
  availId: string
  packageId: string | null
  buyerCustomerId: number | null
  campaignName: string
  advertiserName: string
  creative: Creative | null
  traffickingPayload: string | null
  traffickingMode: 'AUTOMATED' | 'HITL'
  /** AUTOMATED bookings are claimed for the endpoint POST in the transaction that creates them. */
  endpointClaimedAt: Date | null
  now: Date
}

/** New bookings in one statement, answered in the order given. */
export async function insertBookings(trx: Transaction, inputs: readonly NewBooking[]): Promise<BookingRow[]> {
  if (inputs.length === 0) return []
  const rows = await trx
    .insertInto('booking')
    .values(inputs.map((input) => ({
      inventory_source_id: input.inventorySourceId,
      reservation_id: input.reservationId,
      module_row_id: input.moduleRowId,
      provider: input.provider,
      media_buy_id: input.mediaBuyId,
      avail_id: input.availId,
      package_id: input.packageId,
      buyer_customer_id: input.buyerCustomerId,
      campaign_name: input.campaignName,
      advertiser_name: input.advertiserName,
      creative: input.creative ? json(input.creative) : null,
      trafficking_payload: input.traffickingPayload,
      trafficking_mode: input.traffickingMode,
      external_refs: json({}),
      status: 'HELD' as const,
      endpoint_claimed_at: input.endpointClaimedAt,
      // Random, so two installations POSTing to one Cadent receiver never share a key.
      endpoint_idempotency_key: `storefront-booking-${randomUUID()}`,
      created_at: input.now,
      updated_at: input.now,
    })))
    .returningAll()
    .execute()
  // A reservation has at most one booking: match the rows to the inputs by it, not by position.
  const byReservation = new Map(rows.map((row) => [row.reservation_id, row]))
  return inputs.map((input) => byReservation.get(input.reservationId)!)
}

export async function findBookingByReservation(db: Queryable, reservationId: number, options: { forUpdate?: boolean } = {}): Promise<BookingRow | undefined> {
  let query = db.selectFrom('booking').selectAll().where('reservation_id', '=', reservationId)
  if (options.forUpdate) query = query.forUpdate()
  return query.executeTakeFirst()
}

export async function findBooking(db: Queryable, bookingId: number, options: { forUpdate?: boolean } = {}): Promise<BookingRow | undefined> {
  let query = db.selectFrom('booking').selectAll().where('id', '=', bookingId)
  if (options.forUpdate) query = query.forUpdate()
  return query.executeTakeFirst()
}

/** Adds identifiers the execution produced; existing keys are overwritten by the newer value. */
export async function mergeExternalRefs(trx: Transaction, bookingId: number, refs: Record<string, unknown>, now: Date): Promise<BookingRow> {
  return trx
    .updateTable('booking')
    .set({ external_refs: sql<string>`external_refs || ${json(refs)}::jsonb`, updated_at: now })
    .where('id', '=', bookingId)
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** HELD -> BOOKED, in the transaction that booked the reservation. */
export async function markBooked(trx: Transaction, bookingId: number, refs: Record<string, unknown>, now: Date): Promise<BookingRow> {
  return trx
    .updateTable('booking')
    .set({
      status: 'BOOKED',
      booked_at: sql<Date>`coalesce(booked_at, ${now}::timestamptz)`,
      external_refs: sql<string>`external_refs || ${json(refs)}::jsonb`,
      updated_at: now,
    })
    .where('id', '=', bookingId)
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** The bookings of these reservations, oldest reservation first (the hold-resolution hook reads them). */
export async function findBookingsByReservations(db: Queryable, reservationIds: readonly number[]): Promise<BookingRow[]> {
  if (reservationIds.length === 0) return []
  return db.selectFrom('booking').selectAll().where('reservation_id', 'in', [...reservationIds]).orderBy('reservation_id').execute()
}

/** The reservation was released or expired: its booking ends the same way (a BOOKED one only by release). */
export async function markEndedByReservation(trx: Transaction, reservationId: number, status: 'RELEASED' | 'EXPIRED', now: Date): Promise<void> {
  await trx
    .updateTable('booking')
    .set({ status, updated_at: now })
    .where('reservation_id', '=', reservationId)
    .where('status', 'in', status === 'RELEASED' ? ['HELD', 'BOOKED'] : ['HELD'])
    .execute()
}

export interface EndpointAttempt {
  at: string
  ok: boolean
  url: string
  httpStatus: number | null
  error: string | null
  attempts: number
}

/** Records how the POST to the Cadent endpoint went; a failed attempt also hands trafficking to a person. */
export async function recordEndpointAttempt(trx: Transaction, bookingId: number, attempt: EndpointAttempt, now: Date): Promise<BookingRow> {
  return trx
    .updateTable('booking')
    .set({
      endpoint_attempt: json(attempt),
      ...(attempt.ok ? {} : { trafficking_mode: 'HITL' as const }),
      updated_at: now,
    })
    .where('id', '=', bookingId)
    .returningAll()
    .executeTakeFirstOrThrow()
}

/**
 * Takes over the endpoint POST of a booking whose earlier claim went stale (its process died
 * between creating the booking and recording the outcome). Only one caller wins the claim.
 */
export async function reclaimEndpoint(trx: Transaction, booking: BookingRow, staleBefore: Date, now: Date): Promise<boolean> {
  const claimed = await trx
    .updateTable('booking')
    .set({ endpoint_claimed_at: now, updated_at: now })
    .where('id', '=', booking.id)
    .where('status', '=', 'HELD')
    .where('trafficking_mode', '=', 'AUTOMATED')
    .where('endpoint_attempt', 'is', null)
    .where((eb) => eb.or([eb('endpoint_claimed_at', 'is', null), eb('endpoint_claimed_at', '<', staleBefore)]))
    .executeTakeFirst()
  return Number(claimed.numUpdatedRows) === 1
}


/**
 * Bookings whose hand-off was interrupted: the hold is HELD with its expiry suspended, the
 * booking is not booked, no claim on the endpoint POST is fresh, and no execution item is open.
 */
export async function findInterruptedHandoffs(
  db: Queryable,
  input: { staleBefore: Date; handOffKinds: readonly string[]; limit: number },
): Promise<BookingRow[]> {
  return db
    .selectFrom('booking')
    .innerJoin('reservation', 'reservation.id', 'booking.reservation_id')
    .selectAll('booking')
    .where('reservation.status', '=', 'HELD')
    .where('reservation.expires_at', 'is', null)
    .where('booking.status', '=', 'HELD')
    .where((eb) => eb.or([eb('booking.endpoint_claimed_at', 'is', null), eb('booking.endpoint_claimed_at', '<', input.staleBefore)]))
    .where((eb) => eb.not(eb.exists(eb
      .selectFrom('work_item')
      .select('work_item.id')
      .whereRef('work_item.inventory_source_id', '=', 'booking.inventory_source_id')
      .where('work_item.resource_type', '=', RESERVATION_RESOURCE)
      .where('work_item.resource_id', '=', sql<string>`booking.reservation_id::text`)
      .where('work_item.kind', 'in', [...input.handOffKinds])
      .where('work_item.status', 'in', OPEN_WORK_ITEM_STATUSES))))
    .orderBy('booking.reservation_id')
    .limit(input.limit)
    .execute()
}

/** Bookings of the source, newest first: the status endpoint counts them. */
export async function countBookingsByStatus(db: Queryable, inventorySourceId: number): Promise<Record<BookingStatus, number>> {
  const rows = await db
    .selectFrom('booking')
    .select((eb) => ['status', eb.fn.countAll<number>().as('count')])
    .where('inventory_source_id', '=', inventorySourceId)
    .groupBy('status')
    .execute()
  const counts: Record<BookingStatus, number> = { HELD: 0, BOOKED: 0, RELEASED: 0, EXPIRED: 0 }
  for (const row of rows) counts[row.status] = Number(row.count)
  return counts
}

/** Whether the media buy has any booking on the source (delivery is read only for one that does). */
export async function hasBookingForMediaBuy(db: Queryable, inventorySourceId: number, mediaBuyId: string): Promise<boolean> {
  const booking = await db
    .selectFrom('booking')
    .select('id')
    .where('inventory_source_id', '=', inventorySourceId)
    .where('media_buy_id', '=', mediaBuyId)
    .limit(1)
    .executeTakeFirst()
  return booking !== undefined
}
