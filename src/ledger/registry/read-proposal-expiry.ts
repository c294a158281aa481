import type { Address } from 'viem'
import { registryAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import { chainTime } from '../chain-time.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface ProposalExpiry {
  /** 0 = no proposal about the hospital, 1 = admit, 2 = remove. */
  kind: number
  /** The registry's number for the proposal (0 when none). */
  id: number
  /** Chain time, in seconds, after which it can no longer be voted on (0 when none). */
  expiresAt: number
  /** The chain's clock (the latest block's time) is past `expiresAt`. */
  expired: boolean
}

/**
 * Whether the proposal about `hospital` has expired: its opening block time plus the Registry's
 * current `proposalTtl`, against the latest block's time (the chain's clock, as the contract
 * decides it).
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readProposalExpiry(ledger: Pick<Ledger, 'client' | 'contracts'>, { hospital }: { hospital: Address }): Promise<ProposalExpiry> {
  const [p, ttl, now] = await Promise.all([
    readContract(ledger, { address: ledger.contracts.registry, abi: registryAbi, functionName: 'proposalOf', args: [hospital] }),
    readContract(ledger, { address: ledger.contracts.registry, abi: registryAbi, functionName: 'proposalTtl', args: [] }),
    chainTime(ledger),
  ])
  if (p.kind === 0) return { kind: 0, id: 0, expiresAt: 0, expired: false }
  const expiresAt = Number(p.openedAt + ttl)
  return { kind: p.kind, id: Number(p.id), expiresAt, expired: now > expiresAt }
}
