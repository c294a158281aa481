import { hexToBytes, type Address, type Hex } from 'viem'
import { decodeBase64url, encodeBase64url, utf8 } from '../crypto/bytes.ts'
import { unwrapKey, wrapKey, type KeyScheme } from '../crypto/key-wrap.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { AppError } from '../errors.ts'
import { recoverySharesKey } from './recovery-shares.ts'
import type { Services } from '../services.ts'

/**
 * The block an account recovery writes (consent/patient-recovery.ts): the data keys of the
 * patient's records, each wrapped for the patient's new key. Its digest is on chain, in
 * `Registry.RecoveryApproved`.
 */
interface RecoveryEnvelopesObject {
  v: 1
  type: 'medledger/recovery-envelopes'
  recoveryId: Hex
  to: Address
  scheme: KeyScheme
  keys: { recordId: Hex; wrapped: string }[]
}

const context = (recoveryId: Hex, recordId: Hex, to: Address) =>
  utf8(`medledger/recovery-key/v1|${recoveryId.toLowerCase()}|${recordId.toLowerCase()}|${to.toLowerCase()}`)

/** Serialises the data keys, each wrapped for the new key `to`. */
export async function sealRecoveryEnvelopes({ recoveryId, to, keys }: { recoveryId: Hex; to: { address: Address; scheme: KeyScheme; publicKey: Uint8Array }; keys: { recordId: Hex; dataKey: Uint8Array }[] }): Promise<Uint8Array> {
  const obj: RecoveryEnvelopesObject = {
    v: 1, type: 'medledger/recovery-envelopes', recoveryId, to: to.address.toLowerCase() as Address, scheme: to.scheme,
    keys: await Promise.all(keys.map(async ({ recordId, dataKey }) => ({
      recordId, wrapped: encodeBase64url(await wrapKey({ scheme: to.scheme, publicKey: to.publicKey, key: dataKey, context: context(recoveryId, recordId, to.address) })),
    }))),
  }
  return utf8(JSON.stringify(obj))
}

/**
 * For a record re-wrapped by a recovery: the retired address it was anchored for, and where its
 * key for the new address is (undefined for any other record).
 */
export async function recoveredRecord(s: Pick<Services, 'db'>, recordId: Hex): Promise<{ address: Address; recoveryId: Hex; envelopes: Hex; to: Address; split: number } | undefined> {
  return s.db.get(`SELECT r.patient_address AS address, r.recovery_id AS "recoveryId", p.envelopes AS envelopes, p.new_address AS "to", r.split AS split
    FROM recovered_records r JOIN patient_recoveries p ON p.recovery_id = r.recovery_id WHERE r.record_id = ?`, recordId)
}

/**
 * The data key of a recovered record for `reader`, the patient's new key.
 * @throws AppError RECORD_NOT_FOUND when the reader is not the one it was re-wrapped for;
 *   RECOVERY_SHARES_PENDING for a split record before k hospitals released their shares;
 *   RECORD_INTEGRITY when the block or the key does not authenticate; RECORD_UNAVAILABLE
 */
export async function openRecoveredKey(s: Pick<Services, 'ipfs' | 'db'>, rec: { recoveryId: Hex; envelopes: Hex; to: Address; split: number }, recordId: Hex, reader: { address: Address; scheme: KeyScheme; privateKey: Uint8Array }, signal?: AbortSignal): Promise<Uint8Array> {
  if (rec.to.toLowerCase() !== reader.address.toLowerCase()) throw new AppError('RECORD_NOT_FOUND')
  // Split into threshold shares: combined from the member hospitals' releases for the recovery.
  if (Number(rec.split) === 1) return recoverySharesKey(s, { recoveryId: rec.recoveryId, recordId, reader, signal })
  const obj = parseRecoveryEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(rec.envelopes), 'raw'), { signal }), rec.recoveryId)
  const mine = obj.keys.find((k) => typeof k?.recordId === 'string' && k.recordId.toLowerCase() === recordId.toLowerCase())
  const wrapped = mine && decodeBase64url(mine.wrapped)
  if (!wrapped) throw new AppError('RECORD_NOT_FOUND')
  return unwrapKey({ scheme: reader.scheme, privateKey: reader.privateKey, wrapped, context: context(rec.recoveryId, recordId, reader.address) })
}

/**
 * The ids of the records whose keys a recovery's envelopes block re-wraps.
 * @throws AppError RECORD_INTEGRITY when the block is not that recovery's
 */
export function recoveryEnvelopeRecordIds(bytes: Uint8Array, recoveryId: Hex): Hex[] {
  return parseRecoveryEnvelopes(bytes, recoveryId).keys.map((k) => String(k?.recordId).toLowerCase() as Hex)
}

function parseRecoveryEnvelopes(bytes: Uint8Array, recoveryId: Hex): RecoveryEnvelopesObject {
  let obj: RecoveryEnvelopesObject
  try {
    obj = JSON.parse(Buffer.from(bytes).toString('utf8')) as RecoveryEnvelopesObject
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { cause, details: 'recovery envelopes block is not JSON' })
  }
  if (obj?.type !== 'medledger/recovery-envelopes' || obj.recoveryId?.toLowerCase() !== recoveryId.toLowerCase() || !Array.isArray(obj.keys)) {
    throw new AppError('RECORD_INTEGRITY', { details: 'recovery envelopes block does not belong to this recovery' })
  }
  return obj
}
