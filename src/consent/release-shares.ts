import { toHex, type Address, type Hex, type LocalAccount } from 'viem'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import { encodeBase64url, utf8 } from '../crypto/bytes.ts'
import { wrapKey, type KeyScheme } from '../crypto/key-wrap.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { openShare, type EmergencyShares } from '../records/emergency-shares.ts'
import type { Services } from '../services.ts'

// What a break-glass release (emergency-shares.ts) and a recovery release (recovery-shares.ts)
// have in common: one hospital's shares of a set of records, re-wrapped for one key, in one block.
// Which records, for whom, under which context and how the block's digest goes on chain stay
// with each.

/** A released shares block: `v`, its `type` and what it is for, the hospital, its shares. */
export interface SharesBlockBase {
  v: 1
  type: string
  hospital: Address
  shares: { recordId: Hex; scheme: KeyScheme; wrapped: string }[]
}

/** A member hospital's keys, as its node holds them: its address, its emergency private key and its ledger key. */
export interface ReleasingHospital { address: Address; scheme: KeyScheme; privateKey: Uint8Array; ledger: LocalAccount }

/**
 * Runs `release` as every member hospital whose keys this node holds (one on a joined node;
 * those created on a founding node), each unlocked in turn and its emergency private key zeroed
 * afterwards. Returns the sum of what `release` returns (the shares released).
 * @throws what `release` throws
 */
export async function releaseAsHeldHospitals(s: Services, release: (hospital: ReleasingHospital) => Promise<number>): Promise<number> {
  const held = await s.db.all<{ id: string }>(`SELECT id FROM hospitals WHERE state = 'active' AND sealed_secrets <> '' ORDER BY created_at`)
  let n = 0
  for (const h of held) {
    const hospital = await unlockHospital(s, h.id)
    try {
      n += await release({ address: hospital.row.address as Address, scheme: hospital.row.key_scheme, privateKey: hospital.keys.encryptionPrivateKey, ledger: hospital.keys.ledger })
    } finally {
      hospital.keys.encryptionPrivateKey.fill(0)
    }
  }
  return n
}

/**
 * A hospital's share of each of `recordIds` whose split key (`splitOf`) gives it one, unwrapped
 * with its emergency key and re-wrapped for `to` under `context(recordId)`, put in one IPFS
 * block `{ v: 1, ...header, hospital, shares }`. Returns the block's digest and the number of
 * shares, or undefined (nothing put) when the hospital holds a share of none of them.
 * @throws what `splitOf` throws; RECORD_INTEGRITY when a share of this hospital does not open
 */
export async function putSharesBlock<B extends SharesBlockBase>(
  s: Pick<Services, 'ipfs'>,
  { recordIds, splitOf, hospital, to, context, header, signal }: {
    recordIds: readonly Hex[]
    splitOf: (recordId: Hex) => Promise<EmergencyShares | undefined>
    hospital: Pick<ReleasingHospital, 'address' | 'scheme' | 'privateKey'>
    to: { scheme: KeyScheme; publicKey: Uint8Array }
    context: (recordId: Hex) => Uint8Array
    header: Omit<B, 'v' | 'hospital' | 'shares'>
    signal?: AbortSignal
  },
): Promise<{ digest: Hex; count: number } | undefined> {
  const address = hospital.address.toLowerCase() as Address
  const reader = { address, scheme: hospital.scheme, privateKey: hospital.privateKey }
  const shares: SharesBlockBase['shares'] = []
  for (const recordId of recordIds) {
    const split = await splitOf(recordId)
    const share = split && await openShare(split, recordId, reader)
    if (!share) continue
    let wrapped: Uint8Array
    try {
      wrapped = await wrapKey({ scheme: to.scheme, publicKey: to.publicKey, key: share, context: context(recordId) })
    } finally {
      share.fill(0)
    }
    shares.push({ recordId, scheme: to.scheme, wrapped: encodeBase64url(wrapped) })
  }
  if (shares.length === 0) return undefined
  const block = { v: 1, ...header, hospital: address, shares } as B
  return { digest: toHex(digestFromCid(await putRawBlock(s.ipfs, utf8(JSON.stringify(block)), { signal }))), count: shares.length }
}
