import { fileURLToPath } from 'node:url'
import { create } from 'xmlbuilder2'
import { z } from 'zod'
import { AD_ID_PATTERN, AD_ID_RULE } from '../../creative-formats/index.ts'
import { fail, type ValidationIssue } from '../../../shared/errors.ts'

/**
 * Cadent campaign XML, version 1: the trafficking hand-off for a media buy finalized on
 * a modular source with a Cadent trafficking module (SPEC §3 "Execution hand-off", §5).
 * Cadent publishes no schema, so cadent-campaign-v1.xsd next to this file is ours, and
 * everything rendered here must validate against it; the tests check every fixture.
 *
 * Rendering is a pure function of its input (no clock, no I/O) so a finalize retried
 * after a crash produces the byte-identical payload, and fixtures can be compared as text.
 */

export const cadentCampaignNamespace = 'urn:storefront:cadent:campaign:1'
export const cadentCampaignSchemaVersion = '1'

/** Absolute path of the XSD, for validators and docs; resolving a path reads nothing. */
export const cadentCampaignXsdPath = fileURLToPath(new URL('./cadent-campaign-v1.xsd', import.meta.url))

// The closed value sets of the XSD. A test reads the XSD's enumerations and compares
// them with these lists, so the two cannot drift apart.
export const cadentDeliveryTypes = ['GUARANTEED', 'NON_GUARANTEED'] as const
export const cadentAdTypes = ['VIDEO', 'AUDIO', 'DISPLAY'] as const
export const cadentAdClasses = ['COMMERCIAL', 'PROMO', 'PSA', 'SPONSORSHIP'] as const

export type CadentDeliveryType = (typeof cadentDeliveryTypes)[number]
export type CadentAdType = (typeof cadentAdTypes)[number]
export type CadentAdClass = (typeof cadentAdClasses)[number]

// ---------------------------------------------------------------------------
// Text rules
// ---------------------------------------------------------------------------

/**
 * Characters the renderer refuses in any text: every control character (Unicode Cc:
 * U+0000-U+001F, U+007F-U+009F), unpaired surrogates, and U+FFFE/U+FFFF.
 *
 * That covers everything XML 1.0 forbids, so the output is always well-formed. It also
 * refuses tab, line feed and carriage return, which XML allows, because they do not
 * survive a round trip (a parser turns CR LF into LF in text and all three into spaces
 * in attribute values) and because a line break in a campaign name or id is always a
 * mistake that an operator would copy into Cadent. We reject rather than strip: a
 * payload that silently differs from what the buyer sent is worse than a clear 400.
 * Feed data, which is messier and not the buyer's fault, is cleaned earlier by
 * targetsFromTargeting.
 */
const forbiddenCharacter = /[\p{Cc}\p{Cs}\uFFFE\uFFFF]/u
const forbiddenCharacters = /[\p{Cc}\p{Cs}\uFFFE\uFFFF]/gu

// XSD lengths count characters (code points); JavaScript's .length counts UTF-16 units,
// which would let an emoji-heavy name pass here and fail the schema.
function codePointLength(text: string): number {
  let length = 0
  for (const _character of text) length++
  return length
}

function singleLineText(maxCharacters: number) {
  return z
    .string()
    .refine((text) => !forbiddenCharacter.test(text), {
      error: 'must not contain control characters, tabs, line breaks, unpaired surrogates or U+FFFE/U+FFFF',
    })
    .refine((text) => /\S/.test(text), { error: 'must not be empty or blank' })
    .refine((text) => codePointLength(text) <= maxCharacters, {
      error: `must be at most ${maxCharacters} characters`,
    })
}

const identifier = singleLineText(255)
const name = singleLineText(500)

/** ISO 8601 with Z or an offset; rendered as UTC so documents never disagree about zones. */
const instant = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time with Z or an offset' })
  .refine((text) => Number.isNaN(Date.parse(text)) || /^(?!0000)\d{4}-/.test(toUtcIso(text)), {
    // XSD 1.0 has no year 0 and toISOString writes years past 9999 with a sign.
    error: 'must be between years 0001 and 9999 in UTC',
  })

function toUtcIso(text: string): string {
  return new Date(text).toISOString()
}

