import { toHex, type Address, type Hex } from 'viem'
import { generateRecordId } from '../crypto/tokens.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import { sendEmergency } from '../ledger/consent/send-emergency.ts'
import { sendEmergencyRelease } from '../ledger/consent/send-emergency-release.ts'
import { requireKeys, requireRole, type AccountRow, type Actor } from '../accounts/account.ts'
import { findParty, publicKeyOf } from '../accounts/directory.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { openRecordKeys } from '../records/open-record-keys.ts'
import type { RecordRow } from '../records/record.ts'
import { AppError, isAppError } from '../errors.ts'
import { sealGrantEnvelopes } from './grant-envelopes.ts'
import { commitText } from '../crypto/commit-text.ts'
import { requireConfirmedDoctor } from '../accounts/require-confirmed-doctor.ts'
import { chainTime } from '../ledger/chain-time.ts'
import { checkText } from '../text/check-text.ts'
import { recordEmergencyRelease } from './record-emergency-release.ts'
import { releaseEmergencyShares } from './emergency-shares.ts'
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
  const reason = checkText(p.reason, { field: 'reason', max: 500, multiline: true, emptyCode: 'EMPTY_REASON' })
  const patient = await findParty(s, p.patient)
  if (!patient || patient.role !== 'patient') throw new AppError('UNKNOWN_PATIENT')
  const window = s.config.emergencyWindowSeconds
  const emergencyId = generateRecordId()
  const declared = await sendEmergency(s.ledger, { doctor: keys.ledger, emergencyId, patient: patient.address as Address, reasonHash: commitText(s.nodeKey, emergencyId, reason), window: BigInt(window), signal: p.signal })
  const block = await s.ledger.client.getBlock({ blockNumber: declared.blockNumber })
  // The follower writes this node's own EmergencyDeclared too (a node stopped before this point
  // keeps the emergency, without its reason): whichever writes the row releases the keys.
  const written = await s.db.run(`INSERT INTO emergencies (emergency_id, doctor_id, patient_id, reason, expires_at, declare_tx, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (emergency_id) DO NOTHING`, emergencyId, doctor.account.id, patient.id, reason, Number(block.timestamp) + window, declared.transactionHash, Date.now())
  if (written.changes === 0) {
    await s.db.run('UPDATE emergencies SET reason = ? WHERE emergency_id = ?', reason, emergencyId)
    return (await listEmergencies(s, { actor: doctor })).find((e) => e.emergencyId === emergencyId)!
  }

  // Only now, with the emergency on the ledger, does the patient's hospital release keys: here
  // when this node serves it, otherwise its own node does on seeing the declaration on chain.
  if (patient.state === 'active') {
    await releaseEmergency(s, emergencyId, p.signal)
  } else {
    // Threshold break-glass: this node's hospital may hold shares of the remote patient's records.
    await releaseEmergencyShares(s, { emergencyId, signal: p.signal })
  }
  return (await listEmergencies(s, { actor: doctor })).find((e) => e.emergencyId === emergencyId)!
}

/**
 * The patient's hospital releases the patient's data keys for a declared emergency: it unwraps
 * each record's key with its emergency key, re-wraps them for the declaring doctor (whose public
 * key is the one the Registry names) in one IPFS block, sends the release from its own key and
 * notifies the patient. Does nothing when the keys were already released.
 * @throws AppError UNKNOWN_HOSPITAL (not this node's hospital), RECORD_UNAVAILABLE, LEDGER_*
 */
export async function releaseEmergency(s: Services, emergencyId: Hex, signal?: AbortSignal): Promise<void> {
  const row = await s.db.get<EmergencyRow>('SELECT * FROM emergencies WHERE emergency_id = ?', emergencyId)
  if (!row || row.envelopes !== null) return
  // A node catching up sees emergencies that have ended: the chain would refuse their release.
  if (Number(row.expires_at) <= await chainTime(s.ledger, { signal })) return
  const patient = await s.db.get<AccountRow>('SELECT * FROM accounts WHERE id = ?', row.patient_id)
  const doctorRow = await s.db.get<AccountRow>('SELECT * FROM accounts WHERE id = ?', row.doctor_id)
  if (!patient || !doctorRow) throw new AppError('UNKNOWN_ACCOUNT')
  const hospital = await unlockHospital(s, patient.hospital_id!)
  const emergencyReader = { address: hospital.row.address as Address, scheme: hospital.row.key_scheme, privateKey: hospital.keys.encryptionPrivateKey }
  // Records moved to shares (`record rekey --all-emergency`) come from k hospitals' shares instead.
  const rows = await s.db.all<RecordRow>(`SELECT * FROM records WHERE patient_id = ? AND hospital_id = ? AND state = 'anchored'
    AND record_id NOT IN (SELECT record_id FROM emergency_moved) ORDER BY created_at`, patient.id, hospital.row.id)
  const dataKeys = []
  for (const r of rows) {
    try {
      dataKeys.push({ recordId: r.record_id, dataKey: (await openRecordKeys(s, r, emergencyReader, signal)).dataKey })
    } catch (err) {
      // A record whose key is split among hospitals (threshold break-glass) has no envelope for
      // this key alone: the doctor gets it from k hospitals' shares instead.
      if (!isAppError(err, 'RECORD_NOT_FOUND')) throw err
    }
  }
  const blockBytes = await sealGrantEnvelopes({
    grantId: emergencyId,
    kind: 'emergency',
    to: { kind: 'account', address: doctorRow.address as Address, scheme: doctorRow.key_scheme, publicKey: await publicKeyOf(s, doctorRow, signal) },
    keys: dataKeys,
  })
  const envelopes = toHex(digestFromCid(await putRawBlock(s.ipfs, blockBytes, { signal })))
  // Threshold break-glass: this node's hospitals' shares go first, so that a node which sees the
  // single release below (the emergency turns live there) has seen them too.
  await releaseEmergencyShares(s, { emergencyId, signal })
  const released = await sendEmergencyRelease(s.ledger, { hospital: hospital.keys.ledger, emergencyId, envelopes, signal })
  await settleEmergencyRelease(s, { emergencyId, envelopes, txHash: released.transactionHash })
}

/**
 * A release of this node's hospital kept, by its flow or (when that stopped after sending it) by
 * the follower from the node's own EmergencyKeyReleased: whichever keeps it tells the patient, once.
 */
export async function settleEmergencyRelease(s: Pick<Services, 'db' | 'notify'>, r: { emergencyId: Hex; envelopes: Hex; txHash: Hex }): Promise<void> {
  if (!(await recordEmergencyRelease(s.db, r))) return
  const row = await s.db.get<EmergencyRow>('SELECT * FROM emergencies WHERE emergency_id = ?', r.emergencyId.toLowerCase())
  if (row) await s.notify?.({ accountId: row.patient_id, kind: 'emergency-access', by: { accountId: row.doctor_id }, expiresAt: new Date(row.expires_at * 1000) })
}

/** Emergency accesses: every one for the admin (the review list), a doctor's own, a patient's. Newest first. */
export async function listEmergencies(s: Services, { actor }: { actor: Actor | undefined }): Promise<EmergencyView[]> {
  const who = requireRole(actor, 'admin', 'doctor', 'patient')
  const rows = who.account.role === 'admin'
    ? await s.db.all('SELECT * FROM emergencies ORDER BY created_at DESC') as EmergencyRow[]
    : await s.db.all(`SELECT * FROM emergencies WHERE ${who.account.role === 'doctor' ? 'doctor_id' : 'patient_id'} = ? ORDER BY created_at DESC`, who.account.id) as EmergencyRow[]
  const now = await chainTime(s.ledger)
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
