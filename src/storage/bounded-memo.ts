/**
 * A pure function of a string, remembered for at most `limit` keys (the oldest remembered
 * forgotten first): for cheap conversions a listing asks again and again, such as a record's
 * digests as CIDs and back. Hold only what may stay in memory: the callers' CIDs and digests are
 * public (anchored on chain).
 */
export function boundedMemo<T>(limit: number, compute: (key: string) => T): (key: string) => T {
  const memo = new Map<string, T>()
  return (key) => {
    let value = memo.get(key)
    if (value === undefined) {
      value = compute(key)
      if (memo.size >= limit) memo.delete(memo.keys().next().value!)
      memo.set(key, value)
    }
    return value
  }
}
