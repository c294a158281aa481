import { hexToBytes, type Address } from 'viem'
import { unwrapKey, wrapKey, type KeyScheme } from '../crypto/key-wrap.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { assertAnchored } from '../records/assert-anchored.ts'
import { openManifest, parseEnvelopes, type Manifest } from '../records/envelopes.ts'
import { openRecordKeys } from '../records/open-record-keys.ts'
import type { RecordRow } from '../records/record.ts'
import type { HospitalRow } from '../accounts/hospital.ts'
import { isAppError } from '../errors.ts'
import type { Services } from '../services.ts'

/** Binds a research copy of a data key to its record. */
function contextOf(recordId: string): Uint8Array {
  return new TextEncoder().encode(`medledger research key|${recordId.toLowerCase()}`)
}

/**
 * When a patient consents to research (signed in, their key unlocked), the data key of each of
 * their records is wrapped for their home hospital's key and kept here (`research_record_keys`),
 * so that their home node can de-identify them for an export: in a consortium a record's key is
 * split among member hospitals (threshold break-glass) and no single hospital's key opens it.
 * Only records the patient's own key opens; records already kept are left. Resolves how many
 * were added.
 * @throws AppError RECORD_UNAVAILABLE, RECORD_INTEGRITY, INVALID_KEY
 */
export async function keepResearchKeys(s: Services, p: { patientId: string; address: Address; scheme: KeyScheme; privateKey: Uint8Array; hospitalId: string | null; signal?: AbortSignal }): Promise<number> {
  const hospital = p.hospitalId ? await s.db.get<HospitalRow>(`SELECT * FROM hospitals WHERE id = ? AND state = 'active'`, p.hospitalId) : undefined
  if (!hospital) return 0
  const rows = await s.db.all<RecordRow>(`SELECT * FROM records WHERE patient_id = ? AND state = 'anchored'
    AND record_id NOT IN (SELECT record_id FROM research_record_keys WHERE patient_id = ?)`, p.patientId, p.patientId)
  let kept = 0
  for (const row of rows) {
    const opened = await openRecordKeys(s, row, { address: p.address, scheme: p.scheme, privateKey: p.privateKey }, p.signal).catch((err: unknown) => {
      if (isAppError(err, 'RECORD_NOT_FOUND')) return undefined
      throw err
    })
    if (!opened) continue
    const wrapped = await wrapKey({ scheme: hospital.key_scheme, publicKey: new Uint8Array(hospital.emergency_public_key), key: opened.dataKey, context: contextOf(row.record_id) })
    await s.db.run(`INSERT INTO research_record_keys (patient_id, record_id, hospital_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (patient_id, record_id) DO NOTHING`, p.patientId, row.record_id, hospital.id, Buffer.from(wrapped), Date.now())
    kept++
  }
  return kept
}

/**
 * A record stored after the patient's research consent (an upload, a re-key's new version), on
 * their home node while its new data key is in hand: when this node's copy of their consents has
 * one given (a study or a hospital's studies: what `dropResearchKeys` reads), the key is wrapped
 * for their home hospital's key now, and resolves a function that keeps the copy once the record
 * is anchored (then checks again that a consent is still given, so a withdrawal in between leaves
 * nothing). Undefined when there is no consent, or the hospital is not held here.
 */
export async function wrapResearchKey(s: Pick<Services, 'db'>, p: { patientId: string; recordId: string; hospitalId: string; dataKey: Uint8Array }): Promise<(() => Promise<void>) | undefined> {
  if (!(await consentGiven(s, p.patientId))) return undefined
  const hospital = await s.db.get<HospitalRow>(`SELECT * FROM hospitals WHERE id = ? AND state = 'active'`, p.hospitalId)
  if (!hospital) return undefined
  const recordId = p.recordId.toLowerCase()
  const wrapped = await wrapKey({ scheme: hospital.key_scheme, publicKey: new Uint8Array(hospital.emergency_public_key), key: p.dataKey, context: contextOf(recordId) })
  return async () => {
    await s.db.run(`INSERT INTO research_record_keys (patient_id, record_id, hospital_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (patient_id, record_id) DO NOTHING`, p.patientId, recordId, hospital.id, Buffer.from(wrapped), Date.now())
    await dropResearchKeys(s, p.patientId)
  }
}

/** Whether this node's copy of a patient's research consents has one given (to a study or to a hospital's studies). */
async function consentGiven(s: Pick<Services, 'db'>, patientId: string): Promise<boolean> {
  return Boolean(await s.db.get(`SELECT 1 AS x FROM research_consents WHERE patient_id = ? AND state = 'given'
    UNION SELECT 1 AS x FROM research_hospital_consents WHERE patient_id = ? AND state = 'given'`, patientId, patientId))
}

/**
 * Drops a patient's research copies of their data keys once no research consent of theirs is
 * given any more (this node's copy of them): a withdrawal leaves nothing that opens their records.
 */
export async function dropResearchKeys(s: Pick<Services, 'db'>, patientId: string): Promise<void> {
  if (!(await consentGiven(s, patientId))) await s.db.run('DELETE FROM research_record_keys WHERE patient_id = ?', patientId)
}

/**
 * A record's data key and manifest through the research copy its patient's consent left for
 * their hospital, or undefined when there is none (or it no longer opens: a rotated key).
 * @throws AppError RECORD_INTEGRITY, RECORD_UNAVAILABLE
 */
export async function openResearchKey(s: Services, row: RecordRow, hospital: { id: string; scheme: KeyScheme; privateKey: Uint8Array }, signal?: AbortSignal): Promise<{ manifest: Manifest; dataKey: Uint8Array } | undefined> {
  const kept = await s.db.get<{ wrapped: Buffer }>('SELECT wrapped FROM research_record_keys WHERE patient_id = ? AND record_id = ? AND hospital_id = ?', row.patient_id, row.record_id, hospital.id)
  if (!kept) return undefined
  const dataKey = await unwrapKey({ scheme: hospital.scheme, privateKey: hospital.privateKey, wrapped: new Uint8Array(kept.wrapped), context: contextOf(row.record_id) }).catch((err: unknown) => {
    if (isAppError(err, 'RECORD_INTEGRITY')) return undefined
    throw err
  })
  if (!dataKey) return undefined
  await assertAnchored(s, row)
  const env = parseEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.envelopes), 'raw'), { signal }), row.record_id)
  return { manifest: openManifest(env, dataKey), dataKey }
}
