import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { FinalizeResponse } from '../modules/execution/finalize.schema.ts'
import type { WorkItem, WorkItemEvent } from '../modules/work-queue/work-item.schema.ts'
import { isStorefrontError } from '../shared/errors.ts'
import { apiClientFromEnv, ApiUsageError, type ApiClient } from './api-client.ts'
import { renderTable, terminalJson, terminalText } from './table.ts'

/** `storefront work ...` and `storefront finalize`: the modular work queue over the REST API. */

export const WORK_USAGE = `  work list --source <id> [--status OPEN,BLOCKED] [--kind <KIND>] [--media-buy <id>] [--limit <n>]
                                          List work items (default: open ones)
  work show --source <id> <workItemId> [--xml]
                                          Show a work item and its events (--xml prints its Cadent XML)
  work start --source <id> <workItemId> --assignee <name>
  work block --source <id> <workItemId> --reason <text>
  work complete --source <id> <workItemId> [--set key=value]... [--result <json>] [--report-file <csv>] [--notes <text>]
                                          Complete a work item; its side effect runs on the server
  work cancel --source <id> <workItemId> --reason <text>
  finalize --source <id> --media-buy <id> (--avail <id> | --product <id>) --campaign <name> --advertiser <name>
           [--package <id>] [--buyer <n>] [--creative-url <url> --creative-format <f> --duration <s> [--ad-id <code>]]
                                          Hand a held reservation to execution
  (work and finalize talk to a running server: STOREFRONT_URL, default http://127.0.0.1:3000, and STOREFRONT_API_KEY;
   --source defaults to STOREFRONT_SOURCE; --json prints the API answer)`

class UsageError extends Error {}

