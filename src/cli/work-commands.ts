import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { FinalizeResponse } from '../modules/readiness/index.ts'
import type { WorkItem, WorkItemEvent } from '../modules/work-queue/index.ts'
import { reportFailure } from './failure.ts'
import { apiClientFromEnv, CliUsageError, type HttpClient } from './http-client.ts'
import { renderTable, terminalJson, terminalText } from './table.ts'
import { WORK_USAGE } from './usage.ts'

/** `storefront work ...` and `storefront finalize`: the modular work queue over the REST API. */

function sourceOf(values: { source?: string | undefined }): string {
  const source = values.source ?? process.env.STOREFRONT_SOURCE
  if (!source) throw new CliUsageError('--source <sourceId> is required (or set STOREFRONT_SOURCE)')
  return encodeURIComponent(source)
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new CliUsageError(`expected exactly one ${what}`)
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
    if (at <= 0) throw new CliUsageError(`--set needs key=value, got ${set}`)
    result[set.slice(0, at)] = set.slice(at + 1)
  }
  return result
}

async function work(client: HttpClient, argv: string[]): Promise<number> {
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
    const answer = await client.request<{ ok: true; item: WorkItem }>('POST', `${base}/${one(positionals, 'work item id')}/${action}`, { json: body })
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
        if (typeof xml !== 'string') throw new CliUsageError(`work item ${detail.item.id} carries no Cadent XML`)
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
      if (!values.assignee) throw new CliUsageError('work start needs --assignee <name>')
      return changed('start', { assignedTo: values.assignee, ...(values.notes ? { notes: values.notes } : {}) })
    case 'block':
      if (!values.reason) throw new CliUsageError('work block needs --reason <text>')
      return changed('block', { blockedReason: values.reason })
    case 'cancel':
      if (!values.reason) throw new CliUsageError('work cancel needs --reason <text>')
      return changed('cancel', { reason: values.reason })
    case 'complete': {
      let result: Record<string, unknown> = {}
      if (values.result) {
        try {
          result = JSON.parse(values.result) as Record<string, unknown>
        } catch {
          throw new CliUsageError('--result must be a JSON object')
        }
      }
      Object.assign(result, parseSets(values.set ?? []))
      if (values['report-file']) result.report = await readFile(values['report-file'], 'utf8')
      return changed('complete', { result, ...(values.notes ? { notes: values.notes } : {}) })
    }
    default:
      throw new CliUsageError(`Unknown work verb: ${verb ?? '(none)'}`)
  }
}

async function finalize(client: HttpClient, argv: string[]): Promise<number> {
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
  if (missing.length > 0) throw new CliUsageError(`finalize needs ${missing.map((flag) => `--${flag}`).join(', ')}`)
  if (!values.avail && !values.product) throw new CliUsageError('finalize needs --avail <id> or --product <id>')
  const creative = values['creative-url']
    ? {
        assetUrl: values['creative-url'],
        format: values['creative-format'] ?? 'video',
        durationSeconds: Number(values.duration ?? Number.NaN),
        ...(values['ad-id'] ? { adId: values['ad-id'] } : {}),
      }
    : undefined
  if (creative && !Number.isInteger(creative.durationSeconds)) throw new CliUsageError('--creative-url needs --duration <seconds>')
  const body = {
    mediaBuyId: values['media-buy'],
    ...(values.avail ? { availId: values.avail } : { productId: values.product }),
    ...(values.package ? { packageId: values.package } : {}),
    ...(values.buyer ? { buyerCustomerId: Number(values.buyer) } : {}),
    campaignName: values.campaign,
    advertiserName: values.advertiser,
    ...(creative ? { creative } : {}),
  }
  const answer = await client.request<FinalizeResponse>('POST', `/inventory-sources/${sourceOf(values)}/modular/bookings/finalize`, { json: body })
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

/** Runs a verb; server errors are printed with their row and field details, exit codes as in failure.ts. */
export async function runApiCommand(command: 'work' | 'finalize', argv: string[]): Promise<number> {
  try {
    const client = apiClientFromEnv()
    return command === 'work' ? await work(client, argv) : await finalize(client, argv)
  } catch (error) {
    return reportFailure(error, WORK_USAGE)
  }
}
