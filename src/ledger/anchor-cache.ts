import type { Ledger } from './connect-ledger.ts'

export interface AnchorCacheParams {
  /** Most checks remembered at once; 0 turns the cache off. */
  maxEntries: number
}

export interface AnchorCacheStats {
  /** Checks remembered now, and the bound. */
  entries: number
  maxEntries: number
  /** Checks answered from memory, and checks that had to ask the chain. */
  hits: number
  misses: number
}

/**
 * Positive anchor checks this node made (`assertAnchored`), by a key naming everything the check
 * compared (record id, parties, digest, envelopes digest): a least-recently-used map of at most
 * `maxEntries`. A record anchored alone was checked once and for all (a mined anchor does not
 * change). A batched record's check (`checkLeaf`) also reads the current roles of its author and
 * patient, so it holds for the chain block it was made at only. Only "it matches" is kept, never
 * a refusal, a key or any record content. One per node (Services), in memory only.
 */
export class AnchorCache {
  readonly maxEntries: number
  // A Map iterates in insertion order: the first key is the least recently used.
  // The value is the block a check holds for, or null when it holds for good.
  readonly #checks = new Map<string, bigint | null>()
  #hits = 0
  #misses = 0
  #head: Promise<bigint> | undefined
  // Parties' answers (batched records' roles) for one block only: emptied when another block is asked about.
  #partiesBlock: bigint | undefined
  readonly #parties = new Map<string, Promise<unknown>>()

  constructor({ maxEntries }: AnchorCacheParams) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) throw new RangeError(`maxEntries must be a whole number ≥ 0, got ${maxEntries}`)
    this.maxEntries = maxEntries
  }

  /** Whether the cache keeps anything (`maxEntries` > 0). */
  get enabled(): boolean {
    return this.maxEntries > 0
  }

  /**
   * Whether `key` was found to match: for good, or (`block` given) at exactly that block.
   * Counts a hit or a miss.
   */
  has(key: string, block?: bigint): boolean {
    if (!this.enabled) return false
    const held = this.#checks.get(key)
    if (held === undefined || (held !== null && held !== block)) {
      this.#misses++
      return false
    }
    this.#hits++
    this.#checks.delete(key)
    this.#checks.set(key, held)
    return true
  }

  /** Whether `key` matched at some block, whichever (no hit or miss counted). */
  matchedOnce(key: string): boolean {
    return this.#checks.has(key)
  }

  /**
   * `ask()`'s answer for `key` at `block`, asked once per block: the roles of a batched record's
   * parties, which records of the same author, patient and hospital share. Only the latest block
   * asked about is kept; a failed question is not kept.
   */
  partiesAt<T>(key: string, block: bigint, ask: () => Promise<T>): Promise<T> {
    if (this.#partiesBlock !== block) {
      this.#parties.clear()
      this.#partiesBlock = block
    }
    let answer = this.#parties.get(key) as Promise<T> | undefined
    if (answer === undefined) {
      answer = ask()
      this.#parties.set(key, answer)
      answer.catch(() => { if (this.#parties.get(key) === answer) this.#parties.delete(key) })
    }
    return answer
  }

  /** Remembers that `key` matched: for good, or (`block` given) at that block only. */
  set(key: string, block?: bigint): void {
    if (!this.enabled) return
    this.#checks.delete(key)
    this.#checks.set(key, block ?? null)
    for (const oldest of this.#checks.keys()) {
      if (this.#checks.size <= this.maxEntries) break
      this.#checks.delete(oldest)
    }
  }

  /**
   * The chain's current block number. Callers that ask while a request for it is in flight share
   * that request's answer; none is kept once it settles.
   * @throws Error when the chain cannot be reached
   */
  blockNumber(ledger: Pick<Ledger, 'client'>): Promise<bigint> {
    if (!this.#head) {
      this.#head = ledger.client.getBlockNumber({ cacheTime: 0 })
      const clear = () => { this.#head = undefined }
      this.#head.then(clear, clear)
    }
    return this.#head
  }

  stats(): AnchorCacheStats {
    return { entries: this.#checks.size, maxEntries: this.maxEntries, hits: this.#hits, misses: this.#misses }
  }
}
