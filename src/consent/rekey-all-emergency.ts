import { decodeFunctionData, hexToBytes, parseTransaction, toHex, type Address, type Hex } from 'viem'
import { bytesToHex } from 'viem'
import { decodeBase64url } from '../crypto/bytes.ts'
import { generateEncryptionKeyPair } from '../crypto/key-wrap.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { consentAbi, registryAbi } from '../ledger/abis.ts'
import { readContract } from '../ledger/read-contract.ts'
import { encodeAccountSecrets, decodeAccountSecrets } from '../accounts/account-secrets.ts'
import { openWithNodeKey, sealWithNodeKey } from '../accounts/node-key.ts'
import { requireRole, type Actor } from '../accounts/account.ts'
import { nodeHospital } from '../accounts/node-hospital.ts'
import type { HospitalRow } from '../accounts/hospital.ts'
import { sendEmergencySharesMoved } from '../ledger/consent/send-emergency-shares-moved.ts'
import { sendEmergencyKeyRotation } from '../ledger/registry/send-emergency-key-rotation.ts'
import { getRawBlockVerified, putRawBlock } from '../storage/raw-block.ts'
import { cidFromDigest, digestFromCid } from '../storage/read-verified.ts'
import { assertAnchored } from '../records/assert-anchored.ts'
import { openEnvelopes, parseEnvelopes, type EnvelopesObject } from '../records/envelopes.ts'
import { movedShares, openShare, sealMovedShares, shareHolders, splitDataKey, wrapShare, type EmergencyShares } from '../records/emergency-shares.ts'
import { openSearchKey } from '../records/search/search-key.ts'
import { rewrapResearchKeys } from './research-keys.ts'
import { applyOwnEmergencySharesMoved } from './emergency-shares.ts'
import type { RecordRow } from '../records/record.ts'
import { AppError } from '../errors.ts'
import type { Services } from '../services.ts'

export interface RekeyAllEmergencyResult {
  hospital: Address
  /** Records stored before threshold break-glass, their single emergency envelope replaced by shares. */
  moved: number
  /** Records already split whose home share was re-wrapped for the new emergency key. */
  rewrapped: number
  /** Whether the hospital's emergency key was replaced (the old one is destroyed on this node). */
  rotated: boolean
}

/**
 * `medledger record rekey --all-emergency`: staff (or the admin) of a hospital move the records
 * stored before threshold break-glass from the hospital's single emergency envelope to Shamir
 * shares among member hospitals, then retire the emergency key that opened them:
 *  1. a new emergency key pair replaces the old one in the Registry (`rotateEmergencyKey`); the
 *     old key stays sealed in `retired_emergency_keys` only until step 2 is done, so an
 *     interrupted run resumes where it stopped;
 *  2. each old record's data key, opened with the old key, is split k of n (the home's share
 *     wrapped for the new key) into a shares block published by `moveEmergencyShares`; each
 *     record already split gets its home share re-wrapped for the new key the same way;
 *  3. the old key is deleted. From then on what is stored opens nothing with the node's key alone.
 * @throws AppError FORBIDDEN, UNKNOWN_HOSPITAL, EMERGENCY_SPLIT_UNAVAILABLE (fewer than two members), LEDGER_*, RECORD_*
 */
