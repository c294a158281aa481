import { closeSync, createWriteStream, fsyncSync, openSync, renameSync, rmSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createHash, randomBytes } from 'node:crypto'
import { CliError, createClient } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger record get RECORD_ID --out PATH [--token TOKEN]`: downloads a record (with a
 * session, or with a share token) and writes it only when its SHA-256 matches the node's.
 * @throws CliError USAGE without RECORD_ID or --out; RECORD_INTEGRITY when the bytes do not
 * match (nothing is written); the node's code when it refuses.
 */
export async function recordGet(c: Common, id: string | undefined, f: { out?: string; token?: string }): Promise<void> {
  if (!id || !f.out) throw new CliError('USAGE', 'record get needs RECORD_ID --out PATH [--token TOKEN]', 2)
  const target = resolve(f.out)
  // A share token travels in a header, never in the URL.
  const res = f.token
    ? await createClient(c.api).request('GET', `/records/${encodeURIComponent(id)}`, { headers: { 'x-medledger-share-token': f.token } })
    : await signedIn(c).client.request('GET', `/records/${encodeURIComponent(id)}`)
  const expected = res.headers.get('x-medledger-sha256')
  // Written beside the target and renamed only when complete and checked: a failure writes nothing.
  const partial = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`)
  const hash = createHash('sha256')
  let bytes = 0
  try {
    await pipeline(chunksOf(res.body), new Transform({ transform(chunk: Buffer, _e, cb) { hash.update(chunk); bytes += chunk.length; cb(null, chunk) } }), createWriteStream(partial, { mode: 0o600 }))
    const sha256 = hash.digest('hex')
    if (expected && sha256 !== expected) throw new CliError('RECORD_INTEGRITY', 'The downloaded bytes do not match the record\'s SHA-256; nothing was written.')
    const fd = openSync(partial, 'r'); fsyncSync(fd); closeSync(fd)
    renameSync(partial, target)
    c.out.result({ recordId: id, out: target, bytes, sha256 }, () => `Wrote ${bytes} bytes to ${target} (sha256 ${sha256}).`)
  } catch (err) {
    rmSync(partial, { force: true })
    throw err
  }
}

/**
 * A fetch body's chunks as an async iterable, which Node's `pipeline` takes (the DOM and Node
 * typings of web streams differ, so `Readable.fromWeb` would need a cast); the body is cancelled
 * when the pipeline stops early.
 */
async function* chunksOf(body: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (!body) return
  const reader = body.getReader()
  let finished = false
  try {
    for (;;) {
      const chunk = await reader.read()
      if (chunk.done) { finished = true; return }
      yield chunk.value
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined)
    reader.releaseLock()
  }
}
