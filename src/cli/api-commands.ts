import type { Reservation } from '../modules/booking-ledger/index.ts'
import type { Product } from '../modules/products/index.ts'
import type { RuntimeProjection } from '../modules/readiness/index.ts'
import type { InventorySourceResponse } from '../sources/source.schema.ts'
import { flagOption, stringOption, type Invocation } from './commands.ts'
import { apiClientFromEnv, CliUsageError } from './http-client.ts'
import { renderTable, terminalJson, terminalText } from './table.ts'
import { sourcePath } from './work-commands.ts'

/**
 * The operator verbs over the REST API that are not about the work queue: inventory sources, a
 * modular source's readiness and products, and holds on its avails. Each is one request with the
 * operator key; --json prints the API answer as it came.
 */

function printJson(input: Invocation, answer: unknown): boolean {
  if (!flagOption(input, 'json')) return false
  console.log(terminalJson(answer))
  return true
}

/** A whole number option, checked before the request (the server would refuse it too, less clearly). */
function integerOption(input: Invocation, name: string): number | undefined {
  const text = stringOption(input, name)
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text)) throw new CliUsageError(`--${name} must be a whole number, got ${JSON.stringify(text)}`)
  return Number(text)
}

function query(entries: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(entries)) if (value !== undefined && value !== false) params.set(key, String(value))
  return params.size > 0 ? `?${params}` : ''
}

export async function sourcesList(input: Invocation): Promise<number> {
  const path = `/inventory-sources${query({ take: integerOption(input, 'take'), skip: integerOption(input, 'skip') })}`
  const sources = await apiClientFromEnv().request<InventorySourceResponse[]>('GET', path)
  if (printJson(input, sources)) return 0
  console.log(renderTable(['sourceId', 'name', 'type', 'status', 'sandbox'], sources.map((source) => [
    source.sourceId, source.name, source.executionType, source.status, source.sandbox ? 'yes' : '',
  ])))
  console.log(`${sources.length} source(s)`)
  return 0
}

export async function sourcesShow(input: Invocation): Promise<number> {
  const source = await apiClientFromEnv().request<InventorySourceResponse>('GET', `/inventory-sources/${encodeURIComponent(input.positionals[0]!)}`)
  if (printJson(input, source)) return 0
  const lines: [string, string | null][] = [
    ['sourceId', source.sourceId], ['id', source.id], ['name', source.name], ['description', source.description],
    ['type', source.executionType], ['status', source.status], ['sandbox', source.sandbox ? 'yes' : null],
    ['endpoint', source.endpointUrl], ['protocol', source.protocol], ['auth', source.authenticationType ? `${source.authenticationType}${source.authConfigured ? ' (configured)' : ''}` : null],
  ]
  for (const [label, value] of lines) if (value) console.log(`${label.padEnd(13)}${terminalText(value)}`)
  return 0
}

export async function readiness(input: Invocation): Promise<number> {
  const projection = await apiClientFromEnv().request<RuntimeProjection>('GET', `${sourcePath(input)}/modular`)
  if (printJson(input, projection)) return 0
  const source = projection.inventorySource
  console.log(terminalText(`${source.sourceId} (${source.name}): ${source.status}, health ${source.healthStatus}${projection.moduleConfigReady ? '' : ', module config incomplete'}`))
  console.log(`${projection.activeAvailCount} active avail(s), ${projection.openWorkItemCount} open work item(s)\n`)
  console.log(renderTable(['module', 'kind', 'provider', 'status', 'open work'], projection.modules.map((module) => [
    module.moduleInstanceId, module.kind, module.provider ?? '', module.status, String(module.openWorkItemCount),
  ])))
  console.log(`\n${renderTable(['stage', 'status', 'modules', 'reason'], projection.lifecycleSummary.map((row) => [
    row.stage, row.status, row.moduleInstanceIds.join(', '), row.reason ?? '',
  ]))}`)
  if (projection.issues.length > 0) {
    console.log(`\n${renderTable(['severity', 'issue', 'module', 'message'], projection.issues.map((issue) => [
      issue.severity, issue.code, issue.moduleInstanceId ?? '', issue.message,
    ]))}`)
  }
  return 0
}

