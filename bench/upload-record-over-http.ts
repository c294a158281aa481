import type { ApiClient } from './api-client.ts'

export interface UploadedRecord {
  recordId: string
  txHash: string | null
  blockNumber: number | null
  size: number
  sha256: string
}

/**
 * POST /records as the doctor, the way the CLI does it. `body` is either bytes (sent with a
 * content-length) or a stream (sent chunked, `duplex: 'half'`).
 * @throws ApiError unless the node answers 201.
 */
export async function uploadRecordOverHttp(api: ApiClient, { token, patient, body, signal }: {
  token: string
  patient: string
  body: Uint8Array | ReadableStream<Uint8Array>
  signal?: AbortSignal
}): Promise<UploadedRecord> {
  const res = await api.raw('POST', '/records', {
    token,
    headers: {
      'x-medledger-patient': patient,
      'x-medledger-file-name': 'bench.bin',
      'content-type': 'application/octet-stream',
    },
    body,
    signal,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit & { token: string })
  return await res.json() as UploadedRecord
}
