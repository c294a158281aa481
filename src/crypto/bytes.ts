/**
 * Byte helpers shared by the crypto modules (internal: not part of the crypto API).
 * Everything the crypto modules hand out is a plain `Uint8Array`, never a `Buffer`, so callers
 * can compare results with `assert.deepStrictEqual` and serialise them without surprises.
 */

/** A plain `Uint8Array` view of `buffer`'s bytes (no copy). */
export function toBytes(buffer: Uint8Array): Uint8Array {
  return buffer.constructor === Uint8Array ? buffer : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

/** A `Buffer` view of `bytes` (no copy), for Node APIs that want one. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** One new array holding `parts` back to back. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return toBytes(Buffer.from(text, 'utf8'))
}

/** Unpadded base64url of `bytes`. */
export function encodeBase64url(bytes: Uint8Array): string {
  return toBuffer(bytes).toString('base64url')
}

/**
 * The bytes of an unpadded base64url string, or `undefined` when `text` is not the canonical
 * encoding (Node's decoder silently skips bad characters, so the result is re-encoded and compared).
 */
export function decodeBase64url(text: unknown, length?: number): Uint8Array | undefined {
  if (typeof text !== 'string') return undefined
  const bytes = toBytes(Buffer.from(text, 'base64url'))
  if (toBuffer(bytes).toString('base64url') !== text) return undefined
  if (length !== undefined && bytes.length !== length) return undefined
  return bytes
}
