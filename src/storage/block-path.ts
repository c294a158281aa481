import fs from 'node:fs/promises'
import path from 'node:path'
import { NextToLast } from 'blockstore-fs/sharding'
import { findInPacks } from './pack-store.ts'
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

/** Where a block's bytes lie on disk: a range of a pack file, or a whole block file. */
export interface BlockOnDisk {
  file: string
  offset: number
  length: number
  /** Whether `file` is a pack (shared with other blocks) rather than the block's own file. */
  packed: boolean
}

/**
 * Where block `cid` of the IPFS store rooted at `dir` lies on disk, for tests and tools that
 * look at the disk itself (large blocks sit in packs, small ones in files named by
 * `blockFilePath`); undefined when neither holds it. Read with the store closed or idle.
 */
export async function findBlockOnDisk(dir: string, cid: CID): Promise<BlockOnDisk | undefined> {
  const packed = await findInPacks(path.join(blocksDir(dir), 'packs'), cid.multihash.bytes)
  if (packed !== undefined) return { file: packed.file, offset: packed.offset, length: packed.length, packed: true }
  const file = blockFilePath(dir, cid)
  try {
    return { file, offset: 0, length: (await fs.stat(file)).size, packed: false }
  } catch {
    return undefined
  }
}
