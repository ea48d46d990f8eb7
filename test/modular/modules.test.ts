import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { CADENT_CONFIG, createFeedSource, insertWorkItem, moduleOf, readProjection } from './helpers.ts'

const base = '/inventory-sources/retail-modular/modular/modules'

describe('modular source modules', () => {
  let ctx: TestContext
  before(async () => {
    ctx = await createTestContext()
  })
  after(async () => {
    await ctx.close()
  })
  beforeEach(async () => {
    await ctx.db.deleteFrom('inventory_source').execute()
    await createFeedSource(ctx)
  })

  describe('POST /inventory-sources/{sourceId}/modular/modules', () => {
    it('attaches each catalog provider under its default instance id, answering 201 with the projection', async () => {
      for (const [kind, provider, id, status] of [
        ['TRAFFICKING', 'cadent', 'cadent-trafficking', 'CONFIGURING'],
        ['TRAFFICKING', 'manual', 'manual-execution', 'ACTIVE'],
        ['REPORTING_IMPORT', 'upload', 'report-upload', 'ACTIVE'],
      ] as const) {
        const response = await ctx.api('POST', base, { kind, provider })
        assert.equal(response.statusCode, 201, response.body)
        const module = moduleOf(response.json(), id)
        assert.equal(module.kind, kind)
        assert.equal(module.status, status)
      }
      const projection = await readProjection(ctx)
      assert.equal(projection.modules.length, 5)
    })

    it('takes an explicit moduleInstanceId, a lower-case kind and an initial config', async () => {
      const response = await ctx.api('POST', base, { moduleInstanceId: 'cadent-nl', kind: 'trafficking', provider: 'cadent', config: CADENT_CONFIG })
      assert.equal(response.statusCode, 201, response.body)
      const module = moduleOf(response.json(), 'cadent-nl')
      assert.equal(module.status, 'ACTIVE')
      assert.deepEqual(module.config, CADENT_CONFIG)
    })

    it('refuses a kind and provider outside the catalog with 400 MODULE_NOT_IN_CATALOG', async () => {
      const response = await ctx.api('POST', base, { kind: 'TRAFFICKING', provider: 'freewheel' })
      assert.equal(response.statusCode, 400)
      assert.equal(response.json().error.details.reason, 'MODULE_NOT_IN_CATALOG')
      const wrongKind = await ctx.api('POST', base, { kind: 'REPORTING_IMPORT', provider: 'cadent' })
      assert.equal(wrongKind.json().error.details.reason, 'MODULE_NOT_IN_CATALOG')
      assert.equal((await ctx.api('POST', base, { kind: 'NOPE', provider: 'cadent' })).statusCode, 400)
    })

    it('refuses a duplicate moduleInstanceId with 409', async () => {
      const response = await ctx.api('POST', base, { kind: 'BOOKING_LEDGER', provider: 'agentic' })
      assert.equal(response.statusCode, 409)
      assert.equal(response.json().error.details.reason, 'DUPLICATE_MODULE_INSTANCE_ID')
    })

    it('refuses invalid and secret-looking config with 400', async () => {
      const badEnum = await ctx.api('POST', base, { kind: 'TRAFFICKING', provider: 'cadent', config: { ...CADENT_CONFIG, adType: 'HOLOGRAM' } })
      assert.equal(badEnum.statusCode, 400)
      assert.deepEqual(badEnum.json().error.details.issues.map((issue: { path: string }) => issue.path), ['config.adType'])
      const secret = await ctx.api('POST', base, { kind: 'TRAFFICKING', provider: 'cadent', config: { cadentApiKey: 'k' } })
      assert.equal(secret.statusCode, 400)
      assert.equal(secret.json().error.details.reason, 'SECRET_NOT_ALLOWED')
      assert.equal((await readProjection(ctx)).modules.length, 2)
    })

    it('answers 404 for another storefront\'s or a non-modular source', async () => {
      const other = await ctx.api('POST', base, { kind: 'REPORTING_IMPORT', provider: 'upload' }, { key: ctx.otherKey })
      assert.equal(other.statusCode, 404)
      assert.equal((await ctx.api('POST', '/inventory-sources/nope/modular/modules', { kind: 'REPORTING_IMPORT', provider: 'upload' })).statusCode, 404)
    })
  })

  describe('PATCH /inventory-sources/{sourceId}/modular/modules/{moduleInstanceId}/config', () => {
    beforeEach(async () => {
      const response = await ctx.api('POST', base, { kind: 'TRAFFICKING', provider: 'cadent', config: { adType: 'VIDEO', notes: { team: 'ops', shift: 'day' } } })
      assert.equal(response.statusCode, 201, response.body)
    })

    const patch = (body: unknown, id = 'cadent-trafficking', key?: string) =>
      ctx.api('PATCH', `${base}/${id}/config`, body, key ? { key } : {})

    it('deep-merges config by default and derives ACTIVE once every required field is set', async () => {
      let response = await patch({ config: { campaignDeliveryType: 'GUARANTEED', notes: { shift: 'night' } } })
      assert.equal(response.statusCode, 200, response.body)
      let module = moduleOf(response.json(), 'cadent-trafficking')
      assert.deepEqual(module.config, { adType: 'VIDEO', campaignDeliveryType: 'GUARANTEED', notes: { team: 'ops', shift: 'night' } })
      assert.equal(module.status, 'CONFIGURING')
      assert.deepEqual(module.configuredFieldKeys, ['adType', 'campaignDeliveryType', 'notes'])

      response = await patch({ config: { lineDeliveryType: 'GUARANTEED', adClass: 'PROMO' } })
      module = moduleOf(response.json(), 'cadent-trafficking')
      assert.equal(module.status, 'ACTIVE')
      assert.deepEqual(module.missingSetupFieldsBySource, [])
    })

    it('removes a key sent as null', async () => {
      const response = await patch({ config: { notes: null, adType: null } })
      assert.deepEqual(moduleOf(response.json(), 'cadent-trafficking').config, {})
    })

    it('replaces the whole config with merge false', async () => {
      const response = await patch({ config: CADENT_CONFIG, merge: false })
      assert.equal(response.statusCode, 200, response.body)
      const module = moduleOf(response.json(), 'cadent-trafficking')
      assert.deepEqual(module.config, CADENT_CONFIG)
      assert.equal(module.status, 'ACTIVE')
    })

    it('sets DISABLED and ERROR, and CONFIGURING clears the override back to the derived status', async () => {
      await patch({ config: CADENT_CONFIG })
      let response = await patch({ config: {}, status: 'disabled' })
      assert.equal(moduleOf(response.json(), 'cadent-trafficking').status, 'DISABLED')
      response = await patch({ config: {}, status: 'ERROR' })
      assert.equal(moduleOf(response.json(), 'cadent-trafficking').status, 'ERROR')
      response = await patch({ config: {}, status: 'CONFIGURING' })
      assert.equal(moduleOf(response.json(), 'cadent-trafficking').status, 'ACTIVE')
    })

    it('refuses status ACTIVE with 400 STATUS_IS_DERIVED and changes nothing', async () => {
      const response = await patch({ config: { adClass: 'PSA' }, status: 'ACTIVE' })
      assert.equal(response.statusCode, 400)
      assert.equal(response.json().error.details.reason, 'STATUS_IS_DERIVED')
      assert.equal(moduleOf(await readProjection(ctx), 'cadent-trafficking').config.adClass, undefined)
    })

    it('requires config', async () => {
      const response = await patch({ status: 'DISABLED' })
      assert.equal(response.statusCode, 400)
      assert.equal(response.json().error.details.issues[0].path, 'config')
    })

    it('refuses secret-looking keys and values outside a field\'s closed set', async () => {
      const secret = await patch({ config: { auth: { password: 'x' } } })
      assert.equal(secret.statusCode, 400)
      assert.equal(secret.json().error.details.reason, 'SECRET_NOT_ALLOWED')
      assert.deepEqual(secret.json().error.details.issues.map((issue: { path: string }) => issue.path), ['config.auth', 'config.auth.password'])
      const badUrl = await patch({ config: { cadentEndpointUrl: 'ftp://cadent' } })
      assert.equal(badUrl.statusCode, 400)
      const credentialsInUrl = await patch({ config: { cadentEndpointUrl: 'https://ops:hunter2@cadent.example.com/xml' } })
      assert.equal(credentialsInUrl.statusCode, 400)
      assert.ok(!credentialsInUrl.body.includes('hunter2'), 'the refusal must not echo the password')
      const badEnum = await patch({ config: { lineDeliveryType: 'SOMETIMES' } })
      assert.equal(badEnum.statusCode, 400)
    })

    it('answers 404 for an unknown module, an unknown source and another storefront', async () => {
      assert.equal((await patch({ config: {} }, 'nope')).statusCode, 404)
      assert.equal((await ctx.api('PATCH', '/inventory-sources/nope/modular/modules/cadent-trafficking/config', { config: {} })).statusCode, 404)
      assert.equal((await patch({ config: {} }, 'cadent-trafficking', ctx.otherKey)).statusCode, 404)
    })
  })

  describe('DELETE /inventory-sources/{sourceId}/modular/modules/{moduleInstanceId}', () => {
    it('removes a module and answers with the projection', async () => {
      await ctx.api('POST', base, { kind: 'REPORTING_IMPORT', provider: 'upload' })
      const response = await ctx.api('DELETE', `${base}/report-upload`)
      assert.equal(response.statusCode, 200, response.body)
      assert.deepEqual(response.json().modules.map((m: { moduleInstanceId: string }) => m.moduleInstanceId), ['static-avails-feed', 'booking-ledger'])
    })

    it('refuses with 409 MODULE_HAS_OPEN_WORK while the module has open work items', async () => {
      await ctx.api('POST', base, { kind: 'REPORTING_IMPORT', provider: 'upload' })
      await insertWorkItem(ctx, { kind: 'UPLOAD_FINAL_REPORT', moduleInstanceId: 'report-upload', status: 'BLOCKED' })
      const refused = await ctx.api('DELETE', `${base}/report-upload`)
      assert.equal(refused.statusCode, 409)
      assert.equal(refused.json().error.details.reason, 'MODULE_HAS_OPEN_WORK')
      assert.equal(refused.json().error.details.openWorkItemCount, 1)
      await ctx.db.updateTable('work_item').set({ status: 'CANCELLED' }).execute()
      assert.equal((await ctx.api('DELETE', `${base}/report-upload`)).statusCode, 200)
    })

    it('answers 404 for an unknown module and another storefront', async () => {
      assert.equal((await ctx.api('DELETE', `${base}/nope`)).statusCode, 404)
      assert.equal((await ctx.api('DELETE', `${base}/booking-ledger`, undefined, { key: ctx.otherKey })).statusCode, 404)
    })
  })
})
