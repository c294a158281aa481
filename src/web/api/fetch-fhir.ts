// Reads a FHIR resource of this node (/fhir/R4) with the session's bearer token in a header, as
// every API call of the portal does: a plain link would carry no session, and no token ever goes
// in a URL.
import { loadSession, toApiError, ApiError } from './client.ts'

export const fhirBase = '/fhir/R4'

/** A FHIR resource as JSON text (the node's own, unchanged). @throws ApiError with the node's reason */
export async function fetchFhir(path: string, { signal }: { signal?: AbortSignal } = {}): Promise<string> {
  const session = loadSession()
  const headers: Record<string, string> = { accept: 'application/fhir+json' }
  if (session) headers.authorization = `Bearer ${session.token}`
  let res: Response
  try {
    res = await fetch(fhirBase + path, { headers, signal, credentials: 'omit', cache: 'no-store' })
  } catch (err) {
    if (signal?.aborted) throw err
    throw new ApiError('NETWORK', 'The node cannot be reached. Check your connection and try again.', 0)
  }
  if (!res.ok) throw await fhirError(res)
  return await res.text()
}

/** An OperationOutcome as an ApiError with its MedLedger code and message. */
async function fhirError(res: Response): Promise<ApiError> {
  try {
    const outcome = await res.clone().json() as { issue?: { details?: { coding?: { code?: string }[]; text?: string } }[] }
    const details = outcome.issue?.[0]?.details
    if (details?.text) return new ApiError(details.coding?.[0]?.code ?? `HTTP_${res.status}`, details.text, res.status)
  } catch {
    // not an OperationOutcome: say what the status says
  }
  return toApiError(res)
}
