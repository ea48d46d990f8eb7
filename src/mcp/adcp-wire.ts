import type { Account } from '@adcp/sdk/server'
import type { GetProductsResponse, ListCreativeFormatsResponse } from '@adcp/sdk/types'
import type { SpotFormat } from '../modules/creative-formats/index.ts'
import { adcpProductId, CPM_FIXED_PRICING_OPTION_ID, pricingOptionsOf, productFixtureOf, type PricingOption } from '../modules/products/index.ts'
import { MEASUREMENT_WINDOWS, type MeasurementWindow } from '../shared/measurement-windows.ts'
import { isSeededFormat, type BuyerAccountRow, type BuyerFormat, type CatalogEntry, type SeededBuyerFormat } from '../workflows/buyer-workflows.ts'

/**
 * The storefront's own terms in AdCP 3.0 wire shapes (snake_case). Pure: the same inputs give the
 * same payload; the SDK validates every payload against the AdCP schemas before it leaves.
 */

export type AdcpProduct = GetProductsResponse['products'][number]
export type AdcpFormat = ListCreativeFormatsResponse['formats'][number]
type AdcpChannel = NonNullable<AdcpProduct['channels']>[number]
export type AdcpFormatId = AdcpProduct['format_ids'][number]

// The avail feed's channel words, mapped onto the AdCP channel enum; an unknown word is left out.
const CHANNELS: Record<string, AdcpChannel> = {
  ctv: 'ctv',
  connected_tv: 'ctv',
  addressable_tv: 'linear_tv',
  linear_tv: 'linear_tv',
  linear: 'linear_tv',
  tv: 'linear_tv',
  olv: 'olv',
  online_video: 'olv',
  video: 'olv',
  display: 'display',
  radio: 'radio',
  audio: 'streaming_audio',
  streaming_audio: 'streaming_audio',
  podcast: 'podcast',
  dooh: 'dooh',
  ooh: 'ooh',
  cinema: 'cinema',
}

export function adcpChannelOf(channel: string | null): AdcpChannel | undefined {
  if (!channel) return undefined
  return CHANNELS[channel.trim().toLowerCase().replace(/[\s-]+/g, '_')]
}

export function adcpFormatId(format: BuyerFormat, agentUrl: string): AdcpFormatId {
  if (isSeededFormat(format)) return { agent_url: agentUrl, id: format.id }
  return { agent_url: agentUrl, id: format.id, duration_ms: format.durationSeconds * 1000 }
}

export function adcpFormat(format: BuyerFormat, agentUrl: string): AdcpFormat {
  return isSeededFormat(format) ? adcpSeededFormat(format, agentUrl) : adcpSpotFormat(format, agentUrl)
}

/** A format seeded into the sandbox: its name and type word are all a fixture says of it. */
function adcpSeededFormat(format: SeededBuyerFormat, agentUrl: string): AdcpFormat {
  return {
    format_id: adcpFormatId(format, agentUrl),
    name: format.name,
    description: `Sandbox fixture format${format.formatType ? ` (${format.formatType})` : ''}.`,
  }
}

function adcpSpotFormat(format: SpotFormat, agentUrl: string): AdcpFormat {
  const label = format.kind === 'video' ? 'Video' : 'Audio'
  const durationMs = format.durationSeconds * 1000
  const asset = {
    item_type: 'individual' as const,
    asset_id: `${format.kind}_file`,
    asset_role: 'spot',
    required: true,
    requirements: { min_duration_ms: durationMs, max_duration_ms: durationMs },
  }
  return {
    format_id: adcpFormatId(format, agentUrl),
    name: `${label} spot ${format.durationSeconds} s`,
    description:
      `A ${format.durationSeconds}-second ${format.kind} spot, trafficked with its asset URL` +
      (format.carriesAdId ? ' and its Ad-ID (send it in industry_identifiers as type ad_id).' : '.'),
    assets: [format.kind === 'video' ? { ...asset, asset_type: 'video' as const } : { ...asset, asset_type: 'audio' as const }],
  }
}

// Final reports are uploaded by the operator (the upload reporting module): daily rows, a day late;
// each import is pushed to the buy's reporting_webhook (docs/adcp.md "Which events are sent").
const REPORTING: AdcpProduct['reporting_capabilities'] = {
  available_reporting_frequencies: ['daily'],
  expected_delay_minutes: 1440,
  timezone: 'UTC',
  supports_webhooks: true,
  available_metrics: ['impressions', 'spend'],
  date_range_support: 'date_range',
}

