import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ManualClock } from '../../src/shared/clock.ts'
import { createSingleFlightCache } from '../../src/shared/single-flight-cache.ts'

function deferred<T>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('single-flight cache', () => {
  it('makes one load for a burst of concurrent reads and shares its value', async () => {
    const cache = createSingleFlightCache<string, number>({ ttlMs: 5000, clock: new ManualClock() })
    const gate = deferred<number>()
    let loads = 0
    const reads = Array.from({ length: 100 }, () => cache.get('a', () => {
      loads++
      return gate.promise
    }))
    gate.resolve(42)
    assert.deepEqual(new Set(await Promise.all(reads)), new Set([42]))
    assert.equal(loads, 1)
  })

  it('says a key is loading only while its load is under way', async () => {
    const cache = createSingleFlightCache<string, number>({ ttlMs: 5000, clock: new ManualClock() })
    const gate = deferred<number>()
    assert.equal(cache.loading('a'), false)
    const read = cache.get('a', () => gate.promise)
    assert.equal(cache.loading('a'), true)
    assert.equal(cache.loading('b'), false)
    gate.resolve(1)
    await read
    assert.equal(cache.loading('a'), false)
  })

  it('keeps a value for the TTL from when its load settled, by the injected clock', async () => {
    const clock = new ManualClock()
    const cache = createSingleFlightCache<string, number>({ ttlMs: 5000, clock })
    let loads = 0
    const load = async () => ++loads
    assert.equal(await cache.get('a', load), 1)
    clock.advance(4999)
    assert.equal(await cache.get('a', load), 1)
    clock.advance(1)
    assert.equal(await cache.get('a', load), 2)
  })

  it('keeps no failure: the reads that joined it fail, the next read loads again', async () => {
    const cache = createSingleFlightCache<string, number>({ ttlMs: 5000, clock: new ManualClock() })
    const gate = deferred<number>()
    const joined = [cache.get('a', () => gate.promise), cache.get('a', () => Promise.resolve(0))]
    gate.reject(new Error('upstream down'))
    for (const read of joined) await assert.rejects(read, /upstream down/)
    assert.equal(await cache.get('a', async () => 7), 7)
  })

  it('cleans up a load that throws before its first await', async () => {
    const cache = createSingleFlightCache<string, number>({ ttlMs: 5000, clock: new ManualClock() })
    await assert.rejects(cache.get('a', () => {
      throw new Error('at once')
    }), /at once/)
    assert.equal(await cache.get('a', async () => 3), 3)
  })

  it('drop forgets a value, and a load under way at the drop is not kept', async () => {
    const cache = createSingleFlightCache<string, number>({ ttlMs: 5000, clock: new ManualClock() })
    assert.equal(await cache.get('a', async () => 1), 1)
    assert.equal(cache.drop('a'), true)
    assert.equal(cache.drop('a'), false)
    const gate = deferred<number>()
    const inFlight = cache.get('a', () => gate.promise)
    cache.drop('a')
    gate.resolve(2)
    assert.equal(await inFlight, 2)
    assert.equal(await cache.get('a', async () => 3), 3)
  })

  it('keeps keys apart', async () => {
    const cache = createSingleFlightCache<number, string>({ ttlMs: 5000, clock: new ManualClock() })
    assert.equal(await cache.get(1, async () => 'one'), 'one')
    assert.equal(await cache.get(2, async () => 'two'), 'two')
    assert.equal(await cache.get(1, async () => 'other'), 'one')
  })
})
