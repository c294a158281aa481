import { hexToBytes, type Address, type Hex } from 'viem'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { decodeBase64url, utf8 } from '../crypto/bytes.ts'
import { keySchemes, unwrapKey, type KeyScheme } from '../crypto/key-wrap.ts'
import { sendEmergencyShareRelease } from '../ledger/consent/send-emergency-share-release.ts'
import { chainTime } from '../ledger/chain-time.ts'
import type { AccountRow } from '../accounts/account.ts'
import { publicKeyOf } from '../accounts/directory.ts'
import { assertAnchored } from '../records/assert-anchored.ts'
import { parseEnvelopes, type EnvelopesObject } from '../records/envelopes.ts'
import { combineShares, movedShares, type EmergencyShares } from '../records/emergency-shares.ts'
import type { RecordRow } from '../records/record.ts'
import { AppError, isAppError } from '../errors.ts'
import { putSharesBlock, releaseAsHeldHospitals, type ReleasingHospital } from './release-shares.ts'
import type { Services } from '../services.ts'

/**
 * The block a hospital releases for an emergency: its share of each of the patient's records
 * it holds one of, re-wrapped for the declaring doctor. Its digest goes on chain in the
 * hospital's `EmergencyShareReleased` event.
 */
interface SharesBlock {
  v: 1
  type: 'medledger/emergency-shares'
  emergencyId: Hex
  hospital: Address
  shares: { recordId: Hex; scheme: KeyScheme; wrapped: string }[]
}

function releaseContext(emergencyId: Hex, recordId: Hex, hospital: Address, doctor: Address): Uint8Array {
  return utf8(`medledger/emergency-share-release/v1|${emergencyId.toLowerCase()}|${recordId.toLowerCase()}|${hospital.toLowerCase()}|${doctor.toLowerCase()}`)
}

interface EmergencyRow { emergency_id: Hex; doctor_id: string; patient_id: string; expires_at: number }

export type { ReleasingHospital } from './release-shares.ts'

/**
 * Every member hospital whose keys this node holds releases its shares for a declared emergency
 * (`releaseSharesAs`). Returns the number of shares released.
 * @throws AppError UNKNOWN_ACCOUNT, RECORD_UNAVAILABLE, RECORD_INTEGRITY, LEDGER_*
 */
export async function releaseEmergencyShares(s: Services, { emergencyId, signal }: { emergencyId: Hex; signal?: AbortSignal }): Promise<number> {
  return releaseAsHeldHospitals(s, (hospital) => releaseSharesAs(s, { emergencyId, hospital, signal }))
}

/**
 * A member hospital releases its shares for a declared emergency (its node has seen the
 * declaration on chain: `declareEmergency` comes first): for each anchored record of the
 * patient whose envelopes give this hospital a share, the share is unwrapped with the hospital's
 * emergency key and re-wrapped for the doctor (the key the Registry names), all in one IPFS
 * block (`putSharesBlock`), and the release is sent from the hospital's own key. Nothing is sent
 * when the hospital holds no share of the patient's records, or released already. Returns the
 * number of shares.
 * @throws AppError UNKNOWN_ACCOUNT, RECORD_UNAVAILABLE, RECORD_INTEGRITY, LEDGER_*
 */
