import { randomBytes } from 'node:crypto'
import { requireRole, type Actor, type AccountRow } from '../../accounts/account.ts'
import { unlockHospital } from '../../accounts/hospital-keys.ts'
import { AppError } from '../../errors.ts'
import { insertTokens, openSearchKey, openTerms, recordTokens, sealSearchKey, sealTerms, wrapSearchKey } from './search-key.ts'
import type { Services } from '../../services.ts'
import { oneAtATime } from '../../db/one-at-a-time.ts'

export interface RotateSearchKeyResult { version: number; records: number; tokens: number }

/**
 * Replaces the patient's search key with a fresh one and re-indexes every record under it: each
 * record's sealed term list is opened with the old key, its tokens made anew and its terms sealed
 * again, all in one transaction, so the old tokens and the old key are gone together.
 * @throws AppError FORBIDDEN (not a patient), UNKNOWN_HOSPITAL, KEYSTORE_LOCKED, RECORD_INTEGRITY,
 *   SEARCH_KEY_BUSY (another rotation of the same key committed first: this one changed nothing)
 */
export async function rotateSearchKey(s: Services, { actor }: { actor: Actor | undefined }): Promise<RotateSearchKeyResult> {
  const patientId = requireRole(actor, 'patient').account.id
  // Rotations of one key on this node run one after another; another process's meanwhile is caught below.
  return oneAtATime(s.db, `search-key:${patientId}`, () => rotate(s, patientId))
}

async function rotate(s: Services, patientId: string): Promise<RotateSearchKeyResult> {
  const old = await openSearchKey(s, patientId)
  if (!old) throw new AppError('UNKNOWN_HOSPITAL')
  const patient = await s.db.get(`SELECT * FROM accounts WHERE id = ?`, patientId) as AccountRow
  const { row: hospital } = await unlockHospital(s, patient.hospital_id!)
  const key = randomBytes(32)
  const version = old.version + 1
  const wrapped = await wrapSearchKey(key, patient, hospital, version)
  let tokens = 0
  const sealedRows = await s.db.all(`SELECT record_id, sealed FROM record_terms WHERE patient_id = ?`, patientId) as { record_id: string; sealed: string }[]
  let reindexed: { recordId: string; tokens: Buffer[]; sealed: string }[]
  try {
    reindexed = sealedRows.map((r) => {
      const terms = openTerms(old.key, r.record_id, r.sealed)
      const t = recordTokens(key, terms)
      tokens += t.length
      return { recordId: r.record_id, tokens: t, sealed: sealTerms(key, r.record_id, terms) }
    })
  } catch (err) {
    // Another process that rotated the key meanwhile sealed the terms under its new key.
    const now = await s.db.get('SELECT version FROM search_keys WHERE patient_id = ?', patientId) as { version: number } | undefined
    if (err instanceof AppError && err.code === 'RECORD_INTEGRITY' && Number(now?.version) !== old.version) throw new AppError('SEARCH_KEY_BUSY')
    throw err
  } finally {
    old.key.fill(0)
  }
  const sealedKey = sealSearchKey(s.nodeKey, patientId, version, key)
  key.fill(0)
  await s.db.transaction(async (tx) => {
    const changed = await tx.run(`UPDATE search_keys SET version = ?, wrapped = ?, node_sealed = ? WHERE patient_id = ? AND version = ?`,
      version, wrapped, sealedKey, patientId, old.version)
    if (changed.changes !== 1) throw new AppError('SEARCH_KEY_BUSY')
    await tx.run(`DELETE FROM record_tokens WHERE patient_id = ?`, patientId)
    for (const r of reindexed) {
      await insertTokens(tx, patientId, r.recordId, r.tokens)
      await tx.run(`UPDATE record_terms SET sealed = ? WHERE record_id = ?`, r.sealed, r.recordId)
    }
  })
  return { version, records: reindexed.length, tokens }
}

