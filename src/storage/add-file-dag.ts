import { createHash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { setImmediate as nextTurn } from 'node:timers/promises'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import type { HashWorker } from './hash-worker.ts'
import type { Helia } from 'helia'

/** One block of a stored file DAG and the blocks it links to, in link order (none for a leaf). */
export interface FileDagNode {
  cid: CID
  children: FileDagNode[]
}

export interface AddFileDagParams {
  blockstore: Pick<Helia['blockstore'], 'put'>
  /** Bytes per raw leaf; the last leaf holds the rest. */
  leafSize: number
  /** Links per dag-pb node. */
  maxLinks: number
  /** Leaves hashed or being written at once (each holds one leaf's bytes in memory). */
  concurrency: number
  /**
   * Hashes leaves off the main thread, in buffers it leases. A leaf's buffer is released (and
   * reused) once its put resolves: the block store must not keep the bytes it is given (a file
   * store writes them out).
   */
  hasher?: Omit<HashWorker, 'close'>
  signal?: AbortSignal
  /** Called after each leaf is stored, with the bytes stored so far. */
  onLeafStored?: (bytesStored: number) => void
  /**
   * The source's expected length, when known: a first leaf's buffer is then sized to it (a power
   * of two from 64 KiB) rather than to `leafSize`, and grown to `leafSize` should the source run
   * longer. The leaves and CIDs are the same either way; only the memory held differs.
   */
  sizeHint?: number
}

export interface AddFileDagResult {
  root: FileDagNode
  /** Bytes of file content stored. */
  size: number
}

/** A child of a node being built: its CID once hashed, its sizes, and whether it is stored. */
interface Child {
  node: FileDagNode
  /** Bytes of content under it. */
  fileSize: number
  /** Its block's size plus the Tsize of every link under it (the parent's Tsize for it). */
  tsize: number
  /** Settles once it and everything under it are durable. */
  stored: Promise<void>
}

/**
 * Stores `source` as a UnixFS file DAG exactly as @helia/unixfs's `addByteStream` does with
 * `{ cidVersion: 1, rawLeaves: true, reduceSingleLeafToSelf: false }`, a fixed-size chunker of
 * `leafSize` and a balanced layout of `maxLinks` (same blocks, same root CID; the tests check),
 * but as a pipeline: leaves are copied out of the source, hashed off the main thread when a
 * hasher is given and written in the background, `concurrency` at a time, while the source goes
 * on. A dag-pb node is written only once every block under it is stored, so a node on disk
 * implies its whole subtree is. Resolves once every block, the root last, is stored.
 *
 * @throws whatever the source or the block store throws; the signal's reason when aborted.
 *   Blocks in flight are awaited (not abandoned) before it rejects.
 */
export async function addFileDag(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  { blockstore, leafSize, maxLinks, concurrency, hasher, signal, onLeafStored, sizeHint }: AddFileDagParams,
): Promise<AddFileDagResult> {
  signal?.throwIfAborted()
  const run = startRun(signal, concurrency)
  const put = async (cid: CID, bytes: Uint8Array): Promise<void> => {
    run.writeSignal.throwIfAborted()
    await blockstore.put(cid, bytes, { signal: run.writeSignal })
  }
  const dag = createDagBuilder(run, put, { maxLinks, hasher, onLeafStored })
  try {
    const size = await copyIntoLeaves(source, run, dag, { leafSize, hasher, signal, sizeHint })
    const root = await dag.close()
    await root.stored
    if (run.failure !== undefined) throw run.failure.err
    return { root: root.node, size }
  } catch (err) {
    run.fail(err)
    throw run.failure!.err
  } finally {
    await run.settle()
  }
}

/** The failure, the tasks started and the leaves in flight of one `addFileDag`. */
interface Run {
  /** One signal for every write, aborted on the first failure so the others stop early. */
  readonly writeSignal: AbortSignal
  /** The first failure (the caller's abort reason when it was aborted). */
  readonly failure: { err: unknown } | undefined
  fail(err: unknown): void
  /** Keeps `task` until it settles; its rejection fails the run. */
  track<T>(task: Promise<T>): Promise<T>
  /** Waits for a free leaf slot (of `concurrency`). @throws the run's failure. */
  acquire(): Promise<void>
  release(): void
  /** Resolves once every task started has settled, so that no write is left running. */
  settle(): Promise<void>
}

function startRun(signal: AbortSignal | undefined, concurrency: number): Run {
  const failed = new AbortController()
  const writeSignal = signal === undefined ? failed.signal : AbortSignal.any([signal, failed.signal])
  // Every concurrent write may listen to it, hence the raised limit.
  setMaxListeners(Math.max(64, 4 * concurrency), writeSignal)
  const tasks = new Set<Promise<unknown>>()
  // Leaves in flight, each holding a leaf buffer until it is stored.
  let inFlight = 0
  let wake: (() => void) | undefined
  const run: Run & { failure: { err: unknown } | undefined } = {
    writeSignal,
    failure: undefined,
    fail(err) {
      if (run.failure !== undefined) return
      run.failure = { err: signal?.aborted === true ? signal.reason : err }
      failed.abort(run.failure.err)
    },
    track(task) {
      tasks.add(task)
      task.then(() => tasks.delete(task), (err) => { tasks.delete(task); run.fail(err) })
      return task
    },
    async acquire() {
      while (inFlight >= concurrency && run.failure === undefined) {
        await new Promise<void>(resolve => { wake = resolve })
        wake = undefined
      }
      if (run.failure !== undefined) throw run.failure.err
      inFlight++
    },
    release() {
      inFlight--
      wake?.()
    },
    async settle() {
      while (tasks.size > 0) await Promise.allSettled([...tasks])
    },
  }
  return run
}

/** Builds the balanced tree over the leaves added, writing each node once its subtree is stored. */
interface DagBuilder {
  /** Stores `leaf` (a leased buffer, released once stored, when there is a hasher). */
  addLeaf(leaf: Uint8Array): void
  readonly leafCount: number
  /** Closes every level after the last leaf; the root. */
  close(): Promise<Child>
}

function createDagBuilder(
  run: Run,
  put: (cid: CID, bytes: Uint8Array) => Promise<void>,
  { maxLinks, hasher, onLeafStored }: Pick<AddFileDagParams, 'maxLinks' | 'hasher' | 'onLeafStored'>,
): DagBuilder {
  let bytesStored = 0
  let leafCount = 0
  // levels[0] holds leaves, levels[k] nodes of height k, each waiting to fill a parent.
  const levels: Array<Array<Promise<Child>>> = [[]]
  const release = (): void => run.release()

  const addLeaf = (leaf: Uint8Array): void => {
    const length = leaf.byteLength
    const cid = (async () => {
      const digest = hasher === undefined ? hashOnThisThread(leaf) : await hasher.hashSha256(leaf)
      return CID.createV1(raw.code, createDigest(sha256.code, digest))
    })()
    const stored = cid.then(async (cid) => {
      await put(cid, leaf)
      bytesStored += length
      onLeafStored?.(bytesStored)
      // Not when the put failed: a store may reject before its write has ended.
      hasher?.release(leaf)
    })
    run.track(stored).then(release, release)
    leafCount++
    addChild(0, cid.then(cid => ({ node: { cid, children: [] }, fileSize: length, tsize: length, stored })))
  }

  const addChild = (height: number, child: Promise<Child>): void => {
    run.track(child)
    levels[height] ??= []
    levels[height].push(child)
    if (levels[height].length === maxLinks) reduceLevel(height)
  }

  const reduceLevel = (height: number): void => {
    const children = levels[height]
    levels[height] = []
    addChild(height + 1, buildNode(children))
  }

  const buildNode = async (pending: Array<Promise<Child>>): Promise<Child> => {
    const children = await Promise.all(pending)
    const { bytes, fileSize, tsize } = encodeFileNode(children)
    const cid = CID.createV1(dagPb.code, createDigest(sha256.code, hashOnThisThread(bytes)))
    const stored = (async () => {
      await Promise.all(children.map(async c => c.stored))
      await put(cid, bytes)
    })()
    return { node: { cid, children: children.map(c => c.node) }, fileSize, tsize, stored: run.track(stored) }
  }

  // Close every level bottom up, as the balanced layout does: a level's remainder becomes one
  // node, until a level above the leaves holds a single node and nothing is above it.
  const close = async (): Promise<Child> => {
    for (let height = 0; ; height++) {
      const isTop = levels.length === height + 1
      if (isTop && height > 0 && levels[height].length === 1) break
      if (levels[height].length > 0) reduceLevel(height)
    }
    return levels.at(-1)![0]
  }

  return { addLeaf, close, get leafCount() { return leafCount } }
}

/**
 * Copies `source` into leaves of `leafSize` and hands each to `dag`, the last short one too (an
 * empty source is one empty leaf, as the importer makes it); the bytes read.
 *
 * @throws the run's failure; the signal's reason; a TypeError for a chunk not a Uint8Array.
 */
async function copyIntoLeaves(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  run: Run,
  dag: DagBuilder,
  { leafSize, hasher, signal, sizeHint }: Pick<AddFileDagParams, 'leafSize' | 'hasher' | 'signal' | 'sizeHint'>,
): Promise<number> {
  const newLeaf = (capacity: number, alignment: number): Uint8Array => hasher === undefined ? new Uint8Array(capacity) : hasher.lease(capacity, alignment)
  let size = 0
  let leaf: Uint8Array | undefined
  let filled = 0
  for await (const piece of source) {
    if (run.failure !== undefined) throw run.failure.err
    signal?.throwIfAborted()
    if (!(piece instanceof Uint8Array)) throw new TypeError('the source must yield Uint8Array chunks')
    size += piece.byteLength
    let offset = 0
    while (offset < piece.byteLength) {
      if (leaf === undefined) {
        await run.acquire()
        // A leaf is copied in at the alignment of the bytes it starts with (see HashWorker.lease).
        const alignment = (piece.byteOffset + offset) & 7
        leaf = newLeaf(dag.leafCount === 0 ? firstLeafCapacity(leafSize, sizeHint) : leafSize, alignment)
      }
      if (filled === leaf.byteLength && filled < leafSize) {
        // Longer than announced: a whole leaf's buffer, the bytes so far copied over.
        const bigger = newLeaf(leafSize, leaf.byteOffset & 7)
        bigger.set(leaf.subarray(0, filled))
        hasher?.release(leaf)
        leaf = bigger
      }
      const n = Math.min(leaf.byteLength - filled, piece.byteLength - offset)
      leaf.set(piece.subarray(offset, offset + n), filled)
      filled += n
      offset += n
      if (filled === leafSize) {
        dag.addLeaf(leaf)
        leaf = undefined
        filled = 0
        // A source that never waits on I/O would otherwise run the whole loop in microtasks,
        // and hashes and writes would not be seen to finish (and the next ones would not
        // start) until the window is full.
        await nextTurn()
      }
    }
  }
  signal?.throwIfAborted()
  if (leaf !== undefined || dag.leafCount === 0) {
    if (leaf === undefined) await run.acquire()
    dag.addLeaf(leaf === undefined ? new Uint8Array(0) : leaf.subarray(0, filled))
  }
  return size
}

function hashOnThisThread(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

/** The dag-pb file node over `children`, as the importer's reducer builds it. */
function encodeFileNode(children: Child[]): { bytes: Uint8Array; fileSize: number; tsize: number } {
  const unixfs = new UnixFS({ type: 'file' })
  const links: dagPb.PBLink[] = []
  let fileSize = 0
  let linkSizes = 0
  // The importer leaves out empty children (only an empty file has one: its single empty leaf).
  for (const child of children) {
    if (child.fileSize === 0) continue
    unixfs.addBlockSize(BigInt(child.fileSize))
    links.push({ Name: '', Tsize: child.tsize, Hash: child.node.cid })
    fileSize += child.fileSize
    linkSizes += child.tsize
  }
  const bytes = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: links }))
  return { bytes, fileSize, tsize: bytes.byteLength + linkSizes }
}

/** The first leaf's buffer for a source announced as `sizeHint` bytes: a power of two from 64 KiB, at most `leafSize`. */
function firstLeafCapacity(leafSize: number, sizeHint: number | undefined): number {
  if (sizeHint === undefined || !Number.isSafeInteger(sizeHint) || sizeHint < 0 || sizeHint >= leafSize) return leafSize
  let capacity = 64 << 10
  while (capacity < sizeHint) capacity *= 2
  return Math.min(capacity, leafSize)
}
