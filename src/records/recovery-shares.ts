import { hexToBytes, type Address, type Hex } from 'viem'
import { decodeBase64url, utf8 } from '../crypto/bytes.ts'
import { keySchemes, unwrapKey, type KeyScheme } from '../crypto/key-wrap.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { combineShares, movedShares, type EmergencyShares } from './emergency-shares.ts'
import { parseEnvelopes } from './envelopes.ts'
import { AppError, isAppError } from '../errors.ts'
import type { Services } from '../services.ts'

/**
 * The block a member hospital releases for an approved recovery: its share of each split record
 * of the patient, re-wrapped for the patient's new key. Its digest is on chain in the hospital's
 * `Consent.RecoveryShareReleased` event.
 */
export interface RecoverySharesBlock {
  v: 1
  type: 'medledger/recovery-shares'
  recoveryId: Hex
  hospital: Address
  shares: { recordId: Hex; scheme: KeyScheme; wrapped: string }[]
}

export function recoveryShareContext(recoveryId: Hex, recordId: Hex, hospital: Address, to: Address): Uint8Array {
  return utf8(`medledger/recovery-share-release/v1|${recoveryId.toLowerCase()}|${recordId.toLowerCase()}|${hospital.toLowerCase()}|${to.toLowerCase()}`)
}

/** The record's split data key (a moved shares block first, else its envelopes' shares). */
export async function splitOf(s: Pick<Services, 'db' | 'ipfs'>, recordId: Hex, signal?: AbortSignal): Promise<EmergencyShares | undefined> {
  const moved = await movedShares(s, recordId, signal)
  if (moved) return moved
  const row = await s.db.get<{ envelopes: Hex }>('SELECT envelopes FROM records WHERE record_id = ?', recordId.toLowerCase())
  if (!row) return undefined
  return parseEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.envelopes), 'raw'), { signal }), recordId).shares
}

/**
 * The data key of a split record of a recovered patient, for the patient's new key: the share
 * each member hospital released for the recovery, unwrapped and combined once k distinct
 * holders' are in.
 * @throws AppError RECOVERY_SHARES_PENDING (fewer than k released yet), RECORD_INTEGRITY, RECORD_UNAVAILABLE
 */
export async function recoverySharesKey(
  s: Pick<Services, 'db' | 'ipfs'>,
  { recoveryId, recordId, reader, signal }: { recoveryId: Hex; recordId: Hex; reader: { address: Address; scheme: KeyScheme; privateKey: Uint8Array }; signal?: AbortSignal },
): Promise<Uint8Array> {
  const split = await splitOf(s, recordId, signal)
  if (!split) throw new AppError('RECORD_NOT_FOUND')
  const holders = new Set(split.keys.map((k) => k.to.toLowerCase()))
  const releases = await s.db.all<{ hospital: Address; shares: Hex }>('SELECT hospital, shares FROM recovery_shares WHERE recovery_id = ?', recoveryId.toLowerCase())
  const byHospital = new Map<string, Uint8Array>()
  try {
    for (const r of releases) {
      if (!holders.has(r.hospital.toLowerCase())) continue
      const share = await openReleased(s, { release: r, recoveryId, recordId, reader, signal })
      if (share) byHospital.set(r.hospital.toLowerCase(), share)
    }
    return await combineShares(split, byHospital)
  } catch (err) {
    if (isAppError(err, 'EMERGENCY_SHARES_PENDING')) throw new AppError('RECOVERY_SHARES_PENDING', { cause: err, details: (err as AppError & { details?: unknown }).details })
    throw err
  } finally {
    for (const sh of byHospital.values()) sh.fill(0)
  }
}

async function openReleased(
  s: Pick<Services, 'ipfs'>,
  { release, recoveryId, recordId, reader, signal }: { release: { hospital: Address; shares: Hex }; recoveryId: Hex; recordId: Hex; reader: { address: Address; scheme: KeyScheme; privateKey: Uint8Array }; signal?: AbortSignal },
): Promise<Uint8Array | undefined> {
  const bytes = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(release.shares), 'raw'), { signal })
  let block: RecoverySharesBlock
  try {
    block = JSON.parse(Buffer.from(bytes).toString('utf8')) as RecoverySharesBlock
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { cause, details: 'recovery shares block is not JSON' })
  }
  if (block?.type !== 'medledger/recovery-shares' || block.recoveryId?.toLowerCase() !== recoveryId.toLowerCase() || !Array.isArray(block.shares)) {
    throw new AppError('RECORD_INTEGRITY', { details: 'not this recovery\'s shares block' })
  }
  const mine = block.shares.find((x) => typeof x?.recordId === 'string' && x.recordId.toLowerCase() === recordId.toLowerCase())
  if (!mine || mine.scheme !== reader.scheme || !keySchemes.includes(mine.scheme)) return undefined
  const wrapped = decodeBase64url(mine.wrapped)
  if (!wrapped) throw new AppError('RECORD_INTEGRITY', { details: 'released share is not base64url' })
  try {
    return await unwrapKey({ scheme: reader.scheme, privateKey: reader.privateKey, wrapped, context: recoveryShareContext(recoveryId, recordId, release.hospital, reader.address) })
  } catch (err) {
    if (isAppError(err, 'RECORD_INTEGRITY')) return undefined // not a share for this key: it counts for nothing
    throw err
  }
}
