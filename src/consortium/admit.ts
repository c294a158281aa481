import type { Address } from 'viem'
import { readApplication } from '../ledger/registry/read-application.ts'
import { addHospital } from '../ledger/add-hospital.ts'
import { readHasVoted } from '../ledger/registry/read-has-voted.ts'
import { readIsMember } from '../ledger/registry/read-is-member.ts'
import { readMemberCount } from '../ledger/registry/read-member-count.ts'
import { readProposalExpiry } from '../ledger/registry/read-proposal-expiry.ts'
import { sendHospitalProposal } from '../ledger/registry/send-hospital-proposal.ts'
import { sendHospitalVote } from '../ledger/registry/send-hospital-vote.ts'
import { requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { checkName } from '../accounts/create-hospital.ts'
import { AppError } from '../errors.ts'
import { isAddress, mirrorHospital } from '../accounts/directory.ts'
import { nodeHospital } from '../accounts/node-hospital.ts'
import type { HospitalRow } from '../accounts/hospital.ts'
import type { Services } from '../services.ts'

export interface AdmitResult {
  address: Address
  name: string
  /** True once the hospital is a member; false while the members' vote is open. */
  admitted: boolean
}

/**
 * Admits a hospital that applied for membership from its own node (`medledger start --registry`):
 * while the consortium has at most one member the consortium admin adds it; after that it is a
 * vote — this opens the proposal and, when this node's hospital is a member, casts its vote for
 * it. The key scheme and emergency-key digest are the ones the candidate applied with.
 * @throws AppError FORBIDDEN, VALIDATION_FAILED, NO_APPLICATION, HOSPITAL_VOTE_REQUIRED, LEDGER_*
 */
export async function admitHospital(s: Services, { actor, address, name, signal }: { actor: Actor | undefined; address: string; name: string; signal?: AbortSignal }): Promise<AdmitResult> {
  const who = requireRole(actor, 'admin', 'staff')
  if (!isAddress(address)) throw new AppError('VALIDATION_FAILED', { message: 'A hospital is named by its ledger address (0x and 40 hexadecimal characters).' })
  const candidate = address.toLowerCase() as Address
  const cleanName = checkName(name)
  if (await readIsMember(s.ledger, { hospital: candidate })) throw new AppError('HOSPITAL_EXISTS')
  const application = await readApplication(s.ledger, { hospital: candidate })
  if (application === null) throw new AppError('NO_APPLICATION')
  const onChain = { hospital: candidate, keyScheme: application.keyScheme, emergencyKey: application.emergencyKey }

  // The vote is that of the actor's hospital (staff, a joined node's admin), or for the founding
  // node's admin, of the hospital this node serves.
  const home = who.account.hospitalId !== null ? await s.db.get<HospitalRow>('SELECT * FROM hospitals WHERE id = ?', who.account.hospitalId) : await nodeHospital(s)
  const memberHospital = home && home.state === 'active' && home.sealed_secrets !== '' ? home : undefined
  // The founding node's admin holds the consortium admin role; a joined node's admin does not.
  const consortiumAdmin = who.account.role === 'admin' && who.account.hospitalId === null
  const members = await readMemberCount(s.ledger)
  await mirrorHospital(s, { address: candidate, name: cleanName, keyScheme: application.keyScheme, state: 'proposed', rename: true })

  if (members <= 1) {
    if (!consortiumAdmin) throw new AppError('FORBIDDEN', { message: 'While the consortium has one member, its admin admits the next hospital.' })
    const receipt = await addHospital(s.ledger, { admin: requireKeys(who).ledger, ...onChain, signal })
    await s.db.run(`UPDATE hospitals SET state = 'remote', tx_hash = ? WHERE address = ?`, receipt.transactionHash, candidate)
    return { address: candidate, name: cleanName, admitted: true }
  }
  if (!consortiumAdmin && !memberHospital) throw new AppError('HOSPITAL_VOTE_REQUIRED')
  const proposer = consortiumAdmin ? requireKeys(who).ledger : (await unlockHospital(s, memberHospital!.id)).keys.ledger
  // No proposal yet, or only an expired one: open a fresh one (a new number; the old votes do not count).
  const open = await readProposalExpiry(s.ledger, { hospital: candidate })
  if (open.kind === 0 || open.expired) await sendHospitalProposal(s.ledger, { by: proposer, ...onChain, signal })
  if (memberHospital) {
    if (!(await readHasVoted(s.ledger, { hospital: candidate, voter: memberHospital.address as Address }))) {
      await sendHospitalVote(s.ledger, { voter: (await unlockHospital(s, memberHospital.id)).keys.ledger, candidate, approve: true, signal })
    }
  }
  const admitted = await readIsMember(s.ledger, { hospital: candidate })
  if (admitted) await s.db.run(`UPDATE hospitals SET state = 'remote' WHERE address = ? AND state = 'proposed'`, candidate)
  return { address: candidate, name: cleanName, admitted }
}
