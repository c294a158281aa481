import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { FsDatastore } from 'datastore-fs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { decode as decodeDigest } from 'multiformats/hashes/digest'
import { PackStore } from './pack-store.ts'
import { AppError } from '../errors.ts'
import type { HeliaInit } from 'helia'

// Types taken from Helia's init so we depend on what Helia accepts, not on its transitive packages.
type Blockstore = NonNullable<HeliaInit['blockstore']>
type Datastore = NonNullable<HeliaInit['datastore']>
type BlockBytes = Parameters<Blockstore['put']>[1]
type Key = Parameters<Datastore['put']>[0]
type Sharding = NonNullable<NonNullable<ConstructorParameters<typeof FsBlockstore>[1]>['shardingStrategy']>

interface AbortOptions { signal?: AbortSignal }

/**
 * Coalesces fsyncs of a directory. A request made while an fsync of that directory is running
 * is served by the next one (which starts after it), and every request made before that next one
 * starts shares it: concurrent puts into one directory cost one or two fsyncs, not one each.
 * Also remembers the directories it has made durably, so a put into a known one costs no mkdir.
 */
class Dirs {
  readonly #queued = new Map<string, Promise<void>>()
  readonly #running = new Map<string, Promise<void>>()
  readonly #made = new Map<string, Promise<void>>()

