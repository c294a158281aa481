import { createHash } from 'node:crypto'
import { bytesToHex, hexToBytes, zeroHash, type Address, type Hex } from 'viem'
import { combine, split } from 'shamir-secret-sharing'
import { consentAbi, registryAbi } from '../ledger/abis.ts'
import { readContract } from '../ledger/read-contract.ts'
import { keySchemeFromId, keySchemes, unwrapKey, wrapKey, type KeyScheme } from '../crypto/key-wrap.ts'
import { decodeBase64url, encodeBase64url, utf8 } from '../crypto/bytes.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { AppError, isAppError } from '../errors.ts'
import type { HospitalRow } from '../accounts/hospital.ts'
import type { Services } from '../services.ts'

/**
 * Threshold break-glass (issue 13 item 1): a record's data key split with Shamir's secret
 * sharing (`shamir-secret-sharing`) into `n` shares, each wrapped (as a data key is) for one
 * member hospital's emergency key; any `k` of them rebuild the key, fewer tell nothing about it.
 * Kept in the record's envelopes block (`shares`), which the anchor covers.
 */
export interface EmergencyShares {
  k: number
  n: number
  keys: { to: Address; scheme: KeyScheme; wrapped: string }[]
}

/** A member hospital a share is wrapped for: its address and its emergency public key as the Registry names it. */
export interface ShareHolder { address: Address; scheme: KeyScheme; publicKey: Uint8Array }

const KEY_FETCH_MS = 15_000
const MAX_SHARES = 16

function shareContext(recordId: Hex, to: Address): Uint8Array {
  return utf8(`medledger/emergency-share/v1|${recordId.toLowerCase()}|${to.toLowerCase()}`)
}

/**
 * The split for new records: the admin's (`Consent.emergencyThreshold`) or the default
 * n = min(5, members), k = ceil(n/2) + 1, both capped at the members. `undefined` when fewer
 * than two hospitals would hold shares: the record keeps a single emergency envelope.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function emergencySplit(s: Pick<Services, 'ledger'>, members: number): Promise<{ n: number; k: number } | undefined> {
  const [setN, setK] = await readContract(s.ledger, { address: s.ledger.contracts.consent, abi: consentAbi, functionName: 'emergencyThreshold' })
  const n = Math.min(setN > 0 ? setN : 5, members)
  if (n < 2) return undefined
  const k = Math.min(setN > 0 ? setK : Math.ceil(n / 2) + 1, n)
  return { n, k }
}

/** Rendezvous rank of the member hospitals for a record, as replica placement ranks nodes. */
function rank(recordId: Hex, addresses: readonly Address[]): Address[] {
  const score = (a: Address) => createHash('sha256').update(`${recordId.toLowerCase()}|${a.toLowerCase()}`).digest('hex')
  return [...addresses].sort((a, b) => (score(a) < score(b) ? 1 : score(a) > score(b) ? -1 : 0))
}

/**
 * The hospitals a new record's shares go to: its home hospital, then the n - 1 member hospitals
 * ranked highest by rendezvous hashing of the record id (every node computes the same). Each
 * emergency key is the one the Registry names (its SHA-256 checked), from this node's hospitals
 * table or fetched from IPFS by that digest. `undefined` for a single-envelope record.
 * @throws AppError PUBLIC_KEY_MISMATCH, RECORD_UNAVAILABLE (a key no peer serves), LEDGER_*
 */
