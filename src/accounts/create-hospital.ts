import { isAddress, type Address } from 'viem'
import type { KeyScheme } from '../crypto/key-wrap.ts'
import { mirrorHospital } from './directory.ts'
import { getMeta, setMeta } from '../db/open-database.ts'
import { createHospitalIdentity } from './hospital-identity.ts'
import { NODE_HOSPITAL } from './node-hospital.ts'
import { addHospital } from '../ledger/add-hospital.ts'
import { AppError } from '../errors.ts'
import { checkText } from '../text/check-text.ts'
import { requireKeys, requireRole, type Actor } from './account.ts'
import { unlockHospital } from './hospital-keys.ts'
import { readIsMember } from '../ledger/registry/read-is-member.ts'
import { readMemberCount } from '../ledger/registry/read-member-count.ts'
import { readProposal } from '../ledger/registry/read-proposal.ts'
import { readProposalExpiry } from '../ledger/registry/read-proposal-expiry.ts'
import { sendHospitalProposal } from '../ledger/registry/send-hospital-proposal.ts'
import { sendHospitalVote } from '../ledger/registry/send-hospital-vote.ts'
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
  // A joined node's admin is its hospital's staff: hospitals join from their own nodes.
  if (admin.account.hospitalId !== null) throw new AppError('FORBIDDEN', { message: 'A hospital joins the consortium from its own node (medledger start --registry …).' })
  const { row, onChain } = await createHospitalIdentity(s, { name: cleanName, keyScheme, state: 'registering', signal })
  const id = row.id
  // While the consortium has at most one member the admin admits; after that, members vote.
  const byVote = (await readMemberCount(s.ledger)) >= 2
  try {
    const receipt = byVote
      ? await sendHospitalProposal(s.ledger, { by: requireKeys(admin).ledger, ...onChain, signal })
      : await addHospital(s.ledger, { admin: requireKeys(admin).ledger, ...onChain, signal })
    await s.db.run(`UPDATE hospitals SET state = ?, tx_hash = ? WHERE id = ?`, byVote ? 'proposed' : 'active', receipt.transactionHash, id)
    // The founding node serves the first hospital it creates (its IPFS addresses are published for it).
    if (!byVote && (await getMeta(s.db, NODE_HOSPITAL)) === undefined) await setMeta(s.db, NODE_HOSPITAL, id)
  } catch (err) {
    await s.db.run('DELETE FROM hospitals WHERE id = ?', id)
    throw err
  }
  return toHospital({ ...row, state: byVote ? 'proposed' : 'active' })
}

/**
 * A member hospital votes, from its own key, on admitting a proposed hospital; its staff cast
 * the vote. The chain admits the candidate once a strict majority of members approve.
 * @throws AppError FORBIDDEN (not staff), UNKNOWN_HOSPITAL, PROPOSAL_EXPIRED (older than the Registry's proposalTtl), LEDGER_REVERTED (e.g. a second vote)
 */
export async function voteOnHospital(s: Services, { actor, candidate, approve, signal }: { actor: Actor | undefined; candidate: string; approve: boolean; signal?: AbortSignal }): Promise<Hospital> {
  const staff = requireRole(actor, 'staff', 'admin')
  // Hospital staff vote, and a joined node's admin (its hospital's staff on the ledger); the
  // consortium admin does not: a vote is a member hospital's.
  const ownHospital = staff.account.hospitalId
  if (!ownHospital) throw new AppError('FORBIDDEN', { message: 'Only a member hospital votes; this account acts for none.' })
  let target = await s.db.get(`SELECT * FROM hospitals WHERE (id = ? OR address = ?) AND state = 'proposed'`, candidate, candidate.toLowerCase()) as HospitalRow | undefined
  if (!target && isAddress(candidate, { strict: false })) {
    // Another member proposed a hospital that applied from its own node: known here from the chain.
    const proposal = await readProposal(s.ledger, { hospital: candidate })
    if (proposal.kind === 1) {
      const row = await mirrorHospital(s, { address: candidate, keyScheme: proposal.keyScheme, state: 'proposed' })
      target = row.state === 'proposed' ? row : undefined
    }
  }
  if (!target) throw new AppError('UNKNOWN_HOSPITAL')
  if ((await readProposalExpiry(s.ledger, { hospital: target.address as Address })).expired) throw new AppError('PROPOSAL_EXPIRED')
  const member = await unlockHospital(s, ownHospital)
  await sendHospitalVote(s.ledger, { voter: member.keys.ledger, candidate: target.address as Address, approve, signal })
  const admitted = await readIsMember(s.ledger, { hospital: target.address as Address })
  // A hospital created on this node becomes active here; one that joined from its own node is remote.
  const state = !admitted ? 'proposed' : target.sealed_secrets === '' ? 'remote' : 'active'
  if (admitted) await s.db.run(`UPDATE hospitals SET state = ? WHERE id = ?`, state, target.id)
  return toHospital({ ...target, state })
}

/**
 * A display name (of an account or a hospital): NFC, trimmed, 1–200 visible characters on one
 * line, no control or format characters (see checkText).
 * @throws AppError VALIDATION_FAILED
 */
export function checkName(name: unknown): string {
  return checkText(name, { field: 'name', max: 200 })
}
