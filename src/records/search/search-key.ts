import { createHmac, hkdfSync, randomBytes } from 'node:crypto'
import type { Address } from 'viem'
import { createAead } from '../../crypto/aead.ts'
import { decodeBase64url, encodeBase64url, utf8 } from '../../crypto/bytes.ts'
import { unwrapKey, wrapKey, type KeyScheme } from '../../crypto/key-wrap.ts'
import { unlockHospitalEncryptionKey } from '../../accounts/hospital-keys.ts'
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
 * Opens a patient's search key through the hospital's emergency key, which the node holds sealed
 * under the node key: the node serves every query and indexes every upload itself, for the
 * patient, the author and grantees alike (whose results are then checked per record). Creates the
 * key at first use (32 random bytes, wrapped for the patient and the hospital's emergency key).
 * Resolves undefined for a patient of another member hospital: this node holds no key of theirs.
 * @throws AppError KEYSTORE_LOCKED, RECORD_INTEGRITY (a wrapped key that does not open)
 */
export async function openSearchKey(s: Pick<Services, 'db' | 'nodeKey'>, patientId: string): Promise<SearchKey | undefined> {
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
      await s.db.run(`INSERT INTO search_keys (patient_id, version, wrapped, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (patient_id) DO NOTHING`,
        patientId, 1, await wrapSearchKey(randomBytes(32), patient, hospital.row, 1), Date.now())
      row = await s.db.get(`SELECT version, wrapped FROM search_keys WHERE patient_id = ?`, patientId) as { version: number; wrapped: string }
    }
    const mine = (JSON.parse(row.wrapped) as WrappedFor[]).find((w) => w.for === 'emergency')
    const wrapped = decodeBase64url(mine?.wrapped)
    if (!mine || !wrapped) throw new AppError('RECORD_INTEGRITY', { details: 'search key has no envelope for the hospital' })
    const key = await unwrapKey({ scheme: mine.scheme, privateKey: hospital.encryptionPrivateKey, wrapped, context: wrapContext(patientId, row.version, mine.to) })
    return { patientId, version: Number(row.version), key }
  } finally {
    hospital.encryptionPrivateKey.fill(0)
  }
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
  const [n, c] = sealed.split('.')
  const nonce = decodeBase64url(n, 12)
  const ct = decodeBase64url(c)
  const pt = nonce && ct ? createAead('aes-256-gcm', termsKey(key)).open(nonce, utf8(recordId), ct) : undefined
  if (!pt) throw new AppError('RECORD_INTEGRITY', { details: 'sealed terms do not open with the search key' })
  return JSON.parse(Buffer.from(pt).toString('utf8')) as string[]
}

/** Longest prefix indexed: a longer query word is cut to it and matched as a prefix. */
export const maxPrefixLength = 32

/**
 * The index entries of one term: a term of 3 characters or more gives every prefix of 3 up to
 * 32 characters (itself included when not longer), a shorter one only itself.
 */
export function termPrefixes(term: string): string[] {
  const chars = [...term]
  if (chars.length < 3) return [term]
  const out: string[] = []
  for (let n = 3; n <= Math.min(chars.length, maxPrefixLength); n++) out.push(chars.slice(0, n).join(''))
  return out
}

/** The distinct tokens of a record's terms. */
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
  const tokens = recordTokens(key.key, terms)
  const sealed = sealTerms(key.key, recordId, terms)
  await db.transaction(async (tx) => {
    // A rotation committed since the key was opened: its tokens would be under a key no longer held.
    const now = await tx.get(`SELECT version FROM search_keys WHERE patient_id = ?`, key.patientId) as { version: number } | undefined
    if (Number(now?.version) !== key.version) throw new SearchKeyRotatedError()
    await tx.run('DELETE FROM record_tokens WHERE record_id = ?', recordId)
    for (let i = 0; i < tokens.length; i += 200) {
      const chunk = tokens.slice(i, i + 200)
      await tx.run(`INSERT INTO record_tokens (patient_id, token, record_id) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')} ON CONFLICT DO NOTHING`,
        ...chunk.flatMap((t) => [key.patientId, t, recordId]))
    }
    await tx.run(`INSERT INTO record_terms (record_id, patient_id, sealed) VALUES (?, ?, ?) ON CONFLICT (record_id) DO UPDATE SET sealed = excluded.sealed`, recordId, key.patientId, sealed)
  })
  return tokens.length
}
