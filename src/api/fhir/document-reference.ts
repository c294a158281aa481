import { CID } from 'multiformats/cid'
import { bytesToHex } from 'viem'
import { boundedMemo } from '../../storage/bounded-memo.ts'
import type { RecordView } from '../../records/record.ts'
import { fhirIdOfRecord } from './fhir-id.ts'
import { ledgerIdentifier } from './directory-resources.ts'
import type { FhirResource } from './resource-module.ts'

export const loinc = 'http://loinc.org'

/** The document types a record's content maps to (LOINC), from its media type and file name only. */
export const documentTypes = {
  dicom: { system: loinc, code: '18748-4', display: 'Diagnostic imaging study' },
  ccda: { system: loinc, code: '34133-9', display: 'Summary of episode note' },
  fhir: { system: loinc, code: '60591-5', display: 'Patient summary Document' },
  hl7v2: { system: loinc, code: '11503-0', display: 'Medical records' },
  unknown: { system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown', display: 'Unknown' },
} as const

/**
 * A record's document type from its manifest's media type and file name (the node never reads
 * the plaintext for it): DICOM, C-CDA, a FHIR resource or bundle, an HL7 v2 message, otherwise unknown.
 */
export function documentTypeOf({ mediaType, fileName }: { mediaType: string; fileName: string }): (typeof documentTypes)[keyof typeof documentTypes] {
  const type = mediaType.toLowerCase()
  const name = fileName.toLowerCase()
  if (type === 'application/dicom' || /\.(dcm|dicom)$/.test(name)) return documentTypes.dicom
  if (type === 'application/cda+xml' || type === 'application/hl7-cda+xml' || /\.c?cda(\.xml)?$/.test(name)) return documentTypes.ccda
  if (type === 'application/fhir+json' || type === 'application/fhir+xml') return documentTypes.fhir
  if (type.includes('hl7-v2') || type === 'application/edi-hl7v2' || /\.hl7$/.test(name)) return documentTypes.hl7v2
  return documentTypes.unknown
}

/** Where the ledger proof of a record lives: the chain and the RecordLedger contract. */
export interface LedgerPlace { chainId: number; recordLedger: string }

/** The identifier systems of a record's ledger proof, each checkable against the chain (README, FHIR R4). */
export const proofSystems = {
  recordId: 'urn:medledger:record-id',
  cid: 'urn:medledger:ipfs-cid',
  digest: 'urn:medledger:anchor-digest',
  envelopes: 'urn:medledger:envelopes-digest',
  tx: 'urn:medledger:anchor-tx',
  block: 'urn:medledger:anchor-block',
  ledger: 'urn:medledger:record-ledger',
} as const

/** The ledger proof as identifiers: record id, CID, digest, envelopes digest, transaction, block and the contract (CAIP-10). */
function proofIdentifiers(v: RecordView, place: LedgerPlace): { system: string; value: string }[] {
  const ids: { system: string; value: string }[] = [
    { system: proofSystems.recordId, value: v.recordId.toLowerCase() },
    { system: proofSystems.cid, value: v.cid },
    { system: proofSystems.digest, value: v.digest.toLowerCase() },
    { system: proofSystems.envelopes, value: digestOfCid(v.envelopesCid) },
  ]
  if (v.txHash) ids.push({ system: proofSystems.tx, value: v.txHash.toLowerCase() })
  if (v.blockNumber !== null) ids.push({ system: proofSystems.block, value: String(v.blockNumber) })
  ids.push({ system: proofSystems.ledger, value: `eip155:${place.chainId}:${place.recordLedger.toLowerCase()}` })
  return ids
}

/**
 * A CID's digest as hex, remembered (at most 100,000, the oldest forgotten first): a search of
 * 100 records parsed 100 CIDs, a few ms. CIDs and digests are public (anchored on chain).
 */
const digestOfCid = boundedMemo(100_000, (cid) => bytesToHex(CID.parse(cid).multihash.digest))

/**
 * A record the caller may read as a DocumentReference: type from its content, parties as
 * references carrying their ledger addresses, date from the anchor's block time, the content
 * as an attachment pointing at Binary/{id}, and the ledger proof as identifiers.
 */
export function toDocumentReference(v: RecordView, { place, hospitalAddress }: { place: LedgerPlace; hospitalAddress?: string }): FhirResource {
  const id = fhirIdOfRecord(v.recordId)
  const date = v.anchoredAt ?? v.created
  return {
    resourceType: 'DocumentReference',
    id,
    meta: { versionId: '1', lastUpdated: date },
    identifier: proofIdentifiers(v, place),
    status: 'current',
    docStatus: 'final',
    type: { coding: [documentTypeOf(v)] },
    subject: { reference: `Patient/${v.patient.id}`, identifier: ledgerIdentifier(v.patient.address), display: v.patient.name },
    date,
    author: [{ reference: `Practitioner/${v.author.id}`, identifier: ledgerIdentifier(v.author.address), display: v.author.name }],
    custodian: { reference: `Organization/${v.hospitalId}`, ...(hospitalAddress ? { identifier: ledgerIdentifier(hospitalAddress) } : {}) },
    securityLabel: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R', display: 'restricted' }] }],
    content: [{
      attachment: {
        ...(v.mediaType ? { contentType: v.mediaType } : {}),
        url: `Binary/${id}`,
        size: v.size,
        hash: Buffer.from(v.sha256, 'hex').toString('base64'),
        title: v.fileName,
        creation: v.created,
      },
    }],
  }
}
