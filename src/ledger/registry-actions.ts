import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from './abis.ts'
import { sendTransaction, toLedgerError } from './send-transaction.ts'
import type { Ledger } from './connect-ledger.ts'

// Registry calls added with consent: self sign-up, confirmation, and hospital admission by vote.
// Each is sent from the acting account's own key; the contract decides who may.

function send(ledger: Ledger, account: LocalAccount, functionName: string, args: readonly unknown[], purpose: string, ref: string, signal?: AbortSignal): Promise<TransactionReceipt> {
  return sendTransaction(ledger, {
    account,
    to: ledger.contracts.registry,
    data: encodeFunctionData({ abi: registryAbi, functionName, args } as never),
    purpose,
    ref,
    abi: registryAbi,
    signal,
  })
}

/** `requestRegistration(role, hospital, keyScheme, encryptionKey)` from the signing-up account itself. */
export function sendRegistrationRequest(ledger: Ledger, account: LocalAccount, p: { role: 2 | 3; hospital: Address; keyScheme: number; encryptionKey: Hex }, signal?: AbortSignal) {
  return send(ledger, account, 'requestRegistration', [p.role, p.hospital, p.keyScheme, p.encryptionKey], 'register', account.address.toLowerCase(), signal)
}

/** `confirmAccount(account)` from an admin or the account's hospital staff. */
export function sendConfirmation(ledger: Ledger, by: LocalAccount, account: Address, signal?: AbortSignal) {
  return send(ledger, by, 'confirmAccount', [account], 'confirm', account.toLowerCase(), signal)
}

/** `rejectAccount(account, reasonHash)` from an admin or the account's hospital staff. */
export function sendRejection(ledger: Ledger, by: LocalAccount, account: Address, reasonHash: Hex, signal?: AbortSignal) {
  return send(ledger, by, 'rejectAccount', [account, reasonHash], 'reject', account.toLowerCase(), signal)
}

/** `proposeHospital(hospital, keyScheme, emergencyKey)` from the admin or a member hospital. */
export function sendHospitalProposal(ledger: Ledger, by: LocalAccount, p: { hospital: Address; keyScheme: number; emergencyKey: Hex }, signal?: AbortSignal) {
  return send(ledger, by, 'proposeHospital', [p.hospital, p.keyScheme, p.emergencyKey], 'propose-hospital', p.hospital.toLowerCase(), signal)
}

/** `voteOnHospital(candidate, approve)` from a member hospital's own key. */
export function sendHospitalVote(ledger: Ledger, hospital: LocalAccount, candidate: Address, approve: boolean, signal?: AbortSignal) {
  return send(ledger, hospital, 'voteOnHospital', [candidate, approve], 'vote-hospital', candidate.toLowerCase(), signal)
}

/** How many member hospitals the consortium has. */
export async function readMemberCount(ledger: Ledger): Promise<number> {
  try {
    return Number(await ledger.client.readContract({ address: ledger.contracts.registry, abi: registryAbi, functionName: 'memberCount' } as never))
  } catch (err) {
    throw toLedgerError(err, registryAbi)
  }
}

/** The open proposal about `hospital` (kind 0 = none, 1 = admit, 2 = remove) and its key facts. */
export async function readProposal(ledger: Ledger, hospital: Address): Promise<{ kind: number; keyScheme: number }> {
  try {
    const p = await ledger.client.readContract({ address: ledger.contracts.registry, abi: registryAbi, functionName: 'proposalOf', args: [hospital] } as never) as { kind: number; keyScheme: number }
    return { kind: Number(p.kind), keyScheme: Number(p.keyScheme) }
  } catch (err) {
    throw toLedgerError(err, registryAbi)
  }
}

/** Whether member `voter` has voted on the open proposal about `hospital`. */
export async function readHasVoted(ledger: Ledger, hospital: Address, voter: Address): Promise<boolean> {
  try {
    return await ledger.client.readContract({ address: ledger.contracts.registry, abi: registryAbi, functionName: 'hasVoted', args: [hospital, voter] } as never) as boolean
  } catch (err) {
    throw toLedgerError(err, registryAbi)
  }
}

/** Whether `hospital` is a member now. */
export async function readIsMember(ledger: Ledger, hospital: Address): Promise<boolean> {
  try {
    const h = await ledger.client.readContract({ address: ledger.contracts.registry, abi: registryAbi, functionName: 'hospitalOf', args: [hospital] } as never) as { member: boolean }
    return h.member
  } catch (err) {
    throw toLedgerError(err, registryAbi)
  }
}
