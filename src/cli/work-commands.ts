import { readFile } from 'node:fs/promises'
import type { FinalizeResponse } from '../modules/readiness/index.ts'
import type { WorkItem, WorkItemEvent, WorkItemFollowUp } from '../modules/work-queue/index.ts'
import { flagOption, listOption, stringOption, type Invocation } from './commands.ts'
import { apiClientFromEnv, CliUsageError } from './http-client.ts'
import { renderTable, terminalJson, terminalText } from './table.ts'

/**
 * `storefront work ...` and `storefront finalize`: the modular work queue over the REST API.
 * main.ts has parsed the options (commands.ts declares them); errors go back to it.
 */

/** --source, else STOREFRONT_SOURCE, encoded for a path. */
export function sourcePath(input: Invocation): string {
  const source = stringOption(input, 'source') ?? process.env.STOREFRONT_SOURCE
  if (!source) throw new CliUsageError('--source <sourceId> is required (or set STOREFRONT_SOURCE)')
  return `/inventory-sources/${encodeURIComponent(source)}`
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

const itemsPath = (input: Invocation) => `${sourcePath(input)}/modular/work-items`
const itemPath = (input: Invocation) => `${itemsPath(input)}/${encodeURIComponent(input.positionals[0]!)}`

async function changed(input: Invocation, action: string, body: Record<string, unknown>): Promise<number> {
  const answer = await apiClientFromEnv().request<{ ok: true; item: WorkItem }>('POST', `${itemPath(input)}/${action}`, { json: body })
  if (flagOption(input, 'json')) console.log(terminalJson(answer))
  else console.log(terminalText(`Work item ${answer.item.id} (${answer.item.kind}) is ${answer.item.status}.`))
  return 0
}

export async function workList(input: Invocation): Promise<number> {
  const query = new URLSearchParams()
  const status = stringOption(input, 'status')
  const kind = stringOption(input, 'kind')
  const mediaBuy = stringOption(input, 'media-buy')
  const limit = stringOption(input, 'limit')
  if (status) query.set('status', status)
  if (kind) query.set('kind', kind)
  if (mediaBuy) query.set('mediaBuyId', mediaBuy)
  if (limit) query.set('limit', limit)
  const path = itemsPath(input)
  const page = await apiClientFromEnv().request<{ items: WorkItem[]; total: number }>('GET', `${path}${query.size > 0 ? `?${query}` : ''}`)
  if (flagOption(input, 'json')) console.log(terminalJson(page))
  else console.log(`${itemRows(page.items)}\n${page.items.length} of ${page.total} work item(s)`)
  return 0
}

export async function workShow(input: Invocation): Promise<number> {
  const detail = await apiClientFromEnv().request<{ item: WorkItem; events: WorkItemEvent[] }>('GET', itemPath(input))
  if (flagOption(input, 'xml')) {
    const xml = detail.item.payload.cadentCampaignXml
    if (typeof xml !== 'string') throw new CliUsageError(`work item ${detail.item.id} carries no Cadent XML`)
    process.stdout.write(xml)
  } else if (flagOption(input, 'json')) {
    console.log(terminalJson(detail))
  } else {
    printItem(detail.item)
    console.log(`\n${renderTable(['at', 'event', 'actor', 'notes'], detail.events.map((event) => [
      event.createdAt, event.eventType, `${event.actorType}${event.actorId ? ` ${event.actorId}` : ''}`, event.notes ?? '',
    ]))}`)
  }
  return 0
}

export async function workStart(input: Invocation): Promise<number> {
  const assignee = stringOption(input, 'assignee')
  const notes = stringOption(input, 'notes')
  if (!assignee) throw new CliUsageError('needs --assignee <name>')
  return changed(input, 'start', { assignedTo: assignee, ...(notes ? { notes } : {}) })
}

export async function workBlock(input: Invocation): Promise<number> {
  const reason = stringOption(input, 'reason')
  if (!reason) throw new CliUsageError('needs --reason <text>')
  return changed(input, 'block', { blockedReason: reason })
}

export async function workCancel(input: Invocation): Promise<number> {
  const reason = stringOption(input, 'reason')
  if (!reason) throw new CliUsageError('needs --reason <text>')
  return changed(input, 'cancel', { reason })
}

export async function workComplete(input: Invocation): Promise<number> {
  let result: Record<string, unknown> = {}
  const resultJson = stringOption(input, 'result')
  if (resultJson) {
    try {
      result = JSON.parse(resultJson) as Record<string, unknown>
    } catch {
      throw new CliUsageError('--result must be a JSON object')
    }
  }
  Object.assign(result, parseSets(listOption(input, 'set')))
  const reportFile = stringOption(input, 'report-file')
  if (reportFile) result.report = await readFile(reportFile, 'utf8')
  const notes = stringOption(input, 'notes')
  return changed(input, 'complete', { result, ...(notes ? { notes } : {}) })
}

export async function workFollowUp(input: Invocation): Promise<number> {
  const due = stringOption(input, 'due')
  const notes = stringOption(input, 'notes')
  const body = { ...(due ? { dueAt: due } : {}), ...(notes ? { notes } : {}) }
  const answer = await apiClientFromEnv().request<WorkItemFollowUp>('POST', `${itemPath(input)}/follow-up`, { json: body })
  if (flagOption(input, 'json')) console.log(terminalJson(answer))
  else console.log(terminalText(`Work item ${answer.item.id} (${answer.item.kind}) is ${answer.item.status}, following work item ${answer.followsWorkItemId}.`))
  return 0
}

export async function finalize(input: Invocation): Promise<number> {
  const value = (name: string) => stringOption(input, name)
  const missing = ['media-buy', 'campaign', 'advertiser'].filter((flag) => !value(flag))
  if (missing.length > 0) throw new CliUsageError(`needs ${missing.map((flag) => `--${flag}`).join(', ')}`)
  if (!value('avail') && !value('product')) throw new CliUsageError('needs --avail <id> or --product <id>')
  const creative = value('creative-url')
    ? {
        assetUrl: value('creative-url'),
        format: value('creative-format') ?? 'video',
        durationSeconds: Number(value('duration') ?? Number.NaN),
        ...(value('ad-id') ? { adId: value('ad-id') } : {}),
      }
    : undefined
  if (creative && !Number.isInteger(creative.durationSeconds)) throw new CliUsageError('--creative-url needs --duration <seconds>')
  const body = {
    mediaBuyId: value('media-buy'),
    ...(value('avail') ? { availId: value('avail') } : { productId: value('product') }),
    ...(value('package') ? { packageId: value('package') } : {}),
    ...(value('buyer') ? { buyerCustomerId: Number(value('buyer')) } : {}),
    campaignName: value('campaign'),
    advertiserName: value('advertiser'),
    ...(creative ? { creative } : {}),
  }
  const path = `${sourcePath(input)}/modular/bookings/finalize`
  const answer = await apiClientFromEnv().request<FinalizeResponse>('POST', path, { json: body })
  if (flagOption(input, 'json')) {
    console.log(terminalJson(answer))
    return 0
  }
  const { booking } = answer
  console.log(terminalText(`Booking ${booking.bookingId} for media buy ${booking.mediaBuyId} on ${booking.availId}: ${booking.status} (${booking.provider}, ${booking.traffickingMode})`))
  for (const [key, value] of Object.entries(booking.externalRefs)) console.log(`  ${terminalText(key)}: ${terminalText(String(value))}`)
  if (answer.workItems.length > 0) console.log(`\n${itemRows(answer.workItems)}`)
  return 0
}
