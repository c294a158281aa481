import { extractContentTerms, extractLabelTerms } from './extract-terms.ts'

/**
 * Most plaintext bytes an upload's extractor holds (64 MiB): a FHIR bundle, C-CDA document or
 * HL7 v2 message is parsed whole, so it is buffered while it streams through the encryptor. A
 * larger record is indexed by its file name and tags only (a DICOM file by what its first
 * 64 MiB hold, which is where its header is); the upload itself is never slowed or refused.
 */
export const maxExtractBytes = 64 * 1024 * 1024

/** Collects an upload's plaintext chunks, as they are encrypted, for term extraction. */
export class TermExtractor {
  private chunks: Uint8Array[] = []
  private held = 0
  private over = false

  constructor(private readonly cap = maxExtractBytes) {}

  /** Takes one plaintext chunk (a copy: the encryptor may reuse the buffer). */
  push(chunk: Uint8Array): void {
    if (this.over) return
    if (this.held + chunk.byteLength > this.cap) {
      this.over = true
      // A DICOM header sits at the start: keep what was read, the rest is pixel data.
      if (!this.isDicom()) this.chunks = []
      return
    }
    this.chunks.push(Uint8Array.from(chunk))
    this.held += chunk.byteLength
  }

  private isDicom(): boolean {
    const head = Buffer.concat(this.chunks.slice(0, 4)).subarray(128, 132)
    return head.toString('latin1') === 'DICM'
  }

  /** The record's terms: its content's (when not over the cap), its file name's and its tags'. Frees the buffer. */
  terms(fileName: string, tags: readonly string[] = []): string[] {
    const content = this.chunks.length > 0 ? extractContentTerms(Buffer.concat(this.chunks)) : new Set<string>()
    this.chunks = []
    return [...new Set([...content, ...extractLabelTerms(fileName, tags)])].sort()
  }
}
