import { hkdfSync, randomBytes } from 'node:crypto'
import type { Address, Hex } from 'viem'
import { createAead } from '../crypto/aead.ts'
import { decodeBase64url, encodeBase64url, utf8 } from '../crypto/bytes.ts'
import { keySchemes, unwrapKey, wrapKey, type KeyScheme } from '../crypto/key-wrap.ts'
import { cipherSuites, type CipherSuite } from '../crypto/stream.ts'
import { AppError } from '../errors.ts'
import { isEmergencyShares, type EmergencyShares } from './emergency-shares.ts'

/** What a record says about itself; kept only inside the encrypted manifest. */
export interface Manifest {
  fileName: string
  mediaType: string
  /** Plaintext bytes. */
  size: number
  /** SHA-256 of the plaintext, hex. */
  sha256: string
  created: string
}

export type EnvelopeRecipient = 'patient' | 'author' | 'emergency' | 'grantee'

export interface Envelope {
  to: Address
  for: EnvelopeRecipient
  scheme: KeyScheme
  wrapped: string
}

/**
 * The envelopes object of a record: one IPFS raw block anchored on chain beside the ciphertext,
 * holding the data key wrapped for each reader and the encrypted manifest. Any node holding it
 * can serve an authorised reader without asking the node that wrote it.
 */
export interface EnvelopesObject {
  v: 1
  type: 'medledger/record-envelopes'
  recordId: Hex
  suite: CipherSuite
  manifest: { nonce: string; ciphertext: string }
  keys: Envelope[]
  /**
   * Threshold break-glass: the data key split among member hospitals' emergency keys (k of n),
   * in place of a single `emergency` envelope. Absent on records from before it and on a
   * one-hospital consortium.
   */
  shares?: EmergencyShares
}

function manifestKey(dataKey: Uint8Array, recordId: Hex): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', dataKey, utf8(recordId), utf8('medledger/manifest/v1'), 32))
}

function wrapContext(recordId: Hex, to: Address): Uint8Array {
  return utf8(`medledger/data-key/v1|${recordId.toLowerCase()}|${to.toLowerCase()}`)
}

export interface SealEnvelopesParams {
  recordId: Hex
  suite: CipherSuite
  dataKey: Uint8Array
  manifest: Manifest
  recipients: { to: Address; for: EnvelopeRecipient; scheme: KeyScheme; publicKey: Uint8Array }[]
  /** The data key's emergency shares (`splitDataKey`), when it is split. */
  shares?: EmergencyShares
}

/** Builds the envelopes object of a record and serialises it. */
export async function sealEnvelopes({ recordId, suite, dataKey, manifest, recipients, shares }: SealEnvelopesParams): Promise<Uint8Array> {
  const nonce = randomBytes(12)
  const ciphertext = createAead('aes-256-gcm', manifestKey(dataKey, recordId)).seal(nonce, utf8(recordId), utf8(JSON.stringify(manifest)))
  const obj: EnvelopesObject = {
    v: 1,
    type: 'medledger/record-envelopes',
    recordId,
    suite,
    manifest: { nonce: encodeBase64url(nonce), ciphertext: encodeBase64url(ciphertext) },
    keys: await Promise.all(recipients.map(async (r) => ({
      to: r.to.toLowerCase() as Address,
      for: r.for,
      scheme: r.scheme,
      wrapped: encodeBase64url(await wrapKey({ scheme: r.scheme, publicKey: r.publicKey, key: dataKey, context: wrapContext(recordId, r.to) })),
    }))),
    ...(shares ? { shares } : {}),
  }
  return utf8(JSON.stringify(obj))
}

/**
 * Parses an envelopes block fetched by its verified CID.
 * @throws AppError RECORD_INTEGRITY when it is not an envelopes object for `recordId`.
 */
