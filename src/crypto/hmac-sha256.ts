import { createHash } from 'node:crypto'

// SHA-256 (FIPS 180-4): the first 32 bits of the fractional parts of the cube roots of the first
// 64 primes, and of the square roots of the first 8 (the initial hash value).
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])
const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])
const BLOCK = 64

/** One SHA-256 compression of the 64-byte block at `block[at]` into `h`; `w` is scratch for the schedule. */
function compress(h: Int32Array, block: Uint8Array, at: number, w: Int32Array): void {
  for (let i = 0; i < 16; i++, at += 4) w[i] = (block[at]! << 24) | (block[at + 1]! << 16) | (block[at + 2]! << 8) | block[at + 3]!
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!
    const y = w[i - 2]!
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0
  }
  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, k = h[7]!
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (k + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
    k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0
  }
  h[0] = (h[0]! + a) | 0; h[1] = (h[1]! + b) | 0; h[2] = (h[2]! + c) | 0; h[3] = (h[3]! + d) | 0
  h[4] = (h[4]! + e) | 0; h[5] = (h[5]! + f) | 0; h[6] = (h[6]! + g) | 0; h[7] = (h[7]! + k) | 0
}

/**
 * Pads `length` bytes of message at the start of `buf` (after `prefix` bytes already hashed) as
 * SHA-256 does: 0x80, zeros, the bit length of prefix and message big-endian. Answers the padded length.
 */
function pad(buf: Uint8Array, length: number, prefix: number): number {
  const padded = Math.ceil((length + 9) / BLOCK) * BLOCK
  buf[length] = 0x80
  buf.fill(0, length + 1, padded - 8)
  const bits = (prefix + length) * 8
  putWord(buf, padded - 8, Math.floor(bits / 0x1_0000_0000))
  putWord(buf, padded - 4, bits)
  return padded
}

/**
 * `text` as UTF-8 at the start of `buf` (room for 3 bytes per UTF-16 unit), a lone surrogate as
 * U+FFFD as Node encodes it; answers the length. In JavaScript: a term of a few letters costs
 * less than a call into Buffer's encoder.
 */
function utf8Into(buf: Uint8Array, text: string): number {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i)
    if (c < 0x80) {
      buf[n++] = c
      continue
    }
    if (c < 0x800) {
      buf[n++] = 0xc0 | (c >> 6)
      buf[n++] = 0x80 | (c & 0x3f)
      continue
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1)
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
        i++
        buf[n++] = 0xf0 | (c >> 18)
        buf[n++] = 0x80 | ((c >> 12) & 0x3f)
        buf[n++] = 0x80 | ((c >> 6) & 0x3f)
        buf[n++] = 0x80 | (c & 0x3f)
        continue
      }
      c = 0xfffd
    }
    buf[n++] = 0xe0 | (c >> 12)
    buf[n++] = 0x80 | ((c >> 6) & 0x3f)
    buf[n++] = 0x80 | (c & 0x3f)
  }
  return n
}

/** A 32-bit word big-endian at `buf[at]`. */
function putWord(buf: Uint8Array, at: number, word: number): void {
  buf[at] = word >>> 24
  buf[at + 1] = word >>> 16
  buf[at + 2] = word >>> 8
  buf[at + 3] = word
}

/**
 * HMAC-SHA-256 (RFC 2104) under one key for many messages: the key's inner and outer blocks are
 * hashed once, and each message then costs two compressions when short (up to 55 bytes), in
 * JavaScript, without crossing into OpenSSL per message (which costs more than the hashing for
 * the blind index's short terms). Answers a function from a message (a string, hashed as UTF-8,
 * or bytes) to its 32-byte MAC; it equals `createHmac('sha256', key).update(message).digest()`.
 */
export function hmacSha256(key: Uint8Array): (message: string | Uint8Array) => Buffer {
  const padded = new Uint8Array(BLOCK)
  padded.set(key.length > BLOCK ? createHash('sha256').update(key).digest() : key)
  const w = new Int32Array(64)
  const keyed = (byte: number) => {
    const h = IV.slice()
    compress(h, padded.map((x) => x ^ byte), 0, w)
    return h
  }
  const inner = keyed(0x36)
  const outer = keyed(0x5c)
  padded.fill(0)
  let buf = new Uint8Array(2 * BLOCK)
  const h = new Int32Array(8)
  const digest = new Uint8Array(BLOCK)
  return (message) => {
    const max = typeof message === 'string' ? message.length * 3 : message.length
    if (max + 9 > buf.length) buf = new Uint8Array(Math.ceil((max + 9) / BLOCK) * BLOCK)
    const length = typeof message === 'string' ? utf8Into(buf, message) : (buf.set(message), message.length)
    const blocks = pad(buf, length, BLOCK)
    h.set(inner)
    for (let at = 0; at < blocks; at += BLOCK) compress(h, buf, at, w)
    for (let i = 0; i < 8; i++) putWord(digest, i * 4, h[i]!)
    pad(digest, 32, BLOCK)
    h.set(outer)
    compress(h, digest, 0, w)
    const mac = Buffer.allocUnsafe(32)
    for (let i = 0; i < 8; i++) putWord(mac, i * 4, h[i]!)
    return mac
  }
}
