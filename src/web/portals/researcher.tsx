// Researchers: propose studies (the consortium admin approves them) and follow them; exports are
// made with `medledger study export ID --out DIR`, which writes the de-identified files.
import { useState, type FormEvent } from 'react'
import { api } from '../api/client.ts'
import type { Account } from '../api/types.ts'
import { useAction, useLoad } from '../lib/use-load.ts'
import { formatDateTime } from '../lib/format.ts'
import { ActionStatus, Badge, Field, LoadState } from '../components/ui.tsx'

/** A study as GET /studies shows it to its researcher. */
interface Study { studyId: string; title: string; purpose?: string; minK: number | null; status: 'proposed' | 'approved' | 'rejected'; createdAt: string }

export function ResearcherPortal({ me }: { me: Account; tab: string }) {
  const loaded = useLoad((signal) => api<{ studies: Study[] }>('/studies', { signal }), [])
  const action = useAction()
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
      <p className="lead">Your studies receive patients' records only de-identified, and only from patients who consent. Export an approved study with <code>medledger study export ID --out DIR</code>.</p>
      {me.status !== 'active' && <p className="empty">Your researcher account waits for confirmation by your hospital's staff.</p>}
      <form className="panel" aria-label="Propose a study" onSubmit={propose}>
        <Field label="Title">{(p) => <input {...p} value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={200} />}</Field>
        <Field label="Protocol" hint="Kept off the ledger; its SHA-256 goes on chain.">{(p) => <textarea {...p} value={purpose} onChange={(e) => setPurpose(e.target.value)} required maxLength={5000} rows={4} />}</Field>
        <Field label="Minimum k (optional)" hint="An export whose smallest group over birth year, sex and 3-digit ZIP is smaller is refused.">{(p) => <input {...p} type="number" min={1} max={1000} value={minK} onChange={(e) => setMinK(e.target.value)} />}</Field>
        <button type="submit" className="btn" disabled={action.busy || me.status !== 'active'}>Propose study</button>
      </form>
      <ActionStatus action={action} busyText="Registering the study on the ledger…" />
      <LoadState loaded={loaded} what="studies">
        {({ studies }) => studies.length ? (
          <table>
            <thead><tr><th>Title</th><th>Status</th><th>Minimum k</th><th>Study id</th><th>Proposed</th></tr></thead>
            <tbody>
              {studies.map((st) => (
                <tr key={st.studyId} data-study-id={st.studyId}>
                  <td>{st.title}</td>
                  <td><Badge tone={st.status === 'approved' ? 'ok' : st.status === 'rejected' ? 'bad' : 'warn'}>{st.status}</Badge></td>
                  <td>{st.minK ?? '—'}</td>
                  <td><code>{st.studyId}</code></td>
                  <td>{formatDateTime(st.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <p className="empty">No study yet.</p>}
      </LoadState>
    </section>
  )
}