export async function shareHolders(s: Pick<Services, 'db' | 'ledger' | 'ipfs'>, { recordId, home, signal }: { recordId: Hex; home: HospitalRow; signal?: AbortSignal }): Promise<{ k: number; holders: ShareHolder[] } | undefined> {
  const registry = s.ledger.contracts.registry
  const members = (await readContract(s.ledger, { address: registry, abi: registryAbi, functionName: 'members' })).map((a) => a.toLowerCase() as Address)
  const homeAddress = home.address.toLowerCase() as Address
  if (!members.includes(homeAddress)) return undefined
  const split = await emergencySplit(s, Math.min(members.length, MAX_SHARES))
  if (!split) return undefined
  const ranked = rank(recordId, members.filter((a) => a !== homeAddress))
  const holders = [await emergencyKeyOf(s, homeAddress, signal)]
  // A member whose key no peer serves now (its node down, the key never fetched here) is passed
  // over for the next ranked one, so an upload does not wait on another hospital's node; the
  // record names its holders. Fewer than k reachable: the upload fails rather than weaken.
  for (let i = 0; i < ranked.length && holders.length < split.n; i += split.n - holders.length) {
    const batch = ranked.slice(i, i + split.n - holders.length)
    const keys = await Promise.all(batch.map((address) => emergencyKeyOf(s, address, signal).catch((err: unknown) => {
      if (isAppError(err, 'RECORD_UNAVAILABLE')) return undefined
      throw err
    })))
    for (const key of keys) if (key) holders.push(key)
  }
  if (holders.length < split.k) throw new AppError('RECORD_UNAVAILABLE', { details: `only ${holders.length} member hospitals' emergency keys reachable, ${split.k} needed` })
  return { k: split.k, holders }
}

async function emergencyKeyOf(s: Pick<Services, 'db' | 'ledger' | 'ipfs'>, address: Address, signal?: AbortSignal): Promise<ShareHolder> {
  const registry = s.ledger.contracts.registry
  const [digest, hospital] = await Promise.all([
    readContract(s.ledger, { address: registry, abi: registryAbi, functionName: 'emergencyKeyOf', args: [address] }),
    readContract(s.ledger, { address: registry, abi: registryAbi, functionName: 'hospitalOf', args: [address] }),
  ])
  if (digest === zeroHash) throw new AppError('PUBLIC_KEY_MISMATCH', { details: `no emergency key registered for ${address}` })
  const scheme = keySchemeFromId(hospital.keyScheme)
  const row = await s.db.get<{ emergency_public_key: Buffer }>('SELECT emergency_public_key FROM hospitals WHERE address = ?', address)
  let key: Uint8Array
  // A row's key is used while it is the one the Registry names (a rotated key is fetched anew).
  if (row && row.emergency_public_key.length > 0 && bytesToHex(hashSha256(row.emergency_public_key)) === digest) {
    key = new Uint8Array(row.emergency_public_key)
  } else {
    const timeout = AbortSignal.timeout(KEY_FETCH_MS)
    key = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(digest), 'raw'), { signal: signal ? AbortSignal.any([signal, timeout]) : timeout })
      .catch((cause: unknown) => {
        if (isAppError(cause)) throw cause
        throw new AppError('RECORD_UNAVAILABLE', { cause, details: `emergency key of ${address} not served by any peer` })
      })
  }
  if (bytesToHex(hashSha256(key)) !== digest) throw new AppError('PUBLIC_KEY_MISMATCH', { details: `emergency key of ${address} differs from the Registry` })
  // Kept for the next upload: a remote member's row holds the key the Registry names now.
  if (row && !Buffer.from(row.emergency_public_key).equals(Buffer.from(key))) {
    await s.db.run(`UPDATE hospitals SET emergency_public_key = ? WHERE address = ? AND sealed_secrets = ''`, Buffer.from(key), address)
  }
  return { address, scheme, publicKey: key }
}

/** Splits `dataKey` into one share per holder, any `k` of which rebuild it, each wrapped for its holder. */
export async function splitDataKey(dataKey: Uint8Array, { recordId, k, holders }: { recordId: Hex; k: number; holders: readonly ShareHolder[] }): Promise<EmergencyShares> {
  // The library takes a plain Uint8Array only (a Buffer is refused): a copy, zeroed below.
  const secret = new Uint8Array(dataKey)
  const shares = await split(secret, holders.length, k)
  secret.fill(0)
  try {
    const keys = await Promise.all(holders.map(async (h, i) => ({
      to: h.address.toLowerCase() as Address,
      scheme: h.scheme,
      wrapped: encodeBase64url(await wrapKey({ scheme: h.scheme, publicKey: h.publicKey, key: shares[i]!, context: shareContext(recordId, h.address) })),
    })))
    return { k, n: holders.length, keys }
  } finally {
    for (const sh of shares) sh.fill(0)
  }
}

/** One share wrapped for one holder, bound to the record and the holder (as `splitDataKey` wraps each). */
export async function wrapShare(share: Uint8Array, recordId: Hex, holder: ShareHolder): Promise<string> {
  return encodeBase64url(await wrapKey({ scheme: holder.scheme, publicKey: holder.publicKey, key: share, context: shareContext(recordId, holder.address) }))
}

