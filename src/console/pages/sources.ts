import type { FastifyInstance } from 'fastify'
import { CadentDemoRequestSchema, CreateFeedSourceSchema } from '../../modules/modular-sources/index.ts'
import { AGENT_TYPES, AUTHENTICATION_TYPES, CreateAgentSourceSchema, PROTOCOLS } from '../../sources/source.schema.ts'
import type { Services } from '../../services.ts'
import { CONSOLE_PREFIX, consoleCallerOf, redirectWithNotice, renderPage } from '../console.ts'
import { checked, formOf, optionalText, parseWith } from '../forms.ts'

/** The questionnaire of a feed-backed source (POST /inventory-sources/modular/feed), as form choices. */
export const FEED_QUESTIONNAIRE = {
  availsSourceTypes: ['upload', 'spreadsheet', 'api', 'manual', 'unknown'],
  bookingModes: ['booking_ledger', 'manual', 'upstream_oms'],
  executionModes: ['manual', 'upstream_system', 'none'],
  reportingModes: ['upload', 'manual', 'upstream_export', 'api', 'none'],
} as const

/** Sources: every source with kind, status and health; create the Cadent demo, a feed source, an AGENT source. */
export async function sourcePages(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get(`${CONSOLE_PREFIX}/sources`, async (request, reply) => {
    const { storefrontId } = consoleCallerOf(request)
    const { items, total } = await services.sources.list(storefrontId, { take: 200, skip: 0 })
    const rows = await Promise.all(items.map(async (source) => {
      if (source.executionType !== 'MODULAR_SOURCE') {
        return { source, health: source.lastError ? 'last check failed' : source.lastCheckedAt ? 'last check passed' : 'not checked yet', detail: source.lastError }
      }
      const projection = await services.modularSources.getProjection(storefrontId, source.sourceId)
      return { source, health: projection.inventorySource.healthStatus, detail: `${projection.activeAvailCount} active avails, ${projection.openWorkItemCount} open work items` }
    }))
    return renderPage(request, reply, 'sources', {
      title: 'Sources',
      rows,
      total,
      questionnaire: FEED_QUESTIONNAIRE,
      agentTypes: AGENT_TYPES,
      protocols: PROTOCOLS,
      authenticationTypes: AUTHENTICATION_TYPES,
    })
  })

  app.post(`${CONSOLE_PREFIX}/sources/cadent-demo`, async (request, reply) => {
    const fields = formOf(request.body)
    const body = parseWith(CadentDemoRequestSchema, { reset: checked(fields, 'reset') })
    const { outcome, result } = await services.modularSources.createCadentDemo(consoleCallerOf(request).storefrontId, body)
    const said = { created: 'created', reset: 'reset', existing: 'already exists' }[outcome]
    return redirectWithNotice(request, reply, `${CONSOLE_PREFIX}/sources/${encodeURIComponent(result.sourceId)}`, `Cadent demo source ${result.sourceId} ${said}`)
  })

  app.post(`${CONSOLE_PREFIX}/sources/feed`, async (request, reply) => {
    const fields = formOf(request.body)
    const section = (entries: Record<string, string | undefined>) => {
      const given = Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined))
      return Object.keys(given).length > 0 ? given : undefined
    }
    const body = parseWith(CreateFeedSourceSchema, {
      name: fields.name ?? '',
      sourceId: optionalText(fields, 'sourceId'),
      includeBookingLedger: checked(fields, 'includeBookingLedger'),
      availsSource: section({ type: optionalText(fields, 'availsSource.type'), cadence: optionalText(fields, 'availsSource.cadence'), description: optionalText(fields, 'availsSource.description') }),
      booking: section({ mode: optionalText(fields, 'booking.mode'), systemName: optionalText(fields, 'booking.systemName') }),
      execution: section({ mode: optionalText(fields, 'execution.mode'), systemName: optionalText(fields, 'execution.systemName') }),
      reporting: section({ mode: optionalText(fields, 'reporting.mode'), systemName: optionalText(fields, 'reporting.systemName') }),
    })
    const created = await services.modularSources.createFeedSource(consoleCallerOf(request).storefrontId, body)
    return redirectWithNotice(request, reply, `${CONSOLE_PREFIX}/sources/${encodeURIComponent(created.sourceId)}`, `Feed source ${created.sourceId} created`)
  })

  app.post(`${CONSOLE_PREFIX}/sources/agent`, async (request, reply) => {
    const fields = formOf(request.body)
    const token = optionalText(fields, 'token')
    const body = parseWith(CreateAgentSourceSchema, {
      name: fields.name ?? '',
      sourceId: optionalText(fields, 'sourceId'),
      type: fields.type ?? '',
      endpointUrl: fields.endpointUrl ?? '',
      protocol: fields.protocol ?? '',
      authenticationType: fields.authenticationType ?? '',
      ...(token ? { auth: { type: 'bearer', token } } : {}),
      description: optionalText(fields, 'description'),
    })
    const created = await services.sources.createAgent(consoleCallerOf(request).storefrontId, body)
    return redirectWithNotice(request, reply, `${CONSOLE_PREFIX}/sources`, `AGENT source ${created.sourceId} registered (${created.status})`)
  })
}