// The booking ledger stores cpm as numeric(14, 4); the XSD's CpmAmount mirrors it.
const cpmAmount = z
  .number({ error: 'must be a number' })
  .min(0, 'must not be negative')
  .lt(1e10, 'must be less than 10000000000')
  .refine((cpm) => Math.round(cpm * 1e4) / 1e4 === cpm, { error: 'must have at most 4 decimal places' })

// ---------------------------------------------------------------------------
// Input schema
// ---------------------------------------------------------------------------

const TargetSchema = z.strictObject({
  targetType: singleLineText(255),
  values: z.array(singleLineText(1000)).min(1, 'must list at least one value'),
})

const CreativeSchema = z.strictObject({
  format: singleLineText(64),
  durationSeconds: z.number().int('must be a whole number of seconds').positive('must be positive'),
  assetUrl: z
    .url({ error: 'must be an absolute URL' })
    .regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL without spaces')
    .refine((url) => !forbiddenCharacter.test(url), {
      error: 'must not contain control characters, unpaired surrogates or U+FFFE/U+FFFF',
    })
    .refine((url) => codePointLength(url) <= 2048, { error: 'must be at most 2048 characters' }),
  adId: z
    .string()
    .regex(AD_ID_PATTERN, `must be an Ad-ID code: ${AD_ID_RULE}`)
    .nullish(),
})

const LineSchema = z.strictObject({
  reservationId: identifier,
  availId: identifier,
  collectionId: identifier.nullish(),
  collectionName: name.nullish(),
  impressions: z.number().int('must be a whole number').positive('must be positive'),
  cpm: cpmAmount,
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code of three upper-case letters'),
  lineDeliveryType: z.enum(cadentDeliveryTypes),
  adType: z.enum(cadentAdTypes),
  adClass: z.enum(cadentAdClasses),
  startTime: instant,
  endTime: instant,
  targets: z.array(TargetSchema),
  creative: CreativeSchema.nullish(),
})

/**
 * What the renderer needs, validated. Checks that XSD 1.0 cannot express (ordering of
 * dates, uniqueness across lines) are done here too, so that a document that passed this
 * schema always validates against the XSD.
 */
export const CadentCampaignInputSchema = z
  .strictObject({
    mediaBuyId: identifier,
    campaignName: name,
    advertiserName: name,
    buyerCustomerId: z.number().int('must be a whole number').nonnegative('must not be negative').nullish(),
    campaignDeliveryType: z.enum(cadentDeliveryTypes),
    flight: z.strictObject({ startTime: instant, endTime: instant }),
    lines: z.array(LineSchema).min(1, 'must contain at least one line'),
  })
  .superRefine((input, context) => {
    const campaignStart = Date.parse(input.flight.startTime)
    const campaignEnd = Date.parse(input.flight.endTime)
    if (campaignEnd <= campaignStart) {
      context.addIssue({ code: 'custom', path: ['flight', 'endTime'], message: 'must be after flight.startTime' })
    }
    const seenReservationIds = new Set<string>()
    input.lines.forEach((line, lineIndex) => {
      const lineStart = Date.parse(line.startTime)
      const lineEnd = Date.parse(line.endTime)
      if (lineEnd <= lineStart) {
        context.addIssue({ code: 'custom', path: ['lines', lineIndex, 'endTime'], message: 'must be after startTime' })
      }
      if (lineStart < campaignStart) {
        context.addIssue({ code: 'custom', path: ['lines', lineIndex, 'startTime'], message: 'must not be before flight.startTime' })
      }
      if (lineEnd > campaignEnd) {
        context.addIssue({ code: 'custom', path: ['lines', lineIndex, 'endTime'], message: 'must not be after flight.endTime' })
      }
      if (seenReservationIds.has(line.reservationId)) {
        context.addIssue({ code: 'custom', path: ['lines', lineIndex, 'reservationId'], message: 'is repeated; each reservation is one line' })
      }
      seenReservationIds.add(line.reservationId)
      const seenTargetTypes = new Set<string>()
      line.targets.forEach((target, targetIndex) => {
        if (seenTargetTypes.has(target.targetType)) {
          context.addIssue({
            code: 'custom',
            path: ['lines', lineIndex, 'targets', targetIndex, 'targetType'],
            message: 'is repeated; list all values of a target type in one entry',
          })
        }
        seenTargetTypes.add(target.targetType)
      })
    })
  })

