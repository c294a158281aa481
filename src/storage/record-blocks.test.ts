import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, test } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { isAppError } from '../errors.ts'
import { addCiphertext } from './add-ciphertext.ts'
import { openIpfs, type Ipfs } from './open-ipfs.ts'
import { putRawBlock } from './raw-block.ts'
import { verifyDag } from './read-verified.ts'
import { fetchRecordBlocks, isTooLargeForOneRound, RECORD_BLOCKS_PROTOCOL, serveRecordBlocks } from './record-blocks.ts'
import type { Libp2p } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

// Real Helia nodes peered over libp2p on loopback, each on its own temp dir.

const MiB = 1_048_576
const dirs: string[] = []
const open: Ipfs[] = []
type Node = Ipfs & { network: NonNullable<Ipfs['network']>; libp2p: Libp2p }

async function startNode(peers: string[] = []): Promise<Node> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-record-blocks-'))
  dirs.push(dir)
  const ipfs = await openIpfs({ dir, network: { listen: ['/ip4/127.0.0.1/tcp/0'], peers, fetchTimeoutMs: 1_500 } })
  open.push(ipfs)
  return Object.assign(ipfs, { libp2p: (ipfs.helia as unknown as { libp2p: Libp2p }).libp2p }) as Node
}

/** `b` dialling each of `holders` (configured peers of b's; each admits b as a member). */
async function peered(...holders: Node[]): Promise<Node> {
  const b = await startNode(holders.flatMap((a) => a.network.addrs()))
  for (const a of holders) a.network.setMembers(b.network.addrs())
  const linked = () => holders.every((a) => b.network.peers().includes(a.network.peerId) && a.network.peers().includes(b.network.peerId))
  for (let i = 0; i < 500 && !linked(); i++) await new Promise((r) => setTimeout(r, 10))
  assert.ok(linked(), 'peered')
  return b
}

/** A record as an upload leaves it: a DAG of 1 MiB + 33 bytes of ciphertext (two leaves) and an envelopes block. */
async function storeRecord(on: Ipfs): Promise<{ root: CID; envelopes: CID; ciphertext: Buffer; envelopeBytes: Buffer; leaves: CID[] }> {
  const ciphertext = randomBytes(MiB + 33)
  const envelopeBytes = randomBytes(1500)
  const { cid: root } = await addCiphertext(on, [ciphertext])
  const envelopes = await putRawBlock(on, envelopeBytes)
  const { leaves } = await verifyDag(on.blockstore, root)
  return { root, envelopes, ciphertext, envelopeBytes, leaves }
}

async function offline(ipfs: Ipfs, cid: CID): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of ipfs.helia.blockstore.get(cid, { offline: true })) chunks.push(chunk)
  return Buffer.concat(chunks)
}

afterEach(async () => { await Promise.all(open.splice(0).map(async (ipfs) => ipfs.stop())) })
after(async () => { await Promise.all(dirs.map(async (dir) => fs.rm(dir, { recursive: true, force: true }))) })

test('a record\'s DAG and envelopes block come from one peer in one round, each block checked; then they read offline', async () => {
  const a = await startNode()
  const b = await peered(a)
  const r = await storeRecord(a)
  assert.equal(await b.helia.blockstore.has(r.root), false)

  assert.equal(await b.prefetch(r.root, { raws: [r.envelopes] }), 'direct')
  assert.ok((await offline(b, r.envelopes)).equals(r.envelopeBytes))
  assert.ok(Buffer.concat(await Promise.all(r.leaves.map(async (l) => offline(b, l)))).equals(r.ciphertext))
  assert.equal((await verifyDag(b.blockstore, r.root)).size, r.ciphertext.length)
  assert.equal(await b.prefetch(r.root, { raws: [r.envelopes] }), 'held')
  assert.deepEqual(b.prefetchStats(), { direct: 1, bitswap: 0, refused: 0 })

  // The holder serves only what it holds, never fetching for the asker: B asks A for a record
  // only B now has (A is connected to B and could fetch it over bitswap).
  const onlyB = await storeRecord(b)
  const asked = fetchRecordBlocks(b.libp2p, b.helia.blockstore, { peer: a.network.peerId, root: onlyB.root, raws: [onlyB.envelopes] })
  await assert.rejects(asked, (err: unknown) => isAppError(err, 'RECORD_UNAVAILABLE'))
  assert.equal(await a.helia.blockstore.has(onlyB.root), false)
  assert.equal(await a.helia.blockstore.has(onlyB.envelopes), false)
})

test('a peer that sends a tampered block is refused with RECORD_INTEGRITY, nothing of the DAG is kept, and it is quarantined', async () => {
  const hostile = await startNode()
  const b = await peered(hostile)
  const r = await storeRecord(hostile)
  // The hostile node answers the protocol with the right envelopes and root, then the first leaf
  // with one byte flipped.
  await hostile.libp2p.unhandle(RECORD_BLOCKS_PROTOCOL)
  await hostile.libp2p.handle(RECORD_BLOCKS_PROTOCOL, async (stream) => {
    for await (const _ of stream) { /* the request */ }
    const blocks = [await offline(hostile, r.envelopes), await offline(hostile, r.root), ...await Promise.all(r.leaves.map(async (l) => offline(hostile, l)))]
    blocks[2] = Buffer.from(blocks[2]!)
    blocks[2][100] ^= 1
    for (const block of blocks) {
      const header = Buffer.alloc(4)
      header.writeUInt32BE(block.byteLength)
      stream.send(header)
      if (!stream.send(block)) await stream.onDrain()
    }
    await stream.close()
  })

  const fetched = fetchRecordBlocks(b.libp2p, b.helia.blockstore, { peer: hostile.network.peerId, root: r.root, raws: [r.envelopes] })
  await assert.rejects(fetched, (err: unknown) => isAppError(err, 'RECORD_INTEGRITY') && /does not hash/.test(err.details ?? ''))
  assert.equal(await b.helia.blockstore.has(r.leaves[0]!), false, 'the tampered leaf is not kept')
  assert.equal(await b.helia.blockstore.has(r.root), false, 'no root without its whole DAG')

  // Through prefetch, the peer is also quarantined and disconnected, as for a bad bitswap block;
  // with no other peer, the bitswap fallback finds nothing and the read will answer RECORD_UNAVAILABLE.
  assert.equal(await b.prefetch(r.root, { raws: [r.envelopes] }), 'bitswap')
  assert.equal(b.network.peers().includes(hostile.network.peerId), false)
  assert.deepEqual(b.prefetchStats(), { direct: 0, bitswap: 1, refused: 1 })
  await assert.rejects(b.libp2p.dial(peerIdFromString(hostile.network.peerId)))
  assert.equal(await b.helia.blockstore.has(r.leaves[0]!), false)
})

