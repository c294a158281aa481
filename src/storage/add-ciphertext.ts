import { unixfs } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { pinRecursively } from './pin-recursively.ts'
import { digestFromCid } from './read-verified.ts'
import { AppError } from '../errors.ts'
import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'

/** The size of the raw leaves of every record DAG; fixed so a digest always names one layout. */
export const LEAF_SIZE = 1_048_576

// Blocks being written while the importer goes on: bounds memory to about this many MiB.
const WRITE_WINDOW = Number(process.env.WW ?? 16)

export interface AddCiphertextOptions {
  signal?: AbortSignal
  /** Called after each leaf is durable, with the bytes stored so far. */
  onProgress?: (progress: { bytesStored: number }) => void
  /**
   * Pin the root recursively once stored (default true), so a GC of this node never drops an
   * acknowledged record; a caller whose upload fails later unpins it (`helia.pins.rm`).
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
  // Hands the importer whole leaves. Its chunker joins small pieces through a Uint8ArrayList,
  // which costs far more than one copy into a leaf-sized buffer (256 MiB in 64 KiB pieces:
  // see the storage report); pieces that already are whole, aligned leaves pass through.
  const leaves = async function * (): AsyncGenerator<Uint8Array> {
    let leaf: Buffer | undefined
    let filled = 0
    for await (const chunk of source) {
      signal?.throwIfAborted()
      if (!(chunk instanceof Uint8Array)) throw new TypeError('addCiphertext: the source must yield Uint8Array chunks')
      size += chunk.byteLength
      if (filled === 0 && chunk.byteLength === LEAF_SIZE) {
        yield chunk
        continue
      }
      let offset = 0
      while (offset < chunk.byteLength) {
        leaf ??= Buffer.allocUnsafeSlow(LEAF_SIZE)
        const n = Math.min(LEAF_SIZE - filled, chunk.byteLength - offset)
        leaf.set(chunk.subarray(offset, offset + n), filled)
        filled += n
        offset += n
        if (filled === LEAF_SIZE) {
          yield leaf
          leaf = undefined
          filled = 0
        }
      }
    }
    if (leaf !== undefined) yield leaf.subarray(0, filled)
  }
  // The importer writes blocks in batches and waits for a whole batch before hashing the next,
  // so disk and hashing never overlap. This view lets it go on while up to WRITE_WINDOW blocks
  // are being written; every write is awaited before we resolve. It also passes our signal on
  // to the puts, which the importer does not.
  const writes = new Set<Promise<void>>()
  const state: { failed?: { error: unknown } } = {}
  let stored = 0
  const put = async (cid: CID, bytes: Uint8Array): Promise<CID> => {
    if (state.failed !== undefined) throw state.failed.error
    const write: Promise<void> = Promise.resolve(blockstore.put(cid, bytes, { signal })).then(
      () => {
        if (cid.code === raw.code) {
          stored += bytes.byteLength
          onProgress?.({ bytesStored: stored })
        }
      },
      (error: unknown) => { state.failed ??= { error } },
    ).finally(() => writes.delete(write))
    writes.add(write)
    while (writes.size >= WRITE_WINDOW) await Promise.race(writes)
    if (state.failed !== undefined) throw state.failed.error
    return cid
  }
  const fs = unixfs({
    blockstore: {
      get: (cid, options) => blockstore.get(cid, { ...options, signal }),
      has: async (cid, options) => blockstore.has(cid, { ...options, signal }),
      put: async (cid, bytes) => put(cid, bytes as Uint8Array),
    },
  })

  let cid: CID
  try {
    cid = await fs.addByteStream(leaves(), {
      cidVersion: 1,
      rawLeaves: true,
      reduceSingleLeafToSelf: false,
      blockWriteConcurrency: Number(process.env.BWC ?? 10),
      signal,
    })
  } catch (err) {
    await Promise.allSettled(writes)
    if (signal?.aborted === true) throw signal.reason
    throw state.failed?.error ?? err
  }
  await Promise.allSettled(writes)
  if (state.failed !== undefined) {
    if (signal?.aborted === true) throw signal.reason
    throw state.failed.error
  }
  if (cid.code !== dagPb.code) {
    throw new AppError('INTERNAL', { details: `the importer returned a ${cid.code} root, not dag-pb` })
  }

  if (pin) await pinRecursively(pins, cid, { signal })
  return { cid, digest: digestFromCid(cid), size }
}
