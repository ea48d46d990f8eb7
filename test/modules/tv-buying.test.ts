import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseAvailsFeedAll } from '../../src/modules/avails-feed/parse-feed.ts'
import { isAdId } from '../../src/modules/creative-formats/index.ts'
import { assertProductWindow, flatRateLineOf } from '../../src/modules/media-buys/media-buy-rules.ts'
import { pricingOptionsOf } from '../../src/modules/products/index.ts'
import { isStorefrontError } from '../../src/shared/errors.ts'

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
