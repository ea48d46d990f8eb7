import { z } from 'zod'
import { toIso } from '../../shared/clock.ts'
import { TimestampSchema } from '../../shared/common.schema.ts'
import type { MediaBuyRow, PackageWithHold } from './media-buy-store.ts'
import { MEDIA_BUY_STATUSES } from './media-buy-statuses.ts'

/** GET /api/v2/storefront/media-buys: the operator's view of the AdCP media buys of the storefront. */

const STATUSES = MEDIA_BUY_STATUSES

export const MediaBuyListQuerySchema = z
  .object({
    status: z.enum(STATUSES).optional(),
    take: z.coerce.number().int().min(1).max(200).default(50),
    skip: z.coerce.number().int().min(0).default(0),
  })
  .strict()
export type MediaBuyListQuery = z.output<typeof MediaBuyListQuerySchema>

export const MediaBuyPackageSchema = z
  .object({
    packageId: z.string(),
    sourceId: z.string(),
    availId: z.string(),
    productId: z.string().describe('<sourceId>:<availId>, as get_products showed it.'),
    budget: z.number(),
    cpm: z.number(),
    impressions: z.number().int(),
    paused: z.boolean(),
    canceledAt: TimestampSchema.nullable(),
    reservationStatus: z.enum(['HELD', 'BOOKED', 'RELEASED', 'EXPIRED']).nullable().describe('The live (else the last) reservation backing the package.'),
  })
  .meta({ id: 'MediaBuyPackage' })

export const MediaBuySchema = z
  .object({
    mediaBuyId: z.string(),
    status: z.enum(STATUSES).describe('submitted: the buyer\'s AdCP task is open (people work the hand-off).'),
    sandbox: z.boolean(),
    buyerAccountId: z.string().describe('The AdCP account (buyer_account.account_id).'),
    buyerCustomerId: z.number().int().describe('The reservations\' buyerCustomerId (the buyer account row id).'),
    currency: z.string(),
    startTime: TimestampSchema,
    endTime: TimestampSchema,
    poNumber: z.string().nullable(),
    taskId: z.string().nullable(),
    revision: z.number().int(),
    confirmedAt: TimestampSchema.nullable(),
    canceledAt: TimestampSchema.nullable(),
    canceledBy: z.enum(['buyer', 'seller']).nullable(),
    cancellationReason: z.string().nullable(),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
    packages: z.array(MediaBuyPackageSchema),
  })
  .meta({ id: 'MediaBuy' })
export type MediaBuy = z.output<typeof MediaBuySchema>

export const MediaBuyListSchema = z
  .object({ mediaBuys: z.array(MediaBuySchema), total: z.number().int() })
  .meta({ id: 'MediaBuyList' })

export function toMediaBuyResponse(row: MediaBuyRow & { account_id: string }, packages: PackageWithHold[]): MediaBuy {
  return {
    mediaBuyId: row.media_buy_id,
    status: row.status,
    sandbox: row.sandbox,
    buyerAccountId: row.account_id,
    buyerCustomerId: Number(row.buyer_account_id),
    currency: row.currency,
    startTime: toIso(row.start_time)!,
    endTime: toIso(row.end_time)!,
    poNumber: row.po_number,
    taskId: row.task_id,
    revision: row.revision,
    confirmedAt: toIso(row.confirmed_at),
    canceledAt: toIso(row.canceled_at),
    canceledBy: row.canceled_by,
    cancellationReason: row.cancellation_reason,
    createdAt: toIso(row.created_at)!,
    updatedAt: toIso(row.updated_at)!,
    packages: packages.map((pkg) => ({
      packageId: pkg.package_id,
      sourceId: pkg.source_id,
      availId: pkg.avail_id,
      productId: pkg.product_id,
      budget: pkg.budget,
      cpm: pkg.cpm,
      impressions: pkg.impressions,
      paused: pkg.paused,
      canceledAt: toIso(pkg.canceled_at),
      reservationStatus: pkg.reservation_status,
    })),
  }
}
