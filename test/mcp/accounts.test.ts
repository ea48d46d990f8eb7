import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { callTool, createMcpTestContext, type McpTestContext } from './helpers.ts'

interface SyncRow {
  account_id?: string
  action: string
  status: string
  sandbox?: boolean
  errors?: Array<{ code: string; message: string }>
}

let keySeq = 0
function idempotencyKey(): string {
  return `accounts-test-key-${String(++keySeq).padStart(8, '0')}`
}

describe('sync_accounts and list_accounts over MCP', () => {
  let ctx: McpTestContext
  let buyerA: Client
  let buyerB: Client

  before(async () => {
    ctx = await createMcpTestContext()
    buyerA = await ctx.connect(ctx.buyerKey)
    buyerB = await ctx.connect(ctx.otherBuyerKey)
  })
  after(async () => {
    await ctx.close()
  })

  async function sync(client: Client, accounts: unknown[]): Promise<SyncRow[]> {
    const { isError, payload } = await callTool(client, 'sync_accounts', { accounts, idempotency_key: idempotencyKey() })
    assert.equal(isError, false, JSON.stringify(payload))
    return payload.accounts as SyncRow[]
  }

  it('opens an account for brand + operator, and finds the same account on the next sync', async () => {
    const ref = { brand: { domain: 'acmeoutdoor.example' }, operator: 'pinnacle-agency.example', billing: 'operator' }
    const [created] = await sync(buyerA, [ref])
    assert.equal(created!.action, 'created')
    assert.equal(created!.status, 'active')
    assert.match(created!.account_id!, /^acct_/)
    const [again] = await sync(buyerA, [ref])
    assert.deepEqual([again!.action, again!.account_id], ['unchanged', created!.account_id])
    const stored = await ctx.db.selectFrom('buyer_account').selectAll().where('account_id', '=', created!.account_id!).executeTakeFirstOrThrow()
    assert.deepEqual([stored.brand_domain, stored.operator, stored.billing, stored.sandbox], ['acmeoutdoor.example', 'pinnacle-agency.example', 'operator', false])
  })

  it('replays a retried sync_accounts with the same idempotency_key', async () => {
    const args = { accounts: [{ brand: { domain: 'replay.example' }, operator: 'replay.example', billing: 'agent' }], idempotency_key: idempotencyKey() }
    const first = await callTool(buyerA, 'sync_accounts', args)
    const second = await callTool(buyerA, 'sync_accounts', args)
    assert.equal((second.payload.accounts as SyncRow[])[0]!.account_id, (first.payload.accounts as SyncRow[])[0]!.account_id)
    assert.equal(second.payload.replayed, true)
  })

  it('shows a buyer only its own accounts, and another buyer\'s account answers like a missing one', async () => {
    const [own] = await sync(buyerB, [{ brand: { domain: 'nova.example' }, operator: 'nova.example', billing: 'operator' }])
    const listedByA = (await callTool(buyerA, 'list_accounts', {})).payload.accounts as Array<{ account_id: string }>
    assert.ok(!listedByA.some((account) => account.account_id === own!.account_id))
    const listedByB = (await callTool(buyerB, 'list_accounts', {})).payload.accounts as Array<{ account_id: string }>
    assert.deepEqual(listedByB.map((account) => account.account_id), [own!.account_id])

    const foreign = await callTool(buyerA, 'get_products', { buying_mode: 'brief', brief: 'tv', account: { account_id: own!.account_id } })
    const missing = await callTool(buyerA, 'get_products', { buying_mode: 'brief', brief: 'tv', account: { account_id: 'acct_does_not_exist' } })
    assert.equal(foreign.isError, true)
    assert.equal((foreign.payload.adcp_error as { code: string }).code, 'ACCOUNT_NOT_FOUND')
    assert.deepEqual(foreign.payload, missing.payload)
  })

  it('refuses a sandbox account to a live key, row by row', async () => {
    const rows = await sync(buyerA, [
      { brand: { domain: 'sandboxed.example' }, operator: 'sandboxed.example', billing: 'operator', sandbox: true },
      { brand: { domain: 'live.example' }, operator: 'live.example', billing: 'operator' },
    ])
    assert.deepEqual(rows.map((row) => row.action), ['failed', 'created'])
    assert.equal(rows[0]!.errors![0]!.code, 'INVALID_REQUEST')
  })

  it('makes every account of a sandbox key a sandbox account, opened on first reference', async () => {
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', sandbox: true, label: 'runner' })
    const runner = await ctx.connect(key)
    const [row] = await sync(runner, [{ brand: { domain: 'test.example' }, operator: 'test.example', billing: 'operator', sandbox: true }])
    assert.deepEqual([row!.action, row!.sandbox], ['created', true])
    const products = await callTool(runner, 'get_products', { buying_mode: 'brief', brief: 'tv', account: { brand: { domain: 'never-synced.example' }, operator: 'never-synced.example' } })
    assert.equal(products.isError, false, JSON.stringify(products.payload))
    const listed = (await callTool(runner, 'list_accounts', {})).payload.accounts as Array<{ brand: { domain: string }; sandbox?: boolean }>
    assert.deepEqual(listed.map((account) => [account.brand.domain, account.sandbox]), [['test.example', true], ['never-synced.example', true]])
  })

  it('pages list_accounts with the AdCP pagination envelope', async () => {
    const { key } = await ctx.services.access.createKey({ storefront: 'acme', role: 'buyer', label: 'pager' })
    const pager = await ctx.connect(key)
    await sync(pager, ['acme-corp.com', 'nova-brands.com', 'pinnacle-media.com'].map((domain) => ({ brand: { domain }, operator: domain, billing: 'operator' })))
    const first = (await callTool(pager, 'list_accounts', { pagination: { max_results: 2 } })).payload
    const firstPage = first.pagination as { has_more: boolean; cursor: string }
    assert.equal((first.accounts as unknown[]).length, 2)
    assert.equal(firstPage.has_more, true)
    const second = (await callTool(pager, 'list_accounts', { pagination: { max_results: 2, cursor: firstPage.cursor } })).payload
    assert.deepEqual((second.accounts as Array<{ brand: { domain: string } }>).map((account) => account.brand.domain), ['pinnacle-media.com'])
    assert.equal((second.pagination as { has_more: boolean }).has_more, false)
  })
})
