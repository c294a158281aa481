import { BaseError, HttpRequestError, TimeoutError, zeroAddress, type Address, type Hex } from 'viem'
import { AppError } from '../../errors.ts'
import { registryAbi } from '../abis.ts'
import { toLedgerError } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface ReadLinkedContractsParams {
  /** The registry a joining node was given. */
  registry: Address
}

export interface LinkedContracts {
  recordLedger: Address
  consent: Address
  /** Absent when the registry links none (deployed before it, or not linked yet). */
  research?: Address
}

/**
 * The RecordLedger, Consent and (when linked) Research contracts that `registry` links to: all a
 * joining node needs besides the registry's address.
 * @throws AppError REGISTRY_NOT_FOUND when `registry` is not a MedLedger registry on this chain;
 * REGISTRY_NOT_LINKED when its admin has not linked them yet; LEDGER_UNAVAILABLE
 */
export async function readLinkedContracts(ledger: Pick<Ledger, 'client'>, { registry }: ReadLinkedContractsParams): Promise<LinkedContracts> {
  let code: Hex | undefined
  try {
    code = await ledger.client.getCode({ address: registry })
  } catch (err) {
    throw toLedgerError(err, registryAbi)
  }
  const notFound = (cause?: unknown) => new AppError('REGISTRY_NOT_FOUND', { cause, details: `no MedLedger registry at ${registry}` })
  if (!code || code === '0x') throw notFound()
  let linked: [Address, Address]
  try {
    // Not the shared read helper: here a revert means "not a registry", not a ledger error.
    linked = await Promise.all([
      ledger.client.readContract({ address: registry, abi: registryAbi, functionName: 'recordLedger' }),
      ledger.client.readContract({ address: registry, abi: registryAbi, functionName: 'consent' }),
    ])
  } catch (err) {
    // A contract without these views reverts or answers nothing: not a registry. A chain that
    // stops answering is another matter.
    if (err instanceof BaseError && err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError)) throw toLedgerError(err, registryAbi)
    throw notFound(err)
  }
  const [recordLedger, consent] = linked
  if (recordLedger === zeroAddress || consent === zeroAddress) {
    throw new AppError('REGISTRY_NOT_LINKED', { details: `registry ${registry} has no linked contracts` })
  }
  // A registry deployed before the Research contract has no research() view: no research then.
  const research = await ledger.client.readContract({ address: registry, abi: registryAbi, functionName: 'research' }).catch(() => zeroAddress)
  return { recordLedger, consent, ...(research !== zeroAddress ? { research } : {}) }
}
