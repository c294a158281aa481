import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

interface Study { studyId: string; title: string; status: string; minK: number | null; consent?: string | null }

/**
 * `medledger study create --title T --purpose TEXT [--min-k N]` (a researcher): prints the study's JSON with `studyId`.
 * @throws CliError USAGE without --title or --purpose, or a --min-k that is not a whole number; the node's code when it refuses.
 */
export async function studyCreate(c: Common, f: { title?: string; purpose?: string; 'min-k'?: string }): Promise<void> {
  if (!f.title || !f.purpose) throw new CliError('USAGE', 'study create needs --title T --purpose TEXT [--min-k N]', 2)
  if (f['min-k'] !== undefined && !/^\d+$/.test(f['min-k'])) throw new CliError('USAGE', '--min-k is a whole number', 2)
  const r = await signedIn(c).client.json<Study>('POST', '/studies', { title: f.title, purpose: f.purpose, ...(f['min-k'] !== undefined ? { minK: Number(f['min-k']) } : {}) })
  // The issue asks for JSON with studyId: printed as JSON whatever --json says.
  process.stdout.write(JSON.stringify(r) + '\n')
}

/**
 * `medledger study approve ID` and `study reject ID` (the consortium admin).
 * @throws CliError USAGE without ID; the node's code when it refuses.
 */
export async function studyDecide(c: Common, id: string | undefined, decision: 'approve' | 'reject'): Promise<void> {
  if (!id) throw new CliError('USAGE', `study ${decision} needs ID`, 2)
  const r = await signedIn(c).client.json<Study>('POST', `/studies/${encodeURIComponent(id)}/${decision}`)
  c.out.result(r, () => `${r.studyId}: ${r.status}.`)
}

/** `medledger study list`: the studies the caller may see. */
export async function studyList(c: Common): Promise<void> {
  const r = await signedIn(c).client.json<{ studies: Study[] }>('GET', '/studies')
  c.out.result(r, () => r.studies.map((s) => `${s.studyId}  ${s.status}${s.consent ? `  consent ${s.consent}` : ''}  ${s.title}`).join('\n') || 'No studies.')
}

interface ExportProgress { exportId: string; answered: number; hospitals: { hospital: string; name: string | null; answered: boolean }[] }
interface ExportResult { manifest: { patients: number; k: number; resources: Record<string, number>; hospitals?: { hospital: string; answered: boolean }[] }; manifestHash: string; txHash: string; files: { name: string; content: string; encoding?: string }[] }

/** How long `study export` waits for the hospitals' parts unless --timeout says otherwise. */
const DEFAULT_EXPORT_TIMEOUT_S = 300

/**
 * `medledger study export ID --out DIR [--timeout SECONDS]` (the study's researcher): requests the
 * export on chain, waits for the part of every hospital home to consenting patients (progress on
 * stderr; at most --timeout, default 300 s), then collects them and writes one NDJSON file per
 * resource type, the de-identified DICOM, C-CDA and HL7 v2 files and manifest.json into DIR
 * (the hospitals that did not answer in time are listed in the manifest's `hospitals`).
 * @throws CliError USAGE without ID or --out, with an --out that is a file or a directory holding anything (checked
 *   before the export is requested: an export is collected once), or a --timeout that is not a positive whole number;
 *   the node's code when it refuses (NO_EXPORT_PARTS, K_TOO_SMALL, STUDY_NOT_APPROVED, …).
 */
export async function studyExport(c: Common, id: string | undefined, f: { out?: string; timeout?: string }): Promise<void> {
  if (!id || !f.out) throw new CliError('USAGE', 'study export needs ID --out DIR [--timeout SECONDS]', 2)
  if (f.timeout !== undefined && !/^[1-9]\d*$/.test(f.timeout)) throw new CliError('USAGE', '--timeout is a positive whole number of seconds', 2)
  const deadline = Date.now() + 1000 * (f.timeout === undefined ? DEFAULT_EXPORT_TIMEOUT_S : Number(f.timeout))
  const { client } = signedIn(c)
  await prepareOut(f.out)
  const study = `/studies/${encodeURIComponent(id)}/exports`
  let p = await client.json<ExportProgress>('POST', study)
  let said = ''
  for (;;) {
    const line = `study export ${p.exportId}: ${p.answered} of ${p.hospitals.length} hospital(s) answered`
    if (line !== said) process.stderr.write(line + '\n')
    said = line
    if (p.answered >= p.hospitals.length || Date.now() >= deadline) break
    await new Promise((resolve) => setTimeout(resolve, 1000))
    p = await client.json<ExportProgress>('GET', `${study}/${p.exportId}`)
  }
  const missing = p.hospitals.filter((h) => !h.answered)
  if (missing.length > 0) process.stderr.write(`study export ${p.exportId}: no answer from ${missing.map((h) => h.name ?? h.hospital).join(', ')}\n`)
  const r = await client.json<ExportResult>('POST', `${study}/${p.exportId}/collect`)
  await writeExport(f.out, r)
  c.out.result({ out: f.out, manifestHash: r.manifestHash, txHash: r.txHash, ...r.manifest }, () =>
    `Exported ${r.manifest.patients} patient(s), ${Object.values(r.manifest.resources).reduce((a, b) => a + b, 0)} resources, k ${r.manifest.k} → ${f.out} (manifest ${r.manifestHash}, on chain in ${r.txHash}).`)
}

/**
 * Makes `out` ready before anything is requested: an export is collected once, so one that
 * could not be written would be lost (and on chain); files of another export must not mix in.
 * @throws CliError USAGE when `out` is a file, holds anything, or cannot be made.
 */
async function prepareOut(out: string): Promise<void> {
  const refuse = (why: string) => new CliError('USAGE', `--out ${out}: ${why}; give a new or empty directory`, 2)
  const entries = await readdir(out).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return []
    throw refuse(e.code === 'ENOTDIR' ? 'not a directory' : `cannot be read (${e.code})`)
  })
  if (entries.length > 0) throw refuse('not empty')
  await mkdir(out, { recursive: true, mode: 0o700 }).catch((e: NodeJS.ErrnoException) => { throw refuse(`cannot be made (${e.code})`) })
}

/** Writes an export's files and manifest.json into `out`. */
async function writeExport(out: string, r: ExportResult): Promise<void> {
  await mkdir(join(out, 'dicom'), { recursive: true, mode: 0o700 })
  await mkdir(join(out, 'ccda'), { recursive: true, mode: 0o700 })
  await mkdir(join(out, 'hl7v2'), { recursive: true, mode: 0o700 })
  for (const file of r.files) {
    // Only the names an export has: nothing may be written outside DIR.
    if (!/^([A-Za-z]+\.ndjson|dicom\/2\.25\.\d+\.dcm|ccda\/[0-9a-f]{32}\.xml|hl7v2\/[0-9a-f]{32}\.hl7)$/.test(file.name)) throw new CliError('BAD_RESPONSE', `unexpected file name ${file.name}`, 1)
    await writeFile(join(out, file.name), file.encoding === 'base64' ? Buffer.from(file.content, 'base64') : file.content, { mode: 0o600 })
  }
  await writeFile(join(out, 'manifest.json'), JSON.stringify(r.manifest, null, 2) + '\n', { mode: 0o600 })
}
