import { unixfs } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import { pinRecursively } from './pin-recursively.ts'
import { digestFromCid } from './read-verified.ts'
import { AppError } from '../errors.ts'
import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'

/**
 * The size of the raw leaves of every record DAG (@helia/unixfs's default fixed-size chunker,
 * checked by the tests): a digest names one layout only if this never changes.
 */
export const LEAF_SIZE = 1_048_576

// Leaves hashed and being written at once. The importer's default (10) holds ~40 MiB more
// garbage-to-be while adding 1 GiB and was no faster here (see the storage report).
const BLOCK_WRITE_CONCURRENCY = 4

export interface AddCiphertextOptions {
  signal?: AbortSignal
  /** Called after each leaf is durable, with the ciphertext bytes stored so far. */
  onProgress?: (progress: { bytesStored: number }) => void
  /**
   * Pin the root recursively once stored (default true), so a GC of this node never drops an
   * acknowledged record; an upload that fails afterwards unpins it (`helia.pins.rm`).
   */
  pin?: boolean
}

export interface AddCiphertextResult {
  /** CIDv1 dag-pb sha2-256: the record root. */
  cid: CID
  /** The root's 32-byte sha2-256 digest: what the ledger anchors. */
  digest: Uint8Array
  /** Bytes of ciphertext stored. */
  size: number
}

/**
 * Stores a ciphertext stream as a UnixFS file DAG (CIDv1, sha2-256, 1 MiB raw leaves, balanced,
 * always a dag-pb root) and pins it. Resolves only once every block and the pin are on disk.
 * The source must not reuse a buffer after yielding it (blocks are written asynchronously).
 * Input in pieces of exactly LEAF_SIZE is stored without a copy; other sizes are joined.
 *
 * @throws AppError STORAGE_UNAVAILABLE when a block cannot be written.
 */
export async function addCiphertext(
  ipfs: { helia: Pick<Helia, 'blockstore' | 'pins'> },
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  { signal, onProgress, pin = true }: AddCiphertextOptions = {},
): Promise<AddCiphertextResult> {
  signal?.throwIfAborted()
  const { blockstore, pins } = ipfs.helia
  let size = 0
  const counted = async function * (): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      signal?.throwIfAborted()
      if (!(chunk instanceof Uint8Array)) throw new TypeError('addCiphertext: the source must yield Uint8Array chunks')
      size += chunk.byteLength
      yield chunk
    }
  }
  // The importer does not pass the signal on to the puts it makes; this view does.
  const fs = unixfs({
    blockstore: {
      get: (cid, options) => blockstore.get(cid, { ...options, signal }),
      has: async (cid, options) => blockstore.has(cid, { ...options, signal }),
      put: async (cid, bytes, options) => blockstore.put(cid, bytes, { ...options, signal }),
    },
  })

  let cid: CID
  try {
    cid = await fs.addByteStream(counted(), {
      cidVersion: 1,
      rawLeaves: true,
      reduceSingleLeafToSelf: false,
      blockWriteConcurrency: BLOCK_WRITE_CONCURRENCY,
      signal,
      onProgress: onProgress === undefined
        ? undefined
        : (event) => {
            // Sent after the leaf's put resolved, i.e. once it is durable.
            if (event.type === 'unixfs:importer:progress:file:write') onProgress({ bytesStored: Number(event.detail.bytesWritten) })
          },
    })
  } catch (err) {
    if (signal?.aborted === true) throw signal.reason
    throw err
  }
  if (cid.code !== dagPb.code) {
    throw new AppError('INTERNAL', { details: `the importer returned a root with codec 0x${cid.code.toString(16)}, not dag-pb` })
  }

  if (pin) await pinRecursively(pins, cid, { signal })
  return { cid, digest: digestFromCid(cid), size }
}
