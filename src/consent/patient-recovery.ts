import { randomBytes } from 'node:crypto'
import { bytesToHex, hexToBytes, toHex, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { generateEncryptionKeyPair, keySchemeId, type KeyScheme } from '../crypto/key-wrap.ts'
import { generateRecoveryCode, sealKeystore } from '../crypto/keystore.ts'
import { commitText } from '../crypto/commit-text.ts'
import { generateRecordId, parseRecordId } from '../crypto/tokens.ts'
import { encodeAccountSecrets } from '../accounts/account-secrets.ts'
import { requireKeys, requireRole, findAccount, type Actor, type AccountRow } from '../accounts/account.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { recordAccountEvent } from '../accounts/record-account-event.ts'
import { putRawBlock, getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest, digestFromCid } from '../storage/read-verified.ts'
import { sendRecoveryApproval, sendRecoveryProposal } from '../ledger/registry/send-recovery.ts'
import { openEnvelopes, parseEnvelopes } from '../records/envelopes.ts'
import { sealRecoveryEnvelopes } from '../records/recovery-envelopes.ts'
import { releaseRecoveryShares } from './recovery-shares.ts'
import { checkText } from '../text/check-text.ts'
import { AppError, isAppError } from '../errors.ts'
import type { Services } from '../services.ts'

export interface RecoveryRow {
  recovery_id: Hex
  account_id: string
  old_address: Address
  new_address: Address
  key_scheme: KeyScheme
  public_key: Uint8Array
  keystore: string
  proposer_id: string
  approver_id: string | null
  envelopes: Hex | null
  state: 'proposed' | 'approved'
  created_at: number
  approved_at: number | null
}

/** A recovery as the API shows it: never the keys, never how the patient was verified. */
export interface Recovery {
  recoveryId: Hex
  patientId: string
  oldAddress: Address
  newAddress: Address
  state: 'proposed' | 'approved'
  proposedBy: string
  approvedBy: string | null
  envelopes: Hex | null
  rewrapped: number | null
  /** Records whose data key is split into threshold shares: read once k member hospitals released their shares for the new key. */
  notRewrapped: number | null
}

const toRecovery = (r: RecoveryRow, rewrapped: number | null = null, notRewrapped: number | null = null): Recovery => ({
  recoveryId: r.recovery_id, patientId: r.account_id, oldAddress: r.old_address, newAddress: r.new_address, state: r.state,
  proposedBy: r.proposer_id, approvedBy: r.approver_id, envelopes: r.envelopes, rewrapped, notRewrapped,
})

/** Staff of the patient's own hospital (the admin only approves). */
function staffOf(actor: Actor | undefined, patient: AccountRow): Actor {
  const a = requireRole(actor, 'staff', 'admin')
  if (a.account.role === 'staff' && a.account.hospitalId !== patient.hospital_id) throw new AppError('FORBIDDEN', { message: 'Only staff of the patient\'s hospital recover the patient\'s account.' })
  return a
}

/**
 * Staff who verified the patient in person start the recovery of a patient who lost every secret:
 * a new ledger key and encryption key pair are made on this node, sealed under a one-time code
 * (returned once, to hand to the patient in person; it opens nothing before the second
 * approval), and proposed on chain (`Registry.proposeRecovery`) with a keyed hash of how the
 * patient was verified (the text itself stays here, never on chain).
 * @throws AppError FORBIDDEN, UNKNOWN_PATIENT, VALIDATION_FAILED, LEDGER_*
 */
export async function startRecovery(s: Services, p: { actor: Actor | undefined; patient: string; verifiedById: unknown; signal?: AbortSignal }): Promise<{ recovery: Recovery; code: string }> {
  const patient = await findAccount(s.db, p.patient)
  if (!patient || patient.role !== 'patient' || patient.state !== 'active') throw new AppError('UNKNOWN_PATIENT')
  const actor = staffOf(p.actor, patient)
  if (actor.account.role !== 'staff') throw new AppError('FORBIDDEN', { message: 'Staff of the patient\'s hospital start a recovery; the admin may approve it.' })
  const verifiedById = checkText(p.verifiedById, { field: 'verifiedById', max: 200 })
  const recoveryId = generateRecordId()
  const scheme = patient.key_scheme as KeyScheme
  const ledgerKey = generatePrivateKey()
  const newAddress = privateKeyToAccount(ledgerKey).address.toLowerCase() as Address
  const encryption = await generateEncryptionKeyPair(scheme)
  const code = generateRecoveryCode()
  // The password slot gets a random secret nobody keeps: the patient opens it with the code.
  const { keystore } = await sealKeystore({ payload: encodeAccountSecrets(ledgerKey, encryption.privateKey), password: bytesToHex(randomBytes(32)), recoveryCode: code, kdf: s.config.kdf, signal: p.signal })
  const keyCid = await putRawBlock(s.ipfs, encryption.publicKey, { signal: p.signal })
  await sendRecoveryProposal(s.ledger, {
    staff: requireKeys(actor).ledger, recoveryId, oldAccount: patient.address as Address, newAccount: newAddress, keyScheme: keySchemeId(scheme),
    encryptionKey: toHex(digestFromCid(keyCid)), verification: commitText(s.nodeKey, recoveryId, verifiedById), signal: p.signal,
  }).catch((err: unknown) => { throw refusal(err) })
  const row: RecoveryRow = {
    recovery_id: recoveryId, account_id: patient.id, old_address: patient.address as Address, new_address: newAddress, key_scheme: scheme,
    public_key: encryption.publicKey, keystore: JSON.stringify(keystore), proposer_id: actor.account.id, approver_id: null, envelopes: null,
    state: 'proposed', created_at: Date.now(), approved_at: null,
  }
  await s.db.run(`INSERT INTO patient_recoveries (recovery_id, account_id, old_address, new_address, key_scheme, public_key, keystore, proposer_id, approver_id, envelopes, state, created_at, approved_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 'proposed', ?, NULL)`, row.recovery_id, row.account_id, row.old_address, row.new_address, row.key_scheme, Buffer.from(row.public_key), row.keystore, row.proposer_id, row.created_at)
  await recordAccountEvent(s.db, { accountId: patient.id, kind: 'recovery-proposed', actorId: actor.account.id, now: row.created_at })
  return { recovery: toRecovery(row), code }
}

/**
 * A second staff member of the patient's hospital, or the admin, approves: this node opens each of
 * the patient's records' data keys with the hospital's emergency key, re-wraps them for the new key
 * in one block, and sends `Registry.approveRecovery` with its digest (the old address is retired on
 * chain, the new one registered as its successor). Then the account takes the new address and
 * keys: its sessions and two-factor sign-in end, and the one-time code sets a new password
 * (the sign-in recovery flow). Records whose data key is split into threshold shares are kept as
 * recovered-split: this node's member hospitals release their shares for the new key at once
 * (`releaseRecoveryShares`), the others' nodes through their follower, and the patient reads
 * them once k are in.
 * @throws AppError NOT_FOUND, FORBIDDEN, RECOVERY_NOT_PENDING, LEDGER_*
 */
export async function approveRecovery(s: Services, p: { actor: Actor | undefined; recoveryId: string; signal?: AbortSignal }): Promise<Recovery> {
  const id = parseRecordId(p.recoveryId)
  const row = await s.db.get<RecoveryRow>('SELECT * FROM patient_recoveries WHERE recovery_id = ?', id)
  if (!row) throw new AppError('NOT_FOUND')
  const patient = (await findAccount(s.db, row.account_id))!
  const actor = staffOf(p.actor, patient)
  if (row.state !== 'proposed') throw new AppError('RECOVERY_NOT_PENDING')
  if (actor.account.id === row.proposer_id) throw new AppError('FORBIDDEN', { message: 'A second person approves a recovery, not the one who started it.' })
  const { keys, split } = await rewrapKeys(s, row, patient)
  const envelopes = keys.length === 0 ? zeroHash : toHex(digestFromCid(await putRawBlock(s.ipfs, await sealRecoveryEnvelopes({
    recoveryId: id, to: { address: row.new_address, scheme: row.key_scheme, publicKey: new Uint8Array(row.public_key) }, keys,
  }), { signal: p.signal })))
  await sendRecoveryApproval(s.ledger, { approver: requireKeys(actor).ledger, recoveryId: id, envelopes, signal: p.signal }).catch((err: unknown) => { throw refusal(err) })
  const now = Date.now()
  // False when this node's follower wrote it first from the chain's RecoveryApproved (and released the shares).
  const wrote = await writeApproval(s, { row, approverId: actor.account.id, envelopes, rewrapped: keys.map((k) => k.recordId), split, now })
  // The split records: this node's member hospitals release their shares for the new key now,
  // the others' nodes when their follower sees RecoveryApproved. A failure here leaves the
  // approval done; the shares can be released again (releaseRecoveryShares is idempotent).
  if (wrote && split.length > 0) {
    await releaseRecoveryShares(s, { recoveryId: id, signal: p.signal }).catch((err: unknown) => {
      s.log('warn', `recovery ${id}: the home node's share release failed: ${err instanceof Error ? err.message : String(err)}`)
    })
  }
  return toRecovery({ ...row, state: 'approved', approver_id: actor.account.id, envelopes, approved_at: now }, keys.length, split.length)
}

/**
 * Writes an approved recovery here, once: the recovery approved, its records kept as recovered
 * (`rewrapped` in the envelopes block, or `split` into shares), the account on its new address,
 * keys and keystore, its sessions, recovery codes and two-factor sign-in ended. Resolves false
 * when it was already: the approving flow and this node's follower, which applies the node's own
 * `RecoveryApproved` in case the flow stopped before writing it, may both try.
 */
export async function writeApproval(
  s: Pick<Services, 'db'>,
  { row, approverId, envelopes, rewrapped, split, now }: { row: RecoveryRow; approverId: string | null; envelopes: Hex; rewrapped: Hex[]; split: Hex[]; now: number },
): Promise<boolean> {
  return s.db.transaction(async (tx) => {
    const moved = await tx.run(`UPDATE patient_recoveries SET state = 'approved', approver_id = ?, envelopes = ?, approved_at = ? WHERE recovery_id = ? AND state = 'proposed'`,
      approverId, envelopes, now, row.recovery_id)
    if (moved.changes === 0) return false
    for (const r of rewrapped) await tx.run('INSERT INTO recovered_records (record_id, recovery_id, patient_address) VALUES (?, ?, ?)', r, row.recovery_id, row.old_address)
    for (const r of split) await tx.run('INSERT INTO recovered_records (record_id, recovery_id, patient_address, split) VALUES (?, ?, ?, 1)', r, row.recovery_id, row.old_address)
    await tx.run('UPDATE accounts SET address = ?, public_key = ?, keystore = ? WHERE id = ?', row.new_address, Buffer.from(row.public_key), row.keystore, row.account_id)
    await tx.run('DELETE FROM sessions WHERE account_id = ?', row.account_id)
    await tx.run('DELETE FROM recovery_codes WHERE account_id = ?', row.account_id)
    await tx.run('DELETE FROM mfa WHERE account_id = ?', row.account_id)
    await recordAccountEvent(tx, { accountId: row.account_id, kind: 'recovery-approved', actorId: approverId, now })
    return true
  })
}

/**
 * The chain's refusal as the API answers it: approved meanwhile (another node, a concurrent
 * request) 409 RECOVERY_NOT_PENDING; the patient no longer active there 404 UNKNOWN_PATIENT; the
 * caller not allowed there (the proposer, a suspended staff member) 403 FORBIDDEN.
 */
function refusal(err: unknown): unknown {
  const name = isAppError(err, 'LEDGER_REVERTED') ? (err as AppError & { revert?: { errorName?: string } }).revert?.errorName : undefined
  if (name === 'RegistryRecoveryDone') return new AppError('RECOVERY_NOT_PENDING', { cause: err })
  if (name === 'RegistryNotActivePatient') return new AppError('UNKNOWN_PATIENT', { cause: err })
  if (name === 'RegistrySelfApproval' || name === 'RegistryUnauthorized') return new AppError('FORBIDDEN', { cause: err })
  return err
}

/** The data keys of the patient's anchored records that the hospital's emergency key opens. */
async function rewrapKeys(s: Services, row: RecoveryRow, patient: AccountRow): Promise<{ keys: { recordId: Hex; dataKey: Uint8Array }[]; split: Hex[] }> {
  const hospital = await unlockHospital(s, patient.hospital_id!)
  const me = { address: hospital.row.address as Address, scheme: hospital.row.key_scheme as KeyScheme, privateKey: hospital.keys.encryptionPrivateKey }
  const records = await s.db.all<{ record_id: Hex; envelopes: Hex }>(`SELECT record_id, envelopes FROM records WHERE patient_id = ? AND state = 'anchored'
    AND record_id NOT IN (SELECT record_id FROM recovered_records)`, row.account_id)
  const keys: { recordId: Hex; dataKey: Uint8Array }[] = []
  const split: Hex[] = []
  for (const r of records) {
    const env = parseEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(r.envelopes), 'raw')), r.record_id)
    try {
      keys.push({ recordId: r.record_id, dataKey: (await openEnvelopes(env, me)).dataKey })
    } catch (err) {
      if (!isAppError(err, 'RECORD_NOT_FOUND')) throw err // split into shares: no single emergency envelope
      split.push(r.record_id)
    }
  }
  return { keys, split }
}

