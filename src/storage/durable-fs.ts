import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { FsDatastore } from 'datastore-fs'
import { AppError } from '../errors.ts'
import type { HeliaInit } from 'helia'
import type { CID } from 'multiformats/cid'

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
 */
class DirSyncer {
  readonly #queued = new Map<string, Promise<void>>()
  readonly #running = new Map<string, Promise<void>>()

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

/** `mkdir -p dir`, with every folder it created durable in its parent. */
async function mkdirDurably(dir: string, dirs: DirSyncer): Promise<void> {
  const created = await fs.mkdir(dir, { recursive: true })
  await Promise.all(parentsToSync(dir, created).map(async d => dirs.sync(d)))
}

/**
 * Writes `data` to `file` so that, when it resolves, the file and its name survive a crash or
 * power loss: a uniquely named temp file in the same folder, fdatasync, rename over the target,
 * then fsync of the folder (and of the parent of any folder this call had to create). A crash at
 * any point leaves either no file or the whole file under its final name, never a torn one.
 * With `sync: false` it only writes and renames, and returns the folders to fsync later.
 */
async function writeFileDurably(file: string, data: BlockBytes, dirs: DirSyncer, { signal, sync = true }: { signal?: AbortSignal; sync?: boolean } = {}): Promise<string[]> {
  signal?.throwIfAborted()
  const dir = path.dirname(file)
  const created = await fs.mkdir(dir, { recursive: true })
  // A unique temp name: blockstore-fs (steno) uses one fixed temp name per target, so two
  // concurrent puts of the same block could truncate each other's file mid-write.
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await fs.open(tmp, 'wx')
  try {
    if (data instanceof Uint8Array) {
      await handle.writeFile(data)
    } else {
      // writeFile continues at the current position and loops over short writes
      for await (const chunk of data) await handle.writeFile(chunk)
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
  const toSync = [dir, ...parentsToSync(dir, created)]
  if (sync) await Promise.all(toSync.map(async d => dirs.sync(d)))
  return toSync
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
}

/**
 * blockstore-fs's FsBlockstore (same files, same layout), except that `put` resolves only once
 * the block is durable (see writeFileDurably) and `get` reads a block in one piece.
 * blockstore-fs 4 writes through steno: temp file + rename, with no fsync of the file or its
 * folder, so a crash can lose or empty blocks that were acknowledged. Listing and deletes are
 * FsBlockstore's own.
 */
export class DurableFsBlockstore implements Blockstore {
  readonly path: string
  readonly #fs: FsBlockstore
  readonly #sharding: Sharding
  readonly #dirs = new DirSyncer()
  readonly #putManyConcurrency: number

  constructor(location: string, init: DurableFsBlockstoreInit) {
    this.path = path.resolve(location)
    this.#sharding = init.sharding
    this.#putManyConcurrency = init.putManyConcurrency ?? 16
    this.#fs = new FsBlockstore(this.path, { shardingStrategy: init.sharding })
  }

  async open(): Promise<void> {
    await mkdirDurably(this.path, this.#dirs)
    await this.#fs.open()
  }

  async close(): Promise<void> {
    await this.#fs.close()
  }

  async put(key: CID, val: BlockBytes, options?: AbortOptions): Promise<CID> {
    const { dir, file } = this.#sharding.encode(key)
    try {
      await writeFileDurably(path.join(this.path, dir, file), val, this.#dirs, { signal: options?.signal })
    } catch (err) {
      throw storageError(err, `writing block ${key.toString()}`, options?.signal)
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
    const { dir, file } = this.#sharding.encode(key)
    let bytes: Uint8Array
    try {
      options?.signal?.throwIfAborted()
      bytes = await fs.readFile(path.join(this.path, dir, file), { signal: options?.signal })
    } catch (err) {
      if (options?.signal?.aborted === true) throw options.signal.reason
      // Same error name as FsBlockstore's: Helia and its brokers test for it.
      throw Object.assign(new Error(`block ${key.toString()} not readable: ${String(err)}`, { cause: err }), { name: 'NotFoundError' })
    }
    yield bytes
  }

  getMany(source: Parameters<Blockstore['getMany']>[0], options?: AbortOptions): ReturnType<Blockstore['getMany']> {
    return this.#fs.getMany(source, options)
  }

  getAll(options?: AbortOptions): ReturnType<Blockstore['getAll']> {
    return this.#fs.getAll(options)
  }

  async has(key: CID, options?: AbortOptions): Promise<boolean> {
    return this.#fs.has(key, options)
  }

  async delete(key: CID, options?: AbortOptions): Promise<void> {
    await this.#fs.delete(key, options)
  }

  deleteMany(source: Parameters<Blockstore['deleteMany']>[0], options?: AbortOptions): ReturnType<Blockstore['deleteMany']> {
    return this.#fs.deleteMany(source, options)
  }
}

export interface DurableFsDatastoreInit {
  /**
   * Keys under these prefixes are written atomically but made durable in groups: before any
   * other key is written (and on `flush`/`close`). Default: Helia's per-block pin entries.
   */
  deferredPrefixes?: string[]
}

/**
 * datastore-fs's FsDatastore with durable puts (same write path as blocks). Helia keeps its pins
 * here: a pin lost or torn in a crash would leave an acknowledged record open to GC.
 *
 * Pinning a DAG writes one entry per block (`/pinned-block/…`), one after the other, then the
 * pin itself (`/pin/…`). An fsync per entry costs ~5 ms each (8 s for a 1 GiB record), so block
 * entries are deferred and all fsynced together, in parallel, before the pin key is written:
 * a pin that is on disk implies all its block entries are. A crash mid-pin can leave an empty
 * block entry (unacknowledged); `get` treats an empty deferred entry as absent.
 */
export class DurableFsDatastore extends FsDatastore {
  readonly #dirs = new DirSyncer()
  readonly #deferred: string[]
  readonly #pendingFiles = new Set<string>()
  readonly #pendingDirs = new Set<string>()
  #flushes: Promise<void> = Promise.resolve()

  constructor(location: string, init: DurableFsDatastoreInit = {}) {
    super(location)
    this.#deferred = init.deferredPrefixes ?? ['/pinned-block/']
  }

  override async open(): Promise<void> {
    await mkdirDurably(this.path, this.#dirs)
    await super.open()
  }

  override async close(): Promise<void> {
    await this.flush()
    await super.close()
  }

  override async put(key: Key, val: Uint8Array, options?: AbortOptions): Promise<Key> {
    const file = this._encode(key).file
    const deferred = this.#isDeferred(key)
    try {
      if (!deferred) await this.flush()
      const dirs = await writeFileDurably(file, val, this.#dirs, { signal: options?.signal, sync: !deferred })
      if (deferred) {
        this.#pendingFiles.add(file)
        for (const d of dirs) this.#pendingDirs.add(d)
      }
    } catch (err) {
      throw storageError(err, `writing datastore key ${key.toString()}`, options?.signal)
    }
    return key
  }

  override async get(key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const value = await super.get(key, options)
    if (value.byteLength === 0 && this.#isDeferred(key)) {
      throw Object.assign(new Error(`empty entry for ${key.toString()} (interrupted write)`), { name: 'NotFoundError' })
    }
    return value
  }

  /**
   * Makes every deferred write made so far durable. Flushes run one after another, so when this
   * resolves no earlier flush is still syncing files this caller wrote.
   */
  async flush(): Promise<void> {
    const run = this.#flushes.then(async () => {
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
