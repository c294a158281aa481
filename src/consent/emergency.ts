import { toHex, type Address, type Hex } from 'viem'
import { generateRecordId } from '../crypto/tokens.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import { sendEmergency, sendEmergencyRelease } from '../ledger/consent.ts'
import { findAccount, requireKeys, requireRole, type AccountRow, type Actor } from '../accounts/account.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { openRecordKeys } from '../records/read-record.ts'
import type { RecordRow } from '../records/record.ts'
import { AppError } from '../errors.ts'
import { sealGrantEnvelopes } from './grant-envelopes.ts'
import { chainTime, checkText, commitText, requireConfirmedDoctor } from './access-requests.ts'
import type { Services } from '../services.ts'

export interface EmergencyView {
  emergencyId: Hex
  doctor: { id: string; name: string; address: Address }
  patient: { id: string; name: string; address: Address }
  /** The stated reason: shown to the patient and admins, never put on chain. */
  reason: string
  expiresAt: string
  live: boolean
  records: number
  declareTx: Hex | null
  releaseTx: Hex | null
  createdAt: string
}

interface EmergencyRow {
  emergency_id: Hex
  doctor_id: string
  patient_id: string
  reason: string
  expires_at: number
  envelopes: string | null
  declare_tx: Hex | null
  release_tx: Hex | null
  created_at: number
}

/**
 * Break-glass: a confirmed doctor declares an emergency for a patient with a reason. The
 * emergency is on chain (from the doctor's key; only a keyed hash of the reason) BEFORE any key
 * is released; then the patient's hospital unwraps the patient's data keys with its emergency
 * key and re-wraps them for the doctor, for the window; the patient is notified.
 * @throws AppError EMPTY_REASON, FORBIDDEN, DOCTOR_NOT_CONFIRMED, UNKNOWN_PATIENT, LEDGER_*
 */
export async function openEmergency(s: Services, p: { actor: Actor | undefined; patient: string; reason: string; signal?: AbortSignal }): Promise<EmergencyView> {
  const doctor = requireConfirmedDoctor(p.actor)
  const keys = requireKeys(doctor)
  const reason = checkText(p.reason, 'reason', 'EMPTY_REASON')
  const patient = await findAccount(s.db, p.patient)
  if (!patient || patient.role !== 'patient') throw new AppError('UNKNOWN_PATIENT')
  const window = s.config.emergencyWindowSeconds
  const emergencyId = generateRecordId()
  const declared = await sendEmergency(s.ledger, keys.ledger, [emergencyId, patient.address, commitText(s.nodeKey, emergencyId, reason), BigInt(window)], emergencyId, p.signal)
  const block = await s.ledger.client.getBlock({ blockNumber: declared.blockNumber })
  await s.db.run(`INSERT INTO emergencies (emergency_id, doctor_id, patient_id, reason, expires_at, declare_tx, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`, emergencyId, doctor.account.id, patient.id, reason, Number(block.timestamp) + window, declared.transactionHash, Date.now())

  // Only now, with the emergency on the ledger, does the hospital release keys.
  const hospital = await unlockHospital(s, patient.hospital_id!)
  const emergencyReader = { address: hospital.row.address as Address, scheme: hospital.row.key_scheme, privateKey: hospital.keys.encryptionPrivateKey }
  const rows = await s.db.all(`SELECT * FROM records WHERE patient_id = ? AND state = 'anchored' ORDER BY created_at`, patient.id) as RecordRow[]
  const dataKeys = []
  for (const r of rows) dataKeys.push({ recordId: r.record_id, dataKey: (await openRecordKeys(s, r, emergencyReader, p.signal)).dataKey })
  const doctorRow = await s.db.get('SELECT * FROM accounts WHERE id = ?', doctor.account.id) as AccountRow
  const blockBytes = sealGrantEnvelopes({
    grantId: emergencyId,
    kind: 'emergency',
    to: { kind: 'account', address: doctor.account.address, scheme: doctor.account.keyScheme, publicKey: new Uint8Array(doctorRow.public_key) },
    keys: dataKeys,
  })
  const envelopes = toHex(digestFromCid(await putRawBlock(s.ipfs, blockBytes, { signal: p.signal })))
  const released = await sendEmergencyRelease(s.ledger, hospital.keys.ledger, [emergencyId, envelopes], emergencyId, p.signal)
  await s.db.run('UPDATE emergencies SET envelopes = ?, release_tx = ? WHERE emergency_id = ?', envelopes, released.transactionHash, emergencyId)
  await s.notify?.({ accountId: patient.id, kind: 'emergency-access', by: { accountId: doctor.account.id }, expiresAt: new Date((Number(block.timestamp) + window) * 1000) })
  return (await listEmergencies(s, { actor: doctor })).find((e) => e.emergencyId === emergencyId)!
}

/** Emergency accesses: every one for the admin (the review list), a doctor's own, a patient's. Newest first. */
export async function listEmergencies(s: Services, { actor }: { actor: Actor | undefined }): Promise<EmergencyView[]> {
  const who = requireRole(actor, 'admin', 'doctor', 'patient')
  const rows = who.account.role === 'admin'
    ? await s.db.all('SELECT * FROM emergencies ORDER BY created_at DESC') as EmergencyRow[]
    : await s.db.all(`SELECT * FROM emergencies WHERE ${who.account.role === 'doctor' ? 'doctor_id' : 'patient_id'} = ? ORDER BY created_at DESC`, who.account.id) as EmergencyRow[]
  const now = await chainTime(s)
  const party = async (id: string) => await s.db.get('SELECT id, name, address FROM accounts WHERE id = ?', id) as { id: string; name: string; address: Address }
  return Promise.all(rows.map(async (r) => ({
    emergencyId: r.emergency_id,
    doctor: await party(r.doctor_id),
    patient: await party(r.patient_id),
    reason: r.reason,
    expiresAt: new Date(r.expires_at * 1000).toISOString(),
    live: r.envelopes !== null && r.expires_at > now,
    records: r.envelopes === null ? 0 : (await s.db.get(`SELECT COUNT(*) AS n FROM records WHERE patient_id = ? AND state = 'anchored' AND created_at <= ?`, r.patient_id, r.created_at + 60_000) as { n: number }).n,
    declareTx: r.declare_tx,
    releaseTx: r.release_tx,
    createdAt: new Date(r.created_at).toISOString(),
  })))
}
