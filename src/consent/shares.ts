import { bytesToHex, toHex, zeroAddress, zeroHash, type Address, type Hex } from 'viem'
import { findParty, publicKeyOf } from '../accounts/directory.ts'
import { generateRecordId, generateToken, hashToken, parseRecordId } from '../crypto/tokens.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import { readKeyDigests } from '../ledger/read-key-digests.ts'
import { sendShare } from '../ledger/consent/send-share.ts'
import { sendShareRevocation } from '../ledger/consent/send-share-revocation.ts'
import { findAccount, requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { openRecordKeys } from '../records/open-record-keys.ts'
import type { RecordRow } from '../records/record.ts'
import { AppError } from '../errors.ts'
import { sealGrantEnvelopes, type GrantRecipient } from './grant-envelopes.ts'
import { scopeOf } from '../ledger/scope-of.ts'
import { chainTime } from '../ledger/chain-time.ts'
import type { ShareRow } from './resolve-access.ts'
import { insertShare } from './insert-share.ts'
import { markShareRevoked } from './mark-share-revoked.ts'
import type { Services } from '../services.ts'

export interface ShareView {
  shareId: Hex
  recordIds: Hex[]
  grantee: { id: string; name: string; address: Address } | null
  /** Share-token shares: whether it is single use, and whether it was used. */
  byToken: boolean
  once: boolean
  used: boolean
  expiresAt: string
  revoked: boolean
  live: boolean
  txHash: Hex | null
  createdAt: string
}

/**
 * A patient shares listed records with a named user, or creates a share token (random 256-bit,
 * returned once; only its SHA-256 is kept, here and on chain) that lets whoever holds it read
 * those records without an account.
 * @throws AppError FORBIDDEN, UNKNOWN_ACCOUNT, RECORD_NOT_FOUND, INVALID_DURATION, VALIDATION_FAILED, LEDGER_*
 */
export async function createShare(s: Services, p: { actor: Actor | undefined; recordIds: string[]; to?: string; token?: boolean; days?: number; once?: boolean; signal?: AbortSignal }): Promise<ShareView & { token?: string }> {
  const patient = requireRole(p.actor, 'patient')
  const keys = requireKeys(patient)
  if (!p.recordIds || p.recordIds.length === 0) throw new AppError('VALIDATION_FAILED', { message: 'Name the records to share.' })
  if (Boolean(p.to) === Boolean(p.token)) throw new AppError('VALIDATION_FAILED', { message: 'Share either with a named user (to) or by token, not both.' })
  const days = p.days ?? 7
  if (!Number.isFinite(days) || days <= 0 || days > 365) throw new AppError('INVALID_DURATION')
  const duration = Math.max(60, Math.round(days * 86_400))
  const rows: RecordRow[] = []
  for (const r of p.recordIds) {
    const row = await s.db.get(`SELECT * FROM records WHERE record_id = ? AND patient_id = ? AND state = 'anchored'`, parseRecordId(r), patient.account.id) as RecordRow | undefined
    if (!row) throw new AppError('RECORD_NOT_FOUND')
    rows.push(row)
  }
  const shareId = generateRecordId()
  let recipient: GrantRecipient
  let granteeId: string | null = null
  let grantee: Address = zeroAddress
  let token: string | undefined
  let tokenHash: Hex = zeroHash
  if (p.to) {
    const account = await findParty(s, p.to)
    if (!account || account.id === patient.account.id) throw new AppError('UNKNOWN_ACCOUNT')
    const [digest] = (await readKeyDigests(s.ledger, { accounts: [account.address as Address] })).accounts
    const publicKey = await publicKeyOf(s, account, p.signal)
    if (bytesToHex(hashSha256(publicKey)) !== digest) throw new AppError('PUBLIC_KEY_MISMATCH')
    recipient = { kind: 'account', address: account.address as Address, scheme: account.key_scheme, publicKey }
    granteeId = account.id
    grantee = account.address as Address
  } else {
    token = generateToken()
    tokenHash = `0x${hashToken(token)}`
    recipient = { kind: 'token', token }
  }
  const me = { address: patient.account.address, scheme: patient.account.keyScheme, privateKey: keys.encryptionPrivateKey }
  const dataKeys = []
  for (const r of rows) dataKeys.push({ recordId: r.record_id, dataKey: (await openRecordKeys(s, r, me, p.signal)).dataKey })
  const block = await sealGrantEnvelopes({ grantId: shareId, kind: token ? 'token' : 'share', to: recipient, keys: dataKeys })
  const envelopes = toHex(digestFromCid(await putRawBlock(s.ipfs, block, { signal: p.signal })))
  const recordIds = rows.map((r) => r.record_id)
  const receipt = await sendShare(s.ledger, { patient: keys.ledger, shareId, grantee, tokenHash, scope: scopeOf(recordIds), duration: BigInt(duration), once: Boolean(p.once), envelopes, signal: p.signal })
  const block_ = await s.ledger.client.getBlock({ blockNumber: receipt.blockNumber })
  await insertShare(s.db, {
    shareId, patientId: patient.account.id, granteeId, tokenHash: token ? tokenHash.slice(2) : null, recordIds,
    expiresAt: Number(block_.timestamp) + duration, once: Boolean(p.once), envelopes, txHash: receipt.transactionHash,
  })
  const view = (await listShares(s, { actor: patient })).find((v) => v.shareId === shareId)!
  return token ? { ...view, token } : view
}

/**
 * The patient revokes one of their shares (a token stops working at once).
 * @throws AppError SHARE_NOT_FOUND, LEDGER_*
 */
export async function revokeShare(s: Services, p: { actor: Actor | undefined; shareId: string; signal?: AbortSignal }): Promise<ShareView> {
  const patient = requireRole(p.actor, 'patient')
  const keys = requireKeys(patient)
  const row = await s.db.get('SELECT * FROM shares WHERE share_id = ? AND patient_id = ?', parseRecordId(p.shareId), patient.account.id) as ShareRow | undefined
  if (!row || row.revoked_at !== null) throw new AppError('SHARE_NOT_FOUND')
  await sendShareRevocation(s.ledger, { patient: keys.ledger, shareId: row.share_id, signal: p.signal })
  await markShareRevoked(s.db, row.share_id)
  return (await listShares(s, { actor: patient })).find((v) => v.shareId === row.share_id)!
}

/** The patient's shares, and those made to the actor. Newest first. */
export async function listShares(s: Services, { actor }: { actor: Actor | undefined }): Promise<ShareView[]> {
  const who = requireRole(actor, 'patient', 'doctor', 'staff', 'admin')
  const rows = await s.db.all('SELECT * FROM shares WHERE patient_id = ? OR grantee_id = ? ORDER BY created_at DESC', who.account.id, who.account.id) as ShareRow[]
  const now = await chainTime(s.ledger)
  return Promise.all(rows.map(async (r) => {
    const g = r.grantee_id ? await s.db.get('SELECT id, name, address FROM accounts WHERE id = ?', r.grantee_id) as { id: string; name: string; address: Address } : null
    const used = r.used_at !== null
    return {
      shareId: r.share_id,
      recordIds: JSON.parse(r.record_ids),
      grantee: g,
      byToken: r.token_hash !== null,
      once: r.once === 1,
      used,
      expiresAt: new Date(r.expires_at * 1000).toISOString(),
      revoked: r.revoked_at !== null,
      live: r.revoked_at === null && r.expires_at > now && !(r.once === 1 && used),
      txHash: r.tx_hash as Hex | null,
      createdAt: new Date(r.created_at).toISOString(),
    }
  }))
}
