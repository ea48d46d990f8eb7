/**
 * Hostile-input replay (issue 9, "No input yields a 500" and "Hostile feeds"): sends a bounded set
 * of malformed requests to a live server on 127.0.0.1 and counts the answers.
 *
 *   npm run bench:hostile                      # starts `storefront serve` on a fresh embedded database
 *   STOREFRONT_URL=http://127.0.0.1:3000 STOREFRONT_API_KEY=sf_... npm run bench:hostile   # an existing server
 *   HOSTILE_MAX_SECONDS=600 (default) bounds the whole run; each request has 60 s.
 *
 * After every request the visible state (sources, the demo source's modules, reservations, work
 * items, products) is read back; a refused request (4xx/5xx) that changed it is a partial write.
 * Ends with one line: `N requests, N 5xx, N partial writes`. Figures go to docs/robustness.md.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import ExcelJS from 'exceljs'
import { startServerProcess, type ServerProcess } from '../test/helpers/processes.ts'

const MAX_SECONDS = Number(process.env.HOSTILE_MAX_SECONDS ?? 600)
const REQUEST_TIMEOUT_MS = 60_000
const DEMO = 'talpa-cadent-demo'
const base = (url: string) => `${url}/api/v2/storefront`

interface Attempt {
  category: string
  name: string
  method: string
  path: string
  body?: string | Uint8Array<ArrayBuffer> | FormData
  contentType?: string
}

interface Tally {
  requests: number
  ok: number
  client: number
  server: number
  transport: number
  partial: number
  slowestMs: number
}

const J = 'application/json'
const CSV = 'text/csv'

function json(value: unknown): string {
  return JSON.stringify(value)
}

/** `LONE` in a JSON text becomes an unpaired high surrogate escape, which JSON.stringify never writes. */
function withLoneSurrogate(value: unknown): string {
  return JSON.stringify(value).replaceAll('LONE', '\\ud800')
}

function nested(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}

