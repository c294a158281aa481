import path from 'node:path'
import { NextToLast } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'

/**
 * The one sharding layout of the node's block directory (blockstore-fs's default: files named
 * after the base32 multihash, in a folder named after its last two characters). Shared by the
 * store and by `blockFilePath` so the two can never disagree.
 */
export const blockSharding = new NextToLast()

/** The folder that holds the blocks of the IPFS store rooted at `dir`. */
export function blocksDir(dir: string): string {
  return path.join(path.resolve(dir), 'blocks')
}

/**
 * The file that holds block `cid` in the IPFS store rooted at `dir` (what `openIpfs` was given).
 * Files are keyed by multihash, so a raw and a dag-pb CID with the same digest share one file.
 */
export function blockFilePath(dir: string, cid: CID): string {
  const { dir: shard, file } = blockSharding.encode(cid)
  return path.join(blocksDir(dir), shard, file)
}
