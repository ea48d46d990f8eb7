import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  generateWebhookSigningKey,
  loadOrCreateWebhookSigningKey,
  newWebhookSigningKeyJson,
  parseWebhookSigningKey,
  WEBHOOK_KEY_FILE,
  WebhookKeyError,
} from '../../src/modules/buyer-webhooks/index.ts'

describe('the webhook signing key', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sf-webhook-key-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('is generated once into the data directory, private to its owner, and read back on the next start', async () => {
    const dataDir = path.join(dir, 'once')
    const first = await loadOrCreateWebhookSigningKey(dataDir)
    const again = await loadOrCreateWebhookSigningKey(dataDir)
    assert.equal(again.keyid, first.keyid)
    assert.equal(again.privateJwk.d, first.privateJwk.d)
    assert.equal((await stat(path.join(dataDir, WEBHOOK_KEY_FILE))).mode & 0o777, 0o600)
  })

  it('is one key when several processes start at once', async () => {
    const dataDir = path.join(dir, 'race')
    const keys = await Promise.all(Array.from({ length: 6 }, () => loadOrCreateWebhookSigningKey(dataDir)))
    assert.equal(new Set(keys.map((key) => key.privateJwk.d)).size, 1)
  })

  it('never serialises its private half', () => {
    const key = generateWebhookSigningKey()
    const printed = JSON.stringify({ key, jwk: key.privateJwk })
    assert.ok(!printed.includes(key.privateJwk.d))
    assert.ok(printed.includes(key.keyid))
  })

  it('takes the JSON line newWebhookSigningKeyJson prints (STOREFRONT_WEBHOOK_SIGNING_KEY)', () => {
    const text = newWebhookSigningKeyJson()
    const key = parseWebhookSigningKey(text, 'STOREFRONT_WEBHOOK_SIGNING_KEY')
    assert.equal(key.keyid, (JSON.parse(text) as { kid: string }).kid)
    assert.equal(key.publicJwk.adcp_use, 'webhook-signing')
  })

  it('refuses a malformed or mismatched key without quoting it', async () => {
    const other = generateWebhookSigningKey()
    const mismatched = JSON.stringify({ ...JSON.parse(newWebhookSigningKeyJson()), x: other.publicJwk.x })
    const secretish = '{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"abc","d":"super-secret-value"'
    for (const [text, pattern] of [
      [secretish, /is not JSON/],
      [mismatched, /not one valid Ed25519 key pair/],
      ['{"kty":"RSA","n":"x","e":"AQAB","d":"super-secret-value"}', /must be an Ed25519 JWK/],
      ['{"kty":"OKP","crv":"Ed25519","x":"a","d":"super-secret-value"}', /needs a kid/],
    ] as const) {
      assert.throws(() => parseWebhookSigningKey(text, 'STOREFRONT_WEBHOOK_SIGNING_KEY'), (error: Error) => {
        assert.ok(error instanceof WebhookKeyError)
        assert.match(error.message, pattern)
        assert.ok(!error.message.includes('super-secret-value'))
        return true
      })
    }
    const file = path.join(dir, 'broken', WEBHOOK_KEY_FILE)
    await rm(path.dirname(file), { recursive: true, force: true })
    await import('node:fs/promises').then((fs) => fs.mkdir(path.dirname(file)))
    await writeFile(file, 'not json')
    await assert.rejects(loadOrCreateWebhookSigningKey(path.dirname(file)), WebhookKeyError)
    assert.equal(await readFile(file, 'utf8'), 'not json', 'a broken key file is never overwritten')
  })
})
