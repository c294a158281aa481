import { createPublicClient, http, type Address, type Hex } from 'viem'
import { registryAbi } from '../src/ledger/abis.ts'

export interface MeasureGasResult {
  anchor: number
  register: number
  /** Admitting the hospital (extra context). */
  addHospital: number | null
}

/**
 * gasUsed from the node's chain: the anchor of one upload (`anchorTx`) and the registration of
 * `account`, found by its AccountRegistered event on the registry.
 * @throws Error when a receipt or the event is missing.
 */
export async function measureGas({ chainRpc, registry, anchorTx, account, hospital }: { chainRpc: string; registry: Address; anchorTx: Hex; account: Address; hospital: Address }): Promise<MeasureGasResult> {
  const client = createPublicClient({ transport: http(chainRpc) })
  const anchor = await client.getTransactionReceipt({ hash: anchorTx })
  if (anchor.status !== 'success') throw new Error(`anchor ${anchorTx} reverted`)
  const [registered] = await client.getContractEvents({ address: registry, abi: registryAbi, eventName: 'AccountRegistered', args: { account }, fromBlock: 0n })
  if (registered === undefined) throw new Error(`no AccountRegistered event for ${account}`)
  const register = await client.getTransactionReceipt({ hash: registered.transactionHash })
  const [added] = await client.getContractEvents({ address: registry, abi: registryAbi, eventName: 'HospitalAdded', args: { hospital }, fromBlock: 0n })
  const addHospital = added === undefined ? null : Number((await client.getTransactionReceipt({ hash: added.transactionHash })).gasUsed)
  return { anchor: Number(anchor.gasUsed), register: Number(register.gasUsed), addHospital }
}
