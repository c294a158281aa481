import { hexToBytes, zeroHash, type Address, type Hex } from 'viem'
import { publicKeyOf } from '../accounts/directory.ts'
import { parseEnvelopes } from '../records/envelopes.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { recoveryEnvelopeRecordIds } from '../records/recovery-envelopes.ts'
import { releaseRecoveryShares } from './recovery-shares.ts'
import { writeApproval, type RecoveryRow } from './patient-recovery.ts'
import type { AccountRow } from '../accounts/account.ts'
import type { Services } from '../services.ts'

/**
 * Registry `RecoveryApproved` seen by a node's follower. On another member's node that knows the
 * patient (a `remote` account row at `oldAccount`), the recovery is mirrored: the account row
 * takes the new address and the new public key (fetched by the digest the Registry holds for
 * `newAccount`; the old address is retired), the recovery is kept as approved with no keystore,
 * and the patient's records here whose data key is split into shares are kept as
 * recovered-split. Then every member hospital whose keys this node holds releases its shares for
 * the new key (`releaseRecoveryShares`: once per hospital, nothing when it holds no share). On the
 * home node (the recovery known here already) only the release runs, which is idempotent.
 * Returns the number of shares released.
 * @throws AppError RECORD_UNAVAILABLE, RECORD_INTEGRITY, PUBLIC_KEY_MISMATCH, LEDGER_* (the follower retries)
 */
export async function applyRecoveryApproved(
  s: Services,
  { recoveryId, oldAccount, newAccount, envelopes, fetchMs }: { recoveryId: Hex; oldAccount: Address; newAccount: Address; envelopes: Hex; fetchMs: number },
): Promise<number> {
  const id = recoveryId.toLowerCase() as Hex
  const known = await s.db.get<{ state: string }>('SELECT state FROM patient_recoveries WHERE recovery_id = ?', id)
  if (!known) {
    const patient = await s.db.get<AccountRow>(`SELECT * FROM accounts WHERE address = ? AND state = 'remote'`, oldAccount.toLowerCase())
    if (!patient) return 0 // this node knows nothing of the patient: no share, nothing to mirror
    await mirrorRecovery(s, { id, patient, newAccount: newAccount.toLowerCase() as Address, envelopes, fetchMs })
  } else if (known.state !== 'approved') return 0
  return releaseRecoveryShares(s, { recoveryId: id, signal: AbortSignal.timeout(fetchMs) })
}

/**
 * This node's own `RecoveryApproved`, seen by its follower: when the approving flow stopped
 * between the mining and writing the approval (the recovery still `proposed` here), it is written
 * now from the event — the records re-wrapped are those its envelopes block names, the split ones
 * the patient's records whose key is in shares — and this node's hospitals release their shares.
 * When the flow wrote it, nothing: the flow released them itself. Returns the shares released.
 * @throws AppError RECORD_UNAVAILABLE, RECORD_INTEGRITY, LEDGER_* (the follower retries)
 */
export async function finishOwnRecoveryApproval(s: Services, { recoveryId, by, envelopes, fetchMs }: { recoveryId: Hex; by: Address; envelopes: Hex; fetchMs: number }): Promise<number> {
  const id = recoveryId.toLowerCase() as Hex
  const row = await s.db.get<RecoveryRow>(`SELECT * FROM patient_recoveries WHERE recovery_id = ? AND state = 'proposed'`, id)
  if (!row) return 0
  const signal = AbortSignal.timeout(fetchMs)
  const digest = envelopes.toLowerCase() as Hex
  const rewrapped = digest === zeroHash ? [] : recoveryEnvelopeRecordIds(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(digest), 'raw'), { signal }), id)
  const split = await splitRecords(s, row.account_id, signal)
  const approver = await s.db.get<{ id: string }>('SELECT id FROM accounts WHERE address = ?', by.toLowerCase())
  if (!(await writeApproval(s, { row, approverId: approver?.id ?? null, envelopes: digest, rewrapped, split, now: Date.now() }))) return 0
  return releaseRecoveryShares(s, { recoveryId: id, signal })
}

/** The patient's anchored records not yet recovered whose data key is split into threshold shares. */
async function splitRecords(s: Services, patientId: string, signal: AbortSignal): Promise<Hex[]> {
  const records = await s.db.all<{ record_id: Hex; envelopes: Hex }>(`SELECT record_id, envelopes FROM records WHERE patient_id = ? AND state = 'anchored'
    AND record_id NOT IN (SELECT record_id FROM recovered_records)`, patientId)
  const split: Hex[] = []
  for (const r of records) {
    const env = parseEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(r.envelopes), 'raw'), { signal }), r.record_id)
    if (env.shares) split.push(r.record_id)
  }
  return split
}

async function mirrorRecovery(s: Services, { id, patient, newAccount, envelopes, fetchMs }: { id: Hex; patient: AccountRow; newAccount: Address; envelopes: Hex; fetchMs: number }): Promise<void> {
  const signal = AbortSignal.timeout(fetchMs)
  const publicKey = await publicKeyOf(s, { id: patient.id, address: newAccount, public_key: Buffer.alloc(0), key_scheme: patient.key_scheme }, signal)
  const split = await splitRecords(s, patient.id, signal)
  const now = Date.now()
  await s.db.transaction(async (tx) => {
    await tx.run(`INSERT INTO patient_recoveries (recovery_id, account_id, old_address, new_address, key_scheme, public_key, keystore, proposer_id, approver_id, envelopes, state, created_at, approved_at)
      VALUES (?, ?, ?, ?, ?, ?, '', '', NULL, ?, 'approved', ?, ?) ON CONFLICT (recovery_id) DO NOTHING`, id, patient.id, patient.address, newAccount, patient.key_scheme, Buffer.from(publicKey), envelopes.toLowerCase(), now, now)
    for (const r of split) await tx.run('INSERT INTO recovered_records (record_id, recovery_id, patient_address, split) VALUES (?, ?, ?, 1) ON CONFLICT (record_id) DO NOTHING', r, id, patient.address)
    await tx.run('UPDATE accounts SET address = ?, email = ?, public_key = ? WHERE id = ?', newAccount, `${newAccount}@ledger.invalid`, Buffer.from(publicKey), patient.id)
  })
}
