import { extractContentTerms, extractLabelTerms } from './extract-terms.ts'

/**
 * Most plaintext bytes an upload's extractor holds (64 MiB): a FHIR bundle, C-CDA document or
 * HL7 v2 message is parsed whole, so it is buffered while it streams through the encryptor. A
 * larger record is indexed by its file name and tags only (a DICOM file by what its first
 * 64 MiB hold, which is where its header is); the upload itself is never slowed or refused.
 */
export const maxExtractBytes = 64 * 1024 * 1024

/**
 * Collects an upload's plaintext chunks, as they are encrypted, for term extraction on the
 * calling thread (the term worker's thread holds one per upload; `TermWorker` feeds it).
 */
export class TermExtractor {
  private chunks: Uint8Array[] = []
  private held = 0
  private over = false

  /**
   * @param cap most bytes held (`maxExtractBytes`)
   * @param copy whether `push` copies its chunk (true: the encryptor may reuse the buffer; false
   *   for chunks that are this extractor's own, e.g. transferred to the worker thread)
   */
  constructor(private readonly cap = maxExtractBytes, private readonly copy = true) {}

  /** Takes one plaintext chunk. */
  push(chunk: Uint8Array): void {
    if (this.over) return
    if (this.held + chunk.byteLength > this.cap) return this.stop()
    this.chunks.push(this.copy ? Uint8Array.from(chunk) : chunk)
    this.held += chunk.byteLength
  }

  /** The cap is passed: what was read is dropped, but for a DICOM file's (its header sits at the start; the rest is pixel data). */
  stop(): void {
    if (this.over) return
    this.over = true
    if (!this.isDicom()) this.chunks = []
  }

  private isDicom(): boolean {
    const head = Buffer.concat(this.chunks.slice(0, 4)).subarray(128, 132)
    return head.toString('latin1') === 'DICM'
  }

  /** Drops what was collected (the upload failed). */
  discard(): void {
    this.chunks = []
    this.over = true
  }

  /** The terms of the content held (none when it was over the cap). Frees the buffer. */
  contentTerms(): Set<string> {
    const content = this.chunks.length > 0 ? extractContentTerms(Buffer.concat(this.chunks)) : new Set<string>()
    this.chunks = []
    return content
  }

  /** The record's terms: its content's (when not over the cap), its file name's and its tags'. Frees the buffer. */
  terms(fileName: string, tags: readonly string[] = []): string[] {
    return [...new Set([...this.contentTerms(), ...extractLabelTerms(fileName, tags)])].sort()
  }
}
