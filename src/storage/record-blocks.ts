import { createHash } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { peerIdFromString } from '@libp2p/peer-id'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { AppError } from '../errors.ts'
import { cidFromDigest, readBlockVerified, type BlockGetter } from './read-verified.ts'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { Blocks } from 'helia'
import type { CID } from 'multiformats/cid'

/**
 * A record's blocks in one round trip between member nodes, over the libp2p connections the
 * consortium already keeps (Noise-authenticated peer ids; the connection gater admits only the
 * configured peers and the admitted members' nodes, as for bitswap).
 *
 * Request (reader → holder), then the reader closes its side: the 32-byte sha2-256 digest of a
 * record's dag-pb root, followed by up to 7 digests of raw blocks (its envelopes block).
 * Answer (holder → reader): each raw block named, in order, then every block of the DAG in
 * depth-first pre-order (a node, then the blocks under each of its links in link order), each as
 * a 4-byte big-endian length and the block's bytes. A holder that lacks a block, or whose copy no
 * longer hashes to its CID, stops there and closes: the reader then asks someone else.
 *
 * The reader knows the CID each frame must hash to before it arrives (the requested digests,
 * then the links of nodes it has already checked), so a block is checked before it is kept and
 * nothing a peer sends is trusted. The holder serves only blocks it holds (never fetched for the
 * asker) and only ciphertext and DAG nodes: what any connected peer can already ask by CID over
 * bitswap.
 */
export const RECORD_BLOCKS_PROTOCOL = '/medledger/record-blocks/1.0.0'

const DIGEST_LENGTH = 32
const MAX_RAW = 7
/** The largest block either side accepts: a 1 MiB leaf, a 1 MiB raw block, a root of 1024 links. */
export const MAX_FRAME_BYTES = 2 * 1024 * 1024
/** Blocks written to the store at once while more arrive (their fdatasyncs are shared). */
const PUT_CONCURRENCY = 8

export interface ServeRecordBlocksOptions {
  /** A stream with nothing sent or received for this long is dropped (default 10 s). */
  idleMs?: number
}

/**
 * Answers RECORD_BLOCKS_PROTOCOL requests from connected peers with blocks of `store` (read only
 * from it: nothing is fetched for the asker), each hashed against its CID before it is sent.
 */
export async function serveRecordBlocks(libp2p: Pick<Libp2p, 'handle'>, store: BlockGetter, { idleMs = 10_000 }: ServeRecordBlocksOptions = {}): Promise<void> {
  await libp2p.handle(RECORD_BLOCKS_PROTOCOL, (stream) => {
    const idle = watchIdle(stream, idleMs)
    serve(stream, store, idle)
      .catch((err: unknown) => stream.abort(err instanceof Error ? err : new Error(String(err))))
      .finally(() => idle.stop())
  }, { maxInboundStreams: 16 })
}

async function serve(stream: Stream, store: BlockGetter, idle: IdleWatch): Promise<void> {
  const request = await readRequest(stream, idle)
  const [root, ...raws] = request
  const send = async (bytes: Uint8Array): Promise<void> => {
    const header = Buffer.alloc(4)
    header.writeUInt32BE(bytes.byteLength)
    stream.send(header)
    if (!stream.send(bytes)) await stream.onDrain()
    idle.touch()
  }
  const read = async (cid: CID): Promise<Uint8Array | undefined> =>
    readBlockVerified(store, cid).then((r) => r.bytes, () => undefined)
  for (const cid of raws) {
    const bytes = await read(cid)
    if (bytes === undefined) return void await stream.close()
    await send(bytes)
  }
  // Depth-first pre-order: the stack holds the blocks still to send, the next on top.
  const stack: CID[] = [root]
  while (stack.length > 0) {
    const cid = stack.pop()!
    const bytes = await read(cid)
    if (bytes === undefined) break
    await send(bytes)
    if (cid.code === dagPb.code) {
      const links = dagPb.decode(bytes).Links
      for (let i = links.length - 1; i >= 0; i--) stack.push(links[i]!.Hash)
    }
  }
  await stream.close()
}