function csv(rows: string[][]): string {
  return rows.map((row) => row.map((cell) => (/[",\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell)).join(',')).join('\n') + '\n'
}

const FEED_HEADER = ['availId', 'name', 'startTime', 'endTime', 'impressionsCapacity', 'collectionName', 'cpm']

function feedRow(id: string, overrides: Partial<Record<string, string>> = {}): string[] {
  const row: Record<string, string> = {
    availId: id, name: `Hostile ${id}`, startTime: '2030-01-01', endTime: '2030-01-31', impressionsCapacity: '1000', collectionName: 'Hostile', cpm: '10', ...overrides,
  }
  return FEED_HEADER.map((column) => row[column]!)
}

function form(fields: Array<[string, string]>, file?: { name: string; type: string; content: string | Uint8Array<ArrayBuffer> }): FormData {
  const data = new FormData()
  for (const [name, value] of fields) data.append(name, value)
  if (file) data.append('file', new Blob([file.content], { type: file.type }), file.name)
  return data
}

async function xlsx(rows: Array<Array<string | number>>): Promise<Uint8Array<ArrayBuffer>> {
  const workbook = new ExcelJS.Workbook()
  const sheet = workbook.addWorksheet('Avails')
  for (const row of rows) sheet.addRow(row)
  return new Uint8Array(await workbook.xlsx.writeBuffer() as ArrayBuffer)
}

function wideCsv(columns: number, rows: number): string {
  const header = [...FEED_HEADER, ...Array.from({ length: columns - FEED_HEADER.length }, (_, index) => `extra${index}`)]
  const lines = [header.join(',')]
  for (let row = 0; row < rows; row++) lines.push([...feedRow(`wide-${columns}-${row}`), ...Array.from({ length: columns - FEED_HEADER.length }, () => 'x')].join(','))
  return lines.join('\n') + '\n'
}

async function attempts(context: { availId: string; workItemId: string }): Promise<Attempt[]> {
  const { availId, workItemId } = context
  const src = `/inventory-sources/${DEMO}/modular`
  const list: Attempt[] = []
  const add = (category: string, name: string, method: string, pathname: string, body?: Attempt['body'], contentType?: string) =>
    list.push({ category, name, method, path: pathname, ...(body === undefined ? {} : { body }), ...(contentType ? { contentType } : {}) })
  const hold = { availId, mediaBuyId: 'hostile-hold', requestedImpressions: 1000 }
  const finalize = { mediaBuyId: 'hostile-hold', availId, campaignName: 'Hostile campaign', advertiserName: 'Hostile advertiser',
    creative: { format: 'video', durationSeconds: 30, assetUrl: 'https://assets.example.com/spot.mp4', adId: 'EXAD1234000H' } }
  const agent = { name: 'Hostile agent', type: 'SALES', endpointUrl: 'https://agent.example.com/mcp', protocol: 'MCP', authenticationType: 'NO_AUTH' }

  // U+0000 and lone surrogates in bodies, path parameters and query values.
  const textTargets: Array<[string, string, string, (text: string) => unknown]> = [
    ['feed source name', 'POST', '/inventory-sources/modular/feed', (t) => ({ name: t })],
    ['agent name', 'POST', '/inventory-sources', (t) => ({ ...agent, name: t })],
    ['agent description', 'POST', '/inventory-sources', (t) => ({ ...agent, description: t })],
    ['reserve mediaBuyId', 'POST', `${src}/reservations`, (t) => ({ ...hold, mediaBuyId: t })],
    ['reserve availId', 'POST', `${src}/reservations`, (t) => ({ ...hold, availId: t })],
    ['release reason', 'POST', `${src}/bookings/release`, (t) => ({ mediaBuyId: 'nobody', availId, reason: t })],
    ['finalize campaignName', 'POST', `${src}/bookings/finalize`, (t) => ({ ...finalize, campaignName: t })],
    ['module config value', 'PATCH', `${src}/modules/cadent-trafficking/config`, (t) => ({ config: { note: t } })],
    ['module config key', 'PATCH', `${src}/modules/cadent-trafficking/config`, (t) => ({ config: { [t]: 1 } })],
    ['attach provider', 'POST', `${src}/modules`, (t) => ({ kind: 'TRAFFICKING', provider: t })],
    ['work block reason', 'POST', `${src}/work-items/${workItemId}/block`, (t) => ({ blockedReason: t })],
    ['work complete result', 'POST', `${src}/work-items/${workItemId}/complete`, (t) => ({ result: { note: t } })],
    ['JSON avails cell', 'POST', `${src}/avails-feed`, (t) => ({ confirmed: true, avails: [{ availId: 'nul-json', name: t }] })],
    ['JSON csv text', 'POST', `${src}/avails-feed`, (t) => ({ confirmed: true, csv: csv([FEED_HEADER, feedRow('nul-csv-json', { name: t })]) })],
  ]
  for (const [name, method, pathname, body] of textTargets) {
    add('NUL in JSON', name, method, pathname, json(body('bad\u0000text')), J)
    add('lone surrogate in JSON', name, method, pathname, withLoneSurrogate(body('badLONEtext')), J)
  }
  for (const pathname of [
    '/inventory-sources/demo%00x', `${src}/reservations/1%00`, `${src}/work-items/1%00`, `${src}/modules/x%00/config`,
    `${src}/reservations?mediaBuyId=a%00b`, `${src}/reservations?availId=a%00b`, `${src}/work-items?mediaBuyId=a%00b`,
    `${src}/work-items?resourceId=a%00b`, `${src}/delivery?mediaBuyId=a%00b`, `${src}/products?channel=a%00b`, `${src}/products?collectionId=a%00b`,
    `${src}/products?cursor=${Buffer.from(json({ a: 'x\u0000' })).toString('base64url')}`, '/inventory-sources?take=1%00',
  ]) add('NUL in path or query', pathname.replace(src, '<demo>'), pathname.includes('/config') ? 'PATCH' : 'GET', pathname, pathname.includes('/config') ? json({ config: {} }) : undefined, pathname.includes('/config') ? J : undefined)

  // Deep JSON.
  for (const depth of [65, 1_000, 10_000, 100_000]) {
    add('deep JSON', `feed source availsSource ${depth}`, 'POST', '/inventory-sources/modular/feed', `{"name":"Deep","availsSource":${nested(depth)}}`, J)
    add('deep JSON', `module config ${depth}`, 'PATCH', `${src}/modules/cadent-trafficking/config`, `{"config":${nested(depth)}}`, J)
    add('deep JSON', `attach config ${depth}`, 'POST', `${src}/modules`, `{"kind":"TRAFFICKING","provider":"cadent","config":${nested(depth)}}`, J)
    add('deep JSON', `work complete result ${depth}`, 'POST', `${src}/work-items/${workItemId}/complete`, `{"result":${nested(depth)}}`, J)
    add('deep JSON', `avails targeting ${depth}`, 'POST', `${src}/avails-feed`, `{"avails":[{"availId":"deep","targeting":${nested(depth)}}]}`, J)
    add('deep JSON', `bare array ${depth}`, 'POST', `${src}/reservations`, '['.repeat(depth) + ']'.repeat(depth), J)
  }

  // Numbers beyond a column's range.
  for (const [name, text] of [
    ['requestedImpressions 1e20', `{"availId":"${availId}","mediaBuyId":"n1","requestedImpressions":1e20}`],
    ['requestedImpressions 2^53', `{"availId":"${availId}","mediaBuyId":"n2","requestedImpressions":9007199254740992}`],
    ['requestedImpressions 2^63', `{"availId":"${availId}","mediaBuyId":"n3","requestedImpressions":9223372036854775808}`],
    ['requestedImpressions 1e400', `{"availId":"${availId}","mediaBuyId":"n4","requestedImpressions":1e400}`],
    ['requestedImpressions -1', `{"availId":"${availId}","mediaBuyId":"n5","requestedImpressions":-1}`],
    ['requestedImpressions 0.5', `{"availId":"${availId}","mediaBuyId":"n6","requestedImpressions":0.5}`],
    ['holdMinutes 2^31', `{"availId":"${availId}","mediaBuyId":"n7","requestedImpressions":1,"holdMinutes":2147483648}`],
    ['buyerCustomerId 2^63', `{"availId":"${availId}","mediaBuyId":"n8","requestedImpressions":1,"buyerCustomerId":9223372036854775808}`],
    ['buyerCustomerId 1e300', `{"availId":"${availId}","mediaBuyId":"n9","requestedImpressions":1,"buyerCustomerId":1e300}`],
  ] as const) add('huge numbers', name, 'POST', `${src}/reservations`, text, J)
  for (const [name, creative] of [
    ['durationSeconds 2^31', { ...finalize.creative, durationSeconds: 2147483648 }],
    ['durationSeconds 1e300', { ...finalize.creative, durationSeconds: 1e300 }],
  ] as const) add('huge numbers', name, 'POST', `${src}/bookings/finalize`, json({ ...finalize, creative }), J)
  add('huge numbers', 'finalize buyerCustomerId 2^63', 'POST', `${src}/bookings/finalize`, json(finalize).replace('{', '{"buyerCustomerId":9223372036854775808,'), J)
  add('huge numbers', 'release reservationId 10^18-1', 'POST', `${src}/bookings/release`, json({ reservationId: '999999999999999999' }), J)
  for (const query of ['take=1e400', 'skip=1e30', 'skip=9223372036854775808', 'take=-1']) add('huge numbers', `list ${query}`, 'GET', `/inventory-sources?${query}`)
  for (const pathname of [`${src}/reservations/99999999999999999999`, `${src}/work-items/9223372036854775808`, `${src}/work-items?buyerCustomerId=9223372036854775808`, `${src}/work-items?limit=1e9`, `${src}/products?limit=1e400`]) {
    add('huge numbers', pathname.replace(src, '<demo>'), 'GET', pathname)
  }

  // Control characters in text that reaches the Cadent XML.
  for (const character of ['\u0001', '\u001b', '\u007f', '\u0085', '\n', '\t']) {
    const label = `U+${character.charCodeAt(0).toString(16).padStart(4, '0')}`
    for (const [field, body] of [
      ['campaignName', { ...finalize, campaignName: `Camp${character}aign` }],
      ['advertiserName', { ...finalize, advertiserName: `Adv${character}` }],
      ['creative.assetUrl', { ...finalize, creative: { ...finalize.creative, assetUrl: `https://assets.example.com/${character}spot.mp4` } }],
      ['creative.format', { ...finalize, creative: { ...finalize.creative, format: `vid${character}eo` } }],
      ['creative.adId', { ...finalize, creative: { ...finalize.creative, adId: `EXAD${character}` } }],
      ['mediaBuyId', { ...finalize, mediaBuyId: `hostile${character}hold` }],
      ['packageId', { ...finalize, packageId: `pkg${character}` }],
    ] as const) add('control chars in XML text', `${field} ${label}`, 'POST', `${src}/bookings/finalize`, json(body), J)
  }

  // Long paths, undecodable paths and Fastify's own refusals.
  for (const length of [256, 1_025, 10_000, 20_000]) add('long paths', `sourceId of ${length}`, 'GET', `/inventory-sources/${'a'.repeat(length)}`)
  add('long paths', 'query of 20000', 'GET', `/inventory-sources?x=${'a'.repeat(20_000)}`)
  add('long paths', 'undecodable %E0%A4%A', 'GET', '/inventory-sources/%E0%A4%A')
  add('long paths', 'unsupported media type', 'POST', '/inventory-sources/modular/feed', '<name/>', 'application/xml')
  add('long paths', 'invalid JSON', 'POST', '/inventory-sources/modular/feed', '{"name":', J)
  add('long paths', 'empty JSON body', 'POST', '/inventory-sources/modular/feed', '', J)
  add('long paths', '__proto__ key', 'POST', '/inventory-sources/modular/feed', '{"name":"p","__proto__":{"x":1}}', J)

  // Oversized multipart fields.
  const smallCsv = csv([FEED_HEADER, feedRow('multipart-ok')])
  const csvFile = { name: 'feed.csv', type: 'text/csv', content: smallCsv }
  add('multipart limits', 'field over 1 MiB', 'POST', `${src}/avails-feed`, form([['columnMapping', `{"a":"${'x'.repeat(1024 * 1024)}"}`], ['confirmed', 'true']], csvFile))
  add('multipart limits', 'field name over 100 bytes', 'POST', `${src}/avails-feed`, form([['f'.repeat(200), 'x'], ['confirmed', 'true']], csvFile))
  add('multipart limits', '25 fields', 'POST', `${src}/avails-feed`, form([...Array.from({ length: 25 }, (_, i) => [`f${i}`, 'x'] as [string, string]), ['confirmed', 'true']], csvFile))
  add('multipart limits', 'NUL in a field', 'POST', `${src}/avails-feed`, form([['sheet', 'a\u0000b'], ['confirmed', 'true']], csvFile))
  const twoFiles = form([['confirmed', 'true']], csvFile)
  twoFiles.append('second', new Blob([smallCsv], { type: 'text/csv' }), 'again.csv')
  add('multipart limits', 'two files', 'POST', `${src}/avails-feed`, twoFiles)

  // Names with control characters.
  for (const [label, text] of [['ESC clear screen', 'Name \u001b[2J'], ['OSC title', 'Name \u001b]0;pwned\u0007'], ['C1 CSI', 'Name \u009b31m'], ['line feed', 'Name\nInjected']] as const) {
    add('control-char names', `feed source ${label}`, 'POST', '/inventory-sources/modular/feed', json({ name: text }), J)
    add('control-char names', `agent ${label}`, 'POST', '/inventory-sources', json({ ...agent, name: text }), J)
    add('control-char names', `agent rename ${label}`, 'PUT', `/inventory-sources/${DEMO}`, json({ name: text }), J)
    add('control-char names', `systemName ${label}`, 'POST', '/inventory-sources/modular/feed', json({ name: 'Ok', booking: { systemName: text } }), J)
    add('control-char names', `demo name ${label}`, 'POST', '/inventory-sources/modular/cadent-demo', json({ name: text }), J)
    add('control-char names', `assignee ${label}`, 'POST', `${src}/work-items/${workItemId}/start`, json({ assignedTo: text }), J)
  }

  // Whitespace-only identifiers.
  for (const blank of ['   ', '\t', '\u00a0']) {
    const label = json(blank)
    add('whitespace ids', `reserve mediaBuyId ${label}`, 'POST', `${src}/reservations`, json({ ...hold, mediaBuyId: blank }), J)
    add('whitespace ids', `reserve packageId ${label}`, 'POST', `${src}/reservations`, json({ ...hold, mediaBuyId: 'ws', packageId: blank }), J)
    add('whitespace ids', `reserve availId ${label}`, 'POST', `${src}/reservations`, json({ ...hold, availId: blank }), J)
    add('whitespace ids', `reserve productId ${label}`, 'POST', `${src}/reservations`, json({ mediaBuyId: 'ws', productId: `avail:${blank}`, requestedImpressions: 1 }), J)
    add('whitespace ids', `finalize mediaBuyId ${label}`, 'POST', `${src}/bookings/finalize`, json({ ...finalize, mediaBuyId: blank }), J)
    add('whitespace ids', `release mediaBuyId ${label}`, 'POST', `${src}/bookings/release`, json({ mediaBuyId: blank, availId }), J)
  }
  for (const pathname of [`${src}/work-items/%20%20`, `${src}/reservations/%20`, '/inventory-sources/%20%20', `${src}/reservations?mediaBuyId=%20%20`, `${src}/delivery?mediaBuyId=%20`]) {
    add('whitespace ids', pathname.replace(src, '<demo>'), 'GET', pathname)
  }

  // Feeds: NUL cells, huge numeric cells, wide files. confirmed=true so a refusal must write nothing.
  const commit = `${src}/avails-feed?confirmed=true`
  add('CSV/XLSX NUL cells', 'CSV body NUL in name', 'POST', commit, csv([FEED_HEADER, feedRow('nul-1', { name: 'a\u0000b' })]), CSV)
  add('CSV/XLSX NUL cells', 'CSV body NUL in availId', 'POST', commit, csv([FEED_HEADER, feedRow('nul\u00002')]), CSV)
  add('CSV/XLSX NUL cells', 'CSV body NUL in collection', 'POST', commit, csv([FEED_HEADER, feedRow('nul-3', { collectionName: '\u0000' })]), CSV)
  add('CSV/XLSX NUL cells', 'CSV upload NUL in name', 'POST', `${src}/avails-feed`, form([['confirmed', 'true']], { ...csvFile, content: csv([FEED_HEADER, feedRow('nul-4', { name: 'x\u0000' })]) }))
  add('CSV/XLSX NUL cells', 'CSV body NUL in header', 'POST', commit, csv([[...FEED_HEADER.slice(0, -1), 'cp\u0000m'], feedRow('nul-5')]), CSV)
  add('CSV/XLSX NUL cells', 'CSV body whitespace availId', 'POST', commit, csv([FEED_HEADER, feedRow('   ')]), CSV)
  const xlsxNul = await xlsx([FEED_HEADER, feedRow('nul-xlsx', { name: 'x\u0000y' })])
  add('CSV/XLSX NUL cells', 'XLSX NUL in name', 'POST', `${src}/avails-feed`, form([['confirmed', 'true']], { name: 'feed.xlsx', type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', content: xlsxNul }))
  for (const [label, overrides] of [
    ['cpm 1e10', { cpm: '10000000000' }], ['cpm 1e400', { cpm: '1e400' }], ['cpm 20 digits', { cpm: '99999999999999999999' }],
    ['capacity 1e30', { impressionsCapacity: '1000000000000000000000000000000' }], ['capacity 2^63', { impressionsCapacity: '9223372036854775808' }],
    ['capacity 1.5E+300', { impressionsCapacity: '1.5E+300' }],
  ] as const) add('huge numeric cells', `CSV ${label}`, 'POST', commit, csv([FEED_HEADER, feedRow(`huge-${label.replace(/\W+/g, '-')}`, overrides)]), CSV)
  const xlsxHuge = await xlsx([FEED_HEADER, ['9007199254740993', 'Huge', '2030-01-01', '2030-01-31', 1e30, 'Hostile', 1e12]])
  add('huge numeric cells', 'XLSX capacity 1e30 cpm 1e12', 'POST', `${src}/avails-feed`, form([['confirmed', 'true']], { name: 'huge.xlsx', type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', content: xlsxHuge }))
  add('huge numeric cells', 'JSON cpm 1e10', 'POST', `${src}/avails-feed`, json({ confirmed: true, avails: [{ availId: 'huge-json', name: 'Huge', startTime: '2030-01-01', endTime: '2030-01-31', impressionsCapacity: 1000, collectionName: 'Hostile', cpm: 1e10 }] }), J)
  for (const [columns, rows] of [[300, 20], [2_000, 10], [10_000, 5], [16_384, 3]] as const) {
    add('wide CSVs', `${columns} columns x ${rows} rows`, 'POST', commit, wideCsv(columns, rows), CSV)
  }
  const wideSheet = await xlsx([[...FEED_HEADER, ...Array.from({ length: 1_000 }, (_, i) => `extra${i}`)], ...Array.from({ length: 5 }, (_, r) => [...feedRow(`wide-xlsx-${r}`), ...Array.from({ length: 1_000 }, () => 'x')])])
  add('wide CSVs', 'XLSX 1007 columns x 5 rows', 'POST', `${src}/avails-feed`, form([['confirmed', 'true']], { name: 'wide.xlsx', type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', content: wideSheet }))
  return list
}

async function main(): Promise<void> {
  const started = Date.now()
  let server: ServerProcess | null = null
  let dataDir: string | null = null
  let url = process.env.STOREFRONT_URL
  let key = process.env.STOREFRONT_API_KEY
  if (url && key) {
    const { hostname } = new URL(url)
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) throw new Error(`STOREFRONT_URL must point at this machine (127.0.0.1), not ${hostname}`)
  } else {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'sf-hostile-'))
    key = `sf_hostile_${randomBytes(12).toString('hex')}`
    console.log('starting storefront serve on a fresh embedded database ...')
    server = await startServerProcess({
      DATA_DIR: dataDir, HOST: '127.0.0.1', STOREFRONT_SECRET_KEY: 'hostile-secret-key-0123456789abcdef', STOREFRONT_BOOTSTRAP_KEY: key, STOREFRONT_DEFAULT_NAME: 'hostile', LOG_LEVEL: 'error',
    }, 300_000)
    url = server.url
  }
  const api = base(url)
  const headers = { authorization: `Bearer ${key}` }

  async function send(method: string, pathname: string, body?: Attempt['body'], contentType?: string): Promise<{ status: number; text: string }> {
    const response = await fetch(`${api}${pathname}`, {
      method, headers: { ...headers, ...(contentType ? { 'content-type': contentType } : {}) }, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
    return { status: response.status, text: await response.text() }
  }
  async function must<T>(method: string, pathname: string, body?: unknown): Promise<T> {
    const answer = await send(method, pathname, body === undefined ? undefined : json(body), body === undefined ? undefined : J)
    if (answer.status >= 300) throw new Error(`${method} ${pathname} answered ${answer.status}: ${answer.text.slice(0, 300)}`)
    return JSON.parse(answer.text) as T
  }

  try {
    // Setup: the demo source with its avails, one hold, one open work item.
    await send('POST', '/inventory-sources/modular/cadent-demo', json({}), J)
    const products = await must<{ products: Array<{ availId?: string; productId: string }> }>('GET', `/inventory-sources/${DEMO}/modular/products`)
    const availId = products.products[0]!.productId.replace(/^avail:/, '')
    await send('POST', `/inventory-sources/${DEMO}/modular/reservations`, json({ availId, mediaBuyId: 'hostile-hold', requestedImpressions: 1000 }), J)
    await send('POST', `/inventory-sources/${DEMO}/modular/avails-feed`, csv([FEED_HEADER, feedRow('hostile-preview')]), CSV)
    const open = await must<{ items: Array<{ id: string }> }>('GET', `/inventory-sources/${DEMO}/modular/work-items`)
    const workItemId = open.items[0]?.id ?? '1'

    const statusAll = 'OPEN,IN_PROGRESS,BLOCKED,COMPLETED,CANCELLED'
    async function snapshot(): Promise<string> {
      const parts = await Promise.all([
        must('GET', '/inventory-sources?take=200'),
        must('GET', `/inventory-sources/${DEMO}/modular`),
        must('GET', `/inventory-sources/${DEMO}/modular/reservations?take=200`),
        must('GET', `/inventory-sources/${DEMO}/modular/work-items?status=${statusAll}&limit=100`),
        must('GET', `/inventory-sources/${DEMO}/modular/products?limit=200`),
      ])
      return createHash('sha256').update(json(parts)).digest('hex')
    }

    let state = await snapshot()
    if ((await snapshot()) !== state) throw new Error('the state snapshot is not stable between two reads; partial writes cannot be judged')

    const tallies = new Map<string, Tally>()
    const fivehundreds: string[] = []
    const partials: string[] = []
    const plan = await attempts({ availId, workItemId })
    let skipped = 0
    for (const attempt of plan) {
      if ((Date.now() - started) / 1000 > MAX_SECONDS) {
        skipped++
        continue
      }
      const tally = tallies.get(attempt.category) ?? { requests: 0, ok: 0, client: 0, server: 0, transport: 0, partial: 0, slowestMs: 0 }
      tallies.set(attempt.category, tally)
      tally.requests++
      const t0 = performance.now()
      let status = 0
      try {
        status = (await send(attempt.method, attempt.path, attempt.body, attempt.contentType)).status
      } catch (error) {
        tally.transport++
        console.log(`  transport error: ${attempt.category} / ${attempt.name}: ${(error as Error).message}`)
      }
      tally.slowestMs = Math.max(tally.slowestMs, performance.now() - t0)
      if (status >= 500) {
        tally.server++
        fivehundreds.push(`${status} ${attempt.category} / ${attempt.name}`)
      } else if (status >= 400) tally.client++
      else if (status >= 200) tally.ok++
      const after = await snapshot()
      if (after !== state && (status >= 400 || status === 0)) {
        tally.partial++
        partials.push(`${status} ${attempt.category} / ${attempt.name}`)
      }
      state = after
    }

    const rows = [...tallies.entries()]
    const pad = (text: string | number, width: number) => String(text).padEnd(width)
    console.log(`\n${pad('category', 28)}${pad('requests', 10)}${pad('2xx', 6)}${pad('4xx', 6)}${pad('5xx', 6)}${pad('no answer', 11)}${pad('partial', 9)}slowest ms`)
    for (const [category, t] of rows) {
      console.log(`${pad(category, 28)}${pad(t.requests, 10)}${pad(t.ok, 6)}${pad(t.client, 6)}${pad(t.server, 6)}${pad(t.transport, 11)}${pad(t.partial, 9)}${Math.round(t.slowestMs)}`)
    }
    for (const line of fivehundreds) console.log(`  5xx: ${line}`)
    for (const line of partials) console.log(`  partial write: ${line}`)
    if (skipped > 0) console.log(`  ${skipped} requests skipped: HOSTILE_MAX_SECONDS=${MAX_SECONDS} reached`)
    const total = rows.reduce((sum, [, t]) => sum + t.requests, 0)
    const transport = rows.reduce((sum, [, t]) => sum + t.transport, 0)
    if (transport > 0) console.log(`  ${transport} requests got no HTTP answer`)
    console.log(`${total} requests, ${fivehundreds.length} 5xx, ${partials.length} partial writes`)
  } finally {
    if (server) await server.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  }
}

await main()
