import { toHex, type Address, type Hex } from 'viem'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import { encodeBase64url, utf8 } from '../crypto/bytes.ts'
import { wrapKey, type KeyScheme } from '../crypto/key-wrap.ts'
import { sendRecoveryShareRelease } from '../ledger/consent/send-recovery-share-release.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { openShare } from '../records/emergency-shares.ts'
import { recoveryShareContext, splitOf, type RecoverySharesBlock } from '../records/recovery-shares.ts'
import type { ReleasingHospital } from './emergency-shares.ts'
import type { Services } from '../services.ts'

/**
 * Every member hospital whose keys this node holds releases its shares of the recovered patient's
 * split records (`releaseRecoverySharesAs`). Returns the number of shares released.
 * @throws AppError RECORD_UNAVAILABLE, RECORD_INTEGRITY, LEDGER_*
 */
export async function releaseRecoveryShares(s: Services, { recoveryId, signal }: { recoveryId: Hex; signal?: AbortSignal }): Promise<number> {
  const held = await s.db.all<{ id: string }>(`SELECT id FROM hospitals WHERE state = 'active' AND sealed_secrets <> '' ORDER BY created_at`)
  let n = 0
  for (const h of held) {
    const hospital = await unlockHospital(s, h.id)
    try {
      n += await releaseRecoverySharesAs(s, { recoveryId, signal, hospital: { address: hospital.row.address as Address, scheme: hospital.row.key_scheme, privateKey: hospital.keys.encryptionPrivateKey, ledger: hospital.keys.ledger } })
    } finally {
      hospital.keys.encryptionPrivateKey.fill(0)
    }
  }
  return n
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
  const reader = { address, scheme: hospital.scheme, privateKey: hospital.privateKey }
  const shares: RecoverySharesBlock['shares'] = []
  for (const recordId of recordIds) {
    const split = await splitOf(s, recordId, signal)
    const share = split && await openShare(split, recordId, reader)
    if (!share) continue
    const wrapped = await wrapKey({ scheme: to.scheme, publicKey: to.publicKey, key: share, context: recoveryShareContext(id, recordId, address, to.address) })
    share.fill(0)
    shares.push({ recordId, scheme: to.scheme, wrapped: encodeBase64url(wrapped) })
  }
  if (shares.length === 0) return undefined
  const block: RecoverySharesBlock = { v: 1, type: 'medledger/recovery-shares', recoveryId: id, hospital: address, shares }
  return { digest: toHex(digestFromCid(await putRawBlock(s.ipfs, utf8(JSON.stringify(block)), { signal }))), count: shares.length }
}

/** Keeps a hospital's share release for a recovery known here (from this node or its follower), once. */
export async function recordRecoveryShareRelease(s: Pick<Services, 'db'>, { recoveryId, hospital, shares, txHash }: { recoveryId: Hex; hospital: Address; shares: Hex; txHash: Hex }): Promise<void> {
  const id = recoveryId.toLowerCase()
  if (!(await s.db.get('SELECT 1 FROM patient_recoveries WHERE recovery_id = ?', id))) return
  await s.db.run(`INSERT INTO recovery_shares (recovery_id, hospital, shares, tx_hash, created_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (recovery_id, hospital) DO NOTHING`, id, hospital.toLowerCase(), shares.toLowerCase(), txHash, Date.now())
}
