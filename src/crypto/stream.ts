/**
 * The stored object format: a versioned header and a chunked STREAM AEAD body (as in age and
 * Tink's streaming AEAD), so any flipped bit, truncation, reordering, duplication or trailing
 * byte fails authentication.
 *
 * Header (the AAD of every chunk):
 *
 * | bytes | field                                                               |
 * | ----- | ------------------------------------------------------------------- |
 * | 4     | magic `MLR1`                                                        |
 * | 1     | version = 1                                                         |
 * | 1     | suite id: 1 aes-256-gcm, 2 aes-192-gcm, 3 aes-128-gcm, 4 xchacha20-poly1305 |
 * | 4     | chunk size, u32 big-endian: plaintext bytes per chunk (1 KiB … 16 MiB) |
 * | 7/19  | random nonce seed (7 bytes for the GCM suites, 19 for XChaCha)       |
 *
 * Chunk i is sealed under nonce = seed || u32 BE i || u8 last (1 on the final chunk, else 0)
 * and stored as ciphertext || 16-byte tag. Every chunk but the last holds exactly `chunkSize`
 * plaintext bytes; the last holds 0 … chunkSize, so an empty plaintext is one empty final chunk.
 */
import { randomBytes } from 'node:crypto'
import { AppError } from '../errors.ts'
import { aeadTagLength, createAead, type Aead } from './aead.ts'
import { toBytes } from './bytes.ts'

export type CipherSuite = 'aes-256-gcm' | 'aes-192-gcm' | 'aes-128-gcm' | 'xchacha20-poly1305'

/** Every supported suite; the first is the default. */
export const cipherSuites: readonly CipherSuite[] = Object.freeze([
  'aes-256-gcm',
  'aes-192-gcm',
  'aes-128-gcm',
  'xchacha20-poly1305',
] as const)

/** Plaintext bytes per chunk unless told otherwise: 1 MiB. */
export const defaultChunkSize = 1 << 20
/** Smallest allowed chunk size: 1 KiB. */
export const minChunkSize = 1 << 10
/** Largest allowed chunk size: 16 MiB (a reader buffers one chunk). */
export const maxChunkSize = 16 << 20

const magic = [0x4d, 0x4c, 0x52, 0x31] // 'MLR1'
const formatVersion = 1
const fixedHeaderLength = 10
const maxChunkIndex = 0xffff_ffff

const suiteIds: Record<CipherSuite, number> = {
  'aes-256-gcm': 1,
  'aes-192-gcm': 2,
  'aes-128-gcm': 3,
  'xchacha20-poly1305': 4,
}
const suitesById = new Map<number, CipherSuite>(Object.entries(suiteIds).map(([suite, id]) => [id, suite as CipherSuite]))

const keyLengths: Record<CipherSuite, number> = {
  'aes-256-gcm': 32,
  'aes-192-gcm': 24,
  'aes-128-gcm': 16,
  'xchacha20-poly1305': 32,
}

/**
 * The cipher suite named by `s`.
 * @throws AppError UNKNOWN_CIPHER_SUITE when `s` names none.
 */
export function parseCipherSuite(s: string): CipherSuite {
  if (typeof s === 'string' && Object.hasOwn(suiteIds, s)) return s as CipherSuite
  throw new AppError('UNKNOWN_CIPHER_SUITE', { details: `got ${JSON.stringify(String(s)).slice(0, 40)}` })
}

/**
 * Length in bytes of a data key for `suite` (16, 24 or 32).
 * @throws AppError UNKNOWN_CIPHER_SUITE for an unknown suite.
 */
export function dataKeyLength(suite: CipherSuite): number {
  return keyLengths[parseCipherSuite(suite)]
}

/**
 * A fresh random data key for `suite`.
 * @throws AppError UNKNOWN_CIPHER_SUITE for an unknown suite.
 */
export function generateDataKey(suite: CipherSuite): Uint8Array {
  return toBytes(randomBytes(dataKeyLength(suite)))
}

export interface StreamHeader {
  version: number
  suite: CipherSuite
  chunkSize: number
  headerLength: number
}

/**
 * Reads the header at the start of a stored object (`bytes` may run past it).
 * @throws AppError RECORD_INTEGRITY when the bytes are not a complete, valid header.
 */
export function parseStreamHeader(bytes: Uint8Array): StreamHeader {
  const { version, suite, chunkSize, headerLength } = readHeader(bytes)
  return { version, suite, chunkSize, headerLength }
}

export interface EncryptStreamParams {
  /** The data key: `dataKeyLength(suite)` bytes. */
  key: Uint8Array
  suite: CipherSuite
  /** Plaintext bytes per chunk, 1 KiB … 16 MiB; 1 MiB by default. */
  chunkSize?: number
  signal?: AbortSignal
}

