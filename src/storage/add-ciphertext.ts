import { addFileDag } from './add-file-dag.ts'
import { pinRecursively } from './pin-recursively.ts'
import { digestFromCid } from './read-verified.ts'
import type { HashWorker } from './hash-worker.ts'
import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'

/**
 * The size of the raw leaves of every record DAG (@helia/unixfs's default fixed-size chunker,
 * checked by the tests): a digest names one layout only if this never changes.
 */
export const LEAF_SIZE = 1_048_576

/** Links per node of the balanced layout (@helia/unixfs's default), for the same reason. */
export const MAX_LINKS = 1024

// Leaves hashed or being written at once, each holding its 1 MiB in memory until it is durable.
// A durable write waits ~2–10 ms on fdatasync; this keeps the disk busy while the source runs.
const LEAF_CONCURRENCY = 16

export interface AddCiphertextOptions {
  signal?: AbortSignal
  /** Called after each leaf is durable, with the ciphertext bytes stored so far. */
  onProgress?: (progress: { bytesStored: number }) => void
  /**
   * Pin the root recursively once stored (default true), so a GC of this node never drops an
   * acknowledged record; an upload that fails afterwards unpins it (`helia.pins.rm`). `'later'`:
   * resolve once the blocks are durable and pin meanwhile; the result's `pinned` settles when
   * the pin is durable (the caller awaits it before it acknowledges anything), so the pin's
   * writes overlap the caller's next steps instead of preceding them.
   */
  pin?: boolean | 'later'
  /** The ciphertext's expected length, when known (see addFileDag's `sizeHint`): memory only. */
  sizeHint?: number
}

export interface AddCiphertextResult {
  /** CIDv1 dag-pb sha2-256: the record root. */
  cid: CID
  /** The root's 32-byte sha2-256 digest: what the ledger anchors. */
  digest: Uint8Array
  /** Bytes of ciphertext stored. */
  size: number
  /** With `pin: 'later'`: settles (or rejects) when the pin is durable. */
  pinned?: Promise<void>
}

/**
 * Stores a ciphertext stream as a UnixFS file DAG (CIDv1, sha2-256, 1 MiB raw leaves, balanced,
 * always a dag-pb root: the blocks and CID @helia/unixfs's `addByteStream` makes) and pins it.
 * Resolves only once every block and the pin are on disk. Leaves are copied out of the source
 * as it goes (it may reuse its buffers), hashed on `ipfs.hasher`'s thread when there is one, and
 * written while the source runs on. The hasher's leaf buffers are reused once written, so it
 * goes only with a block store that keeps no reference to what it is given (openIpfs's).
 *
 * @throws AppError STORAGE_UNAVAILABLE when a block cannot be written.
 */
export async function addCiphertext(
  ipfs: { helia: Pick<Helia, 'blockstore' | 'pins'>; hasher?: Omit<HashWorker, 'close'> },
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  { signal, onProgress, pin = true, sizeHint }: AddCiphertextOptions = {},
): Promise<AddCiphertextResult> {
  signal?.throwIfAborted()
  const { blockstore, pins } = ipfs.helia
  const { root, size } = await addFileDag(source, {
    blockstore,
    leafSize: LEAF_SIZE,
    maxLinks: MAX_LINKS,
    concurrency: LEAF_CONCURRENCY,
    hasher: ipfs.hasher,
    signal,
    sizeHint,
    onLeafStored: onProgress === undefined ? undefined : bytesStored => onProgress({ bytesStored }),
  })
  // Every block is durable by now; the pin records them from what was just stored.
  if (pin === 'later') {
    const pinned = pinRecursively(pins, root.cid, { signal, stored: root })
    // Handled here so that a caller failing before it awaits `pinned` leaves no unhandled rejection.
    pinned.catch(() => undefined)
    return { cid: root.cid, digest: digestFromCid(root.cid), size, pinned }
  }
  if (pin) await pinRecursively(pins, root.cid, { signal, stored: root })
  return { cid: root.cid, digest: digestFromCid(root.cid), size }
}
