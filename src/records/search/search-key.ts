import { createHmac, hkdfSync, randomBytes } from 'node:crypto'
import type { Address } from 'viem'
import { createAead } from '../../crypto/aead.ts'
import { decodeBase64url, encodeBase64url, utf8 } from '../../crypto/bytes.ts'
import { unwrapKey, wrapKey, type KeyScheme } from '../../crypto/key-wrap.ts'
import { unlockHospitalEncryptionKey } from '../../accounts/hospital-keys.ts'
import { openWithNodeKey, sealWithNodeKey } from '../../accounts/node-key.ts'
import type { AccountRow } from '../../accounts/account.ts'
import type { HospitalRow } from '../../accounts/hospital.ts'
import type { Db } from '../../db/open-database.ts'
import { AppError } from '../../errors.ts'
import type { Services } from '../../services.ts'

/** A patient's search key, unwrapped, with the version the tokens in the database were made under. */
export interface SearchKey { patientId: string; version: number; key: Uint8Array }

interface WrappedFor { to: Address; for: 'patient' | 'emergency'; scheme: KeyScheme; wrapped: string }

/**
 * Bytes kept of each HMAC-SHA-256 token: 128 bits. A patient holds at most some millions of
 * tokens, so two distinct terms sharing a token (a false match, then filtered by nothing) is
 * below 2^-80; and the index is half the size of full 32-byte tokens.
 */
export const tokenBytes = 16

/** The keyed token of one normalized term (or prefix) under a patient's search key. */
export function searchToken(key: Uint8Array, term: string): Buffer {
  return createHmac('sha256', key).update(term, 'utf8').digest().subarray(0, tokenBytes)
}

function wrapContext(patientId: string, version: number, to: Address): Uint8Array {
  return utf8(`medledger/search-key/v1|${patientId}|${version}|${to.toLowerCase()}`)
}

/**
 * Opens a patient's search key. The node serves every query and indexes every upload itself, for
 * the patient, the author and grantees alike (whose results are then checked per record), so it
 * holds the key sealed under the node key (`node_sealed`, AES-256-GCM: one symmetric open, no
 * HPKE); that adds no holder, since the node key already opens the hospital's emergency key the
 * key is wrapped for. A key stored before that copy existed is opened once through the emergency
 * key and sealed then. Creates the key at first use (32 random bytes, wrapped for the patient and
 * the hospital's emergency key, sealed for the node). Resolves undefined for a patient of another
 * member hospital: this node holds no key of theirs.
 * @throws AppError KEYSTORE_LOCKED, RECORD_INTEGRITY (a wrapped key that does not open)
 */
export async function openSearchKey(s: Pick<Services, 'db' | 'nodeKey'>, patientId: string): Promise<SearchKey | undefined> {
  const held = await s.db.get(`SELECT version, node_sealed FROM search_keys WHERE patient_id = ?`, patientId) as { version: number; node_sealed: string | null } | undefined
  if (held?.node_sealed) {
    const version = Number(held.version)
    return { patientId, version, key: openWithNodeKey(s.nodeKey, nodeSealLabel(patientId, version), held.node_sealed) }
  }
  const patient = await s.db.get(`SELECT * FROM accounts WHERE id = ? AND role = 'patient'`, patientId) as AccountRow | undefined
  if (!patient?.hospital_id) return undefined
  let hospital: Awaited<ReturnType<typeof unlockHospitalEncryptionKey>>
  try {
    hospital = await unlockHospitalEncryptionKey(s, patient.hospital_id)
  } catch (err) {
    if ((err as AppError).code === 'UNKNOWN_HOSPITAL') return undefined
    throw err
  }
  // The hospital's emergency key is zeroed once the search key is open (or failed to).
  try {
    let row = await s.db.get(`SELECT version, wrapped FROM search_keys WHERE patient_id = ?`, patientId) as { version: number; wrapped: string } | undefined
    if (!row) {
      const fresh = randomBytes(32)
      await s.db.run(`INSERT INTO search_keys (patient_id, version, wrapped, node_sealed, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (patient_id) DO NOTHING`,
        patientId, 1, await wrapSearchKey(fresh, patient, hospital.row, 1), sealSearchKey(s.nodeKey, patientId, 1, fresh), Date.now())
      fresh.fill(0)
      row = await s.db.get(`SELECT version, wrapped FROM search_keys WHERE patient_id = ?`, patientId) as { version: number; wrapped: string }
    }
    const mine = (JSON.parse(row.wrapped) as WrappedFor[]).find((w) => w.for === 'emergency')
    const wrapped = decodeBase64url(mine?.wrapped)
    if (!mine || !wrapped) throw new AppError('RECORD_INTEGRITY', { details: 'search key has no envelope for the hospital' })
    const version = Number(row.version)
    const key = await unwrapKey({ scheme: mine.scheme, privateKey: hospital.encryptionPrivateKey, wrapped, context: wrapContext(patientId, version, mine.to) })
    await s.db.run(`UPDATE search_keys SET node_sealed = ? WHERE patient_id = ? AND version = ? AND node_sealed IS NULL`,
      sealSearchKey(s.nodeKey, patientId, version, key), patientId, version)
    return { patientId, version, key }
  } finally {
    hospital.encryptionPrivateKey.fill(0)
  }
}

