export interface DecisionCacheParams {
  /** Most answers remembered at once; 0 turns the cache off. */
  maxEntries: number
}

export interface DecisionCacheStats {
  entries: number
  maxEntries: number
  /** Answers given from memory, and answers that had to ask the chain. */
  hits: number
  misses: number
}

/**
 * The chain's answers to "is this grant, share or emergency access live?" (a key naming the
 * question: kind, id and party), each for the one chain block it was asked at: a listing of a
 * patient's hundred records asks the chain once per grant per block, not once per record. An
 * answer asked at block N is never given for another block, so a grant revoked in block N + 1 is
 * refused by the first decision made at N + 1 or later. Questions asked at the same block while
 * one is in flight share it; a failed question is forgotten. Least recently used first out. Holds
 * booleans only, never a key or any record content. One per node (Services), in memory only.
 */
export class DecisionCache {
  readonly maxEntries: number
  // A Map iterates in insertion order: the first key is the least recently used.
  readonly #answers = new Map<string, { block: bigint; live: Promise<boolean> }>()
  #hits = 0
  #misses = 0

  constructor({ maxEntries }: DecisionCacheParams) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) throw new RangeError(`maxEntries must be a whole number ≥ 0, got ${maxEntries}`)
    this.maxEntries = maxEntries
  }

  /**
   * The answer to `key` at chain block `block`: remembered when it was asked at that very block,
   * else `ask()`'s (then remembered for that block).
   * @throws what `ask` throws
   */
  live(key: string, block: bigint, ask: () => Promise<boolean>): Promise<boolean> {
    if (this.maxEntries === 0) return ask()
    const held = this.#answers.get(key)
    this.#answers.delete(key)
    if (held !== undefined && held.block === block) {
      this.#hits++
      this.#answers.set(key, held)
      return held.live
    }
    this.#misses++
    const entry = { block, live: ask() }
    this.#answers.set(key, entry)
    entry.live.catch(() => {
      if (this.#answers.get(key) === entry) this.#answers.delete(key)
    })
    for (const oldest of this.#answers.keys()) {
      if (this.#answers.size <= this.maxEntries) break
      this.#answers.delete(oldest)
    }
    return entry.live
  }

  stats(): DecisionCacheStats {
    return { entries: this.#answers.size, maxEntries: this.maxEntries, hits: this.#hits, misses: this.#misses }
  }
}
