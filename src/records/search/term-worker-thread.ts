// The term worker's thread (started by term-worker.ts; not imported by anything else). It holds
// one TermExtractor per upload, fed the plaintext the main thread transferred to it (in
// ArrayBuffers of their own, so nothing is copied again here), and answers an upload's
// content terms once its stream has ended; then, asked with the patient's search key, the
// record's tokens and sealed term list. A port delivers in order: an upload's chunks come
// before its end. An error is answered by its name only: a parser's message may quote the file.
// It runs at the node's normal priority: the upload waits for its entry before the record's
// transaction, so a lower priority here would hold the upload behind whatever else is runnable.
import { parentPort } from 'node:worker_threads'
import { TermExtractor } from './term-extractor.ts'
import { recordTokens, sealTerms, tokenBytes } from './search-key.ts'
import { termBatchBytes, type TermJob, type TermReply } from './term-worker.ts'

const port = parentPort!
const uploads = new Map<number, TermExtractor>()
/** Each upload's buffers as received, given back (zeroed) with its terms. */
const buffers = new Map<number, ArrayBuffer[]>()

port.on('message', ({ id, cap, chunk, bytes, over, end, drop, entry }: TermJob) => {
  if (drop) {
    buffers.delete(id)
    return void uploads.delete(id)
  }
  if (entry) return void makeEntry(id, entry)
  let x = uploads.get(id)
  if (x === undefined) uploads.set(id, x = new TermExtractor(cap, false))
  if (chunk !== undefined) {
    x.push(new Uint8Array(chunk, 0, bytes ?? chunk.byteLength))
    buffers.set(id, [...buffers.get(id) ?? [], chunk])
  }
  if (over) x.stop()
  if (!end) return
  uploads.delete(id)
  let reply: TermReply
  try {
    reply = { id, terms: [...x.contentTerms()] }
  } catch (err) {
    reply = { id, error: (err as Error)?.name ?? 'Error' }
  }
  // The extractor copied them (contentTerms concatenates) or dropped them: zeroed, they go back.
  const spare = (buffers.get(id) ?? []).filter((b) => b.byteLength === termBatchBytes)
  buffers.delete(id)
  for (const b of spare) new Uint8Array(b).fill(0)
  port.postMessage({ ...reply, spare }, spare)
})

/** A record's tokens (in one buffer, transferred back) and sealed term list; the key is zeroed once used. */
function makeEntry(id: number, { key, recordId, terms }: NonNullable<TermJob['entry']>): void {
  const k = new Uint8Array(key)
  try {
    const tokens = recordTokens(k, terms)
    const all = new Uint8Array(tokens.length * tokenBytes)
    tokens.forEach((t, i) => all.set(t, i * tokenBytes))
    port.postMessage({ id, tokens: all.buffer, sealed: sealTerms(k, recordId, terms) } satisfies TermReply, [all.buffer])
  } catch (err) {
    port.postMessage({ id, error: (err as Error)?.name ?? 'Error' } satisfies TermReply)
  } finally {
    k.fill(0)
  }
}
