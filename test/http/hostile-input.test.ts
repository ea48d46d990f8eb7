import assert from 'node:assert/strict'
import type { LightMyRequestResponse } from 'fastify'
import { after, before, describe, it } from 'node:test'
import { API_PREFIX } from '../../src/http/app.ts'
import { MAX_JSON_DEPTH } from '../../src/http/plugins/json-body.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { CREATIVE, createDemo, DEMO, finalizeBody, PRIME, reserve } from '../execution/helpers.ts'

/** issue 9, "No input yields a 500": each malformed input is a 4xx in the error envelope, nothing written. */

const json = { 'content-type': 'application/json' }

function refused(response: LightMyRequestResponse, status: number, code: string): { message: string; details?: { issues?: Array<{ path: string; message: string }> } } {
  assert.equal(response.statusCode, status, response.body)
  const body = response.json()
  assert.equal(body.data, null)
  assert.equal(body.error.code, code)
  return body.error
}

function issuePaths(response: LightMyRequestResponse): string[] {
  return (response.json().error.details?.issues ?? []).map((issue: { path: string }) => issue.path)
}

function nested(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}

describe('hostile input at the HTTP edge', () => {
  let ctx: TestContext
  let sourceCount: () => Promise<number>
  let reservationCount: () => Promise<number>

  before(async () => {
    ctx = await createTestContext()
    await createDemo(ctx)
    await reserve(ctx, {})
    sourceCount = async () => Number((await ctx.db.selectFrom('inventory_source').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)
    reservationCount = async () => Number((await ctx.db.selectFrom('reservation').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)
  })
  after(() => ctx.close())

  describe('U+0000 and lone surrogates', () => {
    it('refuses U+0000 in a JSON string with 400 naming the field, and writes nothing', async () => {
      const before = await sourceCount()
      const res = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Nul\u0000Name' })
      refused(res, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(res), ['name'])
      assert.equal(await sourceCount(), before)
    })

    it('refuses U+0000 in a JSON key of module config with 400 naming its path', async () => {
      const res = await ctx.api('PATCH', `/inventory-sources/${DEMO}/modular/modules/cadent-trafficking/config`, { config: { nested: { 'k\u0000': 1 } } })
      refused(res, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(res), ['config.nested.k\ufffd'])
    })

    it('refuses a lone UTF-16 surrogate escape in a JSON string with 400 naming the field', async () => {
      const before = await sourceCount()
      const res = await ctx.api('POST', '/inventory-sources/modular/feed', '{"name":"half \\ud800 pair"}', { headers: json })
      refused(res, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(res), ['name'])
      assert.equal(await sourceCount(), before)
    })

    it('still accepts a surrogate pair (an emoji) in a name', async () => {
      const res = await ctx.api('POST', '/inventory-sources/modular/feed', '{"name":"Rocket \\ud83d\\ude80 TV"}', { headers: json })
      assert.equal(res.statusCode, 201, res.body)
      assert.equal(res.json().projection.inventorySource.name, 'Rocket \u{1F680} TV')
    })

    it('refuses U+0000 in a path parameter with 400 naming it', async () => {
      const res = await ctx.api('GET', '/inventory-sources/demo%00x')
      refused(res, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(res), ['sourceId'])
    })

    for (const path of [
      `/inventory-sources/${DEMO}/modular/reservations?mediaBuyId=mb%00x`,
      `/inventory-sources/${DEMO}/modular/work-items?mediaBuyId=mb%00x`,
      `/inventory-sources/${DEMO}/modular/delivery?mediaBuyId=mb%00x`,
    ]) {
      it(`refuses U+0000 in a query value with 400 naming it: ${path.split('/').slice(-1)[0]}`, async () => {
        const res = await ctx.api('GET', path)
        refused(res, 400, 'VALIDATION_ERROR')
        assert.deepEqual(issuePaths(res), ['mediaBuyId'])
      })
    }

    it('refuses a forged product cursor that decodes to U+0000 with 400 naming cursor', async () => {
      const cursor = Buffer.from(JSON.stringify({ a: 'x\u0000' }), 'utf8').toString('base64url')
      const res = await ctx.api('GET', `/inventory-sources/${DEMO}/modular/products?cursor=${cursor}`)
      refused(res, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(res), ['cursor'])
    })

    it('refuses U+0000 in a reservation id field before the ledger runs', async () => {
      const before = await reservationCount()
      const res = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/reservations`, { availId: PRIME, mediaBuyId: 'mb\u0000', requestedImpressions: 1 })
      refused(res, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(res), ['mediaBuyId'])
      assert.equal(await reservationCount(), before)
    })
  })

  describe('deeply nested JSON', () => {
    it(`refuses a body nested 10,000 levels deep with 400 (the bound is ${MAX_JSON_DEPTH})`, async () => {
      const before = await sourceCount()
      const res = await ctx.api('POST', '/inventory-sources/modular/feed', `{"name":"Deep","notes":"n","availsSource":${nested(10_000)}}`, { headers: json })
      const error = refused(res, 400, 'VALIDATION_ERROR')
      assert.match(error.message, /deeper than 64 levels/)
      assert.equal(await sourceCount(), before)
    })

    it('refuses a module config patch nested 20,000 levels deep with 400, not a stack overflow in the merge', async () => {
      const res = await ctx.api('PATCH', `/inventory-sources/${DEMO}/modular/modules/cadent-trafficking/config`, `{"config":${nested(20_000)}}`, { headers: json })
      refused(res, 400, 'VALIDATION_ERROR')
    })

    it('refuses 65 levels and accepts 64', async () => {
      const path = `/inventory-sources/${DEMO}/modular/modules/cadent-trafficking/config`
      refused(await ctx.api('PATCH', path, `{"config":{"deep":${nested(MAX_JSON_DEPTH - 1)}}}`, { headers: json }), 400, 'VALIDATION_ERROR')
      const ok = await ctx.api('PATCH', path, `{"config":{"deep":${nested(MAX_JSON_DEPTH - 2)}}}`, { headers: json })
      assert.equal(ok.statusCode, 200, ok.body)
    })

    it('does not count brackets inside strings', async () => {
      const res = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Brackets', notes: '['.repeat(500) + '{"'.repeat(100) + '\\' }, { headers: json })
      assert.equal(res.statusCode, 201, res.body)
    })
  })

  describe('text that reaches the Cadent XML', () => {
    for (const [field, overrides] of [
      ['creative.assetUrl', { creative: { ...CREATIVE, assetUrl: 'https://assets.example.com/\u0001spot.mp4' } }],
      ['creative.format', { creative: { ...CREATIVE, format: 'vi\u001bdeo' } }],
      ['campaignName', { campaignName: 'July\u0007CTV' }],
      ['advertiserName', { advertiserName: 'Trailing line break\n' }],
      ['creative.assetUrl', { creative: { ...CREATIVE, assetUrl: 'https://assets.example.com/spot\t.mp4' } }],
      ['mediaBuyId', { mediaBuyId: 'mb\u0085' }],
    ] as const) {
      it(`refuses a control character in ${field} with 400 at the edge; the hold stays untouched`, async () => {
        const res = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/bookings/finalize`, finalizeBody(overrides))
        const error = refused(res, 400, 'VALIDATION_ERROR')
        assert.match(error.message, /^Invalid body/)
        assert.deepEqual(issuePaths(res), [field])
        const bookings = await ctx.db.selectFrom('booking').select('id').execute()
        assert.equal(bookings.length, 0)
        const held = await ctx.api('GET', `/inventory-sources/${DEMO}/modular/reservations?status=HELD`)
        assert.equal(held.json().total, 1)
      })
    }
  })

  describe('names and ids', () => {
    it('refuses a source name with a terminal escape', async () => {
      const before = await sourceCount()
      const res = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Evil \u001b[2J\u001b]0;pwned\u0007' })
      refused(res, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(res), ['name'])
      assert.equal(await sourceCount(), before)
    })

    it('refuses an AGENT source name with a C1 control character', async () => {
      const res = await ctx.api('POST', '/inventory-sources', {
        name: 'Agent\u009b31m', type: 'SALES', endpointUrl: 'https://agent.example.com/mcp', protocol: 'MCP', authenticationType: 'NO_AUTH',
      })
      refused(res, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(res), ['name'])
    })

    it('refuses a whitespace-only mediaBuyId and packageId with 400, and holds nothing', async () => {
      const before = await reservationCount()
      const blankBuy = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/reservations`, { availId: PRIME, mediaBuyId: '   ', requestedImpressions: 1 })
      refused(blankBuy, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(blankBuy), ['mediaBuyId'])
      const blankPackage = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/reservations`, { availId: PRIME, mediaBuyId: 'mb_ws', packageId: '  ', requestedImpressions: 1 })
      refused(blankPackage, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(blankPackage), ['packageId'])
      assert.equal(await reservationCount(), before)
    })

    it('refuses a whitespace-only work item id in the path', async () => {
      const res = await ctx.api('GET', `/inventory-sources/${DEMO}/modular/work-items/%20%20`)
      refused(res, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(res), ['workItemId'])
    })
  })

  describe("Fastify's own refusals use the error envelope", () => {
    it('answers a 300-character sourceId with 400 naming it (the route schema, not the router)', async () => {
      const res = await ctx.api('GET', `/inventory-sources/${'a'.repeat(300)}`)
      refused(res, 400, 'VALIDATION_ERROR')
      assert.deepEqual(issuePaths(res), ['sourceId'])
    })

    it('answers an absurdly long path segment with a 400 envelope instead of a bare 414', async () => {
      const res = await ctx.api('GET', `/inventory-sources/${'a'.repeat(5000)}`)
      const error = refused(res, 400, 'VALIDATION_ERROR')
      assert.match(error.message, /longer than 1024 characters/)
    })

    it('answers an undecodable path with a 400 envelope', async () => {
      const res = await ctx.app.inject({ method: 'GET', url: `${API_PREFIX}/inventory-sources/%E0%A4%A`, headers: { authorization: `Bearer ${ctx.key}` } })
      refused(res, 400, 'VALIDATION_ERROR')
    })

    it('answers a multipart form field over its 1 MiB limit with 413 PAYLOAD_TOO_LARGE', async () => {
      const boundary = 'hostileboundary'
      const payload = Buffer.from([
        `--${boundary}`,
        'Content-Disposition: form-data; name="columnMapping"',
        '',
        '{"a":"' + 'x'.repeat(1024 * 1024 + 10) + '"}',
        `--${boundary}`,
        'Content-Disposition: form-data; name="file"; filename="feed.csv"',
        'Content-Type: text/csv',
        '',
        'availId,name',
        `--${boundary}--`,
        '',
      ].join('\r\n'))
      const res = await ctx.api('POST', `/inventory-sources/${DEMO}/modular/avails-feed`, payload, { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } })
      const error = refused(res, 413, 'PAYLOAD_TOO_LARGE')
      assert.match(error.message, /columnMapping/)
    })
  })
})
