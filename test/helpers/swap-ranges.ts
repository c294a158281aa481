/**
 * Swaps two equal-length ranges of `b` in place, for the property tests' reordering mutations.
 * `a`, `c` and `length` are any whole numbers (fast-check's); they are folded into `b`'s bounds
 * and `length` is capped at half of `b`.
 */
export function swapRanges(b: Uint8Array, a: number, c: number, length: number): void {
  const len = Math.min(length, Math.floor(b.length / 2))
  const from = a % (b.length - len + 1)
  const to = c % (b.length - len + 1)
  const first = b.slice(from, from + len)
  b.copyWithin(from, to, to + len)
  b.set(first, to)
}
