import { hkdfSync, randomBytes } from 'node:crypto'
import { createAead, type Aead } from '../crypto/aead.ts'
import { decodeBase64url, encodeBase64url, utf8 } from '../crypto/bytes.ts'
import { isManifest, type Manifest } from './envelopes.ts'
import type { RecordRow } from './record.ts'
import type { Services } from '../services.ts'

/** The reader a listing's sealed manifest copies belong to: their account and encryption private key. */
export interface ListMetaReader {
  accountId: string
  privateKey: Uint8Array
}

/**
 * A listing's view of one reader's sealed manifest copies (`record_list_meta`): each copy is the
 * manifest of a record the reader's listing already opened through the record's own keys, sealed
 * (AES-256-GCM) under a key derived from the reader's own encryption private key, so only what
 * opens the reader's envelopes opens it. `get` answers a copy that authenticates for this record
 * and its anchored envelopes digest (undefined otherwise: the caller opens the record as before);
 * `put` seals and keeps one. Lookups and writes arriving together go to the database together.
 * Nothing here decides access: a caller asks only for a record it has decided the reader may read.
 */
export interface ListMeta {
  /** Reads the copies of all these rows at once (a listing's candidates), so that `has` and `get` find them read. */
  prefetch(rows: readonly RecordRow[]): void
  /** Whether the reader holds a copy for this record (not yet opened: `get` may still find it does not authenticate). */
  has(row: RecordRow): Promise<boolean>
  get(row: RecordRow): Promise<Manifest | undefined>
  put(row: RecordRow, manifest: Manifest): Promise<void>
}

/** The listing's copies of `reader`'s sealed manifests, read and written in batches. */
export function listMeta(s: Pick<Services, 'db' | 'log'>, reader: ListMetaReader): ListMeta {
  let aead: Aead | undefined
  const key = () => aead ??= createAead('aes-256-gcm', listMetaKey(reader))
  const read = batcher<RecordRow, Map<string, string>>(async (rows) => {
    const out = new Map<string, string>()
    const ids = [...new Set(rows.map((r) => r.record_id))]
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500)
      const found = await s.db.all<{ record_id: string; sealed: string }>(`SELECT record_id, sealed FROM record_list_meta
        WHERE account_id = ? AND record_id IN (${chunk.map(() => '?').join(', ')})`, reader.accountId, ...chunk)
      for (const f of found) out.set(f.record_id, f.sealed)
    }
    return out
  })
  const writes = batcher<{ row: RecordRow; sealed: string }, void>(async (items) => {
    const rows = [...new Map(items.map((i) => [i.row.record_id, i.sealed]))]
    try {
      for (let i = 0; i < rows.length; i += 300) {
        const chunk = rows.slice(i, i + 300)
        await s.db.run(`INSERT INTO record_list_meta (record_id, account_id, sealed) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}
          ON CONFLICT (record_id, account_id) DO UPDATE SET sealed = excluded.sealed`, ...chunk.flatMap(([id, sealed]) => [id, reader.accountId, sealed]))
      }
    } catch (err) {
      // A copy is only a shortcut (a record erased meanwhile refuses its row): the listing goes on.
      s.log('warn', `listing: sealed manifest copies not kept (${(err as Error).message})`)
    }
  })
  const loaded = new Map<string, Promise<string | undefined>>()
  const sealedOf = (row: RecordRow) => {
    let p = loaded.get(row.record_id)
    if (p === undefined) loaded.set(row.record_id, p = read(row).then((found) => found.get(row.record_id)))
    return p
  }
  return {
    prefetch(rows) {
      for (const row of rows) void sealedOf(row).catch(() => undefined) // awaited by has or get
    },
    has: async (row) => (await sealedOf(row)) !== undefined,
    async get(row) {
      const sealed = await sealedOf(row)
      return sealed === undefined ? undefined : openListMeta(key(), reader.accountId, row, sealed)
    },
    put: (row, manifest) => writes({ row, sealed: sealListMeta(key(), reader.accountId, row, manifest) }),
  }
}

/** The reader's key for their sealed manifest copies: HKDF-SHA256 of their encryption private key, bound to their account. */
function listMetaKey({ accountId, privateKey }: ListMetaReader): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', privateKey, utf8(accountId), utf8('medledger/list-meta/v1'), 32))
}

/** What a copy is bound to: its reader, its record and the record's anchored envelopes block (the manifest's source). */
const listMetaAad = (accountId: string, row: RecordRow) => utf8(`medledger/list-meta/v1|${accountId}|${row.record_id.toLowerCase()}|${row.envelopes.toLowerCase()}`)

function sealListMeta(aead: Aead, accountId: string, row: RecordRow, manifest: Manifest): string {
  const nonce = randomBytes(12)
  const { fileName, mediaType, size, sha256, created } = manifest
  const sealed = aead.seal(nonce, listMetaAad(accountId, row), utf8(JSON.stringify({ fileName, mediaType, size, sha256, created })))
  return `${encodeBase64url(nonce)}.${encodeBase64url(sealed)}`
}

function openListMeta(aead: Aead, accountId: string, row: RecordRow, text: string): Manifest | undefined {
  const [n, c] = text.split('.')
  const nonce = decodeBase64url(n, 12)
  const sealed = decodeBase64url(c)
  const pt = nonce && sealed ? aead.open(nonce, listMetaAad(accountId, row), sealed) : undefined
  if (!pt) return undefined
  try {
    const manifest: unknown = JSON.parse(Buffer.from(pt).toString('utf8'))
    return isManifest(manifest) ? manifest : undefined
  } catch {
    return undefined
  }
}

/**
 * Calls made in the same turn of the event loop answered by one call of `run` over all their
 * items (run on the next turn, so that concurrent callers join).
 */
function batcher<T, R>(run: (items: T[]) => Promise<R>): (item: T) => Promise<R> {
  let pending: { items: T[]; result: Promise<R> } | undefined
  return (item) => {
    if (pending === undefined) {
      const batch: { items: T[]; result?: Promise<R> } = { items: [] }
      batch.result = new Promise<R>((resolve, reject) => setImmediate(() => {
        pending = undefined
        run(batch.items).then(resolve, reject)
      }))
      pending = batch as { items: T[]; result: Promise<R> }
    }
    pending.items.push(item)
    return pending.result
  }
}
