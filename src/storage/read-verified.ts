import { createHash } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { AppError } from '../errors.ts'
import type { Blocks } from 'helia'
import type { BlockCache } from './block-cache.ts'

/** What reading needs from a block store: Helia's, a bare FsBlockstore, or a later session. */
export type BlockGetter = Pick<Blocks, 'get'>

export interface ReadOptions {
  signal?: AbortSignal
  /**
   * Verified blocks to serve from before the store, and to keep each block in once it hashed to
   * its CID. Leave it out where the point is to re-read the disk (verify, backup).
   */
  cache?: BlockCache
}

export interface VerifyDagResult {
  /** The raw leaves, in file order: their concatenation is the stored ciphertext. */
  leaves: CID[]
  /** Bytes of the stored ciphertext. */
  size: number
}

export type CidKind = 'dag' | 'raw'

const DIGEST_LENGTH = 32
// A balanced DAG of 1 MiB leaves with 1024 links per node is 3 levels deep at 1 TiB.
const MAX_DEPTH = 8
// Blocks read at once while verifying: enough to overlap disk reads with hashing.
const VERIFY_CONCURRENCY = 4

/**
 * The CID named by a 32-byte sha2-256 digest: CIDv1 dag-pb for a record root (`'dag'`),
 * CIDv1 raw for a single-block object (`'raw'`).
 *
 * @throws AppError INVALID_CID when `digest` is not 32 bytes.
 */
export function cidFromDigest(digest: Uint8Array, kind: CidKind): CID {
  if (!(digest instanceof Uint8Array) || digest.byteLength !== DIGEST_LENGTH) {
    throw new AppError('INVALID_CID', { details: `digest must be ${DIGEST_LENGTH} bytes, got ${describeValue(digest)}` })
  }
  return CID.createV1(kind === 'dag' ? dagPb.code : raw.code, createDigest(sha256.code, digest.slice()))
}

/**
 * The 32-byte sha2-256 digest a CID is named by (a copy): what goes on chain.
 *
 * @throws AppError INVALID_CID when `cid` is not CIDv1 dag-pb or raw with a 32-byte sha2-256 digest.
 */
export function digestFromCid(cid: CID): Uint8Array {
  assertCid(cid, [dagPb.code, raw.code])
  return cid.multihash.digest.slice()
}

/**
 * Walks the UnixFS file DAG under `cid`, hashing every block it reads against the CID that names
 * it, and checks the file structure (sizes, link types, no inline data). One pass; leaves are
 * hashed but not kept.
 *
 * @throws AppError RECORD_INTEGRITY when a block does not hash to its CID or the DAG is not a
 *   well-formed UnixFS file of raw leaves.
 * @throws AppError RECORD_UNAVAILABLE when a block cannot be read from the store.
 * @throws AppError INVALID_CID when `cid` is not a CIDv1 dag-pb sha2-256 root.
 */
export async function verifyDag(blockstore: BlockGetter, cid: CID, { signal, cache }: ReadOptions = {}): Promise<VerifyDagResult> {
  assertCid(cid, [dagPb.code])
  signal?.throwIfAborted()
  // Stops sibling reads as soon as one fails.
  const failed = new AbortController()
  const walkSignal = signal === undefined ? failed.signal : AbortSignal.any([signal, failed.signal])
  const limit = limiter(VERIFY_CONCURRENCY)

  const visitFile = async (node: CID, expectedSize: bigint | undefined, depth: number): Promise<CID[]> => {
    const bytes = await limit(async () => (await readBlockVerified(blockstore, node, { signal: walkSignal, cache })).bytes)
    const { file, links } = decodeFileNode(node, bytes)
    if (expectedSize !== undefined && file.fileSize() !== expectedSize) {
      throw integrity(`node ${node} holds ${file.fileSize()} bytes, its parent says ${expectedSize}`)
    }
    if (depth === 0) rootSize = file.fileSize()
    if (links.length > 0 && depth >= MAX_DEPTH) throw integrity(`DAG deeper than ${MAX_DEPTH} under ${cid}`)
    const children = await Promise.all(links.map(async ({ Hash: child }, i) => {
      const size = file.blockSizes[i]
      if (child.code === raw.code) {
        const { length } = await limit(async () => readBlockVerified(blockstore, child, { signal: walkSignal, keep: false, cache }))
        if (BigInt(length) !== size) throw integrity(`leaf ${child} is ${length} bytes, its parent says ${size}`)
        return [child]
      }
      return visitFile(child, size, depth + 1)
    }))
    return children.flat()
  }

  let rootSize = 0n
  try {
    const leaves = await visitFile(cid, undefined, 0)
    return { leaves, size: Number(rootSize) }
  } catch (err) {
    failed.abort()
    if (signal?.aborted === true) throw signal.reason
    throw err
  }
}

/**
 * Yields the bytes of each leaf, in order, each only after it hashed to its CID (the blocks were
 * verified by `verifyDag`; this re-checks them in case one changed between the two passes).
 * Reads one leaf ahead.
 *
 * @throws AppError RECORD_INTEGRITY when a leaf does not hash to its CID.
 * @throws AppError RECORD_UNAVAILABLE when a leaf cannot be read.
 * @throws AppError INVALID_CID when a leaf is not a CIDv1 raw sha2-256.
 */