function nodeSealLabel(patientId: string, version: number): string {
  return `search-key:${patientId}:${version}`
}

/** A patient's search key sealed under the node key (`search_keys.node_sealed`), bound to the patient and the key's version. */
export function sealSearchKey(nodeKey: Uint8Array, patientId: string, version: number, key: Uint8Array): string {
  return sealWithNodeKey(nodeKey, nodeSealLabel(patientId, version), key)
}

/** A search key wrapped (as a data key is) for the patient and the hospital's emergency key, as JSON. */
export async function wrapSearchKey(key: Uint8Array, patient: AccountRow, hospital: HospitalRow, version: number): Promise<string> {
  const to: Omit<WrappedFor, 'wrapped'>[] = [
    { to: patient.address as Address, for: 'patient', scheme: patient.key_scheme },
    { to: hospital.address as Address, for: 'emergency', scheme: hospital.key_scheme as KeyScheme },
  ]
  const keys = [new Uint8Array(patient.public_key), new Uint8Array(hospital.emergency_public_key)]
  return JSON.stringify(await Promise.all(to.map(async (w, i) => ({
    ...w,
    to: w.to.toLowerCase(),
    wrapped: encodeBase64url(await wrapKey({ scheme: w.scheme, publicKey: keys[i]!, key, context: wrapContext(patient.id, version, w.to) })),
  }))))
}

function termsKey(key: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', key, new Uint8Array(0), utf8('medledger/search-terms/v1'), 32))
}

/** A record's term list sealed under the patient's search key (AES-256-GCM, the record id as AAD). */
export function sealTerms(key: Uint8Array, recordId: string, terms: readonly string[]): string {
  const nonce = randomBytes(12)
  const ct = createAead('aes-256-gcm', termsKey(key)).seal(nonce, utf8(recordId), utf8(JSON.stringify(terms)))
  return `${encodeBase64url(nonce)}.${encodeBase64url(ct)}`
}

/**
 * Opens what `sealTerms` sealed.
 * @throws AppError RECORD_INTEGRITY when it does not authenticate.
 */
export function openTerms(key: Uint8Array, recordId: string, sealed: string): string[] {
  return termsOpener(key)(recordId, sealed)
}

/**
 * `openTerms` for many records under one search key: its terms key derived once.
 * @throws AppError RECORD_INTEGRITY (from the function it returns) when a list does not authenticate.
 */
export function termsOpener(key: Uint8Array): (recordId: string, sealed: string) => string[] {
  const aead = createAead('aes-256-gcm', termsKey(key))
  return (recordId, sealed) => {
    const [n, c] = sealed.split('.')
    const nonce = decodeBase64url(n, 12)
    const ct = decodeBase64url(c)
    const pt = nonce && ct ? aead.open(nonce, utf8(recordId), ct) : undefined
    if (!pt) throw new AppError('RECORD_INTEGRITY', { details: 'sealed terms do not open with the search key' })
    return JSON.parse(Buffer.from(pt).toString('utf8')) as string[]
  }
}

/** Longest query word: a longer one is cut to it and matched as a prefix. */
export const maxPrefixLength = 32

/**
 * Longest prefix stored as a token. A query word longer than this is looked up by its first
 * `prefixTokenLength` characters and each candidate then confirmed against the record's sealed
 * term list (`openTerms`), so a word matches exactly the terms it begins, as if every prefix were
 * stored, from a third of the tokens.
 */
