import type { Hex } from 'viem'
import { AppError } from '../../errors.ts'

/** FHIR's id rule (R4 `id` datatype). */
export const fhirIdPattern = '^[A-Za-z0-9\\-\\.]{1,64}$'
const fhirIdRegExp = new RegExp(fhirIdPattern)

/** A record's FHIR id: its 32-byte id in hex without the `0x` (64 characters). */
export function fhirIdOfRecord(recordId: Hex | string): string {
  return recordId.toLowerCase().replace(/^0x/, '')
}

/**
 * The id of a FHIR read, checked against FHIR's id rule.
 * @throws AppError INVALID_FHIR_ID
 */
export function checkFhirId(id: string): string {
  if (!fhirIdRegExp.test(id)) throw new AppError('INVALID_FHIR_ID')
  return id
}

/**
 * The record id (0x-prefixed) of a DocumentReference or Binary id.
 * @throws AppError INVALID_FHIR_ID
 */
export function recordIdOfFhirId(id: string): Hex {
  return `0x${checkFhirId(id).toLowerCase()}` as Hex
}
