import { createClient } from '../client.ts'
import type { Common } from '../session.ts'

/** The parts of `GET /status` the plain output shows (`--json` prints the whole answer). */
interface StatusView {
  chainRpc: string; chainId: number; blockNumber: number | string
  contracts: { registry: string; recordLedger: string }
  records: number; hospitals: number; accounts: number; journalBacklog: number
  hospitalAddress?: string; admitted?: boolean
  ipfsPeerId?: string | null; peers?: string[]; ipfsAddrs?: string[]
  follow?: { lastBlock: number; lagBlocks: number }; quarantinedEvents?: number
  replication?: { pinned: number; pending: number; replicas: number }
}

/**
 * `medledger status`: the node's chain, contracts, counts, peers, follower and replicas.
 * @throws CliError NODE_UNREACHABLE when the node does not answer.
 */
export async function status(c: Common): Promise<void> {
  const st = await createClient(c.api).json<StatusView>('GET', '/status')
  c.out.result(st, () => [
    `chain      ${st.chainRpc} (id ${st.chainId}), block ${st.blockNumber}`,
    `registry   ${st.contracts.registry}`,
    `ledger     ${st.contracts.recordLedger}`,
    `records    ${st.records}   hospitals ${st.hospitals}   accounts ${st.accounts}   journal backlog ${st.journalBacklog}`,
    ...(st.hospitalAddress ? [`hospital   ${st.hospitalAddress} (${st.admitted ? 'admitted' : 'waiting to be admitted'})`] : []),
    ...(st.ipfsPeerId ? [`ipfs       ${st.ipfsPeerId}  peers ${(st.peers ?? []).length}  ${(st.ipfsAddrs ?? []).join(' ')}`] : []),
    ...(st.follow ? [`follower   block ${st.follow.lastBlock}, ${st.follow.lagBlocks} behind, ${st.quarantinedEvents ?? 0} events quarantined`] : []),
    ...(st.replication ? [`replicas   ${st.replication.pinned} pinned, ${st.replication.pending} pending (R=${st.replication.replicas})`] : []),
  ].join('\n'))
}
