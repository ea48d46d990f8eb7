import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  camelCaseKey,
  managedStatusFromWire,
  TenantStatusWireSchema,
  WireTimestampSchema,
  withStorefrontSetupTasks,
} from '../../src/modules/source-status/index.ts'
import { TENANT_STATUS_WIRE } from '../helpers/fake-tenant-agent.ts'

describe('the tenant status wire format', () => {
  it('reads pydantic timestamps (Z, an offset, none for naive UTC) as ISO-8601 UTC ending in Z', () => {
    assert.equal(WireTimestampSchema.parse('2026-11-22T11:40:05.123456Z'), '2026-11-22T11:40:05.123Z')
    assert.equal(WireTimestampSchema.parse('2026-11-22T12:40:05+01:00'), '2026-11-22T11:40:05.000Z')
    assert.equal(WireTimestampSchema.parse('2026-11-22T12:40:05+0100'), '2026-11-22T11:40:05.000Z')
    assert.equal(WireTimestampSchema.parse('2026-11-22T11:40:05'), '2026-11-22T11:40:05.000Z')
    for (const bad of ['yesterday', '2026-11-22', '2026-13-45T99:00:00Z', '']) assert.equal(WireTimestampSchema.safeParse(bad).success, false, bad)
  })

  it('turns snake_case keys into camelCase at each underscore, digits included', () => {
    assert.equal(camelCaseKey('last_24h_impressions'), 'last24hImpressions')
    assert.equal(camelCaseKey('rejected_last_24h_count'), 'rejectedLast24hCount')
    assert.equal(camelCaseKey('success_rate'), 'successRate')
    assert.equal(camelCaseKey('alreadyCamel'), 'alreadyCamel')
    assert.equal(camelCaseKey('_private'), '_private')
  })

  it('keeps workflow kinds as the agent names them and drops a __proto__ key', () => {
    const wire = TenantStatusWireSchema.parse(JSON.parse(JSON.stringify(TENANT_STATUS_WIRE).replace('"inventory_profiles"', '"__proto__": {"polluted": true}, "inventory_profiles"')))
    const status = managedStatusFromWire(wire, new Date('2026-11-22T12:00:00Z')) as Record<string, unknown>
    assert.deepEqual((status.workflows as { byKind: unknown }).byKind, { create_media_buy: 2, sync_creatives: 1 })
    assert.equal(Object.getPrototypeOf(status), Object.prototype)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.ok(!Object.hasOwn(status, '__proto__'))
  })

  it('refuses a setup task severity or scope outside the reference enums, and a missing required block', () => {
    const tasks = TENANT_STATUS_WIRE.setup_tasks as { items: Record<string, unknown>[] }
    const badSeverity = { ...TENANT_STATUS_WIRE, setup_tasks: { ...tasks, items: [{ ...tasks.items[0], severity: 'critical' }] } }
    assert.equal(TenantStatusWireSchema.safeParse(badSeverity).success, false)
    const badScope = { ...TENANT_STATUS_WIRE, setup_tasks: { ...tasks, items: [{ ...tasks.items[0], scope: 'module' }] } }
    assert.equal(TenantStatusWireSchema.safeParse(badScope).success, false)
    const { adapter: _adapter, ...noAdapter } = TENANT_STATUS_WIRE
    assert.equal(TenantStatusWireSchema.safeParse(noAdapter).success, false)
    const { creatives: _creatives, ...noCreatives } = TENANT_STATUS_WIRE
    assert.equal(TenantStatusWireSchema.safeParse(noCreatives).success, false)
  })

  it('never lets a camelCase key the agent sent hide the snake_case field it shadows', () => {
    for (const order of ['camel-first', 'snake-first']) {
      const { setup_tasks: setupTasks, ...rest } = TENANT_STATUS_WIRE
      const raw = order === 'camel-first' ? { setupTasks: 'bogus', ...rest, setup_tasks: setupTasks } : { ...rest, setup_tasks: setupTasks, setupTasks: 'bogus' }
      const status = managedStatusFromWire(TenantStatusWireSchema.parse(raw), new Date())
      assert.equal(status.setupTasks?.items.length, 4, order)
    }
  })

  it('recounts setup tasks over the merged list instead of trusting the tenant counts', () => {
    const wire = TenantStatusWireSchema.parse({ ...TENANT_STATUS_WIRE, setup_tasks: { blocker_count: 9, warning_count: 9, items: [] } })
    const merged = withStorefrontSetupTasks(managedStatusFromWire(wire, new Date()), [
      { id: 'source:active', name: 'Activate the source', severity: 'blocker', scope: 'platform', description: '', isComplete: false, configurePath: null },
    ])
    assert.deepEqual([merged.setupTasks?.blockerCount, merged.setupTasks?.warningCount, merged.setupTasks?.items.length], [1, 0, 1])
  })
})
