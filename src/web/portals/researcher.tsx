// Researchers: propose studies (the consortium admin approves them), follow them, and export an
// approved one: the de-identified files and manifest.json as one ZIP download (or with
// `medledger study export ID --out DIR`, which writes the same files).
import { useState, type FormEvent } from 'react'
import { api } from '../api/client.ts'
import type { Account } from '../api/types.ts'
import { useAction, useLoad } from '../lib/use-load.ts'
import { formatDateTime } from '../lib/format.ts'
import { zipStored } from '../lib/zip.ts'
import { ActionStatus, Badge, Field, LoadState } from '../components/ui.tsx'

/** A study as GET /studies shows it to its researcher. */
interface Study { studyId: string; title: string; purpose?: string; minK: number | null; status: 'proposed' | 'approved' | 'rejected'; createdAt: string }

/** Where an export across nodes stands (POST /studies/:id/exports, GET …/:exportId). */
interface ExportProgress { exportId: string; answered: number; hospitals: { hospital: string; name: string | null; answered: boolean }[] }

/** How long the page waits for the hospitals' parts before it collects what came (the CLI's default). */
const EXPORT_WAIT_MS = 300_000

/** What POST /studies/:id/exports/:exportId/collect answers. */
interface StudyExport {
  manifest: { exportNumber: number; patients: number; k: number; resources: Record<string, number> }
  manifestHash: string
  txHash: string
  files: { name: string; content: string; encoding?: 'base64' }[]
}

/**
 * Exports a study as the CLI does: requested on the ledger, every node home to consenting
 * patients submits its de-identified part, the page waits for them (at most 5 minutes), then
 * collects and merges them (recorded on the ledger) and saves the files and manifest.json, as the
 * CLI writes them (so manifest.json hashes to the manifest hash on chain), as one ZIP download.
 * Resolves the status line.
 */
async function exportStudy(study: Study): Promise<string> {
  const base = `/studies/${study.studyId}/exports`
  let p = await api<ExportProgress>(base, { method: 'POST' })
  const deadline = Date.now() + EXPORT_WAIT_MS
  while (p.answered < p.hospitals.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1000))
    p = await api<ExportProgress>(`${base}/${p.exportId}`)
  }
  const r = await api<StudyExport>(`${base}/${p.exportId}/collect`, { method: 'POST' })
  const enc = new TextEncoder()
  const entries = [
    ...r.files.map((f) => ({ name: f.name, bytes: f.encoding === 'base64' ? Uint8Array.from(atob(f.content), (c) => c.charCodeAt(0)) : enc.encode(f.content) })),
    { name: 'manifest.json', bytes: enc.encode(JSON.stringify(r.manifest, null, 2) + '\n') },
  ]
  const zip = zipStored(entries)
  const url = URL.createObjectURL(new Blob([zip as Uint8Array<ArrayBuffer>], { type: 'application/zip' }))
  const a = document.createElement('a')
  a.href = url
  a.download = `study-${study.studyId.slice(2, 10)}-export-${r.manifest.exportNumber}.zip`
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
  const resources = Object.values(r.manifest.resources).reduce((n, c) => n + c, 0)
  const missing = p.hospitals.filter((h) => !h.answered).map((h) => h.name ?? h.hospital)
  return `Export ${r.manifest.exportNumber} of "${study.title}": ${r.manifest.patients} patient(s), ${resources} resources, k ${r.manifest.k}; ${r.files.length + 1} files saved as ${a.download} (manifest ${r.manifestHash.slice(0, 10)}…, on the ledger)${missing.length > 0 ? `; no answer from ${missing.join(', ')}` : ''}.`
}

export function ResearcherPortal({ me }: { me: Account; tab: string }) {
  const loaded = useLoad((signal) => api<{ studies: Study[] }>('/studies', { signal }), [])
  const action = useAction()
  const exporting = useAction()
  const [title, setTitle] = useState('')
  const [purpose, setPurpose] = useState('')
  const [minK, setMinK] = useState('')
  const propose = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      const study = await api<Study>('/studies', { method: 'POST', json: { title, purpose, ...(minK ? { minK: Number(minK) } : {}) } })
      setTitle(''); setPurpose(''); setMinK('')
      loaded.reload()
      return `"${study.title}" is proposed: the consortium admin approves or rejects it.`
    })
  }
  return (
    <section aria-labelledby="studies-title">
      <h2 id="studies-title">My studies</h2>
      <p className="lead">Your studies receive patients' records only de-identified, and only from patients who consent. Export an approved study with its <em>Export</em> button (a ZIP of the files and <code>manifest.json</code>) or with <code>medledger study export ID --out DIR</code>.</p>
      {me.status !== 'active' && <p className="empty">Your researcher account waits for confirmation by your hospital's staff.</p>}
      <form className="panel" aria-label="Propose a study" onSubmit={propose}>
        <Field label="Title">{(p) => <input {...p} value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={200} />}</Field>
        <Field label="Protocol" hint="Kept off the ledger; its SHA-256 goes on chain.">{(p) => <textarea {...p} value={purpose} onChange={(e) => setPurpose(e.target.value)} required maxLength={5000} rows={4} />}</Field>
        <Field label="Minimum k (optional)" hint="An export whose smallest group over birth year, sex and 3-digit ZIP is smaller is refused.">{(p) => <input {...p} type="number" min={1} max={1000} value={minK} onChange={(e) => setMinK(e.target.value)} />}</Field>
        <button type="submit" className="btn" disabled={action.busy || me.status !== 'active'}>Propose study</button>
      </form>
      <ActionStatus action={action} busyText="Registering the study on the ledger…" />
      <ActionStatus action={exporting} busyText="Asking the consenting patients' hospitals for their de-identified parts, then recording the export on the ledger…" />
      <LoadState loaded={loaded} what="studies">
        {({ studies }) => studies.length ? (
          <table>
            <thead><tr><th>Title</th><th>Status</th><th>Minimum k</th><th>Study id</th><th>Proposed</th><th><span className="sr-only">Export</span></th></tr></thead>
            <tbody>
              {studies.map((st) => (
                <tr key={st.studyId} data-study-id={st.studyId}>
                  <td>{st.title}</td>
                  <td><Badge tone={st.status === 'approved' ? 'ok' : st.status === 'rejected' ? 'bad' : 'warn'}>{st.status}</Badge></td>
                  <td>{st.minK ?? '—'}</td>
                  <td><code>{st.studyId}</code></td>
                  <td>{formatDateTime(st.createdAt)}</td>
                  <td>{st.status === 'approved' && (
                    <button type="button" className="btn" disabled={exporting.busy} aria-label={`Export "${st.title}"`} onClick={() => { void exporting.run(() => exportStudy(st)) }}>Export</button>
                  )}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <p className="empty">No study yet.</p>}
      </LoadState>
    </section>
  )
}
