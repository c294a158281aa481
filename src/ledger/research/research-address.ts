import type { Address } from 'viem'
import { AppError } from '../../errors.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * The Research contract of this node's deployment.
 * @throws AppError RESEARCH_UNAVAILABLE when this node has none (a home deployed before it, or a joined node)
 */
export function researchAddress(ledger: Pick<Ledger, 'contracts'>): Address {
  const address = ledger.contracts.research
  if (!address) throw new AppError('RESEARCH_UNAVAILABLE')
  return address
}