export type CadentCampaignInput = z.infer<typeof CadentCampaignInputSchema>
export type CadentCampaignLine = CadentCampaignInput['lines'][number]
export type CadentTarget = z.infer<typeof TargetSchema>
export type CadentCreative = z.infer<typeof CreativeSchema>

/** Zod's path ['lines', 0, 'impressions'] as a reader would write it: lines[0].impressions. */
function formatIssuePath(path: readonly PropertyKey[]): string {
  let formatted = ''
  for (const segment of path) {
    if (typeof segment === 'number') formatted += `[${segment}]`
    else formatted += formatted === '' ? String(segment) : `.${String(segment)}`
  }
  return formatted === '' ? '(input)' : formatted
}

// ---------------------------------------------------------------------------
// Renderer
// ---------------------------------------------------------------------------

/**
 * Renders the Cadent campaign XML (schema version 1) for one media buy.
 *
 * Throws a VALIDATION_ERROR StorefrontError whose message and `details.issues` name
 * each invalid field by path (e.g. `lines[0].impressions`). Same input, same bytes:
 * elements are written in schema order, lines and targets in the order given, instants
 * normalized to UTC, CPM in a fixed decimal form.
 */
export function renderCadentCampaignXml(input: CadentCampaignInput): string {
  const parsed = CadentCampaignInputSchema.safeParse(input)
  if (!parsed.success) {
    const issues: ValidationIssue[] = parsed.error.issues.map((issue) => ({
      path: formatIssuePath(issue.path),
      message: issue.message,
    }))
    const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')
    throw fail.validation(`Invalid Cadent campaign input: ${summary}`, { issues })
  }
  const campaign = parsed.data

  const document = create({ version: '1.0', encoding: 'UTF-8' })
  const root = document.ele(cadentCampaignNamespace, 'CadentCampaign', {
    schemaVersion: cadentCampaignSchemaVersion,
  })
  const campaignElement = root.ele('Campaign')
  addLeaf(campaignElement, 'ExternalId', campaign.mediaBuyId)
  addLeaf(campaignElement, 'Name', campaign.campaignName)
  addLeaf(campaignElement, 'AdvertiserName', campaign.advertiserName)
  addLeaf(campaignElement, 'DeliveryType', campaign.campaignDeliveryType)
  addFlight(campaignElement, campaign.flight.startTime, campaign.flight.endTime)
  if (campaign.buyerCustomerId != null) {
    addLeaf(campaignElement, 'BuyerCustomerId', String(campaign.buyerCustomerId))
  }

  for (const line of campaign.lines) {
    const lineElement = campaignElement.ele('Line')
    addLeaf(lineElement, 'ReservationId', line.reservationId)
    addLeaf(lineElement, 'AvailId', line.availId)
    if (line.collectionId != null) addLeaf(lineElement, 'CollectionId', line.collectionId)
    if (line.collectionName != null) addLeaf(lineElement, 'CollectionName', line.collectionName)
    addLeaf(lineElement, 'Impressions', String(line.impressions))
    lineElement.ele('Cpm', { currency: escapeAmpersands(line.currency) }).txt(formatCpm(line.cpm))
    addLeaf(lineElement, 'DeliveryType', line.lineDeliveryType)
    addLeaf(lineElement, 'AdType', line.adType)
    addLeaf(lineElement, 'AdClass', line.adClass)
    addFlight(lineElement, line.startTime, line.endTime)
    const targetsElement = lineElement.ele('Targets')
    for (const target of line.targets) {
      const targetElement = targetsElement.ele('Target', { type: escapeAmpersands(target.targetType) })
      for (const value of target.values) addLeaf(targetElement, 'Value', value)
    }
    if (line.creative != null) {
      const creativeElement = lineElement.ele('Creative')
      addLeaf(creativeElement, 'Format', line.creative.format)
      addLeaf(creativeElement, 'DurationSeconds', String(line.creative.durationSeconds))
      addLeaf(creativeElement, 'AssetUrl', line.creative.assetUrl)
      if (line.creative.adId != null) addLeaf(creativeElement, 'AdId', line.creative.adId)
    }
  }

  // wellFormed makes the serializer throw on an illegal character rather than emit it,
  // should one ever slip past the schema above. It does not catch the ampersand problem
  // that escapeAmpersands works around.
  const xml = document.end({ prettyPrint: true, indent: '  ', newline: '\n', wellFormed: true })
  return `${xml}\n`
}

