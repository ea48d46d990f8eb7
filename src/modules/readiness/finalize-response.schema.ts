import { z } from 'zod'
import { BookingSchema } from '../execution/index.ts'
import { WorkItemSchema } from '../work-queue/index.ts'
import { RuntimeProjectionSchema } from './projection.schema.ts'

/**
 * What POST .../modular/bookings/finalize answers. It lives with the projection it carries, not in
 * execution/: providers build on execution/ and the registry on providers, while the projection
 * loader reads the registry, so an execution/ that imported readiness/ would close a loop.
 */
export const FinalizeResponseSchema = z
  .object({
    booking: BookingSchema,
    workItems: z.array(WorkItemSchema).describe('Every work item of the hand-off, open or not, oldest first.'),
    projection: RuntimeProjectionSchema,
  })
  .meta({ id: 'FinalizeBookingResponse' })
export type FinalizeResponse = z.output<typeof FinalizeResponseSchema>
