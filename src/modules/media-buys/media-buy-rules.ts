import type { MediaBuyStatus } from '../../db/tables.ts'
import { fail, StorefrontError } from '../../shared/errors.ts'
import type { FlatRateUnit } from '../../shared/flat-rate.ts'
import { MEASUREMENT_WINDOW_IDS } from '../../shared/measurement-windows.ts'

/**
 * The rules of a media buy, pure: the price of a package in impressions, the flight, and the
 * AdCP status graph (the SDK's MEDIA_BUY_TRANSITIONS, the same graph the storyboards check).
 */


/** The AdCP statuses a buyer sees; 'submitted' is ours (the buy waits on its task). */
export type AdcpMediaBuyStatus = Exclude<MediaBuyStatus, 'submitted'>

/**
 * Impressions a package holds: the buyer's figure, or what the budget buys at the CPM (rounded
 * down: the ledger never holds more than was paid for). Zero impressions is a budget too low.
 */
export function impressionsOf(input: { budget: number; cpm: number; impressions?: number | undefined }, field: string): number {
  if (input.impressions !== undefined) {
    if (!Number.isSafeInteger(input.impressions) || input.impressions < 1) throw fail.invalidField(`${field}.impressions`, 'must be a whole number of at least 1')
    return input.impressions
  }
  const impressions = Math.floor((input.budget / input.cpm) * 1000 + 1e-9)
  if (!Number.isSafeInteger(impressions) || impressions < 1) {
    throw new StorefrontError('VALIDATION_ERROR', `${field}.budget: ${input.budget} buys no impression at CPM ${input.cpm}`, {
      reason: 'BUDGET_TOO_LOW',
      issues: [{ path: `${field}.budget`, message: `buys no impression at CPM ${input.cpm}` }],
      minimumBudget: Math.ceil(input.cpm) / 1000,
    })
  }
  return impressions
}

/** A flat-rate line as the buyer bought it: the rate, and what it buys (a spot, or the whole avail). */
export interface FlatRateLine {
  budget: number
  flatRate: number
  unit: FlatRateUnit
  /** Per spot: the impressions one spot holds (the avail's capacity split evenly between its spots). */
  impressionsPerSpot: number | null
  /** Per package: the impressions of the whole avail. */
  packageImpressions: number
  impressions?: number | undefined
}

/**
 * What a flat-rate package holds: whole spots (the budget over the spot rate, rounded down: the
 * ledger never holds more than was paid for), or the whole avail for a budget of at least the
 * package rate. Its cpm is the effective CPM (cost / impressions x 1000), which the hand-off and the
 * ledger's approval carry. A buyer's impressions figure is refused: spots or the package decide it.
 */
export function flatRateLineOf(line: FlatRateLine, field: string): { impressions: number; spots: number | null; cost: number; cpm: number } {
  if (line.impressions !== undefined) {
    throw fail.invalidField(`${field}.impressions`, `a flat-rate package buys ${line.unit === 'spot' ? 'whole spots with its budget' : 'the whole avail'}; leave impressions out`)
  }
  const spots = line.unit === 'spot' ? Math.floor(line.budget / line.flatRate + 1e-9) : null
  if ((spots !== null && spots < 1) || (line.unit === 'package' && line.budget + 1e-9 < line.flatRate)) {
    throw new StorefrontError('VALIDATION_ERROR', `${field}.budget: ${line.budget} is below the flat rate of ${line.flatRate} per ${line.unit}`, {
      reason: 'BUDGET_TOO_LOW',
      issues: [{ path: `${field}.budget`, message: `is below the flat rate of ${line.flatRate} per ${line.unit}` }],
      minimumBudget: line.flatRate,
    })
  }
  const impressions = spots !== null ? spots * (line.impressionsPerSpot ?? 0) : line.packageImpressions
  if (!Number.isSafeInteger(impressions) || impressions < 1) throw fail.invalidField(`${field}.product_id`, 'has no impressions to sell at its flat rate')
  const cost = Math.round((spots ?? 1) * line.flatRate * 1e4) / 1e4
  // numeric(14, 4) and cpm > 0: a flat rate spread over very many impressions still has a price.
  const cpm = Math.max(0.0001, Math.round((cost / impressions) * 1000 * 1e4) / 1e4)
  return { impressions, spots, cost, cpm }
}