export const prefixTokenLength = 5

/**
 * The index entries of one term: a term of 3 characters or more gives its prefixes of 3 up to
 * `prefixTokenLength` characters (itself when not longer), a shorter one only itself.
 */
export function termPrefixes(term: string): string[] {
  const chars = [...term]
  if (chars.length < 3) return [term]
  const out: string[] = []
  for (let n = 3; n <= Math.min(chars.length, prefixTokenLength); n++) out.push(chars.slice(0, n).join(''))
  return out
}

/** The index entry a query word is looked up by: a word of 3+ characters cut to `prefixTokenLength`, a shorter one itself. */
export function probeEntry(word: string): string {
  const chars = [...word]
  return chars.length < 3 ? word : chars.slice(0, prefixTokenLength).join('')
}

/** The distinct tokens of a record's terms: `searchToken` of each distinct prefix. */
export function recordTokens(key: Uint8Array, terms: Iterable<string>): Buffer[] {
  const entries = new Set<string>()
  for (const t of terms) for (const p of termPrefixes(t)) entries.add(p)
  return [...entries].map((e) => searchToken(key, e))
}

/** The patient's search key was rotated while a record was being indexed under the old one. */
export class SearchKeyRotatedError extends Error {
  override name = 'SearchKeyRotatedError'
}

/**
 * Writes a record's tokens and sealed terms (replacing any it had) in one transaction.
 * @throws SearchKeyRotatedError when `key` is no longer the patient's current one.
 */
export async function writeRecordIndex(db: Db, key: SearchKey, recordId: string, terms: readonly string[]): Promise<number> {
  const entry = recordIndexEntry(key, recordId, terms)
  await db.transaction(async (tx) => {
    if (!(await putRecordIndex(tx, entry))) throw new SearchKeyRotatedError()
  })
  return entry.tokens.length
}

/** A record's index entry, made and sealed but not yet written: its tokens and sealed term list under one version of the patient's key. */
export interface RecordIndexEntry { patientId: string; version: number; recordId: string; tokens: Buffer[]; sealed: string }

/** The tokens and sealed terms of a record under `key`, made outside any transaction. */
export function recordIndexEntry(key: SearchKey, recordId: string, terms: readonly string[]): RecordIndexEntry {
  return { patientId: key.patientId, version: key.version, recordId, tokens: recordTokens(key.key, terms), sealed: sealTerms(key.key, recordId, terms) }
}

/**
 * Writes a record's index entry (replacing any it had: its tokens are one range of the primary
 * key, patient and record) within the caller's transaction `tx`. Resolves false, writing
 * nothing, when the patient's key was rotated since the entry was made: its tokens would be
 * under a key no longer held.
 */
export async function putRecordIndex(tx: Db, e: RecordIndexEntry): Promise<boolean> {
  const now = await tx.get(`SELECT version FROM search_keys WHERE patient_id = ?`, e.patientId) as { version: number } | undefined
  if (Number(now?.version) !== e.version) return false
  await tx.run('DELETE FROM record_tokens WHERE patient_id = ? AND record_id = ?', e.patientId, e.recordId)
  await insertTokens(tx, e.patientId, e.recordId, e.tokens)
  await tx.run(`INSERT INTO record_terms (record_id, patient_id, sealed) VALUES (?, ?, ?) ON CONFLICT (record_id) DO UPDATE SET sealed = excluded.sealed`, e.recordId, e.patientId, e.sealed)
  return true
}

/** Inserts one record's tokens, 200 rows a statement. */
export async function insertTokens(tx: Db, patientId: string, recordId: string, tokens: readonly Buffer[]): Promise<void> {
  for (let i = 0; i < tokens.length; i += 200) {
    const chunk = tokens.slice(i, i + 200)
    await tx.run(`INSERT INTO record_tokens (patient_id, token, record_id) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')} ON CONFLICT DO NOTHING`,
      ...chunk.flatMap((t) => [patientId, t, recordId]))
  }
}

/** Removes a record's entry from the blind index (a record dropped before it was anchored). */
export async function deleteRecordIndex(db: Db, patientId: string, recordId: string): Promise<void> {
  await db.run('DELETE FROM record_tokens WHERE patient_id = ? AND record_id = ?', patientId, recordId)
  await db.run('DELETE FROM record_terms WHERE record_id = ?', recordId)
}
