import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isLegalCreativeTransition as sdkIsLegal } from '@adcp/sdk/server'
import { CREATIVE_STATUSES, isLegalCreativeTransition, statusAfterSync } from '../../src/modules/creatives/index.ts'

describe('creative statuses', () => {
  it('follow the SDK\'s AdCP creative graph, edge for edge', () => {
    for (const from of CREATIVE_STATUSES) {
      for (const to of CREATIVE_STATUSES) {
        assert.equal(isLegalCreativeTransition(from, to), sdkIsLegal(from, to), `${from} -> ${to}`)
      }
    }
  })

  it('a reviewed creative is approved when created, and a re-sent one takes a status its graph allows: approved, or back to review after a rejection', () => {
    assert.equal(statusAfterSync(null, true), 'approved')
    assert.equal(statusAfterSync('approved', true), 'approved')
    assert.equal(statusAfterSync('archived', true), 'approved')
    assert.equal(statusAfterSync('pending_review', true), 'approved')
    assert.equal(statusAfterSync('rejected', true), 'pending_review')
    assert.equal(statusAfterSync('processing', true), 'pending_review')
  })

  it('a creative the storefront could not review waits in pending_review, where its graph allows it', () => {
    assert.equal(statusAfterSync(null, false), 'pending_review')
    assert.equal(statusAfterSync('rejected', false), 'pending_review')
    assert.equal(statusAfterSync('processing', false), 'pending_review')
    assert.equal(statusAfterSync('approved', false), 'approved')
  })

  it('never takes a step the SDK calls illegal', () => {
    for (const reviewed of [true, false]) {
      for (const from of CREATIVE_STATUSES) {
        const to = statusAfterSync(from, reviewed)
        assert.ok(to === from || sdkIsLegal(from, to), `${from} -> ${to} (reviewed: ${reviewed})`)
      }
    }
  })
})
