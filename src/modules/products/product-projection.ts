import { z } from 'zod'
import { capacityOf } from '../../db/capacity.ts'
import type { AvailRow } from '../../db/tables.ts'
import { toIso } from '../../shared/clock.ts'
import { TimestampSchema } from '../../shared/common.schema.ts'
import { FLAT_RATE_UNITS } from '../../shared/flat-rate.ts'
import { MEASUREMENT_WINDOW_IDS, type MeasurementWindow } from '../../shared/measurement-windows.ts'

/** Products are named after their avail, so a buyer's productId always maps back to one row. */
export function productIdOf(availId: string): string {
  return `avail:${availId}`
}

export const ProductCadentSchema = z
  .object({
    campaignDeliveryType: z.string(),
    lineDeliveryType: z.string(),
    adType: z.string(),
    adClass: z.string(),
    targets: z.array(z.object({ targetType: z.string(), values: z.array(z.string()) })),
  })
  .meta({ id: 'ProductCadent' })

export type ProductCadent = z.output<typeof ProductCadentSchema>

/** Reference §2.16: a product-like projection of one normalized avail. */
export const ProductSchema = z
  .object({
    productId: z.string(),
    availId: z.string(),
    collectionId: z.string(),
    collectionName: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    channel: z.string().nullable(),
    startTime: TimestampSchema,
    endTime: TimestampSchema,
    impressionsCapacity: z.number().int(),
    heldImpressions: z.number().int(),
    bookedImpressions: z.number().int(),
    availableImpressions: z.number().int().min(0),
    cpm: z.number().nullable(),
    currency: z.string(),
    flatRate: z.number().nullable().describe('A flat price per spot or per package (flatRateUnit), next to or instead of the CPM.'),
    flatRateUnit: z.enum(FLAT_RATE_UNITS).nullable(),
    spotCount: z.number().int().nullable().describe('The spots the avail is, for a per-spot flat rate.'),
    measurementWindows: z.array(z.enum(MEASUREMENT_WINDOW_IDS as [MeasurementWindow, ...MeasurementWindow[]])).describe('The windows the seller reports delivery in (live, c3, c7).'),
    targeting: z.record(z.string(), z.unknown()),
    sourceMetadata: z.record(z.string(), z.unknown()),
    cadent: ProductCadentSchema.nullable(),
  })
  .meta({ id: 'Product' })

export type Product = z.output<typeof ProductSchema>

/**
 * Pure: the same avail row and cadent block always give the same product. The row's
 * held_impressions must not count due holds (listSellableAvails and the ledger's answers see to
 * that); capacity and availability follow the one rule in src/db/capacity.ts. `cadent` is the
 * caller's to decide (null unless the source has an ACTIVE Cadent trafficking module), so
 * uploaded publisher avails are never implicitly Cadent-backed.
 */
export function projectProduct(avail: AvailRow, cadent: ProductCadent | null = null): Product {
  return {
    productId: productIdOf(avail.avail_id),
    availId: avail.avail_id,
    collectionId: avail.collection_id,
    collectionName: avail.collection_name,
    name: avail.name,
    description: avail.collection_description,
    channel: avail.channel,
    startTime: toIso(avail.start_time)!,
    endTime: toIso(avail.end_time)!,
    ...capacityOf(avail),
    heldImpressions: avail.held_impressions,
    bookedImpressions: avail.booked_impressions,
    cpm: avail.cpm,
    currency: avail.currency,
    flatRate: avail.flat_rate,
    flatRateUnit: FLAT_RATE_UNITS.find((unit) => unit === avail.flat_rate_unit) ?? null,
    spotCount: avail.spot_count,
    measurementWindows: avail.measurement_windows,
    targeting: avail.targeting,
    sourceMetadata: avail.source_metadata,
    cadent,
  }
}
