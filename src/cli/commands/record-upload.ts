import { createReadStream, statSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { CliError } from '../client.ts'
import { progressBar } from '../io.ts'
import { mediaTypeOf } from '../media-type-of.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger record upload --patient EMAIL_OR_ID --file PATH [--suite S] [--type MEDIA_TYPE] [--tag TAG]...`:
 * streams the file to the node (a progress bar on a terminal) and prints the anchored record.
 * @throws CliError USAGE without --patient or --file; MISSING_FILE when the file cannot be read;
 * the node's code when it refuses.
 */
export async function recordUpload(c: Common, f: { patient?: string; file?: string; suite?: string; type?: string; tag?: string[] }): Promise<void> {
  if (!f.patient || !f.file) throw new CliError('USAGE', 'record upload needs --patient EMAIL_OR_ID --file PATH', 2)
  const path = resolve(f.file)
  let size: number
  let mediaType: string
  try {
    const st = statSync(path)
    if (!st.isFile()) throw new Error('not a file')
    size = st.size
    mediaType = f.type ?? mediaTypeOf(path)
  } catch {
    throw new CliError('MISSING_FILE', `No readable file at ${f.file}.`)
  }
  const client = signedIn(c).client
  const bar = await progressBar(size, basename(path))
  let sent = 0
  const counter = new Transform({ transform(chunk: Buffer, _e, cb) { sent += chunk.length; bar.update(sent); cb(null, chunk) } })
  const stream = createReadStream(path, { highWaterMark: 1 << 20 }).pipe(counter)
  const res = await client.request('POST', '/records', {
    headers: {
      'content-type': mediaType,
      'content-length': String(size),
      'x-medledger-patient': f.patient,
      'x-medledger-file-name': encodeURIComponent(basename(path)),
      ...(f.suite ? { 'x-medledger-suite': f.suite } : {}),
      ...(f.tag?.length ? { 'x-medledger-tags': f.tag.map(encodeURIComponent).join(',') } : {}),
    },
    body: Readable.toWeb(stream) as unknown as BodyInit,
    duplex: 'half',
  }).finally(() => bar.end())
  const r = (await res.json()) as Record<string, unknown>
  c.out.result(r, () => `Stored ${r.fileName} (${r.size} bytes, ${r.suite}) for the patient.\n  record ${r.recordId}\n  cid    ${r.cid}\n  digest ${r.digest}\n  tx     ${r.txHash} (block ${r.blockNumber})`)
}
