import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CONSOLE_LINK_TTL_MS } from '../../src/access/access-service.ts'
import { SecretBox } from '../../src/shared/secret-box.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'

describe('console sign-in links and sessions (access service)', () => {
  let ctx: TestContext

  before(async () => { ctx = await createTestContext() })
  after(async () => { await ctx.close() })

  it('issues a link for the storefront\'s first live operator key that signs in exactly once', async () => {
    const link = await ctx.services.access.issueConsoleLink({ storefront: 'acme' })
    assert.ok(link)
    assert.match(link.token, /^cl_[A-Za-z0-9_-]{32}$/)
    const caller = await ctx.services.access.redeemConsoleLink(link.token)
    assert.equal(caller?.storefrontName, 'acme')
    assert.equal(caller?.role, 'operator')
    assert.equal(await ctx.services.access.redeemConsoleLink(link.token), null, 'a link works once')
    assert.equal(await ctx.services.access.redeemConsoleLink('cl_unknown'), null)
  })

  it('stores only a hash of the token', async () => {
    const link = await ctx.services.access.issueConsoleLink({ storefront: 'acme' })
    const rows = await ctx.db.selectFrom('console_sign_in_link').select('token_hash').execute()
    assert.ok(rows.length > 0)
    assert.ok(rows.every((row) => row.token_hash !== link!.token && /^[0-9a-f]{64}$/.test(row.token_hash)))
  })

  it('refuses a link after it expires', async () => {
    const link = await ctx.services.access.issueConsoleLink({ storefront: 'acme' })
    ctx.clock.advance(CONSOLE_LINK_TTL_MS + 1)
    assert.equal(await ctx.services.access.redeemConsoleLink(link!.token), null)
  })

  it('refuses a link whose key was revoked, and has none for a storefront without a live operator key', async () => {
    const { id } = await ctx.services.access.createKey({ storefront: 'initech', label: 'ops' })
    await ctx.services.access.createKey({ storefront: 'initech', role: 'buyer', label: 'buyer' })
    const link = await ctx.services.access.issueConsoleLink({ storefront: 'initech' })
    assert.ok(link)
    await ctx.services.access.revokeKey(id)
    assert.equal(await ctx.services.access.redeemConsoleLink(link.token), null)
    assert.equal(await ctx.services.access.issueConsoleLink({ storefront: 'initech' }), null, 'a buyer key never gets a console link')
  })

  it('finds a live key by id for a session, and not once it is revoked', async () => {
    const created = await ctx.services.access.createKey({ storefront: 'acme', label: 'session' })
    const caller = await ctx.services.access.callerOfKey(Number(created.id))
    assert.equal(caller?.apiKeyId, Number(created.id))
    await ctx.services.access.revokeKey(created.id)
    assert.equal(await ctx.services.access.callerOfKey(Number(created.id)), null)
  })

  it('revokes only keys of the operator\'s own storefront', async () => {
    const foreign = await ctx.services.access.createKey({ storefront: 'globex', label: 'theirs' })
    const acme = await ctx.services.access.callerOfKey(Number((await ctx.services.access.createKey({ storefront: 'acme' })).id))
    await assert.rejects(ctx.services.access.revokeStorefrontKey(acme!.storefrontId, Number(foreign.id)), /not found/)
    assert.ok(await ctx.services.access.callerOfKey(Number(foreign.id)), 'the other storefront\'s key still works')
    assert.ok((await ctx.services.access.listStorefrontKeys(acme!.storefrontId)).every((key) => key.storefront === 'acme'))
  })

  it('derives the session key from the secret key: stable, 32 bytes, different per purpose and secret', () => {
    const box = new SecretBox('one secret')
    assert.equal(box.deriveKey('console-session-v1').length, 32)
    assert.deepEqual(box.deriveKey('console-session-v1'), new SecretBox('one secret').deriveKey('console-session-v1'))
    assert.notDeepEqual(box.deriveKey('console-session-v1'), box.deriveKey('other'))
    assert.notDeepEqual(box.deriveKey('console-session-v1'), new SecretBox('another secret').deriveKey('console-session-v1'))
  })
})