export async function products(input: Invocation): Promise<number> {
  const path = `${sourcePath(input)}/modular/products${query({
    collectionId: stringOption(input, 'collection'),
    channel: stringOption(input, 'channel'),
    availableOnly: flagOption(input, 'available-only'),
    limit: integerOption(input, 'limit'),
    cursor: stringOption(input, 'cursor'),
  })}`
  const page = await apiClientFromEnv().request<{ products: Product[]; nextCursor: string | null }>('GET', path)
  if (printJson(input, page)) return 0
  console.log(renderTable(['productId', 'name', 'start', 'end', 'capacity', 'held', 'booked', 'available', 'cpm'], page.products.map((product) => [
    product.productId, product.name.length > 40 ? `${product.name.slice(0, 39)}…` : product.name, product.startTime, product.endTime,
    String(product.impressionsCapacity), String(product.heldImpressions), String(product.bookedImpressions), String(product.availableImpressions),
    product.cpm === null ? '' : `${product.cpm} ${product.currency}`,
  ])))
  console.log(`${page.products.length} product(s)${page.nextCursor ? `; next page: --cursor ${page.nextCursor}` : ''}`)
  return 0
}

/** --avail or --product: the API takes either (and refuses two that name different avails). */
function availIdentity(input: Invocation): { availId: string } | { productId: string } {
  const avail = stringOption(input, 'avail')
  const product = stringOption(input, 'product')
  if (avail && product) throw new CliUsageError('give --avail or --product, not both')
  if (avail) return { availId: avail }
  if (product) return { productId: product }
  throw new CliUsageError('needs --avail <availId> or --product <productId>')
}

function reservationLine(reservation: Reservation): string {
  const until = reservation.status === 'HELD' && reservation.expiresAt ? ` until ${reservation.expiresAt}` : ''
  return terminalText(`Reservation ${reservation.reservationId}: ${reservation.requestedImpressions} impressions of ${reservation.availId} for media buy ${reservation.mediaBuyId}${reservation.packageId ? ` (package ${reservation.packageId})` : ''}, ${reservation.status}${until}`)
}

export async function reserve(input: Invocation): Promise<number> {
  const mediaBuy = stringOption(input, 'media-buy')
  const impressions = integerOption(input, 'impressions')
  const missing = [mediaBuy ? null : '--media-buy <id>', impressions === undefined ? '--impressions <n>' : null].filter(Boolean)
  if (missing.length > 0) throw new CliUsageError(`needs ${missing.join(' and ')}`)
  const buyer = integerOption(input, 'buyer')
  const holdMinutes = integerOption(input, 'hold-minutes')
  const pkg = stringOption(input, 'package')
  const body = {
    ...availIdentity(input),
    mediaBuyId: mediaBuy,
    requestedImpressions: impressions,
    ...(pkg ? { packageId: pkg } : {}),
    ...(buyer === undefined ? {} : { buyerCustomerId: buyer }),
    ...(holdMinutes === undefined ? {} : { holdMinutes }),
  }
  const answer = await apiClientFromEnv().request<{ reservation: Reservation; product: Product }>('POST', `${sourcePath(input)}/modular/reservations`, { json: body })
  if (printJson(input, answer)) return 0
  console.log(reservationLine(answer.reservation))
  console.log(`${answer.product.availableImpressions} impressions of ${terminalText(answer.product.productId)} left`)
  return 0
}

export async function release(input: Invocation): Promise<number> {
  const reservation = stringOption(input, 'reservation')
  const reason = stringOption(input, 'reason')
  let body: Record<string, unknown>
  if (reservation) {
    if (stringOption(input, 'media-buy') || stringOption(input, 'avail') || stringOption(input, 'product')) {
      throw new CliUsageError('give --reservation, or --media-buy with --avail or --product, not both')
    }
    body = { reservationId: reservation }
  } else {
    const mediaBuy = stringOption(input, 'media-buy')
    if (!mediaBuy) throw new CliUsageError('needs --reservation <id>, or --media-buy <id> with --avail or --product')
    const pkg = stringOption(input, 'package')
    body = { mediaBuyId: mediaBuy, ...availIdentity(input), ...(pkg ? { packageId: pkg } : {}) }
  }
  if (reason) body.reason = reason
  const answer = await apiClientFromEnv().request<{ reservation: Reservation; projection: RuntimeProjection }>('POST', `${sourcePath(input)}/modular/bookings/release`, { json: body })
  if (printJson(input, answer)) return 0
  console.log(reservationLine(answer.reservation))
  return 0
}