type XmlElement = ReturnType<ReturnType<typeof create>['ele']>

/**
 * xmlbuilder2 4.x escapes "&" only when it does not already look like an entity
 * reference (its nonEntityAmpersandRegex), so the text "R&D;" is written as "R&D;" (not
 * well-formed: undefined entity) and "&amp;" as "&amp;" (reads back as "&"), even with
 * wellFormed on. Escaping every "&" ourselves first hands it text in which every "&"
 * already starts "&amp;", which it leaves alone. If a future version escapes every "&",
 * the hostile-text fixture and round-trip tests fail (double escaping) rather than
 * letting corrupted text through.
 */
function escapeAmpersands(text: string): string {
  return text.replace(/&/g, '&amp;')
}

function addLeaf(parent: XmlElement, elementName: string, text: string): void {
  parent.ele(elementName).txt(escapeAmpersands(text))
}

function addFlight(parent: XmlElement, startTime: string, endTime: string): void {
  const flight = parent.ele('Flight')
  addLeaf(flight, 'Start', toUtcIso(startTime))
  addLeaf(flight, 'End', toUtcIso(endTime))
}

/**
 * Fixed-point, never exponent notation (xs:decimal has none): four decimals, trailing
 * zeros trimmed down to the two that money is usually read with. 22 -> "22.00",
 * 12.3456 -> "12.3456".
 */
function formatCpm(cpm: number): string {
  return cpm.toFixed(4).replace(/0{1,2}$/, '')
}

// ---------------------------------------------------------------------------
// Mapping from the modular source's data
// ---------------------------------------------------------------------------

/**
 * Turns an avail's `targeting` JSON (e.g. `{market: 'South Africa', genres: ['sports',
 * 'news']}`) into the line's targets.
 *
 * - Strings, numbers and booleans become string values; arrays are flattened; nested
 *   objects become dotted types (`{geo: {country: 'ZA'}}` -> `geo.country`).
 * - null, undefined, non-finite numbers, blank strings and blank keys are skipped, and
 *   a type left with no values is dropped.
 * - Text is cleaned rather than refused: tabs and line breaks become spaces, other
 *   control characters are removed, runs of spaces collapse and ends are trimmed. Feed
 *   data comes from publisher spreadsheets, where such characters are common and
 *   meaningless, and a buyer's booking must not fail because of them.
 * - Values keep their feed order (it may carry the publisher's priority), without
 *   duplicates. Types are sorted by code unit, not locale, so the result does not
 *   depend on the machine.
 */
export function targetsFromTargeting(targeting: Record<string, unknown>): CadentTarget[] {
  if (!isPlainObject(targeting)) throw new TypeError('targeting must be a JSON object')
  const valuesByType = new Map<string, string[]>()
  collectTargetValues('', targeting, valuesByType)
  return [...valuesByType.keys()]
    .sort((left, right) => (left < right ? -1 : left > right ? 1 : 0))
    .map((targetType) => ({ targetType, values: valuesByType.get(targetType) ?? [] }))
}

function collectTargetValues(targetType: string, value: unknown, into: Map<string, string[]>): void {
  if (value === null || value === undefined) return
  if (Array.isArray(value)) {
    for (const item of value) collectTargetValues(targetType, item, into)
    return
  }
  if (isPlainObject(value)) {
    for (const [key, nested] of Object.entries(value)) {
      const cleanKey = cleanFeedText(key)
      if (cleanKey === '') continue
      collectTargetValues(targetType === '' ? cleanKey : `${targetType}.${cleanKey}`, nested, into)
    }
    return
  }
  const text = scalarToText(value)
  if (text === undefined || text === '' || targetType === '') return
  const values = into.get(targetType)
  if (values === undefined) into.set(targetType, [text])
  else if (!values.includes(text)) values.push(text)
}

function scalarToText(value: unknown): string | undefined {
  if (typeof value === 'string') return cleanFeedText(value)
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  return undefined
}

function cleanFeedText(text: string): string {
  return text
    .replace(/[\t\n\r]/g, ' ')
    .replace(forbiddenCharacters, '')
    .replace(/ {2,}/g, ' ')
    .trim()
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const prototype = Object.getPrototypeOf(value) as unknown
  return prototype === Object.prototype || prototype === null
}
