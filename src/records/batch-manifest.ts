import { getAddress, isAddress, type Hex } from 'viem'
import { AppError } from '../errors.ts'
import type { SignedLeaf } from '../ledger/anchor-batch.ts'

/**
 * The manifest of a batch anchor, stored as one raw IPFS block whose SHA-256 digest the
 * `BatchAnchored` event names: the root and every leaf (record fields and author signature) in
 * tree order. Pseudonymous facts only, as the events of lone anchors.
 */
export interface BatchManifest {
  root: Hex
  leaves: SignedLeaf[]
}

export function encodeBatchManifest(m: BatchManifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ version: 1, root: m.root, leaves: m.leaves }))
}

const word = /^0x[0-9a-f]{64}$/
const signature = /^0x[0-9a-f]{130}$/

/**
 * Parses a manifest block, strictly: every field present, of its exact form, nothing else.
 * @throws AppError RECORD_INTEGRITY naming what is malformed
 */
export function decodeBatchManifest(bytes: Uint8Array): BatchManifest {
  const bad = (what: string) => new AppError('RECORD_INTEGRITY', { details: `batch manifest: ${what}` })
  let o: unknown
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw bad('not JSON')
  }
  const m = o as { version?: unknown; root?: unknown; leaves?: unknown }
  if (typeof m !== 'object' || m === null || m.version !== 1 || typeof m.root !== 'string' || !word.test(m.root) || !Array.isArray(m.leaves) || m.leaves.length === 0) {
    throw bad('not a version 1 manifest with a root and leaves')
  }
  const leaves = m.leaves.map((l: unknown, i: number): SignedLeaf => {
    const f = l as Record<string, unknown>
    const keys = ['recordId', 'patient', 'author', 'hospital', 'digest', 'envelopes', 'signature']
    if (typeof f !== 'object' || f === null || Object.keys(f).length !== keys.length || !keys.every((k) => typeof f[k] === 'string')) throw bad(`leaf ${i} is malformed`)
    const s = f as Record<string, string>
    if (![s.recordId, s.digest, s.envelopes].every((v) => word.test(v!)) || !signature.test(s.signature!)) throw bad(`leaf ${i} is malformed`)
    if (![s.patient, s.author, s.hospital].every((v) => isAddress(v!, { strict: false }))) throw bad(`leaf ${i} names a malformed address`)
    return {
      recordId: s.recordId as Hex, patient: getAddress(s.patient!), author: getAddress(s.author!), hospital: getAddress(s.hospital!),
      digest: s.digest as Hex, envelopes: s.envelopes as Hex, signature: s.signature as Hex,
    }
  })
  return { root: m.root as Hex, leaves }
}
