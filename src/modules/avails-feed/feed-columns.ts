import { fail } from '../../shared/errors.ts'
import type { AvailScalarField } from './avail.schema.ts'

/**
 * Where a column (CSV/XLSX header) or a JSON row key goes. The rules, in order:
 *
 * 1. `columnMapping` (header -> target) wins. The header is matched exactly or after
 *    normalization; the target is a field name (any spelling below), `targeting.<key>`,
 *    `sourceMetadata.<key>`, bare `targeting`/`sourceMetadata` (key from the header), or
 *    `ignore`.
 * 2. Headers prefixed `targeting.`, `targeting:`, `target.` or `target:` go to `targeting`
 *    under the rest of the header; `sourceMetadata.`, `metadata.`, `meta:`... likewise.
 * 3. Known spellings map to fields. Headers are compared case-insensitively with spaces,
 *    underscores, dashes, dots and anything in parentheses removed, so `Avail ID`,
 *    `avail_id`, `availId` and `AVAIL-ID` are one header, and `CPM ($)` is `CPM`.
 * 4. Common targeting dimensions (`Market`, `Screen`, `Geo`, `DMA`, `Device`...) go to
 *    `targeting` under their camelCased header.
 * 5. Anything else goes to `sourceMetadata` under its camelCased header (JSON keys are
 *    kept as they are), so nothing the seller sent is silently lost.
 *
 * Generic spellings (`ID`, `Rate`, `Impressions`, `Start`...) are weak: when a column with
 * a specific spelling of the same field exists (`Avail ID`), the specific one wins and the
 * generic one falls through to rule 5. Two columns of equal strength for one field are a
 * header error rather than a silent pick. Two columns for one free-form key are both kept,
 * the later ones numbered (`notes`, `notes2`).
 */

export type ColumnStrength = 'explicit' | 'specific' | 'generic'

export type ColumnTarget =
  | { kind: 'field'; field: AvailScalarField; strength: ColumnStrength }
  | { kind: 'targeting'; key: string }
  | { kind: 'sourceMetadata'; key: string }
  | { kind: 'ignore' }
  /** A column whose header cell is empty: a value under it is an error, not silently lost. */
  | { kind: 'unnamed' }

/** Normalized spellings per field. Generic ones may also mean something else in a sheet. */
const fieldSpellings: Record<AvailScalarField, { specific: string[]; generic: string[] }> = {
  availId: { specific: ['availid', 'availabilityid', 'availcode', 'availkey', 'availsid'], generic: ['id', 'key'] },
  collectionId: { specific: ['collectionid', 'collectioncode', 'collectionkey'], generic: [] },
  collectionName: { specific: ['collectionname'], generic: ['collection'] },
  collectionDescription: { specific: ['collectiondescription'], generic: ['description'] },
  name: { specific: ['name', 'availname', 'availabilityname'], generic: ['title', 'productname'] },
  channel: { specific: ['channel', 'mediachannel'], generic: ['mediatype', 'medium'] },
  startTime: {
    specific: ['starttime', 'startdate', 'startdatetime', 'flightstart', 'flightstartdate', 'startsat'],
    generic: ['start', 'from', 'begin', 'begindate'],
  },
  endTime: {
    specific: ['endtime', 'enddate', 'enddatetime', 'flightend', 'flightenddate', 'endsat'],
    generic: ['end', 'to', 'until'],
  },
  impressionsCapacity: {
    specific: [
      'impressionscapacity',
      'impressioncapacity',
      'capacityimpressions',
      'netsellableimpressions',
      'sellableimpressions',
      'availableimpressions',
      'netimpressions',
      'netcapacity',
    ],
    generic: ['impressions', 'capacity', 'imps', 'avails'],
  },
  upstreamBookedImpressions: {
    specific: ['upstreambookedimpressions', 'upstreambooked', 'bookedimpressions', 'alreadybooked'],
    generic: ['booked'],
  },
  cpm: { specific: ['cpm', 'cpmrate', 'cpmprice', 'netcpm'], generic: ['rate', 'price', 'grosscpm'] },
  currency: { specific: ['currency', 'currencycode'], generic: ['ccy', 'cur'] },
  flatRate: { specific: ['flatrate', 'flatprice', 'flatfee', 'flatratecost'], generic: [] },
  flatRateUnit: { specific: ['flatrateunit', 'flatrateper', 'flatratebasis', 'rateunit', 'priceunit'], generic: [] },
  spotCount: { specific: ['spotcount', 'spots', 'numberofspots', 'spotsavailable', 'availablespots'], generic: ['units'] },
  measurementWindows: { specific: ['measurementwindows', 'measurementwindow', 'ratingwindows', 'ratingswindows'], generic: ['windows'] },
}

