import { test } from 'node:test'
import assert from 'node:assert/strict'
import { boundedMemo } from './bounded-memo.ts'

test('boundedMemo computes a key once, and forgets the oldest key past its limit', () => {
  const computed: string[] = []
  const upper = boundedMemo(2, (key) => { computed.push(key); return key.toUpperCase() })
  assert.deepEqual([upper('a'), upper('b'), upper('a')], ['A', 'B', 'A'])
  assert.deepEqual(computed, ['a', 'b'], 'a remembered key is not computed again')
  assert.equal(upper('c'), 'C')
  assert.equal(upper('b'), 'B')
  assert.equal(upper('a'), 'A')
  assert.deepEqual(computed, ['a', 'b', 'c', 'a'], 'the third key forgot the oldest (a), not b')
})
