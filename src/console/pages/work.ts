import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import {
  BlockWorkItemSchema,
  CancelWorkItemSchema,
  CompleteWorkItemSchema,
  FollowUpWorkItemSchema,
  StartWorkItemSchema,
  WORK_ITEM_STATUSES,
  WorkItemListQuerySchema,
  WorkItemParamsSchema,
  workItemKinds,
  type WorkItem,
} from '../../modules/work-queue/index.ts'
import { streamLiveEvents } from '../../http/live-event-stream.ts'
import { fail } from '../../shared/errors.ts'
import type { Services } from '../../services.ts'
import { CONSOLE_PREFIX, consoleActorOf, consoleCallerOf, redirectWithNotice, renderPage } from '../console.ts'
import { formOf, optionalText, parseWith, readMultipartForm } from '../forms.ts'

/** How often an idle queue stream gets a comment line (as the REST stream). */
const LIVE_HEARTBEAT_MS = 15_000

/** Largest result file (a final delivery report) the complete form reads. */
const RESULT_FILE_LIMIT_BYTES = 8 * 1024 * 1024

const QueueFilterSchema = z.object({
  sourceId: z.string().max(255).optional(),
  kind: z.string().max(64).optional(),
  status: z.string().max(200).optional(),
  dueBefore: z.iso.date({ message: 'must be a date (YYYY-MM-DD)' }).optional(),
})

const ActionSchema = z.enum(['start', 'block', 'cancel', 'complete', 'follow-up'])

/** The Cadent campaign XML a trafficking item carries, if any. */
function cadentXmlOf(item: WorkItem): string | null {
  const xml = item.payload.cadentCampaignXml
  return typeof xml === 'string' ? xml : null
}

function blankToUndefined(value: string | undefined): string | undefined {
  return value && value.trim() !== '' ? value.trim() : undefined
}

/**
 * The work queue across the storefront's modular sources: filter, start (assign to me), block with
 * a reason, cancel, complete with a form made from the item's required result keys, and open the
 * next report of a line after its report item closed. Every action is the REST route's workflow
 * with the same body schema.
 */