test('a peer that goes silent is given up; when no peer serves the record directly (here: a node without the protocol), it comes over bitswap', async () => {
  const a = await startNode()
  const b = await peered(a)
  const r = await storeRecord(a)
  await a.libp2p.unhandle(RECORD_BLOCKS_PROTOCOL)
  await a.libp2p.handle(RECORD_BLOCKS_PROTOCOL, () => { /* takes the stream, never answers */ })
  const silent = fetchRecordBlocks(b.libp2p, b.helia.blockstore, { peer: a.network.peerId, root: r.root, raws: [r.envelopes], idleMs: 300 })
  await assert.rejects(silent, (err: unknown) => isAppError(err, 'RECORD_UNAVAILABLE'))
  await a.libp2p.unhandle(RECORD_BLOCKS_PROTOCOL)

  assert.equal(await b.prefetch(r.root, { raws: [r.envelopes] }), 'bitswap')
  assert.ok((await offline(b, r.envelopes)).equals(r.envelopeBytes))
  assert.ok(Buffer.concat(await Promise.all(r.leaves.map(async (l) => offline(b, l)))).equals(r.ciphertext))
  // With the protocol served again, a record over maxFileBytes is given up once its root arrived
  // (prefetch then asks no other peer and goes to bitswap).
  await serveRecordBlocks(a.libp2p, a.helia.blockstore)
  const large = fetchRecordBlocks(b.libp2p, b.helia.blockstore, { peer: a.network.peerId, root: r.root, raws: [r.envelopes], maxFileBytes: MiB })
  await assert.rejects(large, (err: unknown) => isAppError(err, 'RECORD_UNAVAILABLE') && isTooLargeForOneRound(err))
  // A large record goes to bitswap without asking directly.
  const big = await storeRecord(a)
  assert.equal(await b.prefetch(big.root, { raws: [big.envelopes], direct: false }), 'bitswap')
  assert.ok(Buffer.concat(await Promise.all(big.leaves.map(async (l) => offline(b, l)))).equals(big.ciphertext))
})

test('the peers are asked at once: a silent one does not hold up the read, and its request is aborted once another peer served the record', async () => {
  const good = await startNode()
  const silent = await startNode()
  // The silent node takes the request and never answers; it notes whether the reader held the
  // record when the stream ended.
  let wasAsked!: () => void
  let hadLeft!: (held: Promise<boolean>) => void
  const asked = new Promise<void>((resolve) => { wasAsked = resolve })
  const left = new Promise<boolean>((resolve) => { hadLeft = resolve })
  await silent.libp2p.unhandle(RECORD_BLOCKS_PROTOCOL)
  await silent.libp2p.handle(RECORD_BLOCKS_PROTOCOL, async (stream) => {
    stream.addEventListener('close', () => { hadLeft(Promise.resolve(b.helia.blockstore.has(r.root))) }, { once: true })
    for await (const _ of stream) { /* the request */ }
    wasAsked()
  })
  // The good node serves as usual, once the silent one has been asked: asked one after the other,
  // the reader would leave the silent peer (after its 10 s idle wait) before it held the record,
  // or wait on the good peer and never ask the silent one.
  await good.libp2p.unhandle(RECORD_BLOCKS_PROTOCOL)
  await serveRecordBlocks({
    handle: async (protocol, handler, options) => good.libp2p.handle(protocol, async (stream, connection) => { await asked; await handler(stream, connection) }, options),
  }, good.helia.blockstore)
  const b = await peered(silent, good)
  const r = await storeRecord(good)

  assert.equal(await b.prefetch(r.root, { raws: [r.envelopes] }), 'direct')
  const toSilent = b.libp2p.getConnections(peerIdFromString(silent.network.peerId)).flatMap((c) => c.streams)
  const waiting = toSilent.filter((st) => st.protocol === RECORD_BLOCKS_PROTOCOL && (st.status === 'open' || st.status === 'closing'))
  assert.deepEqual(waiting.map((st) => st.status), [], 'no request left waiting on the silent peer')
  assert.equal(await left, true, 'the silent peer\'s request ended once the record was held, not before')
  assert.ok((await offline(b, r.envelopes)).equals(r.envelopeBytes))
  assert.ok(Buffer.concat(await Promise.all(r.leaves.map(async (l) => offline(b, l)))).equals(r.ciphertext))
  assert.deepEqual(b.prefetchStats(), { direct: 1, bitswap: 0, refused: 0 })
  assert.equal(b.network.peers().includes(silent.network.peerId), true, 'a silent peer is not quarantined')
})
