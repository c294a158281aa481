import { createPublicClient, http, type Address, type PublicClient } from 'viem'
import { AppError } from '../errors.ts'
import { ipcTransport } from './ipc-transport.ts'
import type { Db } from '../db/open-database.ts'

export interface ContractAddresses {
  registry: Address
  recordLedger: Address
  consent: Address
  /** Studies and research consent (issue 12); absent on a home deployed before it, and on a joined node. */
  research?: Address
  /** Care teams (issue 13); absent on a home deployed before them, and filled from the Registry when first used (`careTeamsAddress`). */
  careTeams?: Address
}

/** What every ledger action needs: a client for one chain, the node's journal, the contracts. */
export interface Ledger {
  readonly rpcUrl: string
  readonly chainId: number
  readonly client: PublicClient
  readonly db: Db
  contracts: ContractAddresses
  /**
   * The last transaction queued per sender on this connection (`sendTransaction`): nonces are
   * taken and journaled in order even when requests overlap. Each node has its own.
   */
  readonly senderQueues: Map<string, Promise<unknown>>
}

/**
 * Connects to an EVM JSON-RPC endpoint and reads its chain id. With `ipcPath` (the embedded
 * chain's socket, in the node's own home) the node's client talks to the chain there over
 * connections kept open, instead of through its own HTTP proxy at `rpcUrl`, which others use.
 * @throws AppError LEDGER_UNAVAILABLE when the endpoint does not answer.
 */
export async function connectLedger({ rpcUrl, db, contracts, ipcPath }: { rpcUrl: string; db: Db; contracts?: ContractAddresses; ipcPath?: string }): Promise<Ledger> {
  const transport = ipcPath ? ipcTransport(ipcPath, { retryCount: 2, timeoutMs: 30_000 }) : http(rpcUrl, { retryCount: 2, timeout: 30_000 })
  // Short polling: the embedded chain mines each transaction at once, and an upload waits on it.
  const client = createPublicClient({ transport, pollingInterval: 50 })
  let chainId: number
  try {
    chainId = await client.getChainId()
  } catch (cause) {
    throw new AppError('LEDGER_UNAVAILABLE', { cause, details: `no answer from chain RPC` })
  }
  return { rpcUrl, chainId, client, db, contracts: contracts ?? { registry: '0x', recordLedger: '0x', consent: '0x' } as ContractAddresses, senderQueues: new Map() }
}