/**
 * Encrypts `source` into the stored object format, holding at most one chunk in memory.
 * Yields the header, then each chunk's ciphertext and its tag as separate pieces (sparing a
 * copy per chunk); concatenated, the pieces are the stored object.
 * @throws AppError UNKNOWN_CIPHER_SUITE, INVALID_KEY (key length does not fit the suite),
 *   BAD_REQUEST (chunk size out of range), FILE_TOO_LARGE (more than 2^32 chunks); the
 *   signal's reason when aborted; whatever `source` throws.
 */
export async function* encryptStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  { key, suite, chunkSize = defaultChunkSize, signal }: EncryptStreamParams,
): AsyncGenerator<Uint8Array, void, undefined> {
  signal?.throwIfAborted()
  parseCipherSuite(suite)
  if (!Number.isInteger(chunkSize) || chunkSize < minChunkSize || chunkSize > maxChunkSize) {
    throw new AppError('BAD_REQUEST', { details: `chunk size must be an integer from ${minChunkSize} to ${maxChunkSize}` })
  }
  const aead = createAead(suite, key)
  const header = writeHeader(suite, chunkSize, toBytes(randomBytes(seedLength(aead))))
  const nonce = new Uint8Array(aead.nonceLength)
  nonce.set(header.subarray(fixedHeaderLength))
  const nonceView = new DataView(nonce.buffer)
  const tailAt = nonce.length - 5

  // One reusable plaintext chunk: a chunk is sealed only once we know whether it is the last.
  const chunk = new Uint8Array(chunkSize)
  let filled = 0
  let index = 0

  const seal = (last: boolean) => {
    if (index > maxChunkIndex) throw new AppError('FILE_TOO_LARGE', { details: 'more than 2^32 chunks' })
    nonceView.setUint32(tailAt, index)
    nonce[tailAt + 4] = last ? 1 : 0
    index++
    return aead.sealDetached(nonce, header, chunk.subarray(0, filled))
  }

  try {
    yield header
    for await (const piece of source) {
      signal?.throwIfAborted()
      let offset = 0
      while (offset < piece.length) {
        if (filled === chunkSize) {
          const { ciphertext, tag } = seal(false)
          filled = 0
          yield ciphertext
          yield tag
        }
        const n = Math.min(chunkSize - filled, piece.length - offset)
        chunk.set(piece.subarray(offset, offset + n), filled)
        filled += n
        offset += n
      }
    }
    signal?.throwIfAborted()
    const { ciphertext, tag } = seal(true)
    if (ciphertext.length > 0) yield ciphertext
    yield tag
  } finally {
    chunk.fill(0) // no plaintext left behind, whether we finished, failed or were abandoned
  }
}

export interface DecryptStreamParams {
  /** The data key the object was sealed with. */
  key: Uint8Array
  signal?: AbortSignal
}

/**
 * Decrypts a stored object read in any slicing, yielding each chunk's plaintext only after
 * that chunk has authenticated. Holds at most one sealed chunk in memory.
 * @throws AppError RECORD_INTEGRITY on any defect: bad magic, version or suite, a key that does
 *   not fit the suite, a chunk failing authentication (flipped bit, wrong key, dropped,
 *   reordered or duplicated chunk), truncation, trailing bytes. The signal's reason when
 *   aborted; whatever `source` throws.
 */
