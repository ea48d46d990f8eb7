import { z } from 'zod'
import { idSchema, nameSchema, productIdSchema } from '../../shared/common.schema.ts'
import { CreativeSchema } from './booking-store.ts'

/** POST .../modular/bookings/finalize (reference §2.19, SPEC §3 "Execution hand-off"); its answer is readiness/finalize-response.schema.ts. */

const PRODUCT_ID_PREFIX = 'avail:'
const ExternalId = idSchema(255)

export const FinalizeRequestSchema = z
  .object({
    mediaBuyId: ExternalId,
    availId: ExternalId.optional(),
    productId: productIdSchema().optional(),
    packageId: ExternalId.nullable().optional().describe('Names the reservation when the media buy holds the avail in several packages.'),
    buyerCustomerId: z.number().int().min(0).nullable().optional(),
    // Both reach the Cadent XML, which has no room for control characters (docs/cadent-xml.md).
    campaignName: nameSchema(500),
    advertiserName: nameSchema(500),
    creative: CreativeSchema.nullable().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.availId === undefined && body.productId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['availId'], message: 'availId or productId is required' })
    } else if (body.availId !== undefined && body.productId !== undefined && body.productId !== `${PRODUCT_ID_PREFIX}${body.availId}`) {
      ctx.addIssue({ code: 'custom', path: ['productId'], message: 'does not name the same avail as availId' })
    }
  })
  .meta({ id: 'FinalizeBookingRequest' })
export type FinalizeRequest = z.output<typeof FinalizeRequestSchema>

export function finalizeAvailId(body: Pick<FinalizeRequest, 'availId' | 'productId'>): string {
  return body.availId ?? body.productId!.slice(PRODUCT_ID_PREFIX.length)
}