/** A recovery in the list: who the patient is, who proposed and approved it, and when. */
export interface ListedRecovery extends Recovery {
  patientName: string
  /** Null for a recovery this node mirrored from the patient's home node (proposed there). */
  proposedByName: string | null
  approvedByName: string | null
  createdAt: string
  approvedAt: string | null
}

type ListedRow = RecoveryRow & { patient_name: string; proposer_name: string | null; approver_name: string | null; rewrapped_n: number; split_n: number }

/**
 * The recoveries of the actor's hospital (staff) or all (admin), newest first; an approved one
 * with the counts of its records re-wrapped in the recovery block and left to the shares (split).
 */
export async function listRecoveries(s: Services, actor: Actor | undefined): Promise<ListedRecovery[]> {
  const a = requireRole(actor, 'staff', 'admin')
  const select = `SELECT p.*, a.name AS patient_name, pr.name AS proposer_name, ap.name AS approver_name,
      (SELECT COUNT(*) FROM recovered_records r WHERE r.recovery_id = p.recovery_id AND r.split = 0) AS rewrapped_n,
      (SELECT COUNT(*) FROM recovered_records r WHERE r.recovery_id = p.recovery_id AND r.split = 1) AS split_n
    FROM patient_recoveries p JOIN accounts a ON a.id = p.account_id
    LEFT JOIN accounts pr ON pr.id = p.proposer_id LEFT JOIN accounts ap ON ap.id = p.approver_id`
  const rows = a.account.role === 'admin'
    ? await s.db.all<ListedRow>(`${select} ORDER BY p.created_at DESC`)
    : await s.db.all<ListedRow>(`${select} WHERE a.hospital_id = ? ORDER BY p.created_at DESC`, a.account.hospitalId)
  return rows.map((r) => ({
    ...toRecovery(r, r.state === 'approved' ? Number(r.rewrapped_n) : null, r.state === 'approved' ? Number(r.split_n) : null),
    patientName: r.patient_name, proposedByName: r.proposer_name, approvedByName: r.approver_name,
    createdAt: new Date(Number(r.created_at)).toISOString(), approvedAt: r.approved_at === null ? null : new Date(Number(r.approved_at)).toISOString(),
  }))
}