/** The request's CIDs: the root (dag-pb), then the raw blocks. Throws on a malformed request. */
async function readRequest(stream: Stream, idle: IdleWatch): Promise<CID[]> {
  const max = DIGEST_LENGTH * (1 + MAX_RAW)
  const chunks: Uint8Array[] = []
  let length = 0
  for await (const chunk of stream) {
    idle.touch()
    const bytes = chunk.subarray()
    length += bytes.byteLength
    if (length > max) throw new Error(`request of more than ${max} bytes`)
    chunks.push(bytes)
  }
  if (length === 0 || length % DIGEST_LENGTH !== 0) throw new Error(`request of ${length} bytes, not 32 × (1 to ${1 + MAX_RAW})`)
  const all = Buffer.concat(chunks, length)
  return Array.from({ length: length / DIGEST_LENGTH }, (_, i) =>
    cidFromDigest(all.subarray(i * DIGEST_LENGTH, (i + 1) * DIGEST_LENGTH), i === 0 ? 'dag' : 'raw'))
}

export interface FetchRecordBlocksParams {
  /** The peer to ask (its libp2p peer id). */
  peer: string
  /** The record's DAG root (CIDv1 dag-pb sha2-256): the whole DAG under it is fetched. */
  root: CID
  /** Raw blocks fetched with it (CIDv1 raw sha2-256; at most 7): the envelopes block. */
  raws?: readonly CID[]
  signal?: AbortSignal
  /** Nothing received for this long ends the attempt with RECORD_UNAVAILABLE (default 10 s). */
  idleMs?: number
  /**
   * A record whose root declares more bytes than this ends the attempt with RECORD_UNAVAILABLE
   * once its root arrived (default 32 MiB), as does an answer longer than that allows: what
   * arrives is held in memory until it is written, so large records are left to bitswap.
   */
  maxFileBytes?: number
}

/**
 * Asks `peer` for a record's blocks over RECORD_BLOCKS_PROTOCOL, in one round trip, and writes
 * each to `store` once it hashed to the CID it must have. The DAG's inner nodes (the root
 * last) are written only after every leaf is, so a store holding the root holds the whole DAG.
 * Resolves with the number of blocks written.
 *
 * @throws AppError RECORD_INTEGRITY when the peer sent a block that does not hash to its CID, a
 *   frame larger than MAX_FRAME_BYTES or more than was asked, or a DAG node that does not decode
 *   or links to a CID other than v1 sha2-256 dag-pb or raw: nothing of it is written.
 * @throws AppError RECORD_UNAVAILABLE when the peer does not speak the protocol, lacks a block,
 *   or stops answering.
 */
export async function fetchRecordBlocks(libp2p: Pick<Libp2p, 'dialProtocol'>, store: Pick<Blocks, 'put'>, { peer, root, raws = [], signal, idleMs = 10_000, maxFileBytes = 32 * 1024 * 1024 }: FetchRecordBlocksParams): Promise<number> {
  if (root.code !== dagPb.code || raws.length > MAX_RAW || raws.some((c) => c.code !== raw.code)) {
    throw new AppError('INVALID_CID', { details: `a dag-pb root and at most ${MAX_RAW} raw blocks` })
  }
  let stream: Stream
  try {
    const dialSignal = AbortSignal.timeout(idleMs)
    stream = await libp2p.dialProtocol(peerIdFromString(peer), RECORD_BLOCKS_PROTOCOL, { signal: signal === undefined ? dialSignal : AbortSignal.any([signal, dialSignal]) })
    stream.send(Buffer.concat([root, ...raws].map((c) => c.multihash.digest)))
    await stream.close({ signal })
  } catch (err) {
    if (signal?.aborted === true) throw signal.reason
    throw new AppError('RECORD_UNAVAILABLE', { details: `peer ${peer} did not take a ${RECORD_BLOCKS_PROTOCOL} request`, cause: err })
  }
  const expected: CID[] = [...raws, root]
  const inner: { cid: CID; bytes: Uint8Array }[] = []
  const puts = new Set<Promise<unknown>>()
  const put = async (cid: CID, bytes: Uint8Array) => {
    while (puts.size >= PUT_CONCURRENCY) await Promise.race(puts)
    const p: Promise<unknown> = Promise.resolve(store.put(cid, bytes, { signal })).finally(() => puts.delete(p))
    puts.add(p)
  }
  let written = 0
  const idle = watchIdle(stream, idleMs)
  // An abort (the caller's, or another peer's answer that won) ends the attempt now, not when the peer next sends.
  const onAbort = (): void => { stream.abort(new Error('the fetch was aborted')) }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const bytes of frames(stream, peer, maxFileBytes + (MAX_RAW + 1) * MAX_FRAME_BYTES, idle)) {
      const cid = expected.shift()
      if (cid === undefined) throw refused(peer, 'more blocks than asked')
      if (!createHash('sha256').update(bytes).digest().equals(cid.multihash.digest)) throw refused(peer, `a block that does not hash to ${cid}`)
      if (cid === root && declaredSize(bytes) > maxFileBytes) {
        const err = new AppError('RECORD_UNAVAILABLE', { details: `record ${root} holds more than ${maxFileBytes} bytes: left to bitswap` })
        tooLarge.add(err)
        throw err
      }
      if (cid.code === dagPb.code) {
        expected.unshift(...childrenOf(cid, bytes, peer))
        inner.push({ cid, bytes })
      } else {
        await put(cid, bytes)
        written++
      }
    }
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    await Promise.allSettled(puts)
    if (signal?.aborted === true) throw signal.reason
    if (err instanceof AppError) throw err
    throw new AppError('RECORD_UNAVAILABLE', { details: `peer ${peer} stopped answering`, cause: err })
  } finally {
    idle.stop()
    signal?.removeEventListener('abort', onAbort)
  }
  await Promise.all(puts)
  if (signal?.aborted === true) throw signal.reason
  if (expected.length > 0) throw new AppError('RECORD_UNAVAILABLE', { details: `peer ${peer} sent ${written + inner.length} blocks and lacks ${expected[0]}` })
  for (const { cid, bytes } of inner.reverse()) await store.put(cid, bytes, { signal })
  return written + inner.length
}

