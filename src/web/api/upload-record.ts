// Upload with progress: fetch() cannot report upload progress, XMLHttpRequest can.
import { apiBase, loadSession, ApiError } from './client.ts'
import type { RecordView } from './types.ts'

export interface UploadRecordParams {
  file: File
  /** The patient's id, e-mail or ledger address. */
  patient: string
  suite: string
  mediaType: string
  /** Bytes sent so far out of the total; `sent === total` means the node is now storing and anchoring. */
  onProgress?: (p: { sent: number; total: number }) => void
  signal?: AbortSignal
}

/** Sends a file as a record for a patient; resolves once the node has stored and anchored it. */
export function uploadRecord({ file, patient, suite, mediaType, onProgress, signal }: UploadRecordParams): Promise<RecordView> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `${apiBase}/records`)
    const session = loadSession()
    if (session) xhr.setRequestHeader('authorization', `Bearer ${session.token}`)
    xhr.setRequestHeader('content-type', mediaType || 'application/octet-stream')
    xhr.setRequestHeader('x-medledger-patient', patient)
    xhr.setRequestHeader('x-medledger-file-name', encodeURIComponent(file.name))
    xhr.setRequestHeader('x-medledger-suite', suite)
    xhr.setRequestHeader('accept', 'application/json')
    xhr.responseType = 'text'
    xhr.upload.onprogress = (e) => onProgress?.({ sent: e.loaded, total: e.lengthComputable ? e.total : file.size })
    xhr.upload.onload = () => onProgress?.({ sent: file.size, total: file.size })
    xhr.onload = () => {
      let body: { code?: string; message?: string } & Partial<RecordView> = {}
      try {
        body = JSON.parse(xhr.responseText)
      } catch {
        // fall through with what we know
      }
      if (xhr.status === 201) resolve(body as RecordView)
      else reject(new ApiError(body.code ?? `HTTP_${xhr.status}`, body.message ?? `The node answered ${xhr.status}.`, xhr.status))
    }
    xhr.onerror = () => reject(new ApiError('NETWORK', 'The upload was cut off: the node cannot be reached. Nothing was stored unless the record appears in the list.', 0))
    xhr.onabort = () => reject(new ApiError('ABORTED', 'The upload was cancelled; nothing was stored.', 0))
    signal?.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(file)
  })
}