/** The flight: 'asap' starts now; a start in the past or an end not after the start is refused. */
export function flightOf(input: { startTime: string; endTime: string }, now: Date): { start: Date; end: Date } {
  const start = input.startTime === 'asap' ? now : new Date(input.startTime)
  const end = new Date(input.endTime)
  if (Number.isNaN(start.getTime())) throw fail.invalidField('start_time', 'must be "asap" or a date-time')
  if (Number.isNaN(end.getTime())) throw fail.invalidField('end_time', 'must be a date-time')
  // A minute of grace: a buyer's "now" is a request's travel time behind ours.
  if (input.startTime !== 'asap' && start.getTime() < now.getTime() - 60_000) {
    throw fail.invalidField('start_time', `is in the past (${start.toISOString()}); send a future time or "asap"`)
  }
  if (end.getTime() <= start.getTime()) throw fail.invalidField('end_time', `must be after start_time (${start.toISOString()})`)
  return { start, end }
}

/**
 * Refuses an illegal status change: cancelling a canceled buy again is MEDIA_BUY_NOT_CANCELLABLE, any
 * other edge off the graph INVALID_MEDIA_BUY_TRANSITION. A buy still submitted is changed only by
 * its cancellation (it has no media_buy_id on the buyer's side yet).
 */
export async function assertTransition(from: MediaBuyStatus, to: AdcpMediaBuyStatus): Promise<void> {
  if (from === 'submitted' && to === 'canceled') return
  // The graph lives in @adcp/sdk/server, a large module: a process loads it when a buy first changes.
  const { isLegalMediaBuyTransition } = await import('@adcp/sdk/server')
  if (from !== 'submitted' && isLegalMediaBuyTransition(from, to)) return
  if (to === 'canceled' && from === 'canceled') {
    throw fail.conflict('MEDIA_BUY_NOT_CANCELLABLE', `The media buy is ${from} and cannot be canceled`, { status: from })
  }
  throw fail.conflict('INVALID_MEDIA_BUY_TRANSITION', `The media buy is ${from} and cannot become ${to}`, { status: from, requested: to })
}

/** What a buyer sees of a buy's status: a submitted one is still pending its creatives' stage. */
export function buyerStatusOf(status: MediaBuyStatus): AdcpMediaBuyStatus {
  return status === 'submitted' ? 'pending_creatives' : status
}

/**
 * The measurement terms the storefront can bill on: the operator imports each line's final report
 * from the TV measurement of one of these windows, and reconciles it with a buyer's vendor only
 * within this tolerance (a lower max_variance_percent is a guarantee no TV report can keep).
 */
export const BILLABLE_MEASUREMENT_WINDOWS = MEASUREMENT_WINDOW_IDS
export const MIN_VARIANCE_PERCENT = 5

export interface MeasurementTerms {
  billingMeasurement?: { measurementWindow?: string | undefined; maxVariancePercent?: number | undefined } | undefined
}

/** Refuses terms the storefront cannot bill on, naming the field (TERMS_REJECTED). */
export function assertMeasurementTerms(terms: MeasurementTerms | undefined, field: string): void {
  const billing = terms?.billingMeasurement
  if (!billing) return
  const window = billing.measurementWindow
  if (window !== undefined && !(BILLABLE_MEASUREMENT_WINDOWS as readonly string[]).includes(window)) {
    throw termsRejected(`${field}.measurement_terms.billing_measurement.measurement_window`, `${window} is not a window the storefront bills on (${BILLABLE_MEASUREMENT_WINDOWS.join(', ')})`)
  }
  const variance = billing.maxVariancePercent
  if (variance !== undefined && variance < MIN_VARIANCE_PERCENT) {
    throw termsRejected(`${field}.measurement_terms.billing_measurement.max_variance_percent`, `must be at least ${MIN_VARIANCE_PERCENT}: final reports reconcile within that tolerance`)
  }
}

/**
 * A product whose seller reports in named windows bills only on one of them: a billing window the
 * product's feed does not name is refused (TERMS_REJECTED). A product without windows takes any
 * window the storefront bills on.
 */
export function assertProductWindow(terms: MeasurementTerms | undefined, productWindows: readonly string[], field: string): void {
  const window = terms?.billingMeasurement?.measurementWindow
  if (window === undefined || productWindows.length === 0 || productWindows.includes(window)) return
  throw termsRejected(`${field}.measurement_terms.billing_measurement.measurement_window`, `${window} is not a window this product reports in (${productWindows.join(', ')})`)
}

function termsRejected(path: string, message: string): StorefrontError {
  return new StorefrontError('VALIDATION_ERROR', `${path}: ${message}`, {
    reason: 'TERMS_REJECTED',
    issues: [{ path, message }],
    acceptedMeasurementWindows: [...BILLABLE_MEASUREMENT_WINDOWS],
    minVariancePercent: MIN_VARIANCE_PERCENT,
  })
}