const tooLarge = new WeakSet<Error>()

/** Whether `fetchRecordBlocks` failed because the record is over `maxFileBytes` (no other peer would do better). */
export function isTooLargeForOneRound(err: unknown): boolean {
  return err instanceof Error && tooLarge.has(err)
}

/** The file size a UnixFS root declares (0 when it declares none: the read's checks meet that). */
function declaredSize(bytes: Uint8Array): bigint {
  try {
    const data = dagPb.decode(bytes).Data
    return data === undefined ? 0n : UnixFS.unmarshal(data).fileSize()
  } catch {
    return 0n
  }
}

/** The links of a DAG node that hashed to its CID: each must be a CIDv1 sha2-256 dag-pb or raw. */
function childrenOf(cid: CID, bytes: Uint8Array, peer: string): CID[] {
  let links: dagPb.PBLink[]
  try {
    links = dagPb.decode(bytes).Links
  } catch (err) {
    throw refused(peer, `node ${cid} that is not dag-pb: ${(err as Error).message}`)
  }
  return links.map(({ Hash: c }) => {
    const ok = c.version === 1 && (c.code === dagPb.code || c.code === raw.code) &&
      c.multihash.code === sha256.code && c.multihash.digest.byteLength === DIGEST_LENGTH
    if (!ok) throw refused(peer, `node ${cid} linking to ${c}, not a CIDv1 sha2-256 dag-pb or raw`)
    return c
  })
}

/** The frames of the holder's answer as they complete; ends when the holder closes. */
async function * frames(stream: Stream, peer: string, maxBytes: number, idle: IdleWatch): AsyncGenerator<Uint8Array> {
  let chunks: Uint8Array[] = []
  let buffered = 0
  let total = 0
  let need = 4
  let header = true
  for await (const chunk of stream) {
    idle.touch()
    const bytes = chunk.subarray()
    total += bytes.byteLength
    if (total > maxBytes) throw new AppError('RECORD_UNAVAILABLE', { details: `peer ${peer} sent more than ${maxBytes} bytes` })
    chunks.push(bytes)
    buffered += bytes.byteLength
    while (buffered >= need) {
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered)
      const part = all.subarray(0, need)
      chunks = buffered > need ? [all.subarray(need)] : []
      buffered -= need
      if (header) {
        need = new DataView(part.buffer, part.byteOffset, 4).getUint32(0)
        if (need > MAX_FRAME_BYTES) throw refused(peer, `a frame of ${need} bytes`)
        header = false
      } else {
        yield part
        need = 4
        header = true
      }
    }
  }
  if (buffered > 0 || !header) throw new AppError('RECORD_UNAVAILABLE', { details: `peer ${peer} stopped in the middle of a block` })
}

interface IdleWatch { touch(): void; stop(): void }

/** Aborts `stream` once `touch` has not been called for `ms` (libp2p does not time out a quiet stream). */
function watchIdle(stream: Stream, ms: number): IdleWatch {
  const timer = setTimeout(() => stream.abort(new Error(`nothing sent or received for ${ms} ms`)), ms)
  timer.unref()
  return { touch: () => { timer.refresh() }, stop: () => { clearTimeout(timer) } }
}

function refused(peer: string, what: string): AppError {
  return new AppError('RECORD_INTEGRITY', { details: `peer ${peer} sent ${what}` })
}
