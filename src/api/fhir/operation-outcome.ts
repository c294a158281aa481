import type { AppError } from '../../errors.ts'
import type { FhirResource } from './resource-module.ts'

/** The code system of MedLedger's error codes (src/errors.ts) inside an OperationOutcome. */
export const errorCodeSystem = 'urn:medledger:error-code'

/** FHIR's issue type (http://hl7.org/fhir/issue-type) for each HTTP status MedLedger answers. */
function issueType(err: AppError): string {
  if (err.code === 'MALFORMED_JSON') return 'structure'
  if (err.code === 'RECORD_INTEGRITY') return 'conflict'
  const byStatus: Record<number, string> = { 400: 'invalid', 401: 'login', 403: 'forbidden', 404: 'not-found', 405: 'not-supported', 408: 'timeout', 409: 'conflict', 413: 'too-costly', 415: 'not-supported', 429: 'throttled', 431: 'too-costly', 502: 'transient', 503: 'transient' }
  return byStatus[err.status] ?? 'exception'
}

/** An AppError as an OperationOutcome: its code as a coding, its public message as text (never details or cause). */
export function operationOutcome(err: AppError): FhirResource {
  return {
    resourceType: 'OperationOutcome',
    issue: [{
      severity: err.status >= 500 ? 'fatal' : 'error',
      code: issueType(err),
      details: { coding: [{ system: errorCodeSystem, code: err.code }], text: err.message },
      // A re-keyed record's old id: the new one, as its DocumentReference (FHIR ids have no 0x).
      ...(err.body?.supersededBy ? { diagnostics: `supersededBy DocumentReference/${err.body.supersededBy.replace(/^0x/, '')}` } : {}),
    }],
  }
}
