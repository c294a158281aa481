import { randomBytes } from 'node:crypto'

/** Random bytes generated once, before any timing, and cycled to make large inputs. */
export interface RandomPool {
  readonly bytes: Uint8Array
  /** `total` bytes as `pieceSize` views over the pool, in order, wrapping around. */
  pieces(total: number, pieceSize: number): Generator<Uint8Array>
}

/** A pool of `size` random bytes (a multiple of every piece size the bench uses). */
export function createRandomPool(size = 16 << 20): RandomPool {
  const bytes = new Uint8Array(randomBytes(size))
  return {
    bytes,
    * pieces(total, pieceSize) {
      if (size % pieceSize !== 0) throw new Error(`piece size ${pieceSize} does not divide the pool size ${size}`)
      for (let sent = 0; sent < total; sent += pieceSize) {
        const at = sent % size
        yield bytes.subarray(at, at + Math.min(pieceSize, total - sent))
      }
    },
  }
}
