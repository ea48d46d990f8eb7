import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Database } from '../../src/db/database.ts'
import type { InventorySourceRow } from '../../src/db/tables.ts'
import { loadProjection } from '../../src/modules/readiness/index.ts'
import { createServices, type Services } from '../../src/services.ts'
import { ManualClock } from '../../src/shared/clock.ts'
import { SecretBox } from '../../src/shared/secret-box.ts'
import { refuseUnprobedAgents } from '../../src/sources/agent-probe.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { ISSUE_15_SCALE, seedSourceAtScale, statementCounter } from '../helpers/source-at-scale.ts'

/**
 * The readiness projection and GET /status read aggregates: what they send the database must
 * not grow with the source's avails, reservations or work items. The same reads are counted on
 * a demo source of five avails and on a source of 10,000 avails, 20,000 reservations and 5,000
 * work items; a statement per row or per item shows up as a difference.
 */
describe('readiness and /status of a source at scale', () => {
  const counter = statementCounter()
  const clock = new ManualClock('2026-11-22T12:00:00.000Z')
  let close: () => Promise<void>
  let db: Database
  let services: Services
  let storefrontId: number
  let small: InventorySourceRow
  let large: InventorySourceRow

  before(async () => {
    const database = await openTestDatabase()
    close = database.close
    db = database.db.withPlugin(counter.plugin)
    services = createServices({ db, engine: database.engine, notifications: database.notifications, clock, secrets: new SecretBox('test-secret-key-not-for-production'), probeAgent: refuseUnprobedAgents })
    const key = await services.access.createKey({ storefront: 'acme', label: 'scale test' })
    storefrontId = Number((await db.selectFrom('api_key').select('storefront_id').where('id', '=', Number(key.id)).executeTakeFirstOrThrow()).storefront_id)
    await services.modularSources.createCadentDemo(storefrontId, { sourceId: 'demo-small', reset: false, seedAvails: true })
    small = await db.selectFrom('inventory_source').selectAll().where('source_id', '=', 'demo-small').executeTakeFirstOrThrow()
    large = await seedSourceAtScale(services, db, { storefrontId, sourceId: 'demo-scale', now: clock.now(), ...ISSUE_15_SCALE })
  })
  after(async () => close())

  async function statementsOf(read: () => Promise<unknown>): Promise<number> {
    counter.reset()
    await read()
    return counter.count()
  }

  it('reads the readiness projection in the same few statements for 5 avails and for 10,000', async () => {
    const smallCount = await statementsOf(() => loadProjection(db, small, clock.now()))
    const largeCount = await statementsOf(() => loadProjection(db, large, clock.now()))
    assert.equal(largeCount, smallCount)
    assert.ok(largeCount <= 6, `${largeCount} statements`)
    const projection = await loadProjection(db, large, clock.now())
    // 5 demo avails plus 9,995 copies, of which every tenth has ended.
    assert.equal(projection.activeAvailCount, 5 + 9_995 - Math.floor(9_995 / 10))
    // Items 1..5,000 whose number mod 3 is not 2 are open.
    assert.equal(projection.openWorkItemCount, 5_000 - 1_667)
  })

  it('answers /status in the same few statements for 5 avails and for 10,000', async () => {
    const smallCount = await statementsOf(() => services.sourceStatus.status(storefrontId, 'demo-small'))
    const largeCount = await statementsOf(() => services.sourceStatus.status(storefrontId, 'demo-scale'))
    assert.equal(largeCount, smallCount)
    assert.ok(largeCount <= 8, `${largeCount} statements`)
    const status = await services.sourceStatus.status(storefrontId, 'demo-scale')
    assert.ok('packages' in status && status.packages !== undefined)
    // HELD and not yet due (n mod 4 = 0) plus BOOKED (n mod 4 = 2), of 20,000.
    assert.equal(status.packages.activeCount, 10_000)
    assert.equal(status.workflows?.openCount, 5_000 - 1_667)
    // Read from the projection's own passes over avails and work items, not a second scan.
    assert.equal(status.products?.archivedCount, Math.floor(9_995 / 10))
    assert.equal(status.products?.activeCount, 5 + 9_995 - Math.floor(9_995 / 10))
    assert.ok(status.workflows?.oldestOpenedAt, 'the oldest open item is named')
    assert.equal(status.syncs?.inventory?.status, 'success')
  })
})
