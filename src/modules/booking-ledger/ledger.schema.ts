import { z } from 'zod'
import { caseInsensitiveEnum, idSchema, noteSchema, productIdSchema, TimestampSchema } from '../../shared/common.schema.ts'

export const RESERVATION_STATUSES = ['HELD', 'BOOKED', 'RELEASED', 'EXPIRED'] as const
export const HOLD_MINUTES_MIN = 1
export const HOLD_MINUTES_MAX = 10_080
export const HOLD_MINUTES_DEFAULT = 60
/** Products are named after their avail: `avail:<availId>`. */
export const PRODUCT_ID_PREFIX = 'avail:'

const ExternalIdSchema = idSchema(255)
const AvailIdSchema = idSchema(255)
const ProductIdSchema = productIdSchema()

export const ReservationStatusSchema = z.enum(RESERVATION_STATUSES)

/** `productId` or `availId` names the avail; both may be sent if they agree. */
export const ReserveRequestSchema = z
  .object({
    productId: ProductIdSchema.optional(),
    availId: AvailIdSchema.optional(),
    mediaBuyId: ExternalIdSchema,
    buyerCustomerId: z.number().int().min(0).nullable().optional(),
    packageId: ExternalIdSchema.nullable().optional(),
    requestedImpressions: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    holdMinutes: z.number().int().min(HOLD_MINUTES_MIN).max(HOLD_MINUTES_MAX).default(HOLD_MINUTES_DEFAULT),
  })
  .superRefine((body, ctx) => availIdentity(body, ctx))
  .meta({ id: 'ReserveRequest' })

export type ReserveRequest = z.output<typeof ReserveRequestSchema>

export const ReleaseRequestSchema = z
  .object({
    reservationId: z.string().regex(/^\d{1,18}$/, 'must be a reservation id').optional(),
    mediaBuyId: ExternalIdSchema.optional(),
    productId: ProductIdSchema.optional(),
    availId: AvailIdSchema.optional(),
    packageId: ExternalIdSchema.nullable().optional(),
    reason: noteSchema(1000).min(1).optional(),
  })
  .superRefine((body, ctx) => {
    if (body.reservationId !== undefined) return
    if (body.mediaBuyId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['mediaBuyId'], message: 'is required unless reservationId is sent' })
    }
    availIdentity(body, ctx)
  })
  .meta({ id: 'ReleaseRequest' })

export type ReleaseRequest = z.output<typeof ReleaseRequestSchema>

function availIdentity(body: { productId?: string | undefined; availId?: string | undefined }, ctx: z.RefinementCtx): void {
  if (body.productId === undefined && body.availId === undefined) {
    ctx.addIssue({ code: 'custom', path: ['availId'], message: 'availId or productId is required' })
  } else if (body.productId !== undefined && body.availId !== undefined && body.productId !== `${PRODUCT_ID_PREFIX}${body.availId}`) {
    ctx.addIssue({ code: 'custom', path: ['productId'], message: 'does not name the same avail as availId' })
  }
}

/** The avail a request names, from `availId` or `productId`. */
export function availIdOf(body: { productId?: string | undefined; availId?: string | undefined }): string {
  if (body.availId !== undefined) return body.availId
  return body.productId!.slice(PRODUCT_ID_PREFIX.length)
}

export const ReservationListQuerySchema = z.object({
  status: caseInsensitiveEnum(RESERVATION_STATUSES).optional(),
  mediaBuyId: ExternalIdSchema.optional(),
  availId: AvailIdSchema.optional(),
  take: z.coerce.number().int().min(1).max(200).default(100),
  skip: z.coerce.number().int().min(0).max(1_000_000).default(0),
})

export type ReservationListQuery = z.output<typeof ReservationListQuerySchema>

export const ReservationIdParamsSchema = z.object({ reservationId: idSchema(40) })

export const ReservationSchema = z
  .object({
    reservationId: z.string(),
    inventorySourceId: z.string(),
    availId: z.string(),
    productId: z.string(),
    mediaBuyId: z.string(),
    packageId: z.string().nullable(),
    buyerCustomerId: z.number().int().nullable(),
    requestedImpressions: z.number().int(),
    status: ReservationStatusSchema,
    expiresAt: TimestampSchema.nullable(),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
    bookedAt: TimestampSchema.nullable(),
    releasedAt: TimestampSchema.nullable(),
    expiredAt: TimestampSchema.nullable(),
    releaseReason: z.string().nullable(),
  })
  .meta({ id: 'Reservation' })

export type Reservation = z.output<typeof ReservationSchema>

export const ReservationListSchema = z.object({ reservations: z.array(ReservationSchema), total: z.number().int() })
