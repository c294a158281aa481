import { hexToBytes, type Hex } from 'viem'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { cidFromDigest } from '../storage/read-verified.ts'
import type { CID } from 'multiformats/cid'
import type { Services } from '../services.ts'

export interface DropRecordBlocksParams {
  /** The record's anchored ciphertext digest (its DAG's root). */
  digest: Hex
  /** The record's anchored envelopes digest (one raw block). */
  envelopes: Hex
  signal?: AbortSignal
}

export interface DropRecordBlocksResult {
  /** Blocks deleted from this node's store (DAG nodes, leaves and the envelopes block). */
  deleted: number
  /** Their CIDs (erasure keeps them, so that a backup import does not bring them back). */
  cids: string[]
}

/**
 * Unpins a record's blocks on this node and deletes them from its store and its block cache: the
 * DAG under `digest` (walked from what this node holds, never fetched from a peer) and the
 * envelopes block. What this node never held is skipped, so it is safe to call on any node, any
 * number of times. The database rows are the caller's.
 * Shared by re-keying (the superseded version) and erasure.
 */
export async function dropRecordBlocks(s: Pick<Services, 'ipfs' | 'blockCache' | 'log'>, { digest, envelopes, signal }: DropRecordBlocksParams): Promise<DropRecordBlocksResult> {
  const root = cidFromDigest(hexToBytes(digest), 'dag')
  const env = cidFromDigest(hexToBytes(envelopes), 'raw')
  for (const cid of [root, env]) await unpin(s, cid, signal)
  const blocks = [...await localDag(s, root, signal), env]
  const cids: string[] = []
  for (const cid of blocks) {
    signal?.throwIfAborted()
    s.blockCache.delete(cid)
    if (!(await s.ipfs.helia.blockstore.has(cid, { signal }))) continue
    await s.ipfs.deleteBlock(cid, { signal })
    cids.push(cid.toString())
  }
  return { deleted: cids.length, cids }
}

async function unpin(s: Pick<Services, 'ipfs' | 'log'>, cid: CID, signal?: AbortSignal): Promise<void> {
  if (!(await s.ipfs.helia.pins.isPinned(cid, { signal }))) return
  try {
    for await (const _ of s.ipfs.helia.pins.rm(cid, { signal })) { /* drains the unpinning */ }
  } catch (err) {
    if ((err as Error)?.name === 'NotFoundError') return
    throw err
  }
}

/** Every block of the DAG under `root` that this node holds, root first; links of absent nodes are not followed. */
async function localDag(s: Pick<Services, 'ipfs'>, root: CID, signal?: AbortSignal): Promise<CID[]> {
  const found: CID[] = []
  const visit = async (cid: CID): Promise<void> => {
    if (!(await s.ipfs.helia.blockstore.has(cid, { signal }))) return
    found.push(cid)
    if (cid.code === raw.code) return
    const chunks: Uint8Array[] = []
    for await (const chunk of s.ipfs.helia.blockstore.get(cid, { offline: true, signal })) chunks.push(chunk)
    const node = dagPb.decode(Buffer.concat(chunks))
    for (const link of node.Links) await visit(link.Hash)
  }
  await visit(root)
  return found
}
