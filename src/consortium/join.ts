import { bytesToHex, type Address } from 'viem'
import { keySchemeId } from '../crypto/key-wrap.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { setMeta } from '../db/open-database.ts'
import { readLinkedContracts } from '../ledger/registry/read-linked-contracts.ts'
import { sendMembershipApplication } from '../ledger/registry/send-membership-application.ts'
import { createHospitalIdentity } from '../accounts/hospital-identity.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { checkName } from '../accounts/create-hospital.ts'
import type { ContractAddresses } from '../ledger/connect-ledger.ts'
import { FOLLOW_FROM, NODE_HOSPITAL, nodeHospital } from '../accounts/node-hospital.ts'
import type { Services } from '../services.ts'

/**
 * First start of a node joining an existing consortium: finds the contracts from the Registry,
 * creates the hospital's ledger identity and emergency key (sealed under the node key), and
 * applies for membership from the hospital's own key. The node then waits, read-only, until the
 * members admit it; its local admin is registered as the hospital's staff then.
 * @throws AppError REGISTRY_NOT_FOUND, LEDGER_*
 */
export async function joinConsortium(s: Services, { registry, hospitalName, signal }: { registry: Address; hospitalName: string; signal?: AbortSignal }): Promise<{ contracts: ContractAddresses; hospital: { id: string; address: Address; name: string } }> {
  const linked = await readLinkedContracts(s.ledger, { registry })
  const contracts: ContractAddresses = { registry, recordLedger: linked.recordLedger, consent: linked.consent, research: linked.research }
  s.ledger.contracts = contracts
  await setMeta(s.db, FOLLOW_FROM, String(await deploymentBlock(s, registry)))
  // A first start cut off after the identity was made re-applies with the same identity.
  const earlier = await nodeHospital(s)
  const { row, onChain } = earlier && earlier.state === 'applied'
    ? { row: earlier, onChain: { hospital: earlier.address as Address, keyScheme: keySchemeId(earlier.key_scheme), emergencyKey: bytesToHex(hashSha256(new Uint8Array(earlier.emergency_public_key))) } }
    : await createHospitalIdentity(s, { name: checkName(hospitalName), keyScheme: s.config.keyScheme, state: 'applied', signal })
  await setMeta(s.db, NODE_HOSPITAL, row.id)
  const { keys } = await unlockHospital(s, row.id, ['applied'])
  await sendMembershipApplication(s.ledger, { hospital: keys.ledger, keyScheme: onChain.keyScheme, emergencyKey: onChain.emergencyKey, signal })
  return { contracts, hospital: { id: row.id, address: onChain.hospital, name: row.name } }
}

/**
 * The block the Registry was deployed in (the first block with its code), found by bisection,
 * so a joining node follows the consortium's events from its beginning without scanning the
 * chain before it.
 */
async function deploymentBlock(s: Pick<Services, 'ledger'>, registry: Address): Promise<number> {
  let lo = 0n
  let hi = await s.ledger.client.getBlockNumber({ cacheTime: 0 })
  const hasCode = async (blockNumber: bigint) => {
    const code = await s.ledger.client.getCode({ address: registry, blockNumber }).catch(() => undefined)
    return code !== undefined && code !== '0x'
  }
  if (!(await hasCode(hi))) return Number(hi)
  // Nodes that keep no history answer only recent blocks: then start at the head's window.
  if (!(await s.ledger.client.getCode({ address: registry, blockNumber: 0n }).then(() => true, () => false))) return 0
  while (lo < hi) {
    const mid = (lo + hi) / 2n
    if (await hasCode(mid)) hi = mid
    else lo = mid + 1n
  }
  return Number(lo)
}
