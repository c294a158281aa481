import type { Address } from 'viem'
import { readHasVoted } from '../ledger/registry/read-has-voted.ts'
import { readMembers } from '../ledger/registry/read-members.ts'
import { readProposal } from '../ledger/registry/read-proposal.ts'
import { listHospitals } from '../accounts/list-hospitals.ts'
import { requireRole, type Actor } from '../accounts/account.ts'
import type { Services } from '../services.ts'

/** A member hospital and whether it has voted on one open admission. */
export interface AdmissionVoter {
  address: Address
  name: string
  voted: boolean
}

/** An open admission proposal as the chain holds it, with who has voted. */
export interface AdmissionVote {
  id: string
  name: string
  address: Address
  /** The registry's number for this proposal. */
  proposalId: number
  approvals: number
  rejections: number
  /** Member hospitals now; a strict majority of them admits. */
  memberCount: number
  members: AdmissionVoter[]
  /** Older than the Registry's proposalTtl (chain time): it can no longer be voted on; a new proposal may be opened. */
  expired: boolean
  /** Whether the hospital the caller acts for has voted (false when it acts for none). */
  votedByYourHospital: boolean
}

/**
 * The admission votes this node knows of (hospitals proposed here, or whose proposal its
 * follower saw), open or expired (older than the Registry's proposalTtl), each checked on chain, with its tallies and which members have voted. The
 * chain records whether a member voted, not how: only the tallies say that.
 * @throws AppError UNAUTHENTICATED, FORBIDDEN (not the admin or a hospital's staff), LEDGER_UNAVAILABLE
 */
export async function listAdmissionVotes(s: Pick<Services, 'db' | 'ledger'>, { actor }: { actor: Actor | undefined }): Promise<AdmissionVote[]> {
  const who = requireRole(actor, 'admin', 'staff')
  const known = await listHospitals(s)
  const own = known.find((h) => h.id === who.account.hospitalId)?.address.toLowerCase()
  const localName = new Map(known.map((h) => [h.address.toLowerCase(), h.name]))
  const members = await readMembers(s.ledger)
  const votes: AdmissionVote[] = []
  for (const h of known.filter((k) => k.status === 'proposed' || k.status === 'expired')) {
    const address = h.address.toLowerCase() as Address
    const proposal = await readProposal(s.ledger, { hospital: address })
    if (proposal.kind !== 1) continue
    const voters = await Promise.all(members.map(async (m) => ({
      address: m.address.toLowerCase() as Address,
      name: localName.get(m.address.toLowerCase()) ?? (m.name || `Hospital ${m.address.slice(0, 6)}…${m.address.slice(-4)}`),
      voted: await readHasVoted(s.ledger, { hospital: address, voter: m.address }),
    })))
    votes.push({ id: h.id, name: h.name, address, proposalId: proposal.id, approvals: proposal.approvals, rejections: proposal.rejections, memberCount: members.length, members: voters, expired: h.status === 'expired', votedByYourHospital: voters.some((v) => v.voted && v.address === own) })
  }
  return votes
}