export async function* decryptStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  { key, signal }: DecryptStreamParams,
): AsyncGenerator<Uint8Array, void, undefined> {
  signal?.throwIfAborted()
  const headerBytes = new Uint8Array(fixedHeaderLength + 19)
  let headerFilled = 0
  let headerLength = fixedHeaderLength // grows to the full length once the suite is known
  let header: Uint8Array | undefined
  let aead: Aead | undefined
  let nonce = new Uint8Array(0)
  let nonceView = new DataView(nonce.buffer)
  let tailAt = 0
  let sealed: Uint8Array = new Uint8Array(0) // one sealed chunk at a time, leased from `sealedBuffers`
  let filled = 0
  let index = 0

  const open = (last: boolean): Uint8Array => {
    if (filled < aeadTagLength) throw integrityError(`truncated: stream ends inside chunk ${index}`)
    if (index > maxChunkIndex) throw integrityError('more than 2^32 chunks')
    nonceView.setUint32(tailAt, index)
    nonce[tailAt + 4] = last ? 1 : 0
    const split = filled - aeadTagLength
    const plaintext = aead!.openDetached(nonce, header!, sealed.subarray(0, split), sealed.subarray(split, filled))
    if (plaintext === undefined) {
      throw integrityError(last
        ? `chunk ${index} failed authentication as the final chunk (truncated, reordered or altered)`
        : `chunk ${index} failed authentication (altered, reordered, duplicated, or trailing bytes)`)
    }
    index++
    return plaintext
  }

  try {
    for await (const piece of source) {
      signal?.throwIfAborted()
      let offset = 0
      while (header === undefined && offset < piece.length) {
        const n = Math.min(headerLength - headerFilled, piece.length - offset)
        headerBytes.set(piece.subarray(offset, offset + n), headerFilled)
        headerFilled += n
        offset += n
        if (headerFilled === fixedHeaderLength && headerLength === fixedHeaderLength) {
          headerLength = readHeader(headerBytes.subarray(0, fixedHeaderLength), true).headerLength
        }
        if (headerFilled === headerLength && headerLength > fixedHeaderLength) {
          header = headerBytes.slice(0, headerLength)
          const parsed = readHeader(header)
          if (!(key instanceof Uint8Array) || key.length !== keyLengths[parsed.suite]) {
            throw integrityError(`the key does not fit the header's suite ${parsed.suite}`)
          }
          aead = createAead(parsed.suite, key)
          nonce = new Uint8Array(aead.nonceLength)
          nonce.set(parsed.seed)
          nonceView = new DataView(nonce.buffer)
          tailAt = nonce.length - 5
          sealed = sealedBuffers.lease(parsed.chunkSize + aeadTagLength)
        }
      }
      while (offset < piece.length) {
        if (filled === sealed.length) {
          // More bytes follow, so the buffered chunk cannot be the last.
          const plaintext = open(false)
          filled = 0
          yield plaintext
        }
        const n = Math.min(sealed.length - filled, piece.length - offset)
        sealed.set(piece.subarray(offset, offset + n), filled)
        filled += n
        offset += n
      }
    }
    signal?.throwIfAborted()
    if (header === undefined) throw integrityError('truncated: the stream ends inside the header')
    const plaintext = open(true)
    if (plaintext.length > 0) yield plaintext
  } finally {
    sealedBuffers.release(sealed)
  }
}

/**
 * Buffers for sealed chunks (ciphertext and tag only, never plaintext), reused from one stream
 * to the next: a 1 MiB read allocates its plaintext, not a second MiB to gather the chunk in,
 * which halves the external memory that makes V8 collect garbage. At most `maxBytes` kept.
 */
const sealedBuffers = (() => {
  const free: Uint8Array[] = []
  const maxBytes = 32 << 20
  let kept = 0
  return {
    lease(size: number): Uint8Array {
      const i = free.findIndex((b) => b.length === size)
      if (i < 0) return new Uint8Array(size)
      const [b] = free.splice(i, 1)
      kept -= b!.length
      return b!
    },
    release(b: Uint8Array): void {
      if (b.length === 0 || kept + b.length > maxBytes || free.includes(b)) return
      free.push(b)
      kept += b.length
    },
  }
})()

interface ParsedHeader extends StreamHeader {
  seed: Uint8Array
}

function seedLength(aead: Aead): number {
  return aead.nonceLength - 5
}

function writeHeader(suite: CipherSuite, chunkSize: number, seed: Uint8Array): Uint8Array {
  const header = new Uint8Array(fixedHeaderLength + seed.length)
  header.set(magic, 0)
  header[4] = formatVersion
  header[5] = suiteIds[suite]
  new DataView(header.buffer).setUint32(6, chunkSize)
  header.set(seed, fixedHeaderLength)
  return header
}

/** Parses a header; with `prefixOnly`, checks just the fixed part and reports the full length. */
function readHeader(bytes: Uint8Array, prefixOnly = false): ParsedHeader {
  if (!(bytes instanceof Uint8Array) || bytes.length < fixedHeaderLength) throw integrityError('truncated header')
  if (magic.some((b, i) => bytes[i] !== b)) throw integrityError('not a MedLedger object (bad magic)')
  if (bytes[4] !== formatVersion) throw integrityError(`unsupported format version ${bytes[4]}`)
  const suite = suitesById.get(bytes[5]!)
  if (suite === undefined) throw integrityError(`unknown suite id ${bytes[5]}`)
  const chunkSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(6)
  if (chunkSize < minChunkSize || chunkSize > maxChunkSize) throw integrityError(`chunk size ${chunkSize} out of range`)
  const headerLength = fixedHeaderLength + (suite === 'xchacha20-poly1305' ? 19 : 7)
  if (prefixOnly) return { version: formatVersion, suite, chunkSize, headerLength, seed: new Uint8Array(0) }
  if (bytes.length < headerLength) throw integrityError('truncated header')
  return { version: formatVersion, suite, chunkSize, headerLength, seed: bytes.slice(fixedHeaderLength, headerLength) }
}

function integrityError(details: string): AppError {
  return new AppError('RECORD_INTEGRITY', { details })
}
