import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rankNodes, replicaNodes } from './placement.ts'

const nodes = ['peerA', 'peerB', 'peerC', 'peerD', 'peerE']
const ids = Array.from({ length: 2000 }, (_, i) => `0x${i.toString(16).padStart(64, '0')}`)

test('every node computes the same replicas, whatever order it lists the members in', () => {
  for (const id of ids.slice(0, 50)) {
    assert.deepEqual(replicaNodes(id, 'peerA', nodes, 2), replicaNodes(id, 'peerA', [...nodes].reverse(), 2))
  }
})

test('the home node is never its own replica, and R is capped by the members', () => {
  for (const id of ids.slice(0, 50)) {
    const r = replicaNodes(id, 'peerC', nodes, 2)
    assert.equal(r.length, 2)
    assert.ok(!r.includes('peerC'))
    assert.equal(new Set(r).size, 2)
  }
  assert.deepEqual(replicaNodes(ids[0], 'peerA', ['peerA', 'peerB'], 3), ['peerB'])
  assert.deepEqual(replicaNodes(ids[0], 'peerA', ['peerA'], 1), [])
})

test('load spreads evenly: each of 4 other nodes holds about a quarter of the replicas', () => {
  const counts = new Map<string, number>()
  for (const id of ids) for (const n of replicaNodes(id, 'peerA', nodes, 1)) counts.set(n, (counts.get(n) ?? 0) + 1)
  assert.equal(counts.size, 4)
  for (const [, n] of counts) assert.ok(n > 400 && n < 600, `a node holds ${n} of 2000`)
})

test('a member leaving moves only the records it held', () => {
  let moved = 0
  for (const id of ids) {
    const before = rankNodes(id, nodes)[0]
    const after = rankNodes(id, nodes.filter((n) => n !== 'peerE'))[0]
    if (before !== after) {
      assert.equal(before, 'peerE')
      moved++
    }
  }
  assert.ok(moved > 0)
})
