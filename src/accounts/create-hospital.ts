import { randomUUID } from 'node:crypto'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { toHex } from 'viem'
import { generateEncryptionKeyPair, keySchemeId, type KeyScheme } from '../crypto/key-wrap.ts'
import { encodeAccountSecrets } from './account-secrets.ts'
import { sealWithNodeKey } from './node-key.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import { addHospital } from '../ledger/add-hospital.ts'
import { AppError } from '../errors.ts'
import { requireKeys, requireRole, type Actor } from './account.ts'
import { unlockHospital } from './hospital-keys.ts'
import { readIsMember, readMemberCount, sendHospitalProposal, sendHospitalVote } from '../ledger/registry-actions.ts'
import { toHospital, type Hospital, type HospitalRow } from './hospital.ts'
import type { Services } from '../services.ts'

export interface CreateHospitalParams {
  actor: Actor | undefined
  name: string
  keyScheme?: KeyScheme
  signal?: AbortSignal
}

/**
 * Admits a new hospital: creates its ledger identity and emergency key pair (sealed under the
 * node key), publishes the emergency public key in IPFS and adds the hospital to the Registry
 * from the consortium admin's own key.
 * @throws AppError FORBIDDEN (not the admin), VALIDATION_FAILED, LEDGER_*
 */
export async function createHospital(s: Services, { actor, name, keyScheme = s.config.keyScheme, signal }: CreateHospitalParams): Promise<Hospital> {
  const admin = requireRole(actor, 'admin')
  const cleanName = checkName(name)
  const ledgerKey = generatePrivateKey()
  const address = privateKeyToAccount(ledgerKey).address.toLowerCase()
  const emergency = await generateEncryptionKeyPair(keyScheme)
  const keyCid = await putRawBlock(s.ipfs, emergency.publicKey, { signal })
  const id = randomUUID()
  const row: HospitalRow = {
    id,
    name: cleanName,
    address,
    key_scheme: keyScheme,
    emergency_public_key: Buffer.from(emergency.publicKey),
    sealed_secrets: sealWithNodeKey(s.nodeKey, `hospital:${address}`, encodeAccountSecrets(ledgerKey, emergency.privateKey)),
    state: 'registering',
    tx_hash: null,
    created_at: Date.now(),
  }
  await s.db.run(`INSERT INTO hospitals (id, name, address, key_scheme, emergency_public_key, sealed_secrets, state, tx_hash, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, row.id, row.name, row.address, row.key_scheme, row.emergency_public_key, row.sealed_secrets, row.state, row.tx_hash, row.created_at)
  const onChain = { hospital: address as `0x${string}`, keyScheme: keySchemeId(keyScheme), emergencyKey: toHex(digestFromCid(keyCid)) }
  // While the consortium has at most one member the admin admits; after that, members vote.
  const byVote = (await readMemberCount(s.ledger)) >= 2
  try {
    const receipt = byVote
      ? await sendHospitalProposal(s.ledger, requireKeys(admin).ledger, onChain, signal)
      : await addHospital(s.ledger, { admin: requireKeys(admin).ledger, ...onChain, signal })
    await s.db.run(`UPDATE hospitals SET state = ?, tx_hash = ? WHERE id = ?`, byVote ? 'proposed' : 'active', receipt.transactionHash, id)
  } catch (err) {
    await s.db.run('DELETE FROM hospitals WHERE id = ?', id)
    throw err
  }
  return toHospital({ ...row, state: byVote ? 'proposed' : 'active' })
}

/**
 * A member hospital votes, from its own key, on admitting a proposed hospital; its staff cast
 * the vote. The chain admits the candidate once a strict majority of members approve.
 * @throws AppError FORBIDDEN (not staff), UNKNOWN_HOSPITAL, LEDGER_REVERTED (e.g. a second vote)
 */
export async function voteOnHospital(s: Services, { actor, candidate, approve, signal }: { actor: Actor | undefined; candidate: string; approve: boolean; signal?: AbortSignal }): Promise<Hospital> {
  const staff = requireRole(actor, 'staff')
  const target = await s.db.get(`SELECT * FROM hospitals WHERE (id = ? OR address = ?) AND state = 'proposed'`, candidate, candidate.toLowerCase()) as HospitalRow | undefined
  if (!target) throw new AppError('UNKNOWN_HOSPITAL')
  const member = await unlockHospital(s, staff.account.hospitalId!)
  await sendHospitalVote(s.ledger, member.keys.ledger, target.address as `0x${string}`, approve, signal)
  const admitted = await readIsMember(s.ledger, target.address as `0x${string}`)
  if (admitted) await s.db.run(`UPDATE hospitals SET state = 'active' WHERE id = ?`, target.id)
  return toHospital({ ...target, state: admitted ? 'active' : 'proposed' })
}

/** A display name: trimmed, 1–200 characters, no control characters. */
export function checkName(name: unknown): string {
  const n = typeof name === 'string' ? name.trim() : ''
  if (n.length < 1 || n.length > 200 || /[\u0000-\u001f\u007f]/.test(n)) {
    throw new AppError('VALIDATION_FAILED', { message: 'A name is 1 to 200 printable characters.' })
  }
  return n
}
