import { z } from 'zod'
import { caseInsensitiveEnum, idSchema, nameSchema, noteSchema, SourceIdSchema } from '../../shared/common.schema.ts'
import { MODULE_KINDS, MODULE_STATUSES } from '../contract.ts'

/** Requests and responses of the modular-source routes (reference §2.10-2.14). */

const note = noteSchema(2000)
const systemName = nameSchema(255)

// The questionnaire groups keep extra non-secret answers (the reference example sends creative.notes).
export const CreateFeedSourceSchema = z
  .object({
    name: nameSchema(255),
    sourceId: SourceIdSchema.optional(),
    includeBookingLedger: z.boolean().default(true),
    availsSource: z
      .looseObject({
        type: z.enum(['upload', 'spreadsheet', 'api', 'manual', 'unknown']).optional(),
        cadence: nameSchema(255).optional(),
        description: note.optional(),
      })
      .optional(),
    booking: z
      .looseObject({
        mode: z.enum(['booking_ledger', 'manual', 'upstream_oms']).optional(),
        systemName: systemName.optional(),
        notes: note.optional(),
      })
      .optional(),
    execution: z
      .looseObject({ mode: z.enum(['manual', 'upstream_system', 'none']).optional(), systemName: systemName.optional() })
      .optional(),
    reporting: z
      .looseObject({
        mode: z.enum(['upload', 'manual', 'upstream_export', 'api', 'none']).optional(),
        systemName: systemName.optional(),
        sampleAvailable: z.boolean().optional(),
      })
      .optional(),
    creative: z
      .looseObject({
        mode: z.enum(['manual', 'upstream_system', 'none']).optional(),
        systemName: systemName.optional(),
        notes: note.optional(),
      })
      .optional(),
    notes: note.optional(),
  })
  .strict()
  .meta({ id: 'CreateFeedModularSourceRequest' })
export type CreateFeedSource = z.infer<typeof CreateFeedSourceSchema>

export const DEMO_SOURCE_ID = 'talpa-cadent-demo'

export const CadentDemoRequestSchema = z
  .object({
    sourceId: SourceIdSchema.optional().describe(`${DEMO_SOURCE_ID} (default) or an id starting with demo-.`),
    name: nameSchema(255).optional(),
    reset: z.boolean().default(false).describe('Delete and rebuild the demo source if it exists.'),
    seedAvails: z.boolean().default(true).describe('Seed a handful of CTV avails whose flights start next month.'),
    cadentEndpointUrl: z
      .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
      .max(2048)
      .optional()
      .describe('Credentials in it (user-info, a secret-looking query parameter) are refused with SECRET_NOT_ALLOWED.'),
  })
  .strict()
  .meta({ id: 'CreateCadentDemoSourceRequest' })
export type CadentDemoRequest = z.infer<typeof CadentDemoRequestSchema>

export const ModuleConfigSchema = z.record(z.string(), z.unknown())

export const UpdateModuleConfigSchema = z
  .object({
    config: ModuleConfigSchema.describe('Non-secret values. Merged as a JSON merge patch unless merge is false; null removes a key.'),
    merge: z.boolean().default(true),
    // ACTIVE is accepted by the schema so that the refusal can name its reason (STATUS_IS_DERIVED).
    status: caseInsensitiveEnum(MODULE_STATUSES).optional().describe('CONFIGURING (clears DISABLED/ERROR), DISABLED or ERROR.'),
  })
  .strict()
  .meta({ id: 'UpdateModuleConfigRequest' })
export type UpdateModuleConfig = z.infer<typeof UpdateModuleConfigSchema>

export const AttachModuleSchema = z
  .object({
    moduleInstanceId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be 1-128 letters, digits, dots, dashes or underscores')
      .optional()
      .describe('Defaults to the catalog default, e.g. cadent-trafficking.'),
    kind: caseInsensitiveEnum(MODULE_KINDS),
    provider: idSchema(64),
    config: ModuleConfigSchema.optional(),
  })
  .strict()
  .meta({ id: 'AttachModuleRequest' })
export type AttachModule = z.infer<typeof AttachModuleSchema>

export const ModuleParamsSchema = z.object({
  sourceId: idSchema(255),
  moduleInstanceId: idSchema(128),
})