/**
 * One avail as an AdCP product: guaranteed, a fixed CPM from the avail, the formats the source's
 * trafficking module carries, and the ledger's available impressions as an availability forecast.
 * An avail without a CPM has no price a buyer could accept, so it is not offered (null).
 */
export function adcpProduct(entry: CatalogEntry, agentUrl: string, fallbackPublisherDomain: string): AdcpProduct | null {
  const { source, product } = entry
  const fixture = source.sandbox ? productFixtureOf(product.sourceMetadata) : null
  const options = pricingOptionsOf(product, fixture?.pricingOptionId ?? CPM_FIXED_PRICING_OPTION_ID)
  if (options.length === 0) return null
  const channel = adcpChannelOf(product.channel)
  // A sandbox fixture names its own formats (listed by the sandbox's format catalog); one that
  // names none (the storyboards' standing test-product) takes the source's.
  const formatIds = fixture?.formatIds.length ? fixture.formatIds.map((id) => ({ agent_url: agentUrl, id })) : source.formats.map((format) => adcpFormatId(format, agentUrl))
  return {
    product_id: adcpProductId(source.sourceId, product.availId, { sandbox: source.sandbox }),
    name: product.name,
    description: product.description ?? `${product.collectionName}: ${product.name}`,
    publisher_properties: [{ publisher_domain: source.publisherDomain ?? fallbackPublisherDomain, selection_type: 'all' }],
    ...(channel ? { channels: [channel] } : {}),
    format_ids: formatIds,
    delivery_type: 'guaranteed',
    pricing_options: options.map((option) => adcpPricingOption(option, product.currency)),
    forecast: {
      points: [{ metrics: { impressions: { mid: product.availableImpressions } } }],
      forecast_range_unit: 'availability',
      method: 'guaranteed',
      currency: product.currency,
    },
    reporting_capabilities: product.measurementWindows.length === 0 ? REPORTING : { ...REPORTING, measurement_windows: adcpMeasurementWindows(product.measurementWindows) },
  }
}

/**
 * A flat rate is the price of one spot or of the whole package, which is also the least a package
 * of it can spend (min_spend_per_package); the option id says which (flat_rate_spot, flat_rate_package).
 */
function adcpPricingOption(option: PricingOption, currency: string): AdcpProduct['pricing_options'][number] {
  if (option.model === 'cpm') return { pricing_option_id: option.id, pricing_model: 'cpm', currency, fixed_price: option.price }
  return { pricing_option_id: option.id, pricing_model: 'flat_rate', currency, fixed_price: option.price, min_spend_per_package: option.price }
}

/** The windows the seller's feed names, as AdCP measurement windows (window_id, duration_days). */
function adcpMeasurementWindows(windows: readonly MeasurementWindow[]) {
  return MEASUREMENT_WINDOWS.filter((window) => windows.includes(window.id))
    .map((window) => ({ window_id: window.id, duration_days: window.durationDays, description: window.description }))
}

export interface AccountMeta {
  /** The buyer_account row id: the keyset cursor of list_accounts. */
  rowId: number
}

export function adcpAccount(row: BuyerAccountRow): Account<AccountMeta> {
  return {
    id: row.account_id,
    name: `${row.brand_domain} via ${row.operator}`,
    status: row.status,
    brand: { domain: row.brand_domain },
    operator: row.operator,
    ...(row.billing ? { billing: { invoicedTo: row.billing === 'advertiser' ? { domain: row.brand_domain } : row.billing } } : {}),
    ...(row.sandbox ? { sandbox: true, mode: 'sandbox' as const } : {}),
    ctx_metadata: { rowId: row.id },
  }
}

/**
 * What a sandbox key's request without an account resolves to: the key itself, in sandbox mode.
 * It is no buyer_account row (list_accounts never shows it) and owns nothing; it only says the
 * request is a sandbox one.
 */
export function sandboxKeyAccount(apiKeyId: number): Account<AccountMeta> {
  return {
    id: `sandbox_key_${apiKeyId}`,
    name: 'Sandbox buyer key',
    status: 'active',
    // The SDK reads `sandbox: true` as sandbox mode (its Account type has no `mode` field).
    sandbox: true,
    ctx_metadata: { rowId: 0 },
  }
}
