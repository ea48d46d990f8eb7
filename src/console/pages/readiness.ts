import type { FastifyInstance } from 'fastify'
import { ModuleParamsSchema, UpdateModuleConfigSchema } from '../../modules/modular-sources/index.ts'
import { findContract } from '../../modules/registry.ts'
import type { SetupField } from '../../modules/contract.ts'
import { fail } from '../../shared/errors.ts'
import type { Services } from '../../services.ts'
import { CONSOLE_PREFIX, consoleCallerOf, redirectWithNotice, renderPage } from '../console.ts'
import { formOf, parseWith, SourceParamsSchema } from '../forms.ts'

/** A module's operator-set fields, from its contract (fields that come from the feed are not typed in). */
function configFieldsOf(kind: string, provider: string | null): SetupField[] {
  const contract = provider ? findContract(kind, provider) : undefined
  return contract ? contract.setupFields.filter((field) => field.source === 'MODULE_CONFIG') : []
}

/** The form's value of one contract field, as the config patch wants it: blank removes the value. */
function configValueOf(field: SetupField, raw: string | undefined): unknown {
  const text = raw?.trim() ?? ''
  if (text === '') return null
  if (field.valueType !== 'OBJECT') return text
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw fail.invalidField(`config.${field.key}`, 'must be JSON')
  }
}

/** The readiness board of one modular source: its lifecycle as a pipeline, modules with setup forms, open work. */
export async function readinessPages(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get(`${CONSOLE_PREFIX}/sources/:sourceId`, async (request, reply) => {
    const { sourceId } = parseWith(SourceParamsSchema, request.params)
    const projection = await services.modularSources.getProjection(consoleCallerOf(request).storefrontId, sourceId)
    const modules = projection.modules.map((module) => {
      const missing = new Set(module.missingSetupFieldsBySource.flatMap((group) => group.fields.map((field) => field.key)))
      const fields = configFieldsOf(module.kind, module.provider).map((field) => {
        const value = module.config[field.key]
        return { ...field, missing: missing.has(field.key), value: value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value) }
      })
      const feedFields = module.missingSetupFieldsBySource.filter((group) => group.source !== 'MODULE_CONFIG').flatMap((group) => group.fields)
      return { module, fields, feedFields }
    })
    const openWork = Object.entries(projection.openWorkItemCountsByKind).filter(([, count]) => count > 0)
    return renderPage(request, reply, 'readiness', { title: `Readiness: ${projection.inventorySource.name}`, projection, modules, openWork })
  })

  app.post(`${CONSOLE_PREFIX}/sources/:sourceId/modules/:moduleInstanceId/config`, async (request, reply) => {
    const { sourceId, moduleInstanceId } = parseWith(ModuleParamsSchema, request.params)
    const { storefrontId } = consoleCallerOf(request)
    const projection = await services.modularSources.getProjection(storefrontId, sourceId)
    const module = projection.modules.find((candidate) => candidate.moduleInstanceId === moduleInstanceId)
    if (!module) throw fail.notFound(`Module ${moduleInstanceId}`)
    const fields = formOf(request.body)
    const config = Object.fromEntries(configFieldsOf(module.kind, module.provider).map((field) => [field.key, configValueOf(field, fields[`config.${field.key}`])]))
    const body = parseWith(UpdateModuleConfigSchema, { config, merge: true })
    await services.modularSources.updateModuleConfig(storefrontId, sourceId, moduleInstanceId, body)
    return redirectWithNotice(request, reply, `${CONSOLE_PREFIX}/sources/${encodeURIComponent(sourceId)}`, `Setup of ${moduleInstanceId} saved`)
  })
}