export async function * readLeaves(blockstore: BlockGetter, leaves: readonly CID[], { signal, cache }: ReadOptions = {}): AsyncGenerator<Uint8Array> {
  for (const leaf of leaves) assertCid(leaf, [raw.code])
  const stop = new AbortController()
  const readSignal = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal])
  const read = (i: number): Promise<Uint8Array> => {
    const p = readBlockVerified(blockstore, leaves[i], { signal: readSignal, cache }).then(r => r.bytes)
    p.catch(() => {}) // awaited below in order; avoids an unhandled rejection if we stop first
    return p
  }
  let next = leaves.length > 0 ? read(0) : undefined
  try {
    for (let i = 0; i < leaves.length; i++) {
      const current = next as Promise<Uint8Array>
      next = i + 1 < leaves.length ? read(i + 1) : undefined
      let bytes: Uint8Array
      try {
        bytes = await current
      } catch (err) {
        if (signal?.aborted === true) throw signal.reason
        throw err
      }
      yield bytes
    }
  } finally {
    stop.abort()
  }
}

export interface ReadBlockVerifiedOptions extends ReadOptions {
  /** Keep and return the bytes (default) or only hash and count them. */
  keep?: boolean
}

export interface ReadBlockVerifiedResult {
  /** The block (empty when `keep` is false). */
  bytes: Uint8Array
  length: number
}

/**
 * Reads one block and checks that it hashes to the sha2-256 digest of `cid`. With a `cache`, a
 * block held there (it hashed to its CID when it went in) is served without reading the store,
 * and a block read from the store goes into the cache only after it hashed to its CID.
 *
 * @throws AppError RECORD_INTEGRITY on a hash mismatch.
 * @throws AppError RECORD_UNAVAILABLE when the block cannot be read.
 * @throws AppError INVALID_CID when `cid` is not CIDv1 dag-pb or raw with a sha2-256 digest.
 */
export async function readBlockVerified(blockstore: BlockGetter, cid: CID, { signal, keep = true, cache }: ReadBlockVerifiedOptions = {}): Promise<ReadBlockVerifiedResult> {
  assertCid(cid, [dagPb.code, raw.code])
  signal?.throwIfAborted()
  const cached = cache?.get(cid)
  if (cached !== undefined) return { bytes: keep ? cached : new Uint8Array(0), length: cached.byteLength }
  const collect = keep || cache?.enabled === true
  const hash = createHash('sha256')
  const chunks: Uint8Array[] = []
  let length = 0
  try {
    for await (const chunk of blockstore.get(cid, { signal })) {
      hash.update(chunk)
      length += chunk.byteLength
      if (collect) chunks.push(chunk)
    }
  } catch (err) {
    if (signal?.aborted === true) throw signal.reason
    throw new AppError('RECORD_UNAVAILABLE', { details: `block ${cid} could not be read`, cause: err })
  }
  const actual = hash.digest()
  if (!actual.equals(cid.multihash.digest)) {
    throw integrity(`block ${cid} hashes to sha2-256 ${actual.toString('hex')}`)
  }
  const bytes = !collect ? new Uint8Array(0) : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length)
  if (cache !== undefined) cache.put(cid, bytes)
  return { bytes: keep ? bytes : new Uint8Array(0), length }
}

function decodeFileNode(cid: CID, bytes: Uint8Array): { file: UnixFS; links: dagPb.PBLink[] } {
  let file: UnixFS
  let links: dagPb.PBLink[]
  try {
    const node = dagPb.decode(bytes)
    if (node.Data === undefined) throw new Error('no Data')
    links = node.Links
    file = UnixFS.unmarshal(node.Data)
  } catch (err) {
    throw integrity(`node ${cid} is not a UnixFS dag-pb node: ${(err as Error).message}`, err)
  }
  if (file.type !== 'file') throw integrity(`node ${cid} is a UnixFS ${file.type}, not a file`)
  if (file.data !== undefined && file.data.byteLength > 0) throw integrity(`node ${cid} carries inline data`)
  if (file.blockSizes.length !== links.length) {
    throw integrity(`node ${cid} has ${links.length} links but ${file.blockSizes.length} block sizes`)
  }
  for (const link of links) {
    if (!isSha256V1(link.Hash, [dagPb.code, raw.code])) throw integrity(`node ${cid} links to ${link.Hash}, not a CIDv1 sha2-256 dag-pb or raw`)
  }
  return { file, links }
}

function isSha256V1(cid: CID, codecs: number[]): boolean {
  return cid.version === 1 && codecs.includes(cid.code) &&
    cid.multihash.code === sha256.code && cid.multihash.digest.byteLength === DIGEST_LENGTH
}

function assertCid(cid: CID, codecs: number[]): void {
  if (CID.asCID(cid) === null || !isSha256V1(cid, codecs)) {
    throw new AppError('INVALID_CID', { details: `expected CIDv1 sha2-256 (${codecs.map(c => `0x${c.toString(16)}`).join(' or ')}), got ${String(cid)}` })
  }
}

function integrity(details: string, cause?: unknown): AppError {
  return new AppError('RECORD_INTEGRITY', { details, cause })
}

function describeValue(value: unknown): string {
  return value instanceof Uint8Array ? `${value.byteLength} bytes` : typeof value
}

/** Runs at most `n` of the given tasks at once; a finished task hands its slot to the next. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0
  const waiting: Array<() => void> = []
  return async (task) => {
    if (active < n) active++
    else await new Promise<void>(resolve => waiting.push(resolve))
    try {
      return await task()
    } finally {
      const next = waiting.shift()
      if (next !== undefined) next()
      else active--
    }
  }
}