const spellingToField = new Map<string, { field: AvailScalarField; strength: ColumnStrength }>()
for (const [field, spellings] of Object.entries(fieldSpellings) as [AvailScalarField, (typeof fieldSpellings)[AvailScalarField]][]) {
  for (const spelling of spellings.specific) spellingToField.set(spelling, { field, strength: 'specific' })
  for (const spelling of spellings.generic) spellingToField.set(spelling, { field, strength: 'generic' })
}

/** Headers that name a targeting dimension rather than seller bookkeeping. */
const targetingDimensions = new Set([
  'market', 'screen', 'screentype', 'geo', 'region', 'country', 'state', 'city', 'dma', 'metro',
  'postalcode', 'zipcode', 'device', 'devicetype', 'platform', 'audience', 'segment', 'genre',
  'daypart', 'language', 'gender', 'age', 'agerange', 'content', 'contentgenre', 'network', 'station',
])

const TARGETING_PREFIX = /^(?:targeting|target)\s*[.:]\s*/i
const METADATA_PREFIX = /^(?:sourcemetadata|source\s*metadata|metadata|meta)\s*[.:]\s*/i

/** `Avail ID`, `avail_id`, `availId`, `AVAIL-ID (required)` -> `availid`. */
export function normalizeHeader(header: string): string {
  return header
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/\([^)]*\)|\[[^\]]*\]/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '')
}

/** `Sales Notes` -> `salesNotes`, `DMA code` -> `dmaCode`, `salesNotes` stays. */
export function camelCaseKey(header: string): string {
  const words = header.trim().split(/[^\p{L}\p{N}]+/u).filter(Boolean)
  return words
    .map((word, index) => {
      const isAcronym = word === word.toUpperCase()
      const lowered = isAcronym ? word.toLowerCase() : word
      if (index === 0) return lowered.charAt(0).toLowerCase() + lowered.slice(1)
      return lowered.charAt(0).toUpperCase() + lowered.slice(1)
    })
    .join('')
}

export function fieldForSpelling(spelling: string): AvailScalarField | null {
  return spellingToField.get(normalizeHeader(spelling))?.field ?? null
}

export interface ColumnResolver {
  /** Where a header goes; `jsonKey` keeps unknown keys verbatim instead of camelCasing them. */
  resolve(header: string, options?: { jsonKey?: boolean }): ColumnTarget
}

/**
 * Validates `columnMapping` up front (a wrong target is a mistake in the request, not in
 * a row, so it throws a validation error) and returns a resolver that caches per header.
 */
export function createColumnResolver(columnMapping: Record<string, string> = {}): ColumnResolver {
  const explicitByHeader = new Map<string, ColumnTarget>()
  for (const [header, target] of Object.entries(columnMapping)) {
    explicitByHeader.set(normalizeHeader(header), parseMappingTarget(header, target))
  }
  const cache = new Map<string, ColumnTarget>()

  return {
    resolve(header, options = {}) {
      const cacheKey = `${options.jsonKey ? 'json' : 'column'}:${header}`
      let target = cache.get(cacheKey)
      if (!target) {
        target = explicitByHeader.get(normalizeHeader(header)) ?? resolveByConvention(header, options.jsonKey ?? false)
        cache.set(cacheKey, target)
      }
      return target
    },
  }
}

function parseMappingTarget(header: string, target: string): ColumnTarget {
  const trimmed = target.trim()
  const normalized = normalizeHeader(trimmed)
  if (normalized === 'ignore' || normalized === 'skip') return { kind: 'ignore' }
  if (normalized === 'targeting') return { kind: 'targeting', key: camelCaseKey(header) }
  if (normalized === 'sourcemetadata' || normalized === 'metadata') return { kind: 'sourceMetadata', key: camelCaseKey(header) }
  const targetingKey = TARGETING_PREFIX.exec(trimmed) ? trimmed.replace(TARGETING_PREFIX, '') : null
  if (targetingKey) return { kind: 'targeting', key: targetingKey }
  const metadataKey = METADATA_PREFIX.exec(trimmed) ? trimmed.replace(METADATA_PREFIX, '') : null
  if (metadataKey) return { kind: 'sourceMetadata', key: metadataKey }
  const field = fieldForSpelling(trimmed)
  if (field) return { kind: 'field', field, strength: 'explicit' }
  throw fail.invalidField(
    `columnMapping.${header}`,
    `unknown target ${JSON.stringify(target)}: use an avail field (availId, name, startTime...), ` +
      'targeting.<key>, sourceMetadata.<key> or ignore',
  )
}