export async function workPages(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  const work = services.workItems

  // The queue page's live updates: the process's one change feed (services.liveEvents), streamed to
  // the signed-in operator's storefront; the page re-reads its table on every event.
  const live = services.liveEvents
  const open = new Set<ServerResponse>()
  await live.start({ log: app.log })
  app.addHook('preClose', async () => {
    for (const response of [...open]) response.end()
  })
  app.addHook('onClose', async () => live.stop())
  app.get(`${CONSOLE_PREFIX}/work/events`, { exposeHeadRoute: false }, async (request, reply) =>
    streamLiveEvents({ live, open, heartbeatMs: LIVE_HEARTBEAT_MS }, request, reply, consoleCallerOf(request).storefrontId))

  async function modularSourceIds(storefrontId: number): Promise<string[]> {
    const { items } = await services.sources.list(storefrontId, { take: 200, skip: 0 })
    return items.filter((source) => source.executionType === 'MODULAR_SOURCE').map((source) => source.sourceId)
  }

  app.get(`${CONSOLE_PREFIX}/work`, async (request, reply) => {
    const { storefrontId } = consoleCallerOf(request)
    const raw = request.query as Record<string, string | undefined>
    const filters = parseWith(QueueFilterSchema, {
      sourceId: blankToUndefined(raw.sourceId),
      kind: blankToUndefined(raw.kind),
      status: blankToUndefined(raw.status),
      dueBefore: blankToUndefined(raw.dueBefore),
    })
    const query = parseWith(WorkItemListQuerySchema, { status: filters.status, kind: filters.kind, limit: 100 })
    const sourceIds = await modularSourceIds(storefrontId)
    const listed = filters.sourceId ? sourceIds.filter((id) => id === filters.sourceId) : sourceIds
    const pages = await Promise.all(listed.map((sourceId) => work.list(storefrontId, sourceId, query)))
    const dueLimit = filters.dueBefore ? `${filters.dueBefore}T23:59:59.999Z` : null
    const items = pages
      .flatMap((page) => page.items)
      .filter((item) => !dueLimit || (item.dueAt !== null && item.dueAt <= dueLimit))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || Number(a.id) - Number(b.id))
    return renderPage(request, reply, 'work', {
      title: 'Work queue',
      items,
      truncated: pages.some((page) => page.total > page.items.length),
      sourceIds,
      kinds: workItemKinds(),
      statuses: WORK_ITEM_STATUSES,
      filters: { sourceId: filters.sourceId ?? '', kind: filters.kind ?? '', status: filters.status ?? '', dueBefore: filters.dueBefore ?? '' },
      liveEventsUrl: `${CONSOLE_PREFIX}/work/events`,
    })
  })

  app.get(`${CONSOLE_PREFIX}/work/:sourceId/:workItemId`, async (request, reply) => {
    const { sourceId, workItemId } = parseWith(WorkItemParamsSchema, request.params)
    const { item, events } = await work.get(consoleCallerOf(request).storefrontId, sourceId, workItemId)
    const open = item.status === 'OPEN' || item.status === 'IN_PROGRESS' || item.status === 'BLOCKED'
    const followUp = !open && work.hasFollowUps(item.kind)
    return renderPage(request, reply, 'work-item', { title: `${item.kind} #${item.id}`, item, events, open, followUp, cadentXml: cadentXmlOf(item), me: consoleActorOf(request).id })
  })

  app.get(`${CONSOLE_PREFIX}/work/:sourceId/:workItemId/cadent.xml`, async (request, reply) => {
    const { sourceId, workItemId } = parseWith(WorkItemParamsSchema, request.params)
    const { item } = await work.get(consoleCallerOf(request).storefrontId, sourceId, workItemId)
    const xml = cadentXmlOf(item)
    if (!xml) throw fail.notFound(`Cadent campaign XML of work item ${workItemId}`)
    return reply
      .type('application/xml; charset=utf-8')
      .header('content-disposition', `attachment; filename="cadent-campaign-${String(item.mediaBuyId ?? item.id).replace(/[^\w.-]/g, '_')}.xml"`)
      .send(xml)
  })

  app.post(`${CONSOLE_PREFIX}/work/:sourceId/:workItemId/:action`, {
    preValidation: async (request: FastifyRequest) => {
      if (request.isMultipart()) (request as { body: unknown }).body = await readMultipartForm(request, RESULT_FILE_LIMIT_BYTES)
    },
  }, async (request, reply) => {
    const params = request.params as Record<string, string>
    const { sourceId, workItemId } = parseWith(WorkItemParamsSchema, params)
    const action = parseWith(ActionSchema, params.action)
    const { storefrontId } = consoleCallerOf(request)
    const actor = consoleActorOf(request)
    const fields = formOf(request.body)
    const notes = optionalText(fields, 'notes')
    if (action === 'follow-up') {
      const { item } = await work.followUp(storefrontId, sourceId, workItemId, parseWith(FollowUpWorkItemSchema, { notes }), actor)
      return redirectWithNotice(request, reply, `${CONSOLE_PREFIX}/work/${encodeURIComponent(sourceId)}/${encodeURIComponent(item.id)}`, `Work item ${item.id} opened, following work item ${workItemId}`)
    }
    let said: string
    if (action === 'start') {
      await work.start(storefrontId, sourceId, workItemId, parseWith(StartWorkItemSchema, { assignedTo: actor.id, notes }), actor)
      said = 'started and assigned to you'
    } else if (action === 'block') {
      await work.block(storefrontId, sourceId, workItemId, parseWith(BlockWorkItemSchema, { blockedReason: fields.blockedReason ?? '', notes }), actor)
      said = 'blocked'
    } else if (action === 'cancel') {
      await work.cancel(storefrontId, sourceId, workItemId, parseWith(CancelWorkItemSchema, { reason: fields.reason ?? '' }), actor)
      said = 'cancelled'
    } else {
      const { item } = await work.get(storefrontId, sourceId, workItemId)
      // The form has one field per required result key (and may attach a file for any of them).
      const result = Object.fromEntries(item.requiredResultFields
        .map((key) => [key, fields[`file.${key}`] ?? optionalText(fields, `result.${key}`)] as const)
        .filter(([, value]) => value !== undefined))
      await work.complete(storefrontId, sourceId, workItemId, parseWith(CompleteWorkItemSchema, { result, notes }), actor)
      said = 'completed'
    }
    return redirectWithNotice(request, reply, `${CONSOLE_PREFIX}/work/${encodeURIComponent(sourceId)}/${encodeURIComponent(workItemId)}`, `Work item ${workItemId} ${said}`)
  })
}
