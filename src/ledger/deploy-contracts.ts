import { encodeDeployData, type LocalAccount, type Hex } from 'viem'
import { loadArtifacts } from './artifacts.ts'
import { sendLinkContracts } from './registry/send-link-contracts.ts'
import { sendLinkResearch } from './registry/send-link-research.ts'
import { sendLinkCareTeams } from './registry/send-link-care-teams.ts'
import { sendProposalTtl } from './registry/send-proposal-ttl.ts'
import { sendTransaction } from './send-transaction.ts'
import type { ContractAddresses, Ledger } from './connect-ledger.ts'
import { AppError } from '../errors.ts'

/** The Registry's proposal lifetime after deployment (contracts/Registry.sol). */
const DEFAULT_PROPOSAL_TTL = 7 * 86_400

/**
 * Deploys the Registry (administered by `admin`), the RecordLedger and the Consent contract, from the admin's own key,
 * then links the last two in the Registry, and deploys and links the Research and CareTeams contracts so that a joining node needs only the Registry's address.
 * A `proposalTtlSeconds` other than the Registry's default (7 days) is set with `setProposalTtl`.
 * Every transaction goes through the journal, so a chain that loses them gets them back at the
 * same addresses.
 * @throws AppError LEDGER_REVERTED / LEDGER_UNAVAILABLE
 */
export async function deployContracts(ledger: Ledger, { admin, proposalTtlSeconds = DEFAULT_PROPOSAL_TTL, signal }: { admin: LocalAccount; proposalTtlSeconds?: number; signal?: AbortSignal }): Promise<ContractAddresses> {
  const { contracts } = loadArtifacts()
  const deploy = async (name: string, args: readonly unknown[]): Promise<Hex> => {
    const artifact = contracts[name]
    if (!artifact) throw new AppError('CONTRACT_BUILD_FAILED', { details: `no artifact for ${name}` })
    const data = encodeDeployData({ abi: artifact.abi, bytecode: artifact.bytecode, args })
    const receipt = await sendTransaction(ledger, { account: admin, data, purpose: 'deploy', ref: name, abi: artifact.abi, signal })
    if (!receipt.contractAddress) throw new AppError('LEDGER_REVERTED', { details: `${name} deployment created no contract` })
    return receipt.contractAddress
  }
  const registry = await deploy('Registry', [admin.address])
  const recordLedger = await deploy('RecordLedger', [registry])
  const consent = await deploy('Consent', [registry])
  await sendLinkContracts(ledger, { admin, registry, recordLedger, consent, signal })
  if (proposalTtlSeconds !== DEFAULT_PROPOSAL_TTL) await sendProposalTtl(ledger, { admin, registry, ttlSeconds: proposalTtlSeconds, signal })
  const research = await deploy('Research', [registry])
  await sendLinkResearch(ledger, { admin, registry, research, signal })
  const careTeams = await deploy('CareTeams', [registry])
  await sendLinkCareTeams(ledger, { admin, registry, careTeams, signal })
  return { registry, recordLedger, consent, research, careTeams }
}
