import * as dagPb from '@ipld/dag-pb'
import { createUnsafe } from 'multiformats/block'
import * as raw from 'multiformats/codecs/raw'
import { readBlockVerified } from './read-verified.ts'
import { AppError } from '../errors.ts'
import type { FileDagNode } from './add-file-dag.ts'
import type { GraphNode, GraphWalkerFactory, Helia } from 'helia'
import type { BlockView } from 'multiformats'
import type { CID } from 'multiformats/cid'

export interface PinRecursivelyOptions {
  signal?: AbortSignal
  /**
   * The DAG under `cid` as the caller has just stored it (every block durable): pins it without
   * reading it back from the store.
   */
  stored?: FileDagNode
}

/**
 * Pins `cid` and every block it links to, resolving once the pin is durable (Helia records one
 * entry per block in its datastore, then the pin). A CID already pinned is left as it is.
 *
 * @throws AppError RECORD_UNAVAILABLE when a block of the DAG is not in the store.
 * @throws AppError RECORD_INTEGRITY when an inner node does not hash to its CID.
 * @throws AppError INVALID_CID when the DAG holds a CID other than CIDv1 sha2-256 dag-pb or raw.
 */
export async function pinRecursively(pins: Helia['pins'], cid: CID, { signal, stored }: PinRecursivelyOptions = {}): Promise<void> {
  if (stored !== undefined && !stored.cid.equals(cid)) {
    throw new AppError('INTERNAL', { details: `pinning ${cid} with the DAG of ${stored.cid}` })
  }
  try {
    const walker = stored === undefined ? fileDagWalker : storedDagWalker(stored)
    for await (const _ of pins.add(cid, { signal, walker })) { /* the walk does the work */ }
  } catch (err) {
    if ((err as Error)?.name === 'AlreadyPinnedError') return
    if (signal?.aborted === true) throw signal.reason
    throw err
  }
}

/**
 * Walks a DAG of dag-pb nodes and raw leaves, depth first in link order, for Helia's pins.
 * Helia's default walker loads every block, leaves included (1 GiB read back to pin a 1 GiB
 * record); raw leaves have no links, so this one only checks they are present. The whole DAG
 * is checked before the first node is yielded: Helia records a block as pinned as soon as it
 * is yielded, so a walk failing half-way would leave blocks pinned by no pin.
 */
const fileDagWalker: GraphWalkerFactory = ({ blockstore }) => ({
  async * walk<T>(root: CID, options: { signal?: AbortSignal; depth?: number } = {}): AsyncGenerator<GraphNode<T>> {
    const maxDepth = options.depth ?? Infinity
    const signal = options.signal
    const nodes: Array<GraphNode<T>> = []
    const leaves: CID[] = []

    const visit = async (cid: CID, depth: number, path: CID[]): Promise<void> => {
      if (cid.code === raw.code) {
        leaves.push(cid)
        nodes.push({ block: unloadedBlock(cid), depth, path })
        return
      }
      const { bytes } = await readBlockVerified(blockstore, cid, { signal })
      const block = createUnsafe({ cid, bytes, codec: dagPb }) as unknown as BlockView<T>
      nodes.push({ block, depth, path })
      if (depth >= maxDepth) return
      for (const [, child] of block.links()) await visit(child, depth + 1, [...path, child])
    }
    await visit(root, 0, [root])

    const present = await Promise.all(leaves.map(async leaf => blockstore.has(leaf, { signal })))
    const missing = leaves.filter((_, i) => !present[i])
    if (missing.length > 0) {
      throw new AppError('RECORD_UNAVAILABLE', { details: `cannot pin ${root}: ${missing.length} blocks missing, first ${missing[0]}` })
    }
    yield * nodes
  },
})

/** Walks a DAG known from having just stored it, in the same order as fileDagWalker. */
function storedDagWalker(root: FileDagNode): GraphWalkerFactory {
  return () => ({
    async * walk<T>(_: CID, options: { depth?: number } = {}): AsyncGenerator<GraphNode<T>> {
      const maxDepth = options.depth ?? Infinity
      const visit = function * (node: FileDagNode, depth: number, path: CID[]): Generator<GraphNode<T>> {
        yield { block: unloadedBlock(node.cid), depth, path }
        if (depth >= maxDepth) return
        for (const child of node.children) yield * visit(child, depth + 1, [...path, child.cid])
      }
      yield * visit(root, 0, [root.cid])
    },
  })
}

/**
 * A node for a block whose bytes were not loaded. Helia's pins read only `block.cid`; should
 * anything read more, it fails loudly rather than seeing empty bytes.
 */
function unloadedBlock<T>(cid: CID): BlockView<T> {
  const unloaded = (): never => { throw new Error(`block ${cid} was not loaded by the pin walker`) }
  return {
    cid,
    get bytes () { return unloaded() },
    get value () { return unloaded() },
    links: function * () {},
  } as unknown as BlockView<T>
}
