import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isLegalCreativeTransition as sdkIsLegal } from '@adcp/sdk/server'
import { CREATIVE_STATUSES, isLegalCreativeTransition, statusAfterResync } from '../../src/modules/creatives/index.ts'

describe('creative statuses', () => {
  it('follow the SDK\'s AdCP creative graph, edge for edge', () => {
    for (const from of CREATIVE_STATUSES) {
      for (const to of CREATIVE_STATUSES) {
        assert.equal(isLegalCreativeTransition(from, to), sdkIsLegal(from, to), `${from} -> ${to}`)
      }
    }
  })

  it('a re-sent creative takes a status its graph allows: approved, or back to review after a rejection', () => {
    assert.equal(statusAfterResync('approved'), 'approved')
    assert.equal(statusAfterResync('archived'), 'approved')
    assert.equal(statusAfterResync('pending_review'), 'approved')
    assert.equal(statusAfterResync('rejected'), 'pending_review')
    assert.equal(statusAfterResync('processing'), 'pending_review')
    for (const from of CREATIVE_STATUSES) {
      const to = statusAfterResync(from)
      assert.ok(to === from || sdkIsLegal(from, to), `${from} -> ${to}`)
    }
  })
})
