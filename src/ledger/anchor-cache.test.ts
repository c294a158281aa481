import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AnchorCache } from './anchor-cache.ts'

describe('AnchorCache: matches by block, and parties asked once per block', () => {
  it('a batched match holds at its block only, yet is known to have matched once; a lone one holds for good', () => {
    const cache = new AnchorCache({ maxEntries: 10 })
    cache.set('batched', 7n)
    cache.set('lone')
    assert.equal(cache.has('batched', 7n), true)
    assert.equal(cache.has('batched', 8n), false)
    assert.equal(cache.matchedOnce('batched'), true)
    assert.equal(cache.matchedOnce('never'), false)
    assert.equal(cache.has('lone', 9n), true)
    assert.deepEqual([cache.stats().hits, cache.stats().misses], [2, 1])
  })

  it('asks the parties once per key and block, again at the next block, and keeps no failure', async () => {
    const cache = new AnchorCache({ maxEntries: 10 })
    let asked = 0
    const ask = (answer: string) => async () => {
      asked++
      return answer
    }
    const same = await Promise.all([cache.partiesAt('a:p:h', 5n, ask('ok')), cache.partiesAt('a:p:h', 5n, ask('other'))])
    assert.deepEqual(same, ['ok', 'ok'])
    assert.equal(asked, 1)
    assert.equal(await cache.partiesAt('b:p:h', 5n, ask('b')), 'b')
    assert.equal(asked, 2)
    // The next block asks again; the old block's answers are gone.
    assert.equal(await cache.partiesAt('a:p:h', 6n, ask('refused')), 'refused')
    assert.equal(await cache.partiesAt('a:p:h', 5n, ask('asked again')), 'asked again')
    assert.equal(asked, 4)
    await assert.rejects(cache.partiesAt('c:p:h', 5n, async () => { asked++; throw new Error('unreachable chain') }), /unreachable/)
    assert.equal(await cache.partiesAt('c:p:h', 5n, ask('answered')), 'answered')
    assert.equal(asked, 6)
  })

  it('a match evicted as least recently used is not known any more', () => {
    const cache = new AnchorCache({ maxEntries: 2 })
    cache.set('x', 1n)
    cache.set('y', 1n)
    cache.set('z', 1n)
    assert.equal(cache.matchedOnce('x'), false)
    assert.equal(cache.matchedOnce('z'), true)
  })
})
