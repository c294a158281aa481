import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { CID } from 'multiformats/cid'

interface AbortOptions { signal?: AbortSignal }

/**
 * A pack record's header: magic `MLP1`, state (live, deleted, seal), multihash length, two
 * spare bytes, the data's length (u32 big-endian), then the block's multihash padded to 36
 * bytes. The block's bytes follow it.
 */
const MAGIC = 0x4d4c5031
export const PACK_HEADER_BYTES = 48
const MAX_MULTIHASH = 36
const LIVE = 1
const DELETED = 0
const SEAL = 2
const SHA2_256 = 0x12

/** Where one block lies in a pack. */
export interface PackEntry {
  /** The pack's file name (`000001.pack`). */
  pack: string
  /** Offset of the block's bytes (after its header). */
  offset: number
  length: number
}

/** The pack being written. */
interface OpenPack {
  name: string
  /** Bytes reserved so far (the next record's offset). */
  size: number
  handle: Promise<fs.FileHandle>
  /** Settles once every record reserved so far is written. */
  acked: Promise<void>
  syncer: Syncer
}

export interface PackStoreInit {
  /** A pack is closed and a new one started once it holds this many bytes (default 256 MiB). */
  maxPackBytes?: number
  /**
   * Reads (and deletes) only: no pack is written and an unsealed one is indexed as it is, not
   * cut or sealed (another process may share the folder, see openIpfs's `packs`).
   */
  readOnly?: boolean
}

/**
 * Blocks appended to pack files (`<dir>/NNNNNN.pack`), one fdatasync shared by every put that
 * arrives while the previous one runs, instead of a file created, fsynced and renamed per block.
 *
 * - `put` resolves once the block and every block reserved before it in its pack are written
 *   and fdatasynced: what is acknowledged is a prefix of the pack, so a crash can only lose a
 *   tail of puts that had not resolved.
 * - The index (multihash → pack, offset, length) lives in memory and is rebuilt at `open` from
 *   the packs' headers. A pack ends with a seal record once it is full or the store closes; a
 *   pack without one (the process died) has every live block hashed against its multihash at
 *   `open`, is cut at the first header or block that fails, and is sealed. Writes always go to
 *   a new pack.
 * - `delete` overwrites the block's bytes with zeros and marks its header deleted (fdatasynced):
 *   the bytes are gone from the disk's file, the space is not reclaimed (no compaction).
 * - Only sha2-256 multihashes are packed (`accepts`); readers still hash every block they get.
 */
export class PackStore {
  readonly dir: string
  readonly #maxPackBytes: number
  readonly #index = new Map<string, PackEntry>()
  /** Read handles of every pack, by name; the current pack's is also its write handle. */
  readonly #handles = new Map<string, fs.FileHandle>()
  /** Puts not yet durable, by multihash key: `has` and `get` wait for them. */
  readonly #writing = new Map<string, Promise<unknown>>()
  #current: OpenPack | undefined
  /** Seals of full packs under way: `close` waits for them. */
  readonly #sealing = new Set<Promise<void>>()
  #nextNumber = 1
  #closed = false
  readonly #readOnly: boolean

  constructor(dir: string, { maxPackBytes = 256 << 20, readOnly = false }: PackStoreInit = {}) {
    this.dir = path.resolve(dir)
    this.#maxPackBytes = maxPackBytes
    this.#readOnly = readOnly
  }

  /** Whether blocks named by `cid` can go into a pack (a sha2-256 multihash). */
  static accepts(cid: CID): boolean {
    return cid.multihash.code === SHA2_256 && cid.multihash.size === 32
  }

