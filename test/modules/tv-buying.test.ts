import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseAvailsFeedAll } from '../../src/modules/avails-feed/parse-feed.ts'
import { isAdId } from '../../src/modules/creative-formats/index.ts'
import { assertProductWindow, flatRateLineOf } from '../../src/modules/media-buys/media-buy-rules.ts'
import { pricingOptionsOf } from '../../src/modules/products/index.ts'
import { isStorefrontError } from '../../src/shared/errors.ts'
import type { MediaBuyPackageRow, MediaBuyRow } from '../../src/db/tables.ts'
import { parseDeliveryReport } from '../../src/modules/delivery/parse-report.ts'
import type { PackageDeliveryRow } from '../../src/modules/delivery/index.ts'
import { deliveryOf } from '../../src/workflows/buyer-delivery-workflows.ts'

const now = new Date('2026-11-22T00:00:00.000Z')
const header = 'Avail ID,Name,Collection,Start Date,End Date,Impressions,CPM,Flat Rate,Flat Rate Unit,Spot Count,Measurement Windows'

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    return isStorefrontError(error) ? error.details?.reason ?? error.code : String(error)
  }
  return undefined
}

describe('TV buying: the avails feed', () => {
  it('reads a flat rate per spot or per package and the measurement windows next to the CPM', async () => {
    const result = await parseAvailsFeedAll({ kind: 'csv', text: [
      header,
      'nfl-1,NFL Sunday,Linear,2026-12-01,2026-12-31,"1,000,000",25,5000,per spot,4,"Live+C3+C7"',
      'takeover,Home takeover,Linear,2026-12-01,2026-12-31,500000,,20000,Package,,c7; live',
      'ctv-1,CTV prime,CTV,2026-12-01,2026-12-31,500000,22,,,,',
    ].join('\n') }, { now })
    assert.deepEqual(result.errors, [])
    const [nfl, takeover, ctv] = result.avails
    assert.deepEqual([nfl!.flatRate, nfl!.flatRateUnit, nfl!.spotCount, nfl!.measurementWindows], [5000, 'spot', 4, ['live', 'c3', 'c7']])
    assert.deepEqual([takeover!.cpm, takeover!.flatRate, takeover!.flatRateUnit, takeover!.spotCount, takeover!.measurementWindows], [null, 20000, 'package', null, ['live', 'c7']])
    assert.deepEqual([ctv!.flatRate, ctv!.flatRateUnit, ctv!.spotCount, ctv!.measurementWindows], [null, null, null, []])
  })

  it('names the field of a flat rate without its unit, a per-spot rate without spots, a bad unit and an unknown window', async () => {
    const result = await parseAvailsFeedAll({ kind: 'csv', text: [
      header,
      'a,A,Linear,2026-12-01,2026-12-31,1000,,5000,,,',
      'b,B,Linear,2026-12-01,2026-12-31,1000,,5000,spot,,',
      'c,C,Linear,2026-12-01,2026-12-31,1000,,5000,per week,,',
      'd,D,Linear,2026-12-01,2026-12-31,1000,20,,,,c5',
      'e,E,Linear,2026-12-01,2026-12-31,1000,,0,package,,',
      'f,F,Linear,2026-12-01,2026-12-31,1000,20,,,3,',
    ].join('\n') }, { now })
    assert.deepEqual(result.errors.map((error) => [error.row, error.field]), [
      [2, 'flatRateUnit'], [3, 'spotCount'], [4, 'flatRateUnit'], [5, 'measurementWindows'], [6, 'flatRate'], [7, 'spotCount'],
    ])
    assert.match(result.errors[0]!.message, /flatRateUnit is required with flatRate: spot or package/)
    assert.match(result.errors[3]!.message, /live, c3, c7/)
  })
})

