import { hkdfSync, randomBytes } from 'node:crypto'
import type { Address, Hex } from 'viem'
import { createAead } from '../crypto/aead.ts'
import { decodeBase64url, encodeBase64url, utf8 } from '../crypto/bytes.ts'
import { unwrapKey, wrapKey, type KeyScheme } from '../crypto/key-wrap.ts'
import { AppError } from '../errors.ts'

export type GrantKind = 'grant' | 'share' | 'token' | 'emergency'

/** Who a grant's data keys are wrapped for: an account's public key, or a share token. */
export type GrantRecipient =
  | { kind: 'account'; address: Address; scheme: KeyScheme; publicKey: Uint8Array }
  | { kind: 'token'; token: string }

/** How a reader opens one: an account's private key, or the share token. */
export type GrantReader =
  | { kind: 'account'; address: Address; scheme: KeyScheme; privateKey: Uint8Array }
  | { kind: 'token'; token: string }

interface GrantEnvelopesObject {
  v: 1
  type: 'medledger/grant-envelopes'
  grantId: Hex
  kind: GrantKind
  to: Address | null
  scheme: KeyScheme | 'token-aes-256-gcm'
  keys: { recordId: Hex; wrapped: string }[]
}

function context(grantId: Hex, recordId: Hex, to: string): Uint8Array {
  return utf8(`medledger/grant-key/v1|${grantId.toLowerCase()}|${recordId.toLowerCase()}|${to.toLowerCase()}`)
}

function tokenKek(token: string, grantId: Hex): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', utf8(token), utf8(grantId.toLowerCase()), utf8('medledger/share-token/v1'), 32))
}

/**
 * Serialises the data keys of the granted records, each wrapped for the grantee (or under a
 * key derived from a share token), as one IPFS block referenced on chain by its digest.
 */
export async function sealGrantEnvelopes({ grantId, kind, to, keys }: { grantId: Hex; kind: GrantKind; to: GrantRecipient; keys: { recordId: Hex; dataKey: Uint8Array }[] }): Promise<Uint8Array> {
  const obj: GrantEnvelopesObject = {
    v: 1,
    type: 'medledger/grant-envelopes',
    grantId,
    kind,
    to: to.kind === 'account' ? (to.address.toLowerCase() as Address) : null,
    scheme: to.kind === 'account' ? to.scheme : 'token-aes-256-gcm',
    keys: await Promise.all(keys.map(async ({ recordId, dataKey }) => {
      if (to.kind === 'account') {
        return { recordId, wrapped: encodeBase64url(await wrapKey({ scheme: to.scheme, publicKey: to.publicKey, key: dataKey, context: context(grantId, recordId, to.address) })) }
      }
      const nonce = randomBytes(12)
      const ct = createAead('aes-256-gcm', tokenKek(to.token, grantId)).seal(nonce, context(grantId, recordId, 'token'), dataKey)
      return { recordId, wrapped: encodeBase64url(Buffer.concat([nonce, ct])) }
    })),
  }
  return utf8(JSON.stringify(obj))
}

/** A grant's envelopes block, parsed and checked to belong to its grant: each record's wrapped key by record id. */
export interface GrantEnvelopes {
  to: string | null
  scheme: string
  keys: Map<string, string>
}

/**
 * Parses a grant's envelopes block (fetched by its verified digest) and checks it is this grant's.
 * @throws AppError RECORD_INTEGRITY when the block is malformed or another grant's.
 */
export function parseGrantEnvelopes(bytes: Uint8Array, grantId: Hex): GrantEnvelopes {
  let obj: GrantEnvelopesObject
  try {
    obj = JSON.parse(Buffer.from(bytes).toString('utf8')) as GrantEnvelopesObject
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { cause, details: 'grant envelopes block is not JSON' })
  }
  if (obj?.v !== 1 || obj.type !== 'medledger/grant-envelopes' || obj.grantId?.toLowerCase() !== grantId.toLowerCase() || !Array.isArray(obj.keys)) {
    throw new AppError('RECORD_INTEGRITY', { details: 'grant envelopes block does not belong to this grant' })
  }
  const keys = new Map<string, string>()
  for (const k of obj.keys) {
    const id = String(k?.recordId).toLowerCase()
    if (!keys.has(id)) keys.set(id, k.wrapped) // the first entry for a record, as a search from the start finds it
  }
  return { to: obj.to, scheme: obj.scheme, keys }
}

/**
 * The reader's wrapped data key of one record in a parsed grant envelopes block, not unwrapped.
 * @throws AppError RECORD_NOT_FOUND when the grant does not cover the record or reader;
 *   RECORD_INTEGRITY when the envelope is malformed.
 */
export function findGrantEnvelope(env: GrantEnvelopes, { recordId, reader }: { recordId: Hex; reader: GrantReader }): Uint8Array {
  const entry = env.keys.get(recordId.toLowerCase())
  if (entry === undefined) throw new AppError('RECORD_NOT_FOUND')
  const wrapped = decodeBase64url(entry)
  if (!wrapped) throw new AppError('RECORD_INTEGRITY', { details: 'grant envelope is not base64url' })
  if (reader.kind === 'account') {
    if (env.to !== reader.address.toLowerCase() || env.scheme !== reader.scheme) throw new AppError('RECORD_NOT_FOUND')
  } else if (env.scheme !== 'token-aes-256-gcm') {
    throw new AppError('RECORD_NOT_FOUND')
  }
  return wrapped
}

/**
 * Unwraps a data key found by `findGrantEnvelope`.
 * @throws AppError SHARE_TOKEN_INVALID for a wrong token; RECORD_INTEGRITY when it does not open.
 */
export async function unwrapGrantEnvelope(wrapped: Uint8Array, { grantId, recordId, reader }: { grantId: Hex; recordId: Hex; reader: GrantReader }): Promise<Uint8Array> {
  if (reader.kind === 'account') {
    return unwrapKey({ scheme: reader.scheme, privateKey: reader.privateKey, wrapped, context: context(grantId, recordId, reader.address) })
  }
  const key = createAead('aes-256-gcm', tokenKek(reader.token, grantId)).open(wrapped.subarray(0, 12), context(grantId, recordId, 'token'), wrapped.subarray(12))
  if (!key) throw new AppError('SHARE_TOKEN_INVALID')
  return key
}

/**
 * Unwraps one record's data key from a grant's envelopes block (fetched by its verified digest).
 * @throws AppError RECORD_NOT_FOUND when the grant does not cover the record or reader;
 *   SHARE_TOKEN_INVALID for a wrong token; RECORD_INTEGRITY when the block is malformed.
 */
export async function openGrantEnvelope(bytes: Uint8Array, p: { grantId: Hex; recordId: Hex; reader: GrantReader }): Promise<Uint8Array> {
  return unwrapGrantEnvelope(findGrantEnvelope(parseGrantEnvelopes(bytes, p.grantId), p), p)
}