export async function releaseSharesAs(s: Services, { emergencyId, hospital, signal }: { emergencyId: Hex; hospital: ReleasingHospital; signal?: AbortSignal }): Promise<number> {
  const id = emergencyId.toLowerCase() as Hex
  const row = await s.db.get<EmergencyRow>('SELECT emergency_id, doctor_id, patient_id, expires_at FROM emergencies WHERE emergency_id = ?', id)
  if (!row) throw new AppError('UNKNOWN_ACCOUNT', { details: 'emergency not known here' })
  // A node catching up sees emergencies that have ended: the chain would refuse their release.
  if (Number(row.expires_at) <= await chainTime(s.ledger, { signal })) return 0
  const address = hospital.address.toLowerCase() as Address
  if (await s.db.get('SELECT 1 FROM emergency_shares WHERE emergency_id = ? AND hospital = ?', id, address)) return 0
  const doctor = await s.db.get<AccountRow>('SELECT * FROM accounts WHERE id = ?', row.doctor_id)
  if (!doctor) throw new AppError('UNKNOWN_ACCOUNT')
  const records = new Map((await s.db.all<RecordRow>(`SELECT * FROM records WHERE patient_id = ? AND state = 'anchored' ORDER BY created_at`, row.patient_id)).map((r) => [r.record_id, r]))
  const built = await putSharesBlock<SharesBlock>(s, {
    recordIds: [...records.keys()],
    // A moved shares block (a record from before the change, or a home share re-wrapped after a key rotation) comes first.
    splitOf: async (recordId) => await movedShares(s, recordId, signal) ?? (await envelopesOf(s, records.get(recordId)!, signal)).shares,
    hospital,
    to: { scheme: doctor.key_scheme, publicKey: await publicKeyOf(s, doctor, signal) },
    context: (recordId) => releaseContext(id, recordId, address, doctor.address as Address),
    header: { type: 'medledger/emergency-shares', emergencyId: id },
    signal,
  })
  if (!built) return 0
  const receipt = await sendEmergencyShareRelease(s.ledger, { hospital: hospital.ledger, emergencyId: id, shares: built.digest, signal })
  await recordEmergencyShareRelease(s, { emergencyId: id, hospital: address, shares: built.digest, txHash: receipt.transactionHash })
  return built.count
}

async function envelopesOf(s: Services, r: RecordRow, signal?: AbortSignal): Promise<EnvelopesObject> {
  await assertAnchored(s, r)
  return parseEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(r.envelopes), 'raw'), { signal }), r.record_id)
}

/** Keeps a hospital's share release for an emergency known here (from this node or its follower), once. */
export async function recordEmergencyShareRelease(s: Pick<Services, 'db'>, { emergencyId, hospital, shares, txHash }: { emergencyId: Hex; hospital: Address; shares: Hex; txHash: Hex }): Promise<void> {
  const id = emergencyId.toLowerCase()
  if (!(await s.db.get('SELECT 1 FROM emergencies WHERE emergency_id = ?', id))) return
  await s.db.run(`INSERT INTO emergency_shares (emergency_id, hospital, shares, tx_hash, created_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (emergency_id, hospital) DO NOTHING`, id, hospital.toLowerCase(), shares.toLowerCase(), txHash, Date.now())
}

/**
 * A hospital moved one of its records stored before threshold break-glass to shares (its
 * EmergencySharesMoved event): kept when the sender is the record's own hospital, once.
 */
export async function recordEmergencySharesMoved(s: Pick<Services, 'db'>, { recordId, hospital, shares, txHash }: { recordId: Hex; hospital: Address; shares: Hex; txHash: Hex }): Promise<void> {
  const home = await s.db.get<{ address: string }>('SELECT h.address FROM records r JOIN hospitals h ON h.id = r.hospital_id WHERE r.record_id = ?', recordId.toLowerCase())
  if (!home || home.address.toLowerCase() !== hospital.toLowerCase()) return
  await s.db.run('INSERT INTO emergency_moved (record_id, shares, tx_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (record_id) DO NOTHING',
    recordId.toLowerCase(), shares.toLowerCase(), txHash, Date.now())
}

/**
 * This node's own EmergencySharesMoved (`record rekey --all-emergency` may have stopped between
 * its mining and writing it): the record's row takes the event's shares block unless it already
 * holds a later one. A row from another transaction is replaced only when that transaction was
 * mined in an earlier block or is not on chain (lost), so a second rotation's re-wrap the flow
 * wrote is never put back to the first's by a follower looking again at old blocks, and a re-run
 * after a crash finds the record moved and splits it no second time.
 */
