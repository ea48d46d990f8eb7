import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createDemo, DEMO, PRIME } from '../execution/helpers.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { runBin } from '../helpers/processes.ts'

/** The operator verbs over the REST API of a live server, run as `npx storefront` runs them. */
describe('storefront sources, readiness, products, reserve and release against a running server', () => {
  let ctx: TestContext
  let env: Record<string, string>
  const cli = async (args: string[]) => runBin(args, env)
  const json = async <T>(args: string[]): Promise<T> => {
    const result = await cli([...args, '--json'])
    assert.equal(result.code, 0, result.stderr)
    return JSON.parse(result.stdout) as T
  }

  before(async () => {
    ctx = await createTestContext()
    await ctx.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = ctx.app.server.address() as AddressInfo
    env = { STOREFRONT_URL: `http://127.0.0.1:${port}`, STOREFRONT_API_KEY: ctx.key, STOREFRONT_SOURCE: DEMO }
    await createDemo(ctx)
  })
  after(() => ctx.close())

  it('sources list and show print the sources, and with --json the API answer', async () => {
    const list = await cli(['sources', 'list'])
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, new RegExp(`^${DEMO}\\s+.*MODULAR_SOURCE`, 'm'))
    const sources = await json<{ sourceId: string }[]>(['sources', 'list'])
    assert.deepEqual(sources, (await ctx.api('GET', '/inventory-sources')).json())
    const shown = await json<{ sourceId: string; executionType: string }>(['sources', 'show', DEMO])
    assert.deepEqual(shown, (await ctx.api('GET', `/inventory-sources/${DEMO}`)).json())
    const text = await cli(['sources', 'show', DEMO])
    assert.match(text.stdout, new RegExp(`^sourceId\\s+${DEMO}$`, 'm'))
    assert.match(text.stdout, /^type\s+MODULAR_SOURCE$/m)
  })

  it('readiness prints the modules, lifecycle stages and issues of the projection', async () => {
    const projection = await json<{ inventorySource: { sourceId: string }; modules: { moduleInstanceId: string }[] }>(['readiness'])
    assert.deepEqual(projection, (await ctx.api('GET', `/inventory-sources/${DEMO}/modular`)).json())
    const text = await cli(['readiness', '--source', DEMO])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, new RegExp(`^${DEMO} \\(`))
    for (const module of projection.modules) assert.match(text.stdout, new RegExp(`^${module.moduleInstanceId}\\s`, 'm'))
    assert.match(text.stdout, /^stage\s+status\s+modules/m)
  })

  it('products lists the products, pages with --limit and --cursor, and filters', async () => {
    const all = await json<{ products: { productId: string; availId: string }[]; nextCursor: string | null }>(['products'])
    assert.ok(all.products.length >= 2)
    assert.ok(all.products.some((product) => product.availId === PRIME))
    const first = await json<{ products: { productId: string }[]; nextCursor: string }>(['products', '--limit', '1'])
    assert.equal(first.products.length, 1)
    const second = await json<{ products: { productId: string }[] }>(['products', '--limit', '1', '--cursor', first.nextCursor])
    assert.equal(second.products[0]!.productId, all.products[1]!.productId)
    const text = await cli(['products', '--limit', '1'])
    assert.match(text.stdout, new RegExp(`^${all.products[0]!.productId}\\s`, 'm'))
    assert.match(text.stdout, /1 product\(s\); next page: --cursor \S+/)
  })

  it('reserve holds impressions, answers an equal live hold again, and release releases it', async () => {
    const held = await json<{ reservation: { reservationId: string; status: string; requestedImpressions: number }; product: { availableImpressions: number } }>([
      'reserve', '--avail', PRIME, '--media-buy', 'mb_cli_1', '--impressions', '1000', '--buyer', '7', '--hold-minutes', '30',
    ])
    assert.deepEqual([held.reservation.status, held.reservation.requestedImpressions], ['HELD', 1000])
    const stored = (await ctx.api('GET', `/inventory-sources/${DEMO}/modular/reservations/${held.reservation.reservationId}`)).json()
    assert.equal(stored.status, 'HELD')
    assert.equal(stored.buyerCustomerId, 7)

    const again = await cli(['reserve', '--avail', PRIME, '--media-buy', 'mb_cli_1', '--impressions', '1000', '--buyer', '7', '--hold-minutes', '30'])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`^Reservation ${held.reservation.reservationId}: 1000 impressions of ${PRIME} for media buy mb_cli_1, HELD until \\S+$`, 'm'))

    const released = await json<{ reservation: { reservationId: string; status: string; releaseReason: string | null } }>([
      'release', '--reservation', held.reservation.reservationId, '--reason', 'changed plans',
    ])
    assert.deepEqual([released.reservation.reservationId, released.reservation.status, released.reservation.releaseReason], [held.reservation.reservationId, 'RELEASED', 'changed plans'])
  })

  it('release finds a hold by media buy and avail', async () => {
    const held = await json<{ reservation: { reservationId: string } }>(['reserve', '--product', `avail:${PRIME}`, '--media-buy', 'mb_cli_2', '--impressions', '500'])
    const text = await cli(['release', '--media-buy', 'mb_cli_2', '--avail', PRIME])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, new RegExp(`^Reservation ${held.reservation.reservationId}: .*RELEASED`))
  })

  it("prints the server's refusals with their code and exit code 3, bad input with 2", async () => {
    const missing = await cli(['sources', 'show', 'no-such-source'])
    assert.equal(missing.code, 3)
    assert.match(missing.stderr, /^NOT_FOUND: /)
    const unknownAvail = await cli(['reserve', '--avail', 'no-such-avail', '--media-buy', 'mb_cli_3', '--impressions', '10'])
    assert.equal(unknownAvail.code, 3)
    assert.match(unknownAvail.stderr, /^NOT_FOUND: /)
    const tooMany = await cli(['reserve', '--avail', PRIME, '--media-buy', 'mb_cli_3', '--impressions', '999999999999'])
    assert.equal(tooMany.code, 3, tooMany.stderr)
    assert.match(tooMany.stderr, /^CONFLICT: /)
    const badTake = await cli(['sources', 'list', '--take', '500'])
    assert.equal(badTake.code, 2)
    assert.match(badTake.stderr, /^VALIDATION_ERROR: /)
  })
})