export async function rekeyAllEmergency(s: Services, { actor, signal }: { actor: Actor | undefined; signal?: AbortSignal }): Promise<RekeyAllEmergencyResult> {
  const who = requireRole(actor, 'staff', 'admin')
  const hospitalId = who.account.hospitalId ?? (await nodeHospital(s))?.id
  const home = hospitalId === undefined ? undefined : await s.db.get<HospitalRow>(`SELECT * FROM hospitals WHERE id = ? AND state = 'active' AND sealed_secrets <> ''`, hospitalId)
  if (!home) throw new AppError('UNKNOWN_HOSPITAL')
  await settleJournaledMoves(s, home.address as Address)
  const rows = await s.db.all<RecordRow>(`SELECT * FROM records WHERE hospital_id = ? AND state = 'anchored' ORDER BY created_at`, home.id)
  const todo: { row: RecordRow; env: EnvelopesObject; moved: EmergencyShares | undefined }[] = []
  for (const row of rows) {
    await assertAnchored(s, row)
    const env = parseEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.envelopes), 'raw'), { signal }), row.record_id)
    todo.push({ row, env, moved: await movedShares(s, row.record_id, signal) })
  }
  const old = todo.filter((t) => !t.moved && !t.env.shares && t.env.keys.some((k) => k.for === 'emergency'))
  const retiring = await s.db.get<{ sealed_secrets: string }>('SELECT sealed_secrets FROM retired_emergency_keys WHERE hospital_id = ?', home.id)
  if (old.length === 0 && !retiring) return { hospital: home.address as Address, moved: 0, rewrapped: 0, rotated: false }
  if (old.length > 0 && !(await shareHolders(s, { recordId: old[0]!.row.record_id, home, signal }))) throw new AppError('EMERGENCY_SPLIT_UNAVAILABLE')

  const { oldKey, current } = await retireEmergencyKey(s, home, signal)
  const ledger = decodeAccountSecrets(openWithNodeKey(s.nodeKey, `hospital:${current.address as Address}`, current.sealed_secrets)).ledger
  const homeReader = { address: current.address as Address, scheme: current.key_scheme, privateKey: oldKey }
  let moved = 0
  let rewrapped = 0
  try {
    for (const t of todo) {
      let shares: EmergencyShares | undefined
      if (!t.moved && !t.env.shares && t.env.keys.some((k) => k.for === 'emergency')) {
        const { dataKey } = await openEnvelopes(t.env, homeReader)
        const split = await shareHolders(s, { recordId: t.row.record_id, home: current, signal })
        if (!split) throw new AppError('EMERGENCY_SPLIT_UNAVAILABLE')
        shares = await splitDataKey(dataKey, { recordId: t.row.record_id, k: split.k, holders: split.holders })
        dataKey.fill(0)
        moved++
      } else {
        shares = await rewrapHomeShare(t.moved ?? t.env.shares, t.row.record_id, homeReader, current)
        if (shares) rewrapped++
      }
      if (!shares) continue
      const digest = toHex(digestFromCid(await putRawBlock(s.ipfs, sealMovedShares(t.row.record_id, shares), { signal })))
      const receipt = await sendEmergencySharesMoved(s.ledger, { hospital: ledger, recordId: t.row.record_id, shares: digest, signal })
      await s.db.run(`INSERT INTO emergency_moved (record_id, shares, tx_hash, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (record_id) DO UPDATE SET shares = excluded.shares, tx_hash = excluded.tx_hash`, t.row.record_id.toLowerCase(), digest, receipt.transactionHash, Date.now())
    }
    // The research copies a live consent keeps for the hospital follow its key (research-keys.ts).
    await rewrapResearchKeys(s, { hospitalId: current.id, scheme: current.key_scheme, oldKey, publicKey: new Uint8Array(current.emergency_public_key) })
  } finally {
    oldKey.fill(0)
  }
  await s.db.run('DELETE FROM retired_emergency_keys WHERE hospital_id = ?', home.id)
  return { hospital: home.address as Address, moved, rewrapped, rotated: true }
}

/**
 * The hospital's EmergencySharesMoved this node sent and saw mined (its journal), each applied as
 * the follower applies it: a run cut off after a receipt and before its row, re-run before the
 * follower reached that block, finds the record moved, and splits it no second time.
 */
async function settleJournaledMoves(s: Services, hospital: Address): Promise<void> {
  const sent = await s.db.all<{ tx_hash: Hex; raw: Hex; block_number: number }>(
    `SELECT tx_hash, raw, block_number FROM journal WHERE purpose = 'consent-emergency-move' AND state = 'mined' AND lower(sender) = ? ORDER BY id`, hospital.toLowerCase())
  for (const row of sent) {
    const { args } = decodeFunctionData({ abi: consentAbi, data: parseTransaction(row.raw).data ?? '0x' })
    const [recordId, shares] = args as readonly [Hex, Hex]
    await applyOwnEmergencySharesMoved(s, { recordId, hospital, shares, txHash: row.tx_hash, blockNumber: Number(row.block_number) })
  }
}

/**
 * The home share of a split record, re-wrapped for the hospital's new emergency key (the other
 * hospitals' entries byte for byte); `undefined` when the home holds no share under the old key.
 */
