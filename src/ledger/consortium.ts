import {
  BaseError,
  HttpRequestError,
  TimeoutError,
  encodeFunctionData,
  zeroAddress,
  zeroHash,
  type Address,
  type Hex,
  type LocalAccount,
  type TransactionReceipt,
} from 'viem'
import { AppError } from '../errors.ts'
import { registryAbi } from './abis.ts'
import { sendTransaction, toLedgerError } from './send-transaction.ts'
import type { Ledger } from './connect-ledger.ts'

// Registry calls of a consortium of hospital nodes: contract discovery, membership applications,
// node endpoints and the member list. Each transaction is sent from the acting key; the contract
// decides who may.

/** A hospital's application to join, as published from its own key. */
export interface MembershipApplication {
  /** Key-wrap scheme code of the emergency key. */
  keyScheme: number
  /** SHA-256 of the hospital's public emergency key. */
  emergencyKey: Hex
}

/** How a member hospital's node is reached. */
export interface NodeInfo {
  /** The hospital's public name. */
  name: string
  /** libp2p multiaddrs of its node. */
  addrs: string[]
}

export interface ConsortiumMember extends NodeInfo {
  address: Address
}

export interface LinkedContracts {
  recordLedger: Address
  consent: Address
}

function send(ledger: Ledger, account: LocalAccount, to: Address, functionName: string, args: readonly unknown[], purpose: string, ref: string, signal?: AbortSignal): Promise<TransactionReceipt> {
  return sendTransaction(ledger, {
    account,
    to,
    data: encodeFunctionData({ abi: registryAbi, functionName, args } as never),
    purpose,
    ref,
    abi: registryAbi,
    signal,
  })
}

async function read<T>(ledger: Pick<Ledger, 'client'>, address: Address, functionName: string, args: readonly unknown[] = []): Promise<T> {
  try {
    return await ledger.client.readContract({ address, abi: registryAbi, functionName, args } as never) as T
  } catch (err) {
    throw toLedgerError(err, registryAbi)
  }
}

/**
 * `linkContracts(recordLedger, consent)` from the admin, once, on `registry` (default: the
 * ledger's own registry; a fresh deployment names the one it just deployed).
 * @throws AppError LEDGER_REVERTED (`RegistryAlreadyLinked`, `RegistryForeignContract`, …) / LEDGER_UNAVAILABLE
 */
export function sendLinkContracts(ledger: Ledger, admin: LocalAccount, { registry = ledger.contracts.registry, recordLedger, consent }: LinkedContracts & { registry?: Address }, signal?: AbortSignal): Promise<TransactionReceipt> {
  return send(ledger, admin, registry, 'linkContracts', [recordLedger, consent], 'link-contracts', registry.toLowerCase(), signal)
}

/**
 * `applyForMembership(keyScheme, emergencyKey)` from the joining hospital's own key.
 * @throws AppError LEDGER_REVERTED (`RegistryHospitalExists`, `RegistryAlreadyRegistered`, …) / LEDGER_UNAVAILABLE
 */
export function sendMembershipApplication(ledger: Ledger, hospitalKey: LocalAccount, { keyScheme, emergencyKey }: MembershipApplication, signal?: AbortSignal): Promise<TransactionReceipt> {
  return send(ledger, hospitalKey, ledger.contracts.registry, 'applyForMembership', [keyScheme, emergencyKey], 'apply-membership', hospitalKey.address.toLowerCase(), signal)
}

/**
 * `setNodeInfo(name, addrs)` from a member hospital's own key.
 * @throws AppError LEDGER_REVERTED (`RegistryUnauthorized`, `RegistryNameTooLong`, …) / LEDGER_UNAVAILABLE
 */
export function sendNodeInfo(ledger: Ledger, hospitalKey: LocalAccount, { name, addrs }: NodeInfo, signal?: AbortSignal): Promise<TransactionReceipt> {
  return send(ledger, hospitalKey, ledger.contracts.registry, 'setNodeInfo', [name, addrs], 'node-info', hospitalKey.address.toLowerCase(), signal)
}

/**
 * The open application of `hospital`, or null when it has none.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readApplication(ledger: Pick<Ledger, 'client' | 'contracts'>, hospital: Address): Promise<MembershipApplication | null> {
  const [keyScheme, emergencyKey] = await read<readonly [number, Hex]>(ledger, ledger.contracts.registry, 'applicationOf', [hospital])
  return emergencyKey === zeroHash ? null : { keyScheme, emergencyKey }
}

/**
 * The member hospitals with what each published about its node (empty when nothing yet).
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readMembers(ledger: Pick<Ledger, 'client' | 'contracts'>): Promise<ConsortiumMember[]> {
  const registry = ledger.contracts.registry
  const addresses = await read<readonly Address[]>(ledger, registry, 'members')
  return Promise.all(addresses.map(async (address) => {
    const [name, addrs] = await read<readonly [string, readonly string[]]>(ledger, registry, 'nodeInfoOf', [address])
    return { address, name, addrs: [...addrs] }
  }))
}

/**
 * The RecordLedger and Consent contracts that `registry` links to: all a joining node needs
 * besides the registry's address.
 * @throws AppError REGISTRY_NOT_FOUND when `registry` is not a MedLedger registry on this chain;
 * REGISTRY_NOT_LINKED when its admin has not linked them yet; LEDGER_UNAVAILABLE
 */
export async function readLinkedContracts(ledger: Pick<Ledger, 'client'>, registry: Address): Promise<LinkedContracts> {
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
  return { recordLedger, consent }
}
