import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestContext, type TestContext } from '../helpers/context.ts'

describe('POST /inventory-sources/modular/feed', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
  })
  after(async () => {
    await ctx.close()
  })

  const questionnaire = {
    availsSource: { type: 'spreadsheet', cadence: 'monthly', description: 'Seller uploads monthly South Africa CTV avails' },
    booking: { mode: 'booking_ledger' },
    execution: { mode: 'manual', systemName: 'Seller ops' },
    reporting: { mode: 'upload', sampleAvailable: true },
    creative: { mode: 'manual', notes: 'Human review confirms broadcast specs' },
    notes: 'Launch in Q1',
  }

  it('creates a MODULAR_SOURCE with the avails feed and the booking ledger, answering 201 with the projection', async () => {
    const response = await ctx.api('POST', '/inventory-sources/modular/feed', { sourceId: 'reachafrica-ctv', name: 'ReachAfrica CTV Avails', ...questionnaire })
    assert.equal(response.statusCode, 201, response.body)
    const body = response.json()
    assert.equal(body.sourceId, 'reachafrica-ctv')
    assert.match(body.inventorySourceId, /^\d+$/)
    assert.equal(body.projection.inventorySource.id, body.inventorySourceId)
    assert.equal(body.projection.inventorySource.status, 'ACTIVE')
    assert.deepEqual(body.projection.modules.map((m: { moduleInstanceId: string; kind: string; provider: string; status: string }) => [m.moduleInstanceId, m.kind, m.provider, m.status]), [
      ['static-avails-feed', 'INVENTORY_FEED', 'agentic', 'ACTIVE'],
      ['booking-ledger', 'BOOKING_LEDGER', 'agentic', 'ACTIVE'],
    ])
    assert.equal(body.projection.activeAvailCount, 0)
    assert.equal(body.projection.openWorkItemCount, 0)
    // The questionnaire is kept as non-secret setup metadata, extra answers included.
    assert.deepEqual(body.projection.setupMetadata, { ...questionnaire, includeBookingLedger: true })
    const stored = await ctx.db.selectFrom('inventory_source').select(['setup_metadata', 'execution_type']).where('source_id', '=', 'reachafrica-ctv').executeTakeFirstOrThrow()
    assert.equal(stored.execution_type, 'MODULAR_SOURCE')
    assert.equal((stored.setup_metadata as { execution: { systemName: string } }).execution.systemName, 'Seller ops')
  })

  it('defaults sourceId to the slugified name', async () => {
    const response = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Zuid Afrika CTV — Maandelijks' })
    assert.equal(response.statusCode, 201, response.body)
    assert.equal(response.json().sourceId, 'zuid-afrika-ctv-maandelijks')
  })

  it('attaches no booking ledger with includeBookingLedger false', async () => {
    const response = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'No ledger', includeBookingLedger: false })
    assert.equal(response.statusCode, 201, response.body)
    assert.deepEqual(response.json().projection.modules.map((m: { kind: string }) => m.kind), ['INVENTORY_FEED'])
    assert.equal(response.json().projection.setupMetadata.includeBookingLedger, false)
  })

  it('refuses a missing name and an invalid sourceId with 400', async () => {
    const noName = await ctx.api('POST', '/inventory-sources/modular/feed', { sourceId: 'x' })
    assert.equal(noName.statusCode, 400)
    assert.equal(noName.json().error.code, 'VALIDATION_ERROR')
    const badId = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Bad', sourceId: 'Not Valid!' })
    assert.equal(badId.statusCode, 400)
    assert.ok(badId.json().error.details.issues.some((issue: { path: string }) => issue.path === 'sourceId'))
    const badEnum = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Bad', booking: { mode: 'fax' } })
    assert.equal(badEnum.statusCode, 400)
  })

  it('refuses a duplicate sourceId with 409 DUPLICATE_SOURCE_ID, but another storefront may use it', async () => {
    const first = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Dup', sourceId: 'dup-source' })
    assert.equal(first.statusCode, 201)
    const second = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Dup again', sourceId: 'dup-source' })
    assert.equal(second.statusCode, 409)
    assert.equal(second.json().error.code, 'CONFLICT')
    assert.equal(second.json().error.details.reason, 'DUPLICATE_SOURCE_ID')
    const other = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Dup', sourceId: 'dup-source' }, { key: ctx.otherKey })
    assert.equal(other.statusCode, 201)
  })

  it('refuses secret-looking answers with 400 SECRET_NOT_ALLOWED and stores nothing', async () => {
    const response = await ctx.api('POST', '/inventory-sources/modular/feed', {
      name: 'Leaky',
      sourceId: 'leaky',
      execution: { mode: 'upstream_system', systemName: 'OMS', apiKey: 'sk_live_123' },
    })
    assert.equal(response.statusCode, 400)
    assert.equal(response.json().error.details.reason, 'SECRET_NOT_ALLOWED')
    assert.deepEqual(response.json().error.details.issues.map((issue: { path: string }) => issue.path), ['execution.apiKey'])
    assert.doesNotMatch(response.body, /sk_live_123/)
    assert.equal((await ctx.api('GET', '/inventory-sources/leaky')).statusCode, 404)
  })

  it('refuses unknown top-level fields', async () => {
    const response = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Typo', includeBookingLeger: false })
    assert.equal(response.statusCode, 400)
  })

  it('needs an API key', async () => {
    const response = await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Anon' }, { key: null })
    assert.equal(response.statusCode, 401)
  })
})

describe('GET /inventory-sources with modular sources', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
  })
  after(async () => {
    await ctx.close()
  })

  it('lists and reads a MODULAR_SOURCE row like any other source', async () => {
    await ctx.api('POST', '/inventory-sources/modular/feed', { name: 'Retail Modular', sourceId: 'retail-modular' })
    const list = await ctx.api('GET', '/inventory-sources')
    assert.equal(list.statusCode, 200, list.body)
    const row = list.json().find((source: { sourceId: string }) => source.sourceId === 'retail-modular')
    assert.equal(row.executionType, 'MODULAR_SOURCE')
    assert.equal(row.status, 'ACTIVE')
    assert.equal(row.authConfigured, false)
    assert.equal(row.reportingType, null)
    const one = await ctx.api('GET', '/inventory-sources/retail-modular')
    assert.equal(one.statusCode, 200, one.body)
    assert.equal(one.json().executionType, 'MODULAR_SOURCE')
    assert.equal((await ctx.api('GET', '/inventory-sources/retail-modular', undefined, { key: ctx.otherKey })).statusCode, 404)
  })
})
