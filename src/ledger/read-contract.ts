import type { Abi, ContractFunctionArgs, ContractFunctionName, ReadContractParameters, ReadContractReturnType } from 'viem'
import { toLedgerError } from './send-transaction.ts'
import type { Ledger } from './connect-ledger.ts'

/**
 * Calls one view of a contract, typed by its `as const` ABI (arguments and result as viem
 * infers them), and maps any failure to a ledger error naming the contract's custom error.
 * @throws AppError LEDGER_REVERTED (the decoded custom error in `details`) / LEDGER_UNAVAILABLE
 */
export async function readContract<
  const abi extends Abi,
  name extends ContractFunctionName<abi, 'pure' | 'view'>,
  const args extends ContractFunctionArgs<abi, 'pure' | 'view', name>,
>(ledger: Pick<Ledger, 'client'>, params: ReadContractParameters<abi, name, args>): Promise<ReadContractReturnType<abi, name, args>> {
  try {
    return await ledger.client.readContract(params)
  } catch (err) {
    throw toLedgerError(err, params.abi)
  }
}
