import { domainSeparator, isAddress, keccak256, type Address, type Hex, type LocalAccount } from 'viem'
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

// Domain separators by chain and contract: the same few for the node's whole life.
const separators = new Map<string, Hex>()

/** The EIP-712 domain separator of the Consent contract at `consent` on chain `chainId`, computed once. */
function consentSeparator({ chainId, consent }: { chainId: number; consent: Address }): Hex {
  const key = `${chainId}:${consent.toLowerCase()}`
  let separator = separators.get(key)
  if (separator === undefined) {
    if (separators.size >= 16) separators.clear()
    separator = domainSeparator({ domain: consentDomain({ chainId, consent }) })
    separators.set(key, separator)
  }
  return separator
}

/**
 * The EIP-712 digest of one entry (what `signTypedData` signs): the domain separator remembered,
 * the entry's struct hash computed afresh.
 * @throws RangeError when the purpose is not a uint8 or `readAt` not a uint64.
 */
export function hashAccessEntry({ chainId, consent }: { chainId: number; consent: Address }, entry: AccessEntry): Hex {
  // What viem's typed-data validation would refuse and the ABI encoding alone would let through.
  if (!Number.isInteger(entry.purpose) || entry.purpose < 0 || entry.purpose > 0xff) throw new RangeError(`purpose ${entry.purpose} is not a uint8`)
  if (entry.readAt < 0n || entry.readAt >= 1n << 64n) throw new RangeError(`readAt ${entry.readAt} is not a uint64`)
  if (!isAddress(entry.patient)) throw new RangeError(`patient ${String(entry.patient).slice(0, 44)} is not an address`)
  // hashStruct's encoding, written out: the type's hash, then each field in one 32-byte word
  // (viem's generic encoder took ~0.5 ms per entry, more than the keccak itself).
  const words = new Uint8Array(2 + 32 + 32 + 7 * 32)
  const view = Buffer.from(words.buffer)
  view.set(accessEntryTypeHash, 66)
  for (const [i, field] of (['entryId', 'recordId', 'ref'] as const).entries()) {
    const hex = entry[field]
    if (typeof hex !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new RangeError(`${field} is not 32 bytes`)
    view.write(hex.slice(2), 66 + 32 * [1, 2, 5][i]!, 'hex')
  }
  view.write(entry.patient.slice(2), 66 + 32 * 3 + 12, 'hex')
  view[66 + 32 * 4 + 31] = entry.purpose
  view.writeBigUInt64BE(entry.readAt, 66 + 32 * 6 + 24)
  const struct = keccak256(words.subarray(66), 'bytes')
  view[0] = 0x19
  view[1] = 0x01
  view.write(consentSeparator({ chainId, consent }).slice(2), 2, 'hex')
  view.set(struct, 34)
  return keccak256(words.subarray(0, 66))
}

/** keccak256 of the `AccessEntry` type string (EIP-712 `typeHash`), as hashStruct encodes it. */
const accessEntryTypeHash = keccak256(new TextEncoder().encode(`AccessEntry(${accessEntryTypes.AccessEntry.map((f) => `${f.type} ${f.name}`).join(',')})`), 'bytes')

/**
 * The reader signs one read entry with its own key, for a hospital node's batch: the same
 * signature as `signTypedData` over `consentDomain` and `accessEntryTypes` (RFC 6979, so the same
 * bytes), without hashing the domain again for every entry.
 */
export async function signAccessEntry(ledger: Pick<Ledger, 'chainId' | 'contracts'>, { reader, entry }: { reader: LocalAccount; entry: AccessEntry }): Promise<SignedAccessEntry> {
  const signature = reader.sign
    ? await reader.sign({ hash: hashAccessEntry({ chainId: ledger.chainId, consent: ledger.contracts.consent }, entry) })
    : await reader.signTypedData({
      domain: consentDomain({ chainId: ledger.chainId, consent: ledger.contracts.consent }),
      types: accessEntryTypes,
      primaryType: 'AccessEntry',
      message: entry,
    })
  return { ...entry, reader: reader.address, signature }
}