function resolveByConvention(header: string, jsonKey: boolean): ColumnTarget {
  const trimmed = header.trim()
  if (TARGETING_PREFIX.test(trimmed)) {
    const key = trimmed.replace(TARGETING_PREFIX, '').trim()
    if (key) return { kind: 'targeting', key }
  }
  if (METADATA_PREFIX.test(trimmed)) {
    const key = trimmed.replace(METADATA_PREFIX, '').trim()
    if (key) return { kind: 'sourceMetadata', key }
  }
  if (trimmed === '') return { kind: 'unnamed' }
  const normalized = normalizeHeader(trimmed)
  // Symbol-only headers (`#`) have no camelCase form; keep them as written.
  if (normalized === '') return { kind: 'sourceMetadata', key: trimmed }
  const known = spellingToField.get(normalized)
  if (known) return { kind: 'field', ...known }
  if (targetingDimensions.has(normalized)) return { kind: 'targeting', key: jsonKey ? trimmed : camelCaseKey(trimmed) }
  return { kind: 'sourceMetadata', key: jsonKey ? trimmed : camelCaseKey(trimmed) }
}

export interface ColumnPlan {
  /** The final target of each column, by position. */
  targets: ColumnTarget[]
  /** Header problems as `{field, message}`; the caller adds the row number. */
  conflicts: { field: string; message: string }[]
}

const strengthRank: Record<ColumnStrength, number> = { explicit: 3, specific: 2, generic: 1 }

/**
 * Resolves a header row (or the keys of one JSON row) into one target per column:
 * the strongest column per field wins, weaker ones are kept as source metadata, and ties
 * are reported.
 */
export function planColumns(headers: string[], resolver: ColumnResolver, options: { jsonKeys?: boolean } = {}): ColumnPlan {
  const jsonKey = options.jsonKeys ?? false
  const targets = headers.map((header) => resolver.resolve(header, { jsonKey }))
  const conflicts: ColumnPlan['conflicts'] = []

  const winnerByField = new Map<AvailScalarField, number>()
  targets.forEach((target, index) => {
    if (target.kind !== 'field') return
    const current = winnerByField.get(target.field)
    const currentTarget = current === undefined ? undefined : targets[current]
    if (current === undefined || currentTarget?.kind !== 'field') {
      winnerByField.set(target.field, index)
      return
    }
    const difference = strengthRank[target.strength] - strengthRank[currentTarget.strength]
    if (difference === 0) {
      conflicts.push({
        field: target.field,
        message: `Columns ${describeHeader(headers, current, jsonKey)} and ${describeHeader(headers, index, jsonKey)} both map to ${target.field}; rename one or set columnMapping`,
      })
      return
    }
    const loser = difference > 0 ? current : index
    if (difference > 0) winnerByField.set(target.field, index)
    const loserHeader = headers[loser] ?? ''
    targets[loser] = { kind: 'sourceMetadata', key: jsonKey ? loserHeader.trim() : camelCaseKey(loserHeader) }
  })

  // Two columns for one free-form key (say two `Notes` columns) both keep their values:
  // the later ones get a numbered key (`notes2`), since columnMapping could not tell
  // identical headers apart.
  const usedKeys = new Set<string>()
  targets.forEach((target, index) => {
    if (target.kind !== 'targeting' && target.kind !== 'sourceMetadata') return
    let key = target.key
    for (let suffix = 2; usedKeys.has(`${target.kind}.${key}`); suffix += 1) key = `${target.key}${suffix}`
    usedKeys.add(`${target.kind}.${key}`)
    if (key !== target.key) targets[index] = { ...target, key }
  })
  return { targets, conflicts }
}

function describeHeader(headers: string[], index: number, jsonKey: boolean): string {
  const name = JSON.stringify(headers[index] ?? '')
  return jsonKey ? name : `${name} (${columnLetter(index)})`
}

/** 0 -> A, 25 -> Z, 26 -> AA: how a spreadsheet names the column. */
export function columnLetter(index: number): string {
  let letters = ''
  for (let remaining = index + 1; remaining > 0; remaining = Math.floor((remaining - 1) / 26)) {
    letters = String.fromCharCode(65 + ((remaining - 1) % 26)) + letters
  }
  return letters
}

/** How the header error for a missing column suggests a fix. */
export function suggestedHeaders(field: AvailScalarField): string {
  const examples: Record<AvailScalarField, string[]> = {
    availId: ['Avail ID', 'avail_id'],
    collectionId: ['Collection ID'],
    collectionName: ['Collection Name', 'Collection'],
    collectionDescription: ['Collection Description', 'Description'],
    name: ['Name', 'Avail Name'],
    channel: ['Channel'],
    startTime: ['Start Date', 'Flight Start', 'Start'],
    endTime: ['End Date', 'Flight End', 'End'],
    impressionsCapacity: ['Impressions Capacity', 'Impressions', 'Capacity'],
    upstreamBookedImpressions: ['Upstream Booked Impressions'],
    cpm: ['CPM', 'Rate'],
    currency: ['Currency'],
    flatRate: ['Flat Rate'],
    flatRateUnit: ['Flat Rate Unit'],
    spotCount: ['Spot Count', 'Spots'],
    measurementWindows: ['Measurement Windows'],
  }
  return examples[field].map((header) => JSON.stringify(header)).join(', ')
}