  sync(dir: string): Promise<void> {
    const queued = this.#queued.get(dir)
    if (queued !== undefined) return queued
    const previous = this.#running.get(dir) ?? Promise.resolve()
    const next: Promise<void> = previous.then(noop, noop).then(async () => {
      this.#queued.delete(dir)
      this.#running.set(dir, next)
      try {
        await fsyncPath(dir)
      } finally {
        if (this.#running.get(dir) === next) this.#running.delete(dir)
      }
    })
    this.#queued.set(dir, next)
    return next
  }

  /**
   * `mkdir -p dir`, resolving once `dir` exists and every folder it created is durable in its
   * parent. Every caller waits for that, not just the one that created it: a file is durable
   * only once the folders on its path are.
   */
  make(dir: string): Promise<void> {
    let made = this.#made.get(dir)
    if (made === undefined) {
      made = (async () => {
        const created = await fs.mkdir(dir, { recursive: true, mode: 0o700 })
        await Promise.all(parentsToSync(dir, created).map(async d => this.sync(d)))
      })()
      this.#made.set(dir, made)
      made.catch(() => this.forget(dir))
    }
    return made
  }

  /** Forgets that `dir` was made (it was found missing: deleted behind our back). */
  forget(dir: string): void {
    this.#made.delete(dir)
  }
}

function noop(): void {}

async function fsyncPath(p: string): Promise<void> {
  const handle = await fs.open(p, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** The folders whose entries must be fsynced after `mkdir -p dir` created `created`. */
function parentsToSync(dir: string, created: string | undefined): string[] {
  const parents: string[] = []
  if (created === undefined) return parents
  for (let d = dir; ; d = path.dirname(d)) {
    parents.push(path.dirname(d))
    if (d === created || path.dirname(d) === d) break
  }
  return parents
}

/**
 * Unique temp file names: blockstore-fs (steno) uses one fixed temp name per target, so two
 * concurrent puts of the same block could truncate each other's file mid-write. A random prefix
 * per store (another process, or a run that crashed, cannot clash) and a counter.
 */
class TempNames {
  readonly #prefix = randomBytes(6).toString('hex')
  #next = 0

  for(file: string): string {
    return path.join(path.dirname(file), `.${path.basename(file)}.${this.#prefix}${(this.#next++).toString(36)}.tmp`)
  }
}

async function writeAll(handle: fs.FileHandle, data: Uint8Array): Promise<void> {
  // One write(2) for a block in practice; the loop covers short writes.
  for (let offset = 0; offset < data.byteLength;) {
    const { bytesWritten } = await handle.write(data, offset, data.byteLength - offset)
    offset += bytesWritten
  }
}

/**
 * Writes `data` to `file` so that, when it resolves, the file and its name survive a crash or
 * power loss: a uniquely named temp file in the same folder, fdatasync, rename over the target,
 * then fsync of the folder (and of the parent of any folder that had to be created). A crash at
 * any point leaves either no file or the whole file under its final name, never a torn one.
 * With `sync: false` it only writes and renames, and returns the folders to fsync later.
 */
async function writeFileDurably(file: string, data: BlockBytes, dirs: Dirs, temps: TempNames, { signal, sync = true }: { signal?: AbortSignal; sync?: boolean } = {}): Promise<string[]> {
  signal?.throwIfAborted()
  const dir = path.dirname(file)
  await dirs.make(dir)
  const tmp = temps.for(file)
  let handle: fs.FileHandle
  try {
    handle = await fs.open(tmp, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    // The folder was removed since we made it: make it again.
    dirs.forget(dir)
    await dirs.make(dir)
    handle = await fs.open(tmp, 'wx', 0o600)
  }
  try {
    if (data instanceof Uint8Array) {
      await writeAll(handle, data)
    } else {
      for await (const chunk of data) await writeAll(handle, chunk)
    }
    if (sync) await handle.datasync()
  } catch (err) {
    await handle.close().catch(noop)
    await fs.rm(tmp, { force: true })
    throw err
  }
  await handle.close()
  try {
    await fs.rename(tmp, file)
  } catch (err) {
    await fs.rm(tmp, { force: true })
    throw err
  }
  if (sync) await dirs.sync(dir)
  return [dir]
}

function storageError(err: unknown, details: string, signal?: AbortSignal): unknown {
  if (signal?.aborted === true) return signal.reason
  return new AppError('STORAGE_UNAVAILABLE', { details, cause: err })
}

export interface DurableFsBlockstoreInit {
  /** The layout of files under `location`; must be the one readers (and blockFilePath) use. */
  sharding: Sharding
  /** How many blocks `putMany` writes at once. */
  putManyConcurrency?: number
  /**
   * Blocks of at least this many bytes (sha2-256 ones) are appended to pack files under
   * `<location>/packs` rather than written one file each (default 256 KiB: a large record's
   * 1 MiB leaves). Infinity keeps every block in its own file (and packs already there are
   * read, never repaired).
   */
  packMinBytes?: number
  /** A pack is closed and another started past this size (default 256 MiB). */
  maxPackBytes?: number
}

/** Blocks from this size up go to packs by default: the leaves of large records. */
export const PACK_MIN_BYTES = 256 << 10

/**
 * blockstore-fs's FsBlockstore (same files, same layout) for small blocks, except that `put`
 * resolves only once the block is durable (see writeFileDurably) and `get` reads a block in one
 * piece. blockstore-fs 4 writes through steno: temp file + rename, with no fsync of the file or
 * its folder, so a crash can lose or empty blocks that were acknowledged.
 *
 * Large blocks (`packMinBytes`) are appended to pack files instead (see PackStore): one
 * fdatasync shared by the puts that arrive together rather than a file created, fsynced and
 * renamed per block. Reads, `has` and deletes look in the packs, then in the files, so a store
 * written before packs existed reads as it did.
 */
export class DurableFsBlockstore implements Blockstore {
  readonly path: string
  readonly #fs: FsBlockstore
  readonly #sharding: Sharding
  readonly #dirs = new Dirs()
  readonly #temps = new TempNames()
  readonly #putManyConcurrency: number
  readonly #packs: PackStore
  readonly #packMinBytes: number
  /** Puts not yet durable, by file: `has` waits for them (see has). */
  readonly #writing = new Map<string, Promise<unknown>>()

  constructor(location: string, init: DurableFsBlockstoreInit) {
    this.path = path.resolve(location)
    this.#sharding = init.sharding
    this.#putManyConcurrency = init.putManyConcurrency ?? 16
    this.#fs = new FsBlockstore(this.path, { shardingStrategy: init.sharding })
    // Without writes to packs, packs already there are read only: never cut or sealed.
    this.#packs = new PackStore(path.join(this.path, 'packs'), { maxPackBytes: init.maxPackBytes, readOnly: init.packMinBytes === Infinity })
    this.#packMinBytes = init.packMinBytes ?? PACK_MIN_BYTES
  }

  async open(): Promise<void> {
    await this.#dirs.make(this.path)
    await this.#fs.open()
    try {
      await this.#packs.open()
    } catch (err) {
      throw storageError(err, `opening the block packs under ${this.#packs.dir}`)
    }
  }

  async close(): Promise<void> {
    await this.#packs.close()
    await this.#fs.close()
  }

  async put(key: CID, val: BlockBytes, options?: AbortOptions): Promise<CID> {
    if (val instanceof Uint8Array && val.byteLength >= this.#packMinBytes && PackStore.accepts(key)) {
      try {
        await this.#packs.put(key, val, options)
      } catch (err) {
        throw storageError(err, `writing block ${key.toString()} to a pack`, options?.signal)
      }
      return key
    }
    const file = this.#file(key)
    const write = writeFileDurably(file, val, this.#dirs, this.#temps, { signal: options?.signal })
    this.#writing.set(file, write)
    try {
      await write
    } catch (err) {
      throw storageError(err, `writing block ${key.toString()}`, options?.signal)
    } finally {
      if (this.#writing.get(file) === write) this.#writing.delete(file)
    }
    return key
  }

  async * putMany(source: Parameters<Blockstore['putMany']>[0], options?: AbortOptions): AsyncGenerator<CID> {
    let batch: Array<Promise<CID>> = []
    for await (const { cid, bytes } of source) {
      batch.push(this.put(cid, bytes, options))
      if (batch.length >= this.#putManyConcurrency) {
        yield * await Promise.all(batch)
        batch = []
      }
    }
    yield * await Promise.all(batch)
  }

  /**
   * Yields the block in one piece. FsBlockstore streams it in 64 KiB reads, which cost more than
   * the bytes for our blocks (at most 1 MiB + a root node; bitswap's own limit is 2 MiB).
   */
  async * get(key: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    let bytes: Uint8Array | undefined
    try {
      options?.signal?.throwIfAborted()
      if (PackStore.accepts(key)) bytes = await this.#packs.get(key, options)
      bytes ??= await fs.readFile(this.#file(key), { signal: options?.signal })
    } catch (err) {
      if (options?.signal?.aborted === true) throw options.signal.reason
      // Same error name as FsBlockstore's: Helia and its brokers test for it.
      throw Object.assign(new Error(`block ${key.toString()} not readable: ${String(err)}`, { cause: err }), { name: 'NotFoundError' })
    }
    yield bytes
  }

  async * getMany(source: Parameters<Blockstore['getMany']>[0], options?: AbortOptions): AsyncGenerator<{ cid: CID; bytes: AsyncGenerator<Uint8Array> }> {
    for await (const cid of source) yield { cid, bytes: this.get(cid, options) }
  }

  /** The files' blocks, then the packs' (as raw CIDs: a pack keeps the multihash, as a file name does). */
  async * getAll(options?: AbortOptions): AsyncGenerator<{ cid: CID; bytes: AsyncGenerator<Uint8Array> | Generator<Uint8Array> }> {
    yield * this.#fs.getAll(options)
    for (const [key] of [...this.#packs.entries()]) {
      options?.signal?.throwIfAborted()
      const cid = CID.createV1(raw.code, decodeDigest(Buffer.from(key, 'base64url')))
      yield { cid, bytes: this.get(cid, options) }
    }
  }

  /**
   * Whether the block is stored. A block this store is still writing counts once its put has
   * resolved: Helia skips a put when `has` says yes, and that put must not resolve before the
   * block is durable. (FsBlockstore's own `has` also adds an abort listener per call, which
   * many concurrent puts on one signal turn into a MaxListenersExceededWarning.)
   */
  async has(key: CID, options?: AbortOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    if (PackStore.accepts(key) && await this.#packs.has(key)) return true
    const file = this.#file(key)
    await this.#writing.get(file)?.catch(noop)
    try {
      await fs.access(file)
      return true
    } catch {
      return false
    }
  }

  /** Removes the block from the packs (its bytes zeroed) and from the files, wherever it is. */
  async delete(key: CID, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (PackStore.accepts(key)) {
      try {
        await this.#packs.delete(key)
      } catch (err) {
        throw storageError(err, `deleting block ${key.toString()} from a pack`, options?.signal)
      }
    }
    await this.#fs.delete(key, options)
  }

  async * deleteMany(source: Parameters<Blockstore['deleteMany']>[0], options?: AbortOptions): AsyncGenerator<CID> {
    for await (const cid of source) {
      await this.delete(cid, options)
      yield cid
    }
  }

  #file(key: CID): string {
    const { dir, file } = this.#sharding.encode(key)
    return path.join(this.path, dir, file)
  }
}

export interface DurableFsDatastoreInit {
  /**
   * Keys under these prefixes are written behind and made durable in groups: before any other
   * key is written (and on `flush`/`close`). Default: Helia's per-block pin entries.
   */
  deferredPrefixes?: string[]
}

/**
 * datastore-fs's FsDatastore with durable puts (same write path as blocks). Helia keeps its pins
 * here: a pin lost or torn in a crash would leave an acknowledged record open to GC.
 *
 * Pinning a DAG writes one entry per block (`/pinned-block/…`), one after the other, then the
 * pin itself (`/pin/…`). Waiting for each entry's write (4 file operations) and fsync would make
 * pinning a 1 GiB record take seconds, so block entries are deferred: `put` returns at once and
 * the entry is written (atomically, temp file + rename) behind it, and before the next other key
 * is written every deferred write is awaited, retried if it failed, and fsynced, in parallel. A
 * pin on disk therefore implies all its block entries are. Reads of a key wait for its write.
 * A crash mid-pin can leave an empty block entry (unacknowledged); `get` treats an empty
 * deferred entry as absent.
 */
export class DurableFsDatastore extends FsDatastore {
  readonly #dirs = new Dirs()
  readonly #temps = new TempNames()
  readonly #deferred: string[]
  /** Deferred writes under way, by file; each settles once its file is in place (or failed). */
  readonly #writing = new Map<string, Promise<void>>()
  /** Deferred values whose write failed, by file: the next flush writes them again. */
  readonly #failed = new Map<string, { val: Uint8Array; err: unknown }>()
  /** Files written but not yet fsynced, and their folders. */
  readonly #pendingFiles = new Set<string>()
  readonly #pendingDirs = new Set<string>()
  #flushes: Promise<void> = Promise.resolve()

  constructor(location: string, init: DurableFsDatastoreInit = {}) {
    super(location)
    this.#deferred = init.deferredPrefixes ?? ['/pinned-block/']
  }

  override async open(): Promise<void> {
    await this.#dirs.make(this.path)
    await super.open()
  }

  override async close(): Promise<void> {
    await this.flush()
    await super.close()
  }

  /** A deferred key's value must not change after `put` (it may still be being written). */
  override async put(key: Key, val: Uint8Array, options?: AbortOptions): Promise<Key> {
    options?.signal?.throwIfAborted()
    const file = this._encode(key).file
    if (this.#isDeferred(key)) {
      this.#writeBehind(file, val)
      return key
    }
    try {
      await this.flush()
      await writeFileDurably(file, val, this.#dirs, this.#temps, { signal: options?.signal })
    } catch (err) {
      throw storageError(err, `writing datastore key ${key.toString()}`, options?.signal)
    }
    return key
  }

  override async get(key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const file = this._encode(key).file
    await this.#written(file)
    const failed = this.#failed.get(file)
    if (failed !== undefined) return failed.val.slice()
    const value = await super.get(key, options)
    if (value.byteLength === 0 && this.#isDeferred(key)) {
      throw Object.assign(new Error(`empty entry for ${key.toString()} (interrupted write)`), { name: 'NotFoundError' })
    }
    return value
  }

  override async has(key: Key, options?: AbortOptions): Promise<boolean> {
    const file = this._encode(key).file
    await this.#written(file)
    return this.#failed.has(file) || super.has(key, options)
  }

  override async delete(key: Key, options?: AbortOptions): Promise<void> {
    const file = this._encode(key).file
    await this.#written(file)
    this.#failed.delete(file)
    await super.delete(key, options)
  }

  // Queries list files: they wait for every write behind (a value whose write failed is listed
  // once a flush has written it).
  override async * _all(...args: Parameters<FsDatastore['_all']>): ReturnType<FsDatastore['_all']> {
    await this.#written()
    yield * super._all(...args)
  }

  override async * _allKeys(...args: Parameters<FsDatastore['_allKeys']>): ReturnType<FsDatastore['_allKeys']> {
    await this.#written()
    yield * super._allKeys(...args)
  }

  /**
   * Makes every deferred write made so far durable. Flushes run one after another, so when this
   * resolves no earlier flush is still syncing files this caller wrote.
   */
  async flush(): Promise<void> {
    const writes = [...this.#writing.values()]
    const run = this.#flushes.then(async () => {
      await Promise.all(writes)
      if (this.#failed.size > 0) {
        for (const [file, { val }] of this.#failed) this.#writeBehind(file, val)
        await this.#written()
        for (const { err } of this.#failed.values()) throw err
      }
      const files = [...this.#pendingFiles]
      const dirs = [...this.#pendingDirs]
      this.#pendingFiles.clear()
      this.#pendingDirs.clear()
      try {
        await syncFiles(files)
        // The renames are durable once their folders are fsynced, after the contents.
        await Promise.all(dirs.map(async d => this.#dirs.sync(d)))
      } catch (err) {
        for (const f of files) this.#pendingFiles.add(f)
        for (const d of dirs) this.#pendingDirs.add(d)
        throw err
      }
    })
    this.#flushes = run.catch(noop)
    await run
  }

  #writeBehind(file: string, val: Uint8Array): void {
    // Writes of one key land in the order they were made, and a newer value replaces a failed
    // older one; a failure is kept for the next flush to write again.
    this.#failed.delete(file)
    const write = (this.#writing.get(file) ?? Promise.resolve())
      .then(async () => this.#write(file, val))
      .catch((err: unknown) => { this.#failed.set(file, { val, err }) })
    this.#writing.set(file, write)
    void write.then(() => {
      if (this.#writing.get(file) === write) this.#writing.delete(file)
    })
  }

  async #write(file: string, val: Uint8Array): Promise<void> {
    const dirs = await writeFileDurably(file, val, this.#dirs, this.#temps, { sync: false })
    this.#failed.delete(file)
    this.#pendingFiles.add(file)
    for (const d of dirs) this.#pendingDirs.add(d)
  }

  /** Waits for the deferred write of `file` (of every file if none is given). */
  async #written(file?: string): Promise<void> {
    if (file === undefined) await Promise.all([...this.#writing.values()])
    else await this.#writing.get(file)
  }

  #isDeferred(key: Key): boolean {
    const k = key.toString()
    return this.#deferred.some(prefix => k.startsWith(prefix))
  }
}

/** fsyncs `files`, a few at a time. */
async function syncFiles(files: string[]): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const file = files[next++]
      try {
        await fsyncPath(file)
      } catch (err) {
        // Deleted since it was written: nothing left to make durable.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(8, files.length) }, worker))
}
