import type { Address, Hex, LocalAccount } from 'viem'
import type { Ledger } from '../connect-ledger.ts'

/** One read as its reader signs it for `Consent.logAccessBatch` (EIP-712 `AccessEntry`). */
export interface AccessEntry {
  /** Random and unique: the contract logs an entry once. */
  entryId: Hex
  recordId: Hex
  patient: Address
  /** Purpose code (`purposes`). */
  purpose: number
  /** The request, share or emergency id the read relies on; zero for none. */
  ref: Hex
  /** When the read was served, in seconds. */
  readAt: bigint
}

/** A signed entry, as `logAccessBatch` takes it. */
export interface SignedAccessEntry extends AccessEntry {
  reader: Address
  signature: Hex
}

export const accessEntryTypes = {
  AccessEntry: [
    { name: 'entryId', type: 'bytes32' },
    { name: 'recordId', type: 'bytes32' },
    { name: 'patient', type: 'address' },
    { name: 'purpose', type: 'uint8' },
    { name: 'ref', type: 'bytes32' },
    { name: 'readAt', type: 'uint64' },
  ],
} as const

/** The EIP-712 domain of the Consent contract at `consent` on chain `chainId`. */
export function consentDomain({ chainId, consent }: { chainId: number; consent: Address }) {
  return { name: 'MedLedger Consent', version: '1', chainId, verifyingContract: consent } as const
}

/** The reader signs one read entry with its own key, for a hospital node's batch. */
export async function signAccessEntry(ledger: Pick<Ledger, 'chainId' | 'contracts'>, { reader, entry }: { reader: LocalAccount; entry: AccessEntry }): Promise<SignedAccessEntry> {
  const signature = await reader.signTypedData({
    domain: consentDomain({ chainId: ledger.chainId, consent: ledger.contracts.consent }),
    types: accessEntryTypes,
    primaryType: 'AccessEntry',
    message: entry,
  })
  return { ...entry, reader: reader.address, signature }
}
