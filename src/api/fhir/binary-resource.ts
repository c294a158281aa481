import { AppError } from '../../errors.ts'
import { bytesOfBase64, patientOfReference } from './create-record.ts'

/**
 * The patient, media type and bytes of a Binary resource with a Patient securityContext;
 * undefined for any other body.
 * @throws AppError VALIDATION_FAILED (no contentType, data not base64), MISSING_FILE (no data)
 */
export function binaryResource(bytes: Buffer): { patient: string; contentType: string; bytes: Buffer } | undefined {
  // A body that is no Binary is left unparsed (a Bundle is parsed once, by the search index, not
  // twice): a JSON string equal to "Binary" holds those six letters, or a \u escape for some.
  if (!bytes.includes('Binary') && !bytes.includes('\\u')) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(bytes.toString('utf8'))
  } catch {
    return undefined
  }
  const r = parsed as { resourceType?: unknown; securityContext?: { reference?: unknown }; contentType?: unknown; data?: unknown } | null
  if (!r || r.resourceType !== 'Binary' || typeof r.securityContext?.reference !== 'string' || !/(^|\/)Patient\//.test(r.securityContext.reference)) return undefined
  if (typeof r.contentType !== 'string') throw new AppError('VALIDATION_FAILED', { message: 'A Binary resource needs its contentType.' })
  if (r.data === undefined) throw new AppError('MISSING_FILE', { message: 'The Binary resource carries no data.' })
  return { patient: patientOfReference(r.securityContext.reference), contentType: r.contentType, bytes: bytesOfBase64(r.data) }
}
