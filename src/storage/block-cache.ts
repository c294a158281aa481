import type { CID } from 'multiformats/cid'

export interface BlockCacheParams {
  /** Most bytes of blocks held at once; 0 turns the cache off. */
  maxBytes: number
}

export interface BlockCacheStats {
  /** Bytes of blocks held now. */
  bytes: number
  maxBytes: number
  /** Lookups answered from the cache, and lookups that had to go to the block store. */
  hits: number
  misses: number
}

/**
 * A byte-bounded least-recently-used cache of ciphertext blocks that already hashed to their CID
 * (see `readBlockVerified`, the only code that fills it). It holds what the block store holds —
 * ciphertext and DAG nodes, never plaintext — and lives in memory only, one per node (Services).
 */
export class BlockCache {
  readonly maxBytes: number
  // A Map iterates in insertion order: the first key is the least recently used.
  readonly #blocks = new Map<string, Uint8Array>()
  #bytes = 0
  #hits = 0
  #misses = 0

  constructor({ maxBytes }: BlockCacheParams) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a whole number ≥ 0, got ${maxBytes}`)
    this.maxBytes = maxBytes
  }

  /** Whether the cache keeps anything (`maxBytes` > 0). */
  get enabled(): boolean {
    return this.maxBytes > 0
  }

  /**
   * The verified bytes of the block named `cid`, made the most recently used; undefined on a miss.
   * The caller must not change them (they are the cache's own copy).
   */
  get(cid: CID): Uint8Array | undefined {
    if (!this.enabled) return undefined
    const key = cid.toString()
    const bytes = this.#blocks.get(key)
    if (bytes === undefined) {
      this.#misses++
      return undefined
    }
    this.#hits++
    this.#blocks.delete(key)
    this.#blocks.set(key, bytes)
    return bytes
  }

  /**
   * Keeps a copy of `bytes`, which must already have hashed to `cid`, evicting the least recently
   * used blocks until the total fits. A block larger than the whole cache is not kept.
   */
  put(cid: CID, bytes: Uint8Array): void {
    if (!this.enabled || bytes.byteLength > this.maxBytes) return
    const key = cid.toString()
    const old = this.#blocks.get(key)
    if (old !== undefined) {
      this.#blocks.delete(key)
      this.#bytes -= old.byteLength
    }
    // A copy: the caller's bytes may be a view into a larger pooled buffer, or be reused.
    const copy = new Uint8Array(bytes)
    this.#blocks.set(key, copy)
    this.#bytes += copy.byteLength
    for (const [k, b] of this.#blocks) {
      if (this.#bytes <= this.maxBytes) break
      this.#blocks.delete(k)
      this.#bytes -= b.byteLength
    }
  }

  /** Forgets the block named `cid` (its record was superseded or erased); a block not held is ignored. */
  delete(cid: CID): void {
    const key = cid.toString()
    const old = this.#blocks.get(key)
    if (old === undefined) return
    this.#blocks.delete(key)
    this.#bytes -= old.byteLength
  }

  /** Whether the block named `cid` is held, without counting a lookup or changing the order. */
  has(cid: CID): boolean {
    return this.#blocks.has(cid.toString())
  }

  stats(): BlockCacheStats {
    return { bytes: this.#bytes, maxBytes: this.maxBytes, hits: this.#hits, misses: this.#misses }
  }
}
