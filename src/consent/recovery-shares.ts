import type { Address, Hex } from 'viem'
import type { KeyScheme } from '../crypto/key-wrap.ts'
import { sendRecoveryShareRelease } from '../ledger/consent/send-recovery-share-release.ts'
import { recoveryShareContext, splitOf, type RecoverySharesBlock } from '../records/recovery-shares.ts'
import { putSharesBlock, releaseAsHeldHospitals, type ReleasingHospital } from './release-shares.ts'
import type { Services } from '../services.ts'

/**
 * Every member hospital whose keys this node holds releases its shares of the recovered patient's
 * split records (`releaseRecoverySharesAs`). Returns the number of shares released.
 * @throws AppError RECORD_UNAVAILABLE, RECORD_INTEGRITY, LEDGER_*
 */
export async function releaseRecoveryShares(s: Services, { recoveryId, signal }: { recoveryId: Hex; signal?: AbortSignal }): Promise<number> {
  return releaseAsHeldHospitals(s, (hospital) => releaseRecoverySharesAs(s, { recoveryId, hospital, signal }))
}

/**
 * A member hospital releases its shares for an approved recovery: for each of the patient's
 * records kept as split (`recovered_records.split`) whose shares give this hospital one, the
 * share is unwrapped with the hospital's emergency key and re-wrapped for the patient's new key,
 * all in one IPFS block, and `Consent.releaseRecoveryShare` is sent from the hospital's own key.
 * Nothing is sent when it holds no share or released already. Returns the number of shares.
 * @throws AppError RECORD_UNAVAILABLE, RECORD_INTEGRITY, LEDGER_*
 */
export async function releaseRecoverySharesAs(s: Services, { recoveryId, hospital, signal }: { recoveryId: Hex; hospital: ReleasingHospital; signal?: AbortSignal }): Promise<number> {
  const id = recoveryId.toLowerCase() as Hex
  const rec = await s.db.get<{ new_address: Address; key_scheme: KeyScheme; public_key: Uint8Array }>(`SELECT new_address, key_scheme, public_key FROM patient_recoveries WHERE recovery_id = ? AND state = 'approved'`, id)
  if (!rec) return 0
  const address = hospital.address.toLowerCase() as Address
  if (await s.db.get('SELECT 1 FROM recovery_shares WHERE recovery_id = ? AND hospital = ?', id, address)) return 0
  const records = await s.db.all<{ record_id: Hex }>('SELECT record_id FROM recovered_records WHERE recovery_id = ? AND split = 1 ORDER BY record_id', id)
  const built = await recoverySharesBlock(s, { recoveryId: id, recordIds: records.map((r) => r.record_id), hospital, to: { address: rec.new_address, scheme: rec.key_scheme, publicKey: new Uint8Array(rec.public_key) }, signal })
  if (!built) return 0
  const { digest, count } = built
  const receipt = await sendRecoveryShareRelease(s.ledger, { hospital: hospital.ledger, recoveryId: id, shares: digest, signal })
  await recordRecoveryShareRelease(s, { recoveryId: id, hospital: address, shares: digest, txHash: receipt.transactionHash })
  return count
}

/**
 * A hospital's shares of the given split records, re-wrapped for the recovered patient's new
 * key `to`, in one IPFS block (put here): its digest and the number of shares, or undefined when
 * the hospital holds none.
 */
export async function recoverySharesBlock(
  s: Pick<Services, 'db' | 'ipfs'>,
  { recoveryId, recordIds, hospital, to, signal }: { recoveryId: Hex; recordIds: Hex[]; hospital: Pick<ReleasingHospital, 'address' | 'scheme' | 'privateKey'>; to: { address: Address; scheme: KeyScheme; publicKey: Uint8Array }; signal?: AbortSignal },
): Promise<{ digest: Hex; count: number } | undefined> {
  const id = recoveryId.toLowerCase() as Hex
  const address = hospital.address.toLowerCase() as Address
  return putSharesBlock<RecoverySharesBlock>(s, {
    recordIds,
    splitOf: (recordId) => splitOf(s, recordId, signal),
    hospital,
    to,
    context: (recordId) => recoveryShareContext(id, recordId, address, to.address),
    header: { type: 'medledger/recovery-shares', recoveryId: id },
    signal,
  })
}

/** Keeps a hospital's share release for a recovery known here (from this node or its follower), once. */
export async function recordRecoveryShareRelease(s: Pick<Services, 'db'>, { recoveryId, hospital, shares, txHash }: { recoveryId: Hex; hospital: Address; shares: Hex; txHash: Hex }): Promise<void> {
  const id = recoveryId.toLowerCase()
  if (!(await s.db.get('SELECT 1 FROM patient_recoveries WHERE recovery_id = ?', id))) return
  await s.db.run(`INSERT INTO recovery_shares (recovery_id, hospital, shares, tx_hash, created_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (recovery_id, hospital) DO NOTHING`, id, hospital.toLowerCase(), shares.toLowerCase(), txHash, Date.now())
}