async function rewrapHomeShare(split: EmergencyShares | undefined, recordId: Hex, oldReader: { address: Address; scheme: HospitalRow['key_scheme']; privateKey: Uint8Array }, current: HospitalRow): Promise<EmergencyShares | undefined> {
  if (!split) return undefined
  const share = await openShare(split, recordId, oldReader).catch(() => undefined) // already under the new key
  if (!share) return undefined
  const wrapped = await wrapShare(share, recordId, { address: current.address as Address, scheme: current.key_scheme, publicKey: new Uint8Array(current.emergency_public_key) })
  share.fill(0)
  return { ...split, keys: split.keys.map((k) => (k.to.toLowerCase() === current.address.toLowerCase() ? { ...k, wrapped } : k)) }
}

/**
 * Replaces the hospital's emergency key, once: the old sealed secrets are kept in
 * `retired_emergency_keys` first, a new key pair is published in IPFS and named in the Registry
 * from the hospital's key, and the hospital row takes it. Every search key of the hospital's
 * patients gets its node-sealed copy first, so none depends on the old key. Resumes a rotation
 * an earlier run made. Returns the old emergency private key and the row as it is now.
 * @throws AppError LEDGER_*, KEYSTORE_LOCKED
 */
async function retireEmergencyKey(s: Services, home: HospitalRow, signal?: AbortSignal): Promise<{ oldKey: Uint8Array; current: HospitalRow }> {
  const label = `hospital:${home.address as Address}`
  const kept = await s.db.get<{ sealed_secrets: string }>('SELECT sealed_secrets FROM retired_emergency_keys WHERE hospital_id = ?', home.id)
  if (kept && kept.sealed_secrets !== home.sealed_secrets) {
    // An earlier run rotated the key here: the Registry is told again if that did not reach it.
    const digest = bytesToHex(hashSha256(home.emergency_public_key))
    const named = await readContract(s.ledger, { address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'emergencyKeyOf', args: [home.address as Address] })
    if (named !== digest) {
      const ledger = decodeAccountSecrets(openWithNodeKey(s.nodeKey, label, home.sealed_secrets)).ledger
      await sendEmergencyKeyRotation(s.ledger, { hospital: ledger, emergencyKey: digest, signal })
    }
    return { oldKey: decodeAccountSecrets(openWithNodeKey(s.nodeKey, label, kept.sealed_secrets)).encryptionPrivateKey, current: home }
  }
  await s.db.run('DELETE FROM retired_emergency_keys WHERE hospital_id = ?', home.id)
  const patients = await s.db.all<{ patient_id: string }>(`SELECT k.patient_id FROM search_keys k JOIN accounts a ON a.id = k.patient_id WHERE a.hospital_id = ? AND k.node_sealed IS NULL`, home.id)
  for (const p of patients) (await openSearchKey(s, p.patient_id))?.key.fill(0)

  const payload = JSON.parse(Buffer.from(openWithNodeKey(s.nodeKey, label, home.sealed_secrets)).toString('utf8')) as { ledgerKey: Hex; encryptionPrivateKey: string }
  const oldKey = decodeBase64url(payload.encryptionPrivateKey)!
  const fresh = await generateEncryptionKeyPair(home.key_scheme)
  const keyDigest = toHex(digestFromCid(await putRawBlock(s.ipfs, fresh.publicKey, { signal })))
  const sealed = sealWithNodeKey(s.nodeKey, label, encodeAccountSecrets(payload.ledgerKey, fresh.privateKey))
  fresh.privateKey.fill(0)
  // The old key is kept and the new one stored before the Registry hears of it: a crash in
  // between leaves both here, and the next run sends the rotation again.
  await s.db.run('INSERT INTO retired_emergency_keys (hospital_id, sealed_secrets, created_at) VALUES (?, ?, ?)', home.id, home.sealed_secrets, Date.now())
  await s.db.run('UPDATE hospitals SET emergency_public_key = ?, sealed_secrets = ? WHERE id = ?', Buffer.from(fresh.publicKey), sealed, home.id)
  const ledger = decodeAccountSecrets(openWithNodeKey(s.nodeKey, label, home.sealed_secrets)).ledger
  await sendEmergencyKeyRotation(s.ledger, { hospital: ledger, emergencyKey: keyDigest, signal })
  return { oldKey, current: { ...home, emergency_public_key: Buffer.from(fresh.publicKey), sealed_secrets: sealed } }
}