  /** Rebuilds the index from the packs; checks, cuts and seals a pack left unsealed by a crash. */
  async open(): Promise<void> {
    const created = await fs.mkdir(this.dir, { recursive: true, mode: 0o700 })
    // Folders made here are durable in their parents before any pack is written in them.
    if (created !== undefined) {
      for (let d = this.dir; ; d = path.dirname(d)) {
        await fsyncDir(path.dirname(d))
        if (d === created || path.dirname(d) === d) break
      }
    }
    const names = (await fs.readdir(this.dir)).filter(n => /^\d{6}\.pack$/.test(n)).sort()
    for (const name of names) {
      const handle = await fs.open(path.join(this.dir, name), 'r+')
      this.#handles.set(name, handle)
      await scanPack(name, handle, this.#index, { repair: !this.#readOnly })
      this.#nextNumber = Number(name.slice(0, 6)) + 1
    }
  }

  /** Seals the current pack (after every write under way) and closes every handle. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#writing.values()])
    await this.#sealCurrent()
    await Promise.allSettled([...this.#sealing])
    await Promise.allSettled([...this.#handles.values()].map(async h => h.close()))
    this.#handles.clear()
  }

  /** Whether a pack holds the block; a put under way counts once it has resolved. */
  async has(cid: CID): Promise<boolean> {
    const key = keyOf(cid)
    await this.#writing.get(key)?.catch(noop)
    return this.#index.has(key)
  }

  /** The block's bytes, or undefined when no pack holds it. */
  async get(cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const key = keyOf(cid)
    await this.#writing.get(key)?.catch(noop)
    options?.signal?.throwIfAborted()
    const entry = this.#index.get(key)
    if (entry === undefined) return undefined
    const bytes = new Uint8Array(entry.length)
    const handle = this.#handles.get(entry.pack) ?? await this.#current?.handle
    if (handle === undefined) throw new Error(`pack ${entry.pack} is not open`)
    const { bytesRead } = await handle.read(bytes, 0, entry.length, entry.offset)
    // A pack cut short behind our back yields what is left, which then fails its hash.
    return bytesRead === entry.length ? bytes : bytes.subarray(0, bytesRead)
  }

  /** Appends the block; resolves once it (and every block before it in its pack) is durable. */
  async put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (this.#closed) throw new Error('the pack store is closed')
    if (this.#readOnly) throw new Error('the pack store is read-only')
    const key = keyOf(cid)
    // One copy per block, so that a delete leaves none behind.
    const under = this.#writing.get(key)
    if (under !== undefined) await under.catch(noop)
    if (this.#index.has(key)) return
    if (this.#writing.has(key)) return this.put(cid, bytes, options)
    const write = this.#append(key, cid.multihash.bytes, bytes)
    this.#writing.set(key, write)
    try {
      await write
    } finally {
      if (this.#writing.get(key) === write) this.#writing.delete(key)
    }
  }

  /** Zeroes the block's bytes and marks it deleted, durably; false when no pack holds it. */
  async delete(cid: CID): Promise<boolean> {
    const key = keyOf(cid)
    await this.#writing.get(key)?.catch(noop)
    const entry = this.#index.get(key)
    if (entry === undefined) return false
    const handle = this.#handles.get(entry.pack)
    if (handle === undefined) throw new Error(`pack ${entry.pack} is not open`)
    await handle.write(new Uint8Array(entry.length), 0, entry.length, entry.offset)
    await handle.write(Uint8Array.of(DELETED), 0, 1, entry.offset - PACK_HEADER_BYTES + 4)
    await handle.datasync()
    this.#index.delete(key)
    return true
  }

  /** Every live block's CID key (multihash bytes) and place. */
  entries(): IterableIterator<[string, PackEntry]> {
    return this.#index.entries()
  }

  async #append(key: string, multihash: Uint8Array, bytes: Uint8Array): Promise<void> {
    const pack = this.#packFor(PACK_HEADER_BYTES + bytes.byteLength)
    const at = pack.size
    pack.size += PACK_HEADER_BYTES + bytes.byteLength
    const handle = await pack.handle
    const written = writeRecord(handle, at, LIVE, multihash, bytes)
    // Acknowledged in reservation order: a put resolves only once every earlier one's bytes are
    // written too, so the fdatasync after it covers a whole prefix of the pack.
    const previous = pack.acked
    const acked = Promise.all([previous, written]).then(noop)
    pack.acked = acked.catch(noop)
    await acked
    await pack.syncer.sync()
    this.#index.set(key, { pack: pack.name, offset: at + PACK_HEADER_BYTES, length: bytes.byteLength })
  }

  /** The pack the next `size` bytes go to: the current one, or a new one once it is full. */
  #packFor(size: number): OpenPack {
    const current = this.#current
    if (current !== undefined && (current.size === 0 || current.size + size <= this.#maxPackBytes)) return current
    if (current !== undefined) {
      // A pack whose seal fails stays unsealed: the next open checks it.
      const sealing = this.#seal(current).catch(noop)
      this.#sealing.add(sealing)
      void sealing.then(() => this.#sealing.delete(sealing))
    }
    const name = `${String(this.#nextNumber++).padStart(6, '0')}.pack`
    const file = path.join(this.dir, name)
    const handle = (async () => {
      const h = await fs.open(file, 'wx+', 0o600)
      this.#handles.set(name, h)
      // The new file's name must be durable before any block in it is acknowledged.
      await fsyncDir(this.dir)
      return h
    })()
    const next = { name, size: 0, handle, acked: handle.then(noop), syncer: new Syncer(async () => (await handle).datasync()) }
    this.#current = next
    return next
  }

  async #sealCurrent(): Promise<void> {
    const current = this.#current
    this.#current = undefined
    if (current !== undefined) await this.#seal(current)
  }

  /** Appends the seal record after every write reserved in `pack`, and fdatasyncs it. */
  async #seal(pack: OpenPack): Promise<void> {
    const at = pack.size
    pack.size += PACK_HEADER_BYTES
    const handle = await pack.handle
    await pack.acked
    await writeRecord(handle, at, SEAL, new Uint8Array(0), new Uint8Array(0))
    await handle.datasync()
  }
}

/**
 * Coalesces fdatasyncs of one file: a request made while one runs is served by the next, which
 * every request made before it starts shares.
 */
class Syncer {
  readonly #sync: () => Promise<void>
  #running: Promise<void> | undefined
  #queued: Promise<void> | undefined

  constructor(sync: () => Promise<void>) {
    this.#sync = sync
  }

  sync(): Promise<void> {
    if (this.#queued !== undefined) return this.#queued
    const previous = this.#running ?? Promise.resolve()
    const next: Promise<void> = previous.then(noop, noop).then(async () => {
      this.#queued = undefined
      this.#running = next
      try {
        await this.#sync()
      } finally {
        if (this.#running === next) this.#running = undefined
      }
    })
    this.#queued = next
    return next
  }
}

async function writeRecord(handle: fs.FileHandle, at: number, state: number, multihash: Uint8Array, bytes: Uint8Array): Promise<void> {
  const header = new Uint8Array(PACK_HEADER_BYTES)
  const view = new DataView(header.buffer)
  view.setUint32(0, MAGIC)
  header[4] = state
  header[5] = multihash.byteLength
  view.setUint32(8, bytes.byteLength)
  header.set(multihash, 12)
  const buffers = bytes.byteLength === 0 ? [header] : [header, bytes]
  let position = at
  for (const b of buffers) {
    for (let offset = 0; offset < b.byteLength;) {
      const { bytesWritten } = await handle.write(b, offset, b.byteLength - offset, position)
      offset += bytesWritten
      position += bytesWritten
    }
  }
}

/**
 * Adds a pack's live blocks to `index`. A pack that does not end in a seal record is checked
 * block by block (each hashed against its multihash), cut at the first failure and sealed.
 */
async function scanPack(name: string, handle: fs.FileHandle, index: Map<string, PackEntry>, { repair }: { repair: boolean }): Promise<void> {
  const { size } = await handle.stat()
  const found: Array<[string, PackEntry]> = []
  const header = new Uint8Array(PACK_HEADER_BYTES)
  let at = 0
  let sealed = false
  while (at + PACK_HEADER_BYTES <= size) {
    const { bytesRead } = await handle.read(header, 0, PACK_HEADER_BYTES, at)
    const parsed = bytesRead === PACK_HEADER_BYTES ? parseHeader(header) : undefined
    if (parsed === undefined || at + PACK_HEADER_BYTES + parsed.length > size) break
    if (parsed.state === SEAL) { sealed = at + PACK_HEADER_BYTES === size; break }
    if (parsed.state === LIVE) found.push([keyOfMultihash(parsed.multihash), { pack: name, offset: at + PACK_HEADER_BYTES, length: parsed.length }])
    at += PACK_HEADER_BYTES + parsed.length
  }
  if (!sealed && repair) {
    const good = await checkedPrefix(handle, found)
    found.length = good.count
    await handle.truncate(good.end)
    await writeRecord(handle, good.end, SEAL, new Uint8Array(0), new Uint8Array(0))
    await handle.datasync()
  }
  for (const [key, entry] of found) index.set(key, entry)
}

/** How many of `found` hash to their multihash before the first that does not, and where they end. */
async function checkedPrefix(handle: fs.FileHandle, found: Array<[string, PackEntry]>): Promise<{ count: number; end: number }> {
  let end = 0
  for (let i = 0; i < found.length; i++) {
    const [key, entry] = found[i]
    const bytes = new Uint8Array(entry.length)
    await handle.read(bytes, 0, entry.length, entry.offset)
    const expected = Buffer.from(key, 'base64url')
    const digest = createHash('sha256').update(bytes).digest()
    if (!Buffer.from(expected.subarray(expected.byteLength - 32)).equals(digest)) return { count: i, end: entry.offset - PACK_HEADER_BYTES }
    end = entry.offset + entry.length
  }
  // Deleted records after the last live one are kept only up to the last live block's end.
  return { count: found.length, end }
}

/**
 * Where the live copy of the block with `multihash` lies in the packs under `dir`, read from
 * their headers (for tests and tools that look at the disk); undefined when no pack holds it.
 */
export async function findInPacks(dir: string, multihash: Uint8Array): Promise<PackEntry & { file: string } | undefined> {
  let names: string[]
  try {
    names = (await fs.readdir(dir)).filter(n => /^\d{6}\.pack$/.test(n)).sort()
  } catch {
    return undefined
  }
  const key = keyOfMultihash(multihash)
  let found: PackEntry & { file: string } | undefined
  for (const name of names) {
    const handle = await fs.open(path.join(dir, name), 'r')
    try {
      const { size } = await handle.stat()
      const header = new Uint8Array(PACK_HEADER_BYTES)
      for (let at = 0; at + PACK_HEADER_BYTES <= size;) {
        await handle.read(header, 0, PACK_HEADER_BYTES, at)
        const parsed = parseHeader(header)
        if (parsed === undefined || parsed.state === SEAL) break
        if (parsed.state === LIVE && keyOfMultihash(parsed.multihash) === key) found = { file: path.join(dir, name), pack: name, offset: at + PACK_HEADER_BYTES, length: parsed.length }
        at += PACK_HEADER_BYTES + parsed.length
      }
    } finally {
      await handle.close()
    }
  }
  return found
}

function parseHeader(header: Uint8Array): { state: number; multihash: Uint8Array; length: number } | undefined {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength)
  if (view.getUint32(0) !== MAGIC) return undefined
  const state = header[4]
  const mhLength = header[5]
  if (state > SEAL || mhLength > MAX_MULTIHASH) return undefined
  return { state, multihash: header.slice(12, 12 + mhLength), length: view.getUint32(8) }
}

function keyOf(cid: CID): string {
  return keyOfMultihash(cid.multihash.bytes)
}

function keyOfMultihash(multihash: Uint8Array): string {
  return Buffer.from(multihash).toString('base64url')
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function noop(): void {}
