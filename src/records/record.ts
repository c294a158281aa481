import type { Address, Hex } from 'viem'
import type { CipherSuite } from '../crypto/stream.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { boundedMemo } from '../storage/bounded-memo.ts'
import { hexToBytes } from 'viem'
import type { Manifest } from './envelopes.ts'
import type { Db } from '../db/open-database.ts'

export interface RecordRow {
  record_id: Hex
  patient_id: string
  author_id: string
  hospital_id: string
  digest: Hex
  envelopes: Hex
  suite: CipherSuite
  stored_bytes: number
  state: 'pending' | 'anchored'
  tx_hash: Hex | null
  block_number: number | null
  anchored_at: number | null
  created_at: number
}

/** A record as a reader sees it: ledger facts plus the decrypted manifest. */
export interface RecordView {
  recordId: Hex
  cid: string
  digest: Hex
  envelopesCid: string
  suite: CipherSuite
  storedBytes: number
  txHash: Hex | null
  blockNumber: number | null
  anchoredAt: string | null
  patient: { id: string; address: Address; name: string }
  author: { id: string; address: Address; name: string }
  hospitalId: string
  fileName: string
  mediaType: string
  size: number
  sha256: string
  created: string
  /** Set when the record cannot be opened: RECORD_INTEGRITY or RECORD_UNAVAILABLE. */
  problem?: string
}

interface Party { id: string; address: string; name: string }

/** Joins a record row with its parties and manifest into what a reader is shown. */
export function toRecordView(row: RecordRow, parties: { patient: Party; author: Party }, manifest: Manifest): RecordView {
  return {
    recordId: row.record_id,
    cid: cidString(row.digest, 'dag'),
    digest: row.digest,
    envelopesCid: cidString(row.envelopes, 'raw'),
    suite: row.suite,
    storedBytes: row.stored_bytes,
    txHash: row.tx_hash,
    blockNumber: row.block_number,
    anchoredAt: row.anchored_at === null ? null : new Date(row.anchored_at * 1000).toISOString(),
    patient: { id: parties.patient.id, address: parties.patient.address as Address, name: parties.patient.name },
    author: { id: parties.author.id, address: parties.author.address as Address, name: parties.author.name },
    hospitalId: row.hospital_id,
    fileName: manifest.fileName,
    mediaType: manifest.mediaType,
    size: manifest.size,
    sha256: manifest.sha256,
    created: manifest.created,
  }
}

/**
 * A digest's CID as text, remembered (at most 100,000, the oldest forgotten first): a listing shows
 * two per record, and encoding one costs about 10 µs. Digests are public (they are anchored on chain).
 */
function cidString(digest: Hex, kind: 'dag' | 'raw'): string {
  return cidStrings(`${kind}:${digest.toLowerCase()}`)
}
const cidStrings = boundedMemo(100_000, (key) => {
  const [kind, digest] = key.split(':') as ['dag' | 'raw', Hex]
  return cidFromDigest(hexToBytes(digest), kind).toString()
})

/** The parties of a record, for display. */
export async function recordParties(db: Db, row: RecordRow): Promise<{ patient: Party; author: Party }> {
  const q = 'SELECT id, address, name FROM accounts WHERE id = ?'
  const [patient, author] = await Promise.all([db.get<Party>(q, row.patient_id), db.get<Party>(q, row.author_id)])
  return { patient: patient!, author: author! }
}
