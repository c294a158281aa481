import { encodePacked, keccak256, zeroHash, type Hex } from 'viem'

/** The scope the Consent contract keeps for a set of records: keccak256 of the sorted record ids; zero for "all records". */
export function scopeOf(recordIds: readonly Hex[] | null): Hex {
  if (recordIds === null) return zeroHash
  const sorted = [...recordIds].map((r) => r.toLowerCase() as Hex).sort()
  return keccak256(encodePacked(sorted.map(() => 'bytes32'), sorted))
}