describe('TV buying: pricing options and flat-rate packages', () => {
  it('offers the CPM and the flat rate side by side, the flat rate alone, or nothing', () => {
    assert.deepEqual(pricingOptionsOf({ cpm: 25, flatRate: 5000, flatRateUnit: 'spot', spotCount: 4 }).map((option) => [option.id, option.model, option.price]), [
      ['cpm_fixed', 'cpm', 25], ['flat_rate_spot', 'flat_rate', 5000],
    ])
    assert.deepEqual(pricingOptionsOf({ cpm: null, flatRate: 20000, flatRateUnit: 'package', spotCount: null }).map((option) => option.id), ['flat_rate_package'])
    assert.deepEqual(pricingOptionsOf({ cpm: null, flatRate: null, flatRateUnit: null, spotCount: null }), [])
  })

  it('buys whole spots with the budget, holding each spot\'s share of the avail, at an effective CPM', () => {
    const line = flatRateLineOf({ budget: 12_000, flatRate: 5000, unit: 'spot', impressionsPerSpot: 250_000, packageImpressions: 1_000_000 }, 'packages[0]')
    assert.deepEqual(line, { impressions: 500_000, spots: 2, cost: 10_000, cpm: 20 })
  })

  it('buys the whole avail for a budget of at least the package rate', () => {
    assert.deepEqual(flatRateLineOf({ budget: 20_000, flatRate: 20_000, unit: 'package', impressionsPerSpot: null, packageImpressions: 500_000 }, 'packages[0]'), { impressions: 500_000, spots: null, cost: 20_000, cpm: 40 })
  })

  it('refuses a budget below one spot or the package as BUDGET_TOO_LOW, and an impressions figure naming the field', () => {
    assert.equal(reasonOf(() => flatRateLineOf({ budget: 4999, flatRate: 5000, unit: 'spot', impressionsPerSpot: 10, packageImpressions: 40 }, 'packages[0]')), 'BUDGET_TOO_LOW')
    assert.equal(reasonOf(() => flatRateLineOf({ budget: 19_999, flatRate: 20_000, unit: 'package', impressionsPerSpot: null, packageImpressions: 40 }, 'packages[0]')), 'BUDGET_TOO_LOW')
    assert.equal(reasonOf(() => flatRateLineOf({ budget: 5000, flatRate: 5000, unit: 'spot', impressionsPerSpot: 10, packageImpressions: 40, impressions: 10 }, 'packages[0]')), 'VALIDATION_ERROR')
  })

  it('bills only on a window the product reports in, when its feed names any', () => {
    assert.equal(reasonOf(() => assertProductWindow({ billingMeasurement: { measurementWindow: 'c3' } }, ['live', 'c7'], 'packages[0]')), 'TERMS_REJECTED')
    assert.equal(reasonOf(() => assertProductWindow({ billingMeasurement: { measurementWindow: 'c7' } }, ['live', 'c7'], 'packages[0]')), undefined)
    assert.equal(reasonOf(() => assertProductWindow({ billingMeasurement: { measurementWindow: 'c3' } }, [], 'packages[0]')), undefined)
  })
})

describe('TV buying: Ad-ID', () => {
  it('takes the Cadent XSD\'s AdId type: a 4-letter prefix, 7 letters or digits, an optional H or D', () => {
    assert.deepEqual(['ACME0042000H', 'ABCD1234567', 'ABCD123456D'].map(isAdId), [true, true, true])
    // Accepted before the one rule: digits in the prefix, which the campaign XML then refused.
    assert.deepEqual(['1234ABCD567', 'acme0042000h', 'ACME0042000X', 'ACME004200'].map(isAdId), [false, false, false, false])
  })
})