/**
 * The share a hospital holds of a record, unwrapped with its emergency key; `undefined` when the
 * record gives it none.
 * @throws AppError RECORD_INTEGRITY when its envelope does not open
 */
export async function openShare(shares: EmergencyShares, recordId: Hex, hospital: { address: Address; scheme: KeyScheme; privateKey: Uint8Array }): Promise<Uint8Array | undefined> {
  const mine = shares.keys.find((x) => x.to.toLowerCase() === hospital.address.toLowerCase() && x.scheme === hospital.scheme)
  if (!mine) return undefined
  const wrapped = decodeBase64url(mine.wrapped)
  if (!wrapped) throw new AppError('RECORD_INTEGRITY', { details: 'share envelope is not base64url' })
  return unwrapKey({ scheme: hospital.scheme, privateKey: hospital.privateKey, wrapped, context: shareContext(recordId, hospital.address) })
}

/**
 * Rebuilds a data key from the shares of distinct hospitals. Fewer than `k` are refused before
 * anything is combined: they would only give a wrong key.
 * @throws AppError EMERGENCY_SHARES_PENDING (fewer than k), RECORD_INTEGRITY (malformed shares)
 */
export async function combineShares(shares: EmergencyShares, byHospital: ReadonlyMap<string, Uint8Array>): Promise<Uint8Array> {
  const distinct = [...byHospital.values()]
  if (distinct.length < shares.k) {
    throw new AppError('EMERGENCY_SHARES_PENDING', { details: `${distinct.length} of the ${shares.k} hospitals' shares released` })
  }
  try {
    const plain = distinct.slice(0, shares.k).map((x) => new Uint8Array(x))
    try {
      return await combine(plain)
    } finally {
      for (const x of plain) x.fill(0)
    }
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { cause, details: 'emergency shares do not combine' })
  }
}

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Whether `v` is a well-formed shares section (checked before use: any member may have written it). */
export function isEmergencyShares(v: unknown): v is EmergencyShares {
  return isObject(v) && Number.isSafeInteger(v.k) && Number.isSafeInteger(v.n) && v.k >= 2 && v.k <= v.n && v.n <= MAX_SHARES
    && Array.isArray(v.keys) && v.keys.length === v.n
    && v.keys.every((x: unknown) => isObject(x) && typeof x.to === 'string' && /^0x[0-9a-fA-F]{40}$/.test(x.to) && keySchemes.includes(x.scheme) && typeof x.wrapped === 'string')
}

/**
 * The shares block of a record stored before threshold break-glass and moved to shares by its
 * hospital (`record rekey --all-emergency`; its digest in the hospital's EmergencySharesMoved):
 * a raw IPFS block of its own beside the record's anchored envelopes.
 */
export function sealMovedShares(recordId: Hex, shares: EmergencyShares): Uint8Array {
  return utf8(JSON.stringify({ v: 1, type: 'medledger/record-shares', recordId: recordId.toLowerCase(), shares }))
}

/**
 * The shares of a record moved to shares, from its block (fetched by the digest this node
 * recorded from the record's hospital's event); `undefined` when it was not moved.
 * @throws AppError RECORD_INTEGRITY (not a shares block of this record), RECORD_UNAVAILABLE
 */
export async function movedShares(s: Pick<Services, 'db' | 'ipfs'>, recordId: Hex, signal?: AbortSignal): Promise<EmergencyShares | undefined> {
  const moved = await s.db.get<{ shares: Hex }>('SELECT shares FROM emergency_moved WHERE record_id = ?', recordId.toLowerCase())
  if (!moved) return undefined
  const bytes = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(moved.shares), 'raw'), { signal })
  let block: { type?: unknown; recordId?: unknown; shares?: unknown }
  try {
    block = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof block
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { cause, details: 'shares block is not JSON' })
  }
  if (!isObject(block) || block.type !== 'medledger/record-shares' || typeof block.recordId !== 'string' || block.recordId.toLowerCase() !== recordId.toLowerCase() || !isEmergencyShares(block.shares)) {
    throw new AppError('RECORD_INTEGRITY', { details: 'shares block does not belong to this record' })
  }
  return block.shares
}
