// Reads a record's plaintext as a Blob, with progress. The node checks every block against the
// ledger anchor and logs the read on chain before it sends the first byte.
import { call } from './client.ts'

export interface FetchedRecord {
  blob: Blob
  /** The media type the record was uploaded with. */
  mediaType: string
  fileName: string
  /** SHA-256 of the plaintext from the record's manifest (hex). */
  sha256: string | null
}

export interface FetchRecordParams {
  recordId: string
  /** A share token instead of the session (sent in a header, never in the URL). */
  shareToken?: string
  onProgress?: (p: { received: number; total: number }) => void
  signal?: AbortSignal
}

/** Downloads a record into memory. @throws ApiError with the node's reason. */
export async function fetchRecord({ recordId, shareToken, onProgress, signal }: FetchRecordParams): Promise<FetchedRecord> {
  const res = await call(`/records/${encodeURIComponent(recordId)}`, {
    headers: { accept: '*/*', ...(shareToken ? { 'x-medledger-share-token': shareToken } : {}) },
    anonymous: Boolean(shareToken),
    signal,
  })
  const total = Number(res.headers.get('content-length') ?? 0)
  const mediaType = res.headers.get('content-type') ?? 'application/octet-stream'
  const parts: Uint8Array<ArrayBuffer>[] = []
  let received = 0
  const reader = res.body?.getReader()
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      parts.push(value)
      received += value.byteLength
      onProgress?.({ received, total: Math.max(total, received) })
    }
  }
  onProgress?.({ received, total: received })
  return {
    blob: new Blob(parts, { type: mediaType }),
    mediaType,
    fileName: fileNameOf(res.headers.get('content-disposition')) ?? `${recordId.slice(0, 10)}.bin`,
    sha256: res.headers.get('x-medledger-sha256'),
  }
}

/** The file name of an RFC 6266 `attachment; filename*=UTF-8''…` header. */
export function fileNameOf(disposition: string | null): string | null {
  const m = disposition ? /filename\*=UTF-8''([^;]+)/i.exec(disposition) : null
  if (!m) return null
  try {
    return decodeURIComponent(m[1])
  } catch {
    return null
  }
}