describe('TV buying: windowed final reports', () => {
  const flight = { firstDate: '2026-12-01', lastDate: '2026-12-31' }
  const rowErrorsOf = (report: unknown) => {
    try {
      parseDeliveryReport(report, flight)
    } catch (error) {
      return (error as { details: { rows: Array<{ row: number; field: string; message: string }> } }).details.rows
    }
    return []
  }

  it('reads measurement_window, is_final and supersedes_window, and a report without them exactly as before', () => {
    assert.deepEqual(parseDeliveryReport('date,impressions,measurement_window,is_final,supersedes_window\n2026-12-01,100,C7,true,live\n2026-12-02,90,c7,no,\n', flight), [
      { date: '2026-12-01', impressions: 100, spend: null, clicks: null, completedViews: null, measurementWindow: 'c7', isFinal: true, supersedesWindow: 'live' },
      { date: '2026-12-02', impressions: 90, spend: null, clicks: null, completedViews: null, measurementWindow: 'c7', isFinal: false },
    ])
    assert.deepEqual(parseDeliveryReport([{ date: '2026-12-01', impressions: 5, measurementWindow: 'live', isFinal: false }], flight)[0]!.measurementWindow, 'live')
    const plain = parseDeliveryReport('date,impressions\n2026-12-01,100\n', flight)
    assert.deepEqual(plain, [{ date: '2026-12-01', impressions: 100, spend: null, clicks: null, completedViews: null }])
  })

  it('names the field and row of an unknown window, a bad is_final, a supersedes_window not narrower, and a report mixing windows', () => {
    const rows = rowErrorsOf([
      'date,impressions,measurement_window,is_final,supersedes_window',
      '2026-12-01,1,c5,,',
      '2026-12-02,1,c7,maybe,',
      '2026-12-03,1,c7,,c7',
      '2026-12-04,1,live,,',
      '2026-12-05,1,,true,',
      '2026-12-06,1,,,',
    ].join('\n'))
    assert.deepEqual(rows.map((issue) => [issue.row, issue.field]), [
      [2, 'measurementWindow'], [3, 'isFinal'], [4, 'supersedesWindow'], [5, 'measurementWindow'], [6, 'measurementWindow'], [6, 'isFinal'], [7, 'measurementWindow'],
    ])
    assert.match(rows[0]!.message, /live, c3, c7/)
    assert.match(rows[2]!.message, /narrower window than c7/)
    assert.match(rows[3]!.message, /is live but row 3 is c7; one report is one measurement window/)
  })
})

describe('TV buying: get_media_buy_delivery of flat-rate and windowed packages', () => {
  const buy = { media_buy_id: 'mb_tv', status: 'active', currency: 'USD' } as unknown as MediaBuyRow
  const pkg = (packageId: string, extra: Partial<MediaBuyPackageRow>) => ({ package_id: packageId, cpm: 25, paused: false, pricing_model: 'cpm', flat_rate: null, ...extra }) as unknown as MediaBuyPackageRow
  const row = (packageId: string, date: string, extra: Partial<PackageDeliveryRow>): PackageDeliveryRow => ({
    reservation_id: 1, package_id: packageId, delivery_date: date, impressions: 100, spend: 10, clicks: null, completed_views: null,
    measurement_window: null, is_final: null, supersedes_window: null, work_item_id: 7, ...extra,
  })

  it('reports flat_rate at the package\'s flat rate, and the window, finality and superseded window of its rows', () => {
    const delivery = deliveryOf({
      buy,
      packages: [pkg('p_flat', { pricing_model: 'flat_rate', flat_rate: 5000 }), pkg('p_cpm', {})],
      rows: [
        row('p_flat', '2026-12-01', { measurement_window: 'c7', is_final: true, supersedes_window: 'live' }),
        row('p_flat', '2026-12-02', { measurement_window: 'c7', is_final: true, supersedes_window: 'live' }),
        row('p_cpm', '2026-12-01', {}),
      ],
    }, false)
    const [flat, cpm] = delivery.by_package
    assert.deepEqual([flat!.pricing_model, flat!.rate, flat!.measurement_window, flat!.is_final, flat!.supersedes_window], ['flat_rate', 5000, 'c7', true, 'live'])
    assert.deepEqual([cpm!.pricing_model, cpm!.rate], ['cpm', 25])
    assert.ok(!('measurement_window' in cpm!) && !('is_final' in cpm!) && !('supersedes_window' in cpm!), 'rows without windows add nothing')
    assert.equal(delivery.pricing_model, 'cpm', 'a buy mixing models reads as cpm')
  })

  it('is not final while any row is not, and reads flat_rate for a buy of flat-rate packages only', () => {
    const delivery = deliveryOf({
      buy,
      packages: [pkg('p_flat', { pricing_model: 'flat_rate', flat_rate: 20000 })],
      rows: [row('p_flat', '2026-12-01', { measurement_window: 'live', is_final: true }), row('p_flat', '2026-12-02', { measurement_window: 'live', is_final: false })],
    }, false)
    assert.deepEqual([delivery.pricing_model, delivery.by_package[0]!.is_final, delivery.by_package[0]!.supersedes_window], ['flat_rate', false, undefined])
  })
})