function sourceOf(values: { source?: string | undefined }): string {
  const source = values.source ?? process.env.STOREFRONT_SOURCE
  if (!source) throw new UsageError('--source <sourceId> is required (or set STOREFRONT_SOURCE)')
  return encodeURIComponent(source)
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${what}`)
  return encodeURIComponent(positionals[0]!)
}

function itemRows(items: WorkItem[]): string {
  return renderTable(
    ['id', 'kind', 'status', 'media buy', 'assigned to', 'due', 'title'],
    items.map((item) => [item.id, item.kind, item.status, item.mediaBuyId ?? '', item.assignedTo ?? '', item.dueAt?.slice(0, 10) ?? '', item.title]),
  )
}

function printItem(item: WorkItem): void {
  const lines: [string, string | null][] = [
    ['id', item.id], ['kind', item.kind], ['status', item.status], ['title', item.title], ['description', item.description],
    ['media buy', item.mediaBuyId], ['resource', item.resourceType ? `${item.resourceType} ${item.resourceId}` : null],
    ['assigned to', item.assignedTo], ['due', item.dueAt], ['blocked', item.blockedReason],
    ['needs result', item.requiredResultFields.join(', ') || null], ['completed', item.completedAt ? `${item.completedAt} by ${item.completedBy}` : null],
  ]
  for (const [label, value] of lines) if (value) console.log(`${label.padEnd(13)}${terminalText(value)}`)
  const payload = Object.fromEntries(Object.entries(item.payload).filter(([key]) => key !== 'cadentCampaignXml'))
  console.log(`payload      ${terminalJson(payload)}`)
  if (item.payload.cadentCampaignXml) console.log('             (Cadent campaign XML in the payload: print it with --xml)')
  if (item.result) console.log(`result       ${terminalJson(item.result)}`)
}

/** `--set a=b --set n=3`: values that parse as JSON numbers or booleans stay typed. */
function parseSets(sets: string[]): Record<string, unknown> {
  const result: Record<string, unknown> = {}
  for (const set of sets) {
    const at = set.indexOf('=')
    if (at <= 0) throw new UsageError(`--set needs key=value, got ${set}`)
    result[set.slice(0, at)] = set.slice(at + 1)
  }
  return result
}

async function work(client: ApiClient, argv: string[]): Promise<number> {
  const [verb, ...rest] = argv
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      source: { type: 'string' }, status: { type: 'string' }, kind: { type: 'string' }, 'media-buy': { type: 'string' },
      limit: { type: 'string' }, assignee: { type: 'string' }, reason: { type: 'string' }, notes: { type: 'string' },
      result: { type: 'string' }, set: { type: 'string', multiple: true }, 'report-file': { type: 'string' },
      xml: { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
    },
  })
  const base = `/inventory-sources/${sourceOf(values)}/modular/work-items`
  const changed = async (action: string, body: Record<string, unknown>) => {
    const answer = await client.request<{ ok: true; item: WorkItem }>('POST', `${base}/${one(positionals, 'work item id')}/${action}`, body)
    if (values.json) console.log(terminalJson(answer))
    else console.log(terminalText(`Work item ${answer.item.id} (${answer.item.kind}) is ${answer.item.status}.`))
    return 0
  }
  switch (verb) {
    case 'list': {
      const query = new URLSearchParams()
      if (values.status) query.set('status', values.status)
      if (values.kind) query.set('kind', values.kind)
      if (values['media-buy']) query.set('mediaBuyId', values['media-buy'])
      if (values.limit) query.set('limit', values.limit)
      const page = await client.request<{ items: WorkItem[]; total: number }>('GET', `${base}${query.size > 0 ? `?${query}` : ''}`)
      if (values.json) console.log(terminalJson(page))
      else console.log(`${itemRows(page.items)}\n${page.items.length} of ${page.total} work item(s)`)
      return 0
    }
    case 'show': {
      const detail = await client.request<{ item: WorkItem; events: WorkItemEvent[] }>('GET', `${base}/${one(positionals, 'work item id')}`)
      if (values.xml) {
        const xml = detail.item.payload.cadentCampaignXml
        if (typeof xml !== 'string') throw new UsageError(`work item ${detail.item.id} carries no Cadent XML`)
        process.stdout.write(xml)
      } else if (values.json) {
        console.log(terminalJson(detail))
      } else {
        printItem(detail.item)
        console.log(`\n${renderTable(['at', 'event', 'actor', 'notes'], detail.events.map((event) => [
          event.createdAt, event.eventType, `${event.actorType}${event.actorId ? ` ${event.actorId}` : ''}`, event.notes ?? '',
        ]))}`)
      }
      return 0
    }
    case 'start':
      if (!values.assignee) throw new UsageError('work start needs --assignee <name>')
      return changed('start', { assignedTo: values.assignee, ...(values.notes ? { notes: values.notes } : {}) })
    case 'block':
      if (!values.reason) throw new UsageError('work block needs --reason <text>')
      return changed('block', { blockedReason: values.reason })
    case 'cancel':
      if (!values.reason) throw new UsageError('work cancel needs --reason <text>')
      return changed('cancel', { reason: values.reason })
    case 'complete': {
      let result: Record<string, unknown> = {}
      if (values.result) {
        try {
          result = JSON.parse(values.result) as Record<string, unknown>
        } catch {
          throw new UsageError('--result must be a JSON object')
        }
      }
      Object.assign(result, parseSets(values.set ?? []))
      if (values['report-file']) result.report = await readFile(values['report-file'], 'utf8')
      return changed('complete', { result, ...(values.notes ? { notes: values.notes } : {}) })
    }
    default:
      throw new UsageError(`Unknown work verb: ${verb ?? '(none)'}`)
  }
}

async function finalize(client: ApiClient, argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: 'string' }, 'media-buy': { type: 'string' }, avail: { type: 'string' }, product: { type: 'string' },
      package: { type: 'string' }, buyer: { type: 'string' }, campaign: { type: 'string' }, advertiser: { type: 'string' },
      'creative-url': { type: 'string' }, 'creative-format': { type: 'string' }, duration: { type: 'string' }, 'ad-id': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  const missing = (['media-buy', 'campaign', 'advertiser'] as const).filter((flag) => !values[flag])
  if (missing.length > 0) throw new UsageError(`finalize needs ${missing.map((flag) => `--${flag}`).join(', ')}`)
  if (!values.avail && !values.product) throw new UsageError('finalize needs --avail <id> or --product <id>')
  const creative = values['creative-url']
    ? {
        assetUrl: values['creative-url'],
        format: values['creative-format'] ?? 'video',
        durationSeconds: Number(values.duration ?? Number.NaN),
        ...(values['ad-id'] ? { adId: values['ad-id'] } : {}),
      }
    : undefined
  if (creative && !Number.isInteger(creative.durationSeconds)) throw new UsageError('--creative-url needs --duration <seconds>')
  const body = {
    mediaBuyId: values['media-buy'],
    ...(values.avail ? { availId: values.avail } : { productId: values.product }),
    ...(values.package ? { packageId: values.package } : {}),
    ...(values.buyer ? { buyerCustomerId: Number(values.buyer) } : {}),
    campaignName: values.campaign,
    advertiserName: values.advertiser,
    ...(creative ? { creative } : {}),
  }
  const answer = await client.request<FinalizeResponse>('POST', `/inventory-sources/${sourceOf(values)}/modular/bookings/finalize`, body)
  if (values.json) {
    console.log(terminalJson(answer))
    return 0
  }
  const { booking } = answer
  console.log(terminalText(`Booking ${booking.bookingId} for media buy ${booking.mediaBuyId} on ${booking.availId}: ${booking.status} (${booking.provider}, ${booking.traffickingMode})`))
  for (const [key, value] of Object.entries(booking.externalRefs)) console.log(`  ${terminalText(key)}: ${terminalText(String(value))}`)
  if (answer.workItems.length > 0) console.log(`\n${itemRows(answer.workItems)}`)
  return 0
}

/** Runs a verb; prints server errors with their row and field details. Exit codes as main.ts: 2 usage/validation, 3 refused. */
export async function runApiCommand(command: 'work' | 'finalize', argv: string[]): Promise<number> {
  try {
    const client = apiClientFromEnv()
    return command === 'work' ? await work(client, argv) : await finalize(client, argv)
  } catch (error) {
    if (error instanceof UsageError || error instanceof ApiUsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      console.error(`${(error as Error).message}\n\n${WORK_USAGE}`)
      return 2
    }
    if (!isStorefrontError(error)) throw error
    console.error(terminalText(`${error.code}: ${error.message}`))
    const details = error.details ?? {}
    for (const row of details.rows ?? []) console.error(terminalText(`  row ${row.row} ${row.field}: ${row.message}`))
    for (const issue of details.issues ?? []) console.error(terminalText(`  ${issue.path}: ${issue.message}`))
    return error.code === 'VALIDATION_ERROR' ? 2 : 3
  }
}
