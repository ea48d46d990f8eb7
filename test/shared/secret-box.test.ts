import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SecretBox } from '../../src/shared/secret-box.ts'
import { findSecretLikeKeys } from '../../src/shared/secret-names.ts'

describe('SecretBox', () => {
  it('round-trips a secret and never stores it in clear', () => {
    const box = new SecretBox('operator-chosen-secret-key')
    const sealed = box.seal('hunter2-password')
    assert.ok(!sealed.includes('hunter2'))
    assert.equal(box.open(sealed), 'hunter2-password')
  })

  it('uses a fresh IV every time', () => {
    const box = new SecretBox('operator-chosen-secret-key')
    assert.notEqual(box.seal('same'), box.seal('same'))
  })

  it('refuses a tampered envelope or the wrong key', () => {
    const box = new SecretBox('operator-chosen-secret-key')
    const sealed = box.seal('value')
    const parts = sealed.split('.')
    parts[3] = Buffer.from('tampered').toString('base64url')
    assert.throws(() => box.open(parts.join('.')))
    assert.throws(() => new SecretBox('another-key-entirely').open(sealed))
  })
})

describe('findSecretLikeKeys', () => {
  it('finds credential-like keys at any depth', () => {
    assert.deepEqual(
      findSecretLikeKeys({ notes: 'fine', booking: { apiKey: 'x', systemName: 'OMS' }, list: [{ password: 'p' }], private_key: 'k', accessToken: 't' }),
      ['booking.apiKey', 'list[0].password', 'private_key', 'accessToken'],
    )
  })

  it('accepts ordinary setup metadata', () => {
    assert.deepEqual(findSecretLikeKeys({ availsSource: { type: 'spreadsheet', cadence: 'monthly' }, reporting: { sampleAvailable: true } }), [])
  })
})
