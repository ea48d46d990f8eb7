import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { Caller } from '../../src/access/access-service.ts'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

const ACCOUNT = { brand: { domain: 'test.example' }, operator: 'test.example', sandbox: true }

describe('sandbox creatives: what comply_test_controller seed_creative and force_creative_status call', () => {
  let ctx: McpTestContext
  let sandboxCaller: Caller
  let liveCaller: Caller
  let client: Client
  let accountRowId: number

  before(async () => {
    ctx = await createMcpTestContext()
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', label: 'sandbox buyer', role: 'buyer', sandbox: true })
    sandboxCaller = await ctx.services.access.authenticate(key)
    liveCaller = await ctx.services.access.authenticate(ctx.buyerKey)
    client = await ctx.connect(key)
    const { payload } = await callTool(client, 'sync_accounts', { accounts: [{ ...ACCOUNT, billing: 'operator' }], idempotency_key: 'creatives-sandbox-account-0001' })
    const accountId = (payload.accounts as Array<{ account_id: string }>)[0]!.account_id
    accountRowId = (await ctx.db.selectFrom('buyer_account').select('id').where('account_id', '=', accountId).executeTakeFirstOrThrow()).id
  })
  after(async () => {
    await ctx.close()
  })

  it('seeds fixtures with the status they name, which list_creatives pages like any creative', async () => {
    for (const n of [1, 2, 3]) {
      await ctx.services.creatives.seedCreative(sandboxCaller, {
        buyerAccountId: accountRowId, creativeId: `pagination_integrity_creative_${n}`, format: { agentUrl: ctx.mcpUrl, id: 'display_static' }, status: 'approved',
      })
    }
    const { payload } = await callTool(client, 'list_creatives', { account: ACCOUNT, pagination: { max_results: 2 } })
    assert.deepEqual(payload.query_summary, { total_matching: 3, returned: 2 })
    assert.equal((payload.pagination as { has_more: boolean }).has_more, true)
    assert.deepEqual((payload.creatives as Array<{ status: string }>).map((creative) => creative.status), ['approved', 'approved'])
  })

  it('forces one legal step of the creative graph; an illegal one and an unknown creative are refused as such', async () => {
    const id = 'pagination_integrity_creative_1'
    assert.deepEqual(await ctx.services.creatives.forceCreativeStatus(sandboxCaller, id, 'archived'), { ok: true, previous: 'approved', current: 'archived' })
    assert.deepEqual(await ctx.services.creatives.forceCreativeStatus(sandboxCaller, id, 'rejected'), { ok: false, reason: 'INVALID_TRANSITION', current: 'archived' })
    assert.deepEqual(await ctx.services.creatives.forceCreativeStatus(sandboxCaller, 'comply-test-nonexistent-000000000000', 'approved'), { ok: false, reason: 'NOT_FOUND' })
  })

  it("keeps a creative on another creative agent's format as sent, unreviewed (pending_review), for the controller to approve and archive", async () => {
    const format = { agent_url: 'https://your-platform.example.com', id: 'display_300x250' }
    const { isError, payload } = await callTool(client, 'sync_creatives', {
      account: ACCOUNT,
      idempotency_key: 'creatives-sandbox-foreign-0001',
      creatives: [{ creative_id: 'sandbox_foreign_banner', name: 'Banner', format_id: format, assets: { image: { asset_type: 'image', url: 'https://cdn.example.com/b.png', width: 300, height: 250 } } }],
    })
    assert.equal(isError, false, JSON.stringify(payload))
    assert.deepEqual((payload.creatives as Array<{ creative_id: string; action: string; status: string }>).map((row) => [row.creative_id, row.action, row.status]), [['sandbox_foreign_banner', 'created', 'pending_review']])
    const listed = await callTool(client, 'list_creatives', { account: ACCOUNT, filters: { creative_ids: ['sandbox_foreign_banner'] } })
    assert.deepEqual((listed.payload.creatives as Array<{ format_id: unknown }>).map((row) => row.format_id), [format])
    assert.deepEqual(await ctx.services.creatives.forceCreativeStatus(sandboxCaller, 'sandbox_foreign_banner', 'approved'), { ok: true, previous: 'pending_review', current: 'approved' })
    assert.deepEqual(await ctx.services.creatives.forceCreativeStatus(sandboxCaller, 'sandbox_foreign_banner', 'archived'), { ok: true, previous: 'approved', current: 'archived' })
  })

  it('never lets a live key seed or force', async () => {
    await assert.rejects(ctx.services.creatives.forceCreativeStatus(liveCaller, 'pagination_integrity_creative_2', 'archived'), /sandbox buyer key/)
    await assert.rejects(ctx.services.creatives.seedCreative(liveCaller, {
      buyerAccountId: accountRowId, creativeId: 'x', format: { agentUrl: ctx.mcpUrl, id: 'display_static' }, status: 'approved',
    }), /sandbox buyer key/)
  })
})
