import type { Address } from 'viem'
import { registryAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface ReadProposalParams {
  hospital: Address
}

export interface ReadProposalResult {
  /** 0 = none, 1 = admit, 2 = remove. */
  kind: number
  keyScheme: number
  /** Numbers proposals from 1 across the registry (0 when none is open). */
  id: number
  approvals: number
  rejections: number
}

/**
 * The open proposal about `hospital`: its kind, key scheme, number and tallies.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readProposal(ledger: Pick<Ledger, 'client' | 'contracts'>, { hospital }: ReadProposalParams): Promise<ReadProposalResult> {
  const p = await readContract(ledger, { address: ledger.contracts.registry, abi: registryAbi, functionName: 'proposalOf', args: [hospital] })
  return { kind: p.kind, keyScheme: p.keyScheme, id: Number(p.id), approvals: p.approvals, rejections: p.rejections }
}
