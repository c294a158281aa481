import type { FastifyRequest } from 'fastify'
import { uploadRecord, type UploadRecordResult } from '../../records/upload-record.ts'
import { listAllRecordsGrantees } from '../../consent/list-all-records-grantees.ts'
import { wrapResearchKey } from '../../consent/research-keys.ts'
import { AppError } from '../../errors.ts'
import { actorOf } from '../actor-of.ts'
import type { Services } from '../../services.ts'

/**
 * Largest FHIR JSON body a create takes (a DocumentReference or a Binary resource with its data
 * in base64): 32 MiB of JSON, about 24 MiB of file. Bigger files go to POST /Binary as raw
 * bytes, streamed, up to the node's upload limit.
 */
export const maxCreateJsonBytes = 32 * 1024 * 1024

/** File extensions for a record created without a file name, by media type. */
const extensions: Record<string, string> = {
  'application/fhir+json': 'json',
  'application/json': 'json',
  'application/xml': 'xml',
  'application/fhir+xml': 'xml',
  'text/xml': 'xml',
  'application/dicom': 'dcm',
  'x-application/hl7-v2+er7': 'hl7',
  'text/plain': 'txt',
  'application/pdf': 'pdf',
}

/** The name a record created through FHIR gets when the client gives none: `binary.<extension of its media type>`. */
export function defaultFileName(mediaType: string | undefined): string {
  const t = (mediaType ?? '').split(';')[0].trim().toLowerCase()
  return `binary.${extensions[t] ?? 'bin'}`
}

/**
 * A patient as a FHIR create names them: `Patient/{id}` (a reference), or, in X-Medledger-Patient,
 * anything the native upload takes (e-mail, id, ledger address).
 * @throws AppError VALIDATION_FAILED
 */
export function patientOfReference(ref: unknown): string {
  if (typeof ref !== 'string' || ref.trim() === '' || ref.length > 320) throw new AppError('VALIDATION_FAILED', { message: 'Name the patient: a reference Patient/{id}.' })
  const m = /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref.trim())
  if (ref.includes('/') && !m) throw new AppError('VALIDATION_FAILED', { message: 'The patient reference must be Patient/{id}.' })
  return m ? m[1] : ref.trim()
}

/**
 * Bytes from FHIR's base64Binary (white space allowed between groups, as R4's rule has it).
 * @throws AppError VALIDATION_FAILED for anything else
 */
export function bytesOfBase64(data: unknown): Buffer {
  const compact = typeof data === 'string' ? data.replace(/\s+/g, '') : ''
  if (typeof data !== 'string' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw new AppError('VALIDATION_FAILED', { message: 'The attachment data is not base64.' })
  }
  return Buffer.from(compact, 'base64')
}

/**
 * Stores a record created through FHIR with the native upload (`uploadRecord`): same checks,
 * same encryption, same envelopes and grantees, same anchor; answers once it is durable.
 * @throws AppError as uploadRecord
 */
export async function createRecord(s: Services, req: FastifyRequest, p: { patient: string; fileName: string; mediaType?: string; source: AsyncIterable<Uint8Array>; declaredSize?: number; signal?: AbortSignal }): Promise<UploadRecordResult> {
  return uploadRecord(s, {
    actor: actorOf(req),
    patient: p.patient,
    fileName: p.fileName,
    mediaType: p.mediaType,
    source: p.source,
    declaredSize: p.declaredSize,
    grantees: (patientId, signal) => listAllRecordsGrantees(s, { patientId, signal }),
    researchCopy: (c) => wrapResearchKey(s, c),
    signal: p.signal,
  })
}