export async function applyOwnEmergencySharesMoved(
  s: Pick<Services, 'db' | 'ledger'>,
  { recordId, hospital, shares, txHash, blockNumber }: { recordId: Hex; hospital: Address; shares: Hex; txHash: Hex; blockNumber: number },
): Promise<void> {
  const id = recordId.toLowerCase()
  const kept = await s.db.get<{ tx_hash: Hex }>('SELECT tx_hash FROM emergency_moved WHERE record_id = ?', id)
  if (!kept) return recordEmergencySharesMoved(s, { recordId, hospital, shares, txHash })
  if (kept.tx_hash.toLowerCase() === txHash.toLowerCase()) return
  const earlier = await s.ledger.client.getTransactionReceipt({ hash: kept.tx_hash }).catch(() => undefined)
  if (earlier && Number(earlier.blockNumber) >= blockNumber) return
  await s.db.run('UPDATE emergency_moved SET shares = ?, tx_hash = ? WHERE record_id = ? AND tx_hash = ?', shares.toLowerCase(), txHash, id, kept.tx_hash)
}

/**
 * The data key of a record whose key is split (threshold break-glass), for the emergency's
 * doctor: the doctor's share from each hospital that released one, unwrapped with the doctor's
 * key and combined once k distinct hospitals' are in.
 * @throws AppError EMERGENCY_SHARES_PENDING (fewer than k released yet), RECORD_INTEGRITY, RECORD_UNAVAILABLE
 */
export async function emergencySharesKey(
  s: Services,
  { emergencyId, recordId, split, doctor, signal }: { emergencyId: Hex; recordId: Hex; split: EmergencyShares; doctor: { address: Address; scheme: KeyScheme; privateKey: Uint8Array }; signal?: AbortSignal },
): Promise<Uint8Array> {
  const holders = new Set(split.keys.map((k) => k.to.toLowerCase()))
  const releases = await s.db.all<{ hospital: Address; shares: Hex }>('SELECT hospital, shares FROM emergency_shares WHERE emergency_id = ?', emergencyId.toLowerCase())
  const byHospital = new Map<string, Uint8Array>()
  try {
    for (const r of releases) {
      if (!holders.has(r.hospital.toLowerCase())) continue
      const share = await openReleasedShare(s, { release: r, emergencyId, recordId, doctor, signal })
      if (share) byHospital.set(r.hospital.toLowerCase(), share)
    }
    return await combineShares(split, byHospital)
  } finally {
    for (const sh of byHospital.values()) sh.fill(0)
  }
}

async function openReleasedShare(
  s: Services,
  { release, emergencyId, recordId, doctor, signal }: { release: { hospital: Address; shares: Hex }; emergencyId: Hex; recordId: Hex; doctor: { address: Address; scheme: KeyScheme; privateKey: Uint8Array }; signal?: AbortSignal },
): Promise<Uint8Array | undefined> {
  const bytes = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(release.shares), 'raw'), { signal })
  let block: SharesBlock
  try {
    block = JSON.parse(Buffer.from(bytes).toString('utf8')) as SharesBlock
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { cause, details: 'emergency shares block is not JSON' })
  }
  if (block?.type !== 'medledger/emergency-shares' || !Array.isArray(block.shares)) throw new AppError('RECORD_INTEGRITY', { details: 'not an emergency shares block' })
  const mine = block.shares.find((x) => typeof x?.recordId === 'string' && x.recordId.toLowerCase() === recordId.toLowerCase())
  if (!mine || mine.scheme !== doctor.scheme || !keySchemes.includes(mine.scheme)) return undefined
  const wrapped = decodeBase64url(mine.wrapped)
  if (!wrapped) throw new AppError('RECORD_INTEGRITY', { details: 'released share is not base64url' })
  try {
    return await unwrapKey({ scheme: doctor.scheme, privateKey: doctor.privateKey, wrapped, context: releaseContext(emergencyId, recordId, release.hospital, doctor.address) })
  } catch (err) {
    if (isAppError(err, 'RECORD_INTEGRITY')) return undefined // not a share for this doctor: it counts for nothing
    throw err
  }
}