export function parseEnvelopes(bytes: Uint8Array, recordId: Hex): EnvelopesObject {
  let obj: EnvelopesObject
  try {
    obj = JSON.parse(Buffer.from(bytes).toString('utf8')) as EnvelopesObject
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { cause, details: 'envelopes block is not JSON' })
  }
  if (!isObject(obj) || obj.v !== 1 || obj.type !== 'medledger/record-envelopes' || typeof obj.recordId !== 'string' || obj.recordId.toLowerCase() !== recordId.toLowerCase()) {
    throw new AppError('RECORD_INTEGRITY', { details: 'envelopes block does not belong to this record' })
  }
  // Any node of the consortium may have written it: every field is checked before it is used.
  if (!cipherSuites.includes(obj.suite) || !isObject(obj.manifest) || typeof obj.manifest.nonce !== 'string' || typeof obj.manifest.ciphertext !== 'string'
    || !Array.isArray(obj.keys) || !obj.keys.every(isEnvelope) || (obj.shares !== undefined && !isEmergencyShares(obj.shares))) {
    throw new AppError('RECORD_INTEGRITY', { details: 'envelopes block is malformed' })
  }
  return obj
}

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v)
const recipientKinds: readonly EnvelopeRecipient[] = ['patient', 'author', 'emergency', 'grantee']
const isEnvelope = (k: unknown): k is Envelope => isObject(k) && typeof k.to === 'string' && /^0x[0-9a-fA-F]{40}$/.test(k.to)
  && recipientKinds.includes(k.for) && keySchemes.includes(k.scheme) && typeof k.wrapped === 'string'

/** Whether `m` has the shape of a record manifest. */
export function isManifest(m: unknown): m is Manifest {
  return isObject(m) && typeof m.fileName === 'string' && typeof m.mediaType === 'string' && Number.isSafeInteger(m.size) && m.size >= 0
    && typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256) && typeof m.created === 'string'
}

/**
 * Unwraps the data key for `reader` and decrypts the manifest.
 * @throws AppError RECORD_NOT_FOUND when no envelope is addressed to the reader;
 *   RECORD_INTEGRITY when an envelope or the manifest does not authenticate.
 */
export async function openEnvelopes(env: EnvelopesObject, reader: { address: Address; scheme: KeyScheme; privateKey: Uint8Array }): Promise<{ dataKey: Uint8Array; manifest: Manifest }> {
  const mine = env.keys.find((k) => k.to.toLowerCase() === reader.address.toLowerCase() && k.scheme === reader.scheme)
  if (!mine) throw new AppError('RECORD_NOT_FOUND')
  const wrapped = decodeBase64url(mine.wrapped)
  if (!wrapped) throw new AppError('RECORD_INTEGRITY', { details: 'envelope is not base64url' })
  const dataKey = await unwrapKey({ scheme: reader.scheme, privateKey: reader.privateKey, wrapped, context: wrapContext(env.recordId, reader.address) })
  return { dataKey, manifest: openManifest(env, dataKey) }
}

/**
 * Decrypts a record's manifest with its data key (however the reader obtained the key).
 * @throws AppError RECORD_INTEGRITY when it does not authenticate.
 */
export function openManifest(env: EnvelopesObject, dataKey: Uint8Array): Manifest {
  const nonce = decodeBase64url(env.manifest?.nonce, 12)
  const ct = decodeBase64url(env.manifest?.ciphertext)
  const pt = nonce && ct ? createAead('aes-256-gcm', manifestKey(dataKey, env.recordId)).open(nonce, utf8(env.recordId), ct) : undefined
  if (!pt) throw new AppError('RECORD_INTEGRITY', { details: 'manifest does not authenticate' })
  let manifest: unknown
  try {
    manifest = JSON.parse(Buffer.from(pt).toString('utf8'))
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { details: 'manifest is not JSON', cause })
  }
  if (!isManifest(manifest)) throw new AppError('RECORD_INTEGRITY', { details: 'manifest is malformed' })
  return manifest
}
