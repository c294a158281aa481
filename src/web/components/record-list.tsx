// A patient's records: paged from the node, each with an integrity badge (POST /verify), its
// ledger proof, and the in-page viewer.
import { Fragment, useEffect, useRef, useState } from 'react'
import { api, query, describeError } from '../api/client.ts'
import type { Account, RecordPage, RecordView, VerifyResult } from '../api/types.ts'
import { useLoad } from '../lib/use-load.ts'
import { formatBytes, formatDateTime, shortHex, suiteNames } from '../lib/format.ts'
import { RecordViewer } from '../viewers/record-viewer.tsx'
import { FhirView } from './fhir-view.tsx'
import { Badge, LoadState, Mono, Pager } from './ui.tsx'

const pageSize = 50

type Integrity = { state: 'checking' } | { state: 'ok' } | { state: 'bad'; problem: string } | { state: 'on-open' } | { state: 'error'; message: string }

export interface RecordListProps {
  me: Account
  /** For a doctor: the patient whose records to list. A patient lists their own. */
  patientId?: string
  /** Bumped by the parent to reload (after an upload). */
  refreshKey?: number
  /** Called with each loaded page (for pickers elsewhere on the page). */
  onLoaded?: (records: RecordView[]) => void
  /** Called when opening a record fails (access revoked or expired, say). */
  onReadFailed?: () => void
}

/** The record list with its search box above it: a new search starts again at the first page. */
export function RecordList(props: RecordListProps) {
  const [q, setQ] = useState('')
  return (
    <>
      <RecordSearch onSearch={setQ} />
      <RecordTable key={q} {...props} q={q} />
    </>
  )
}

/** The search box over a record list: every word must match, words of 3+ letters as prefixes (README "Search"). */
function RecordSearch({ onSearch }: { onSearch: (q: string) => void }) {
  const [text, setText] = useState('')
  return (
    <form className="record-search" role="search" onSubmit={(e) => { e.preventDefault(); onSearch(text.trim()) }}>
      <label htmlFor="record-search-q">Search records</label>
      <input id="record-search-q" type="search" name="q" value={text} maxLength={500} placeholder="diab, CT, cholesterol…" onChange={(e) => setText(e.target.value)} />
      <button type="submit">Search</button>
    </form>
  )
}

function RecordTable({ me, patientId, refreshKey = 0, onLoaded, onReadFailed, q }: RecordListProps & { q: string }) {
  const [offset, setOffset] = useState(0)
  const loaded = useLoad((signal) => api<RecordPage>(`/records${query({ patient: patientId, q, limit: pageSize, offset })}`, { signal }), [patientId, offset, refreshKey, q])
  const [integrity, setIntegrity] = useState<Record<string, Integrity>>({})
  const [open, setOpen] = useState<RecordView | undefined>()
  const [proof, setProof] = useState<string | undefined>()
  const [fhir, setFhir] = useState<string | undefined>()
  const viewerRef = useRef<HTMLDivElement>(null)

  const records = loaded.data?.records
  useEffect(() => {
    if (!records) return
    onLoaded?.(records)
    // The node verifies what is in the caller's scope: a patient's own records, a doctor's own
    // uploads. Records opened by a grant are checked when they are read.
    const mine = records.filter((r) => !r.problem && (me.role === 'patient' || r.author.id === me.id)).map((r) => r.recordId)
    const initial: Record<string, Integrity> = {}
    for (const r of records) initial[r.recordId] = r.problem ? { state: 'bad', problem: r.problem } : mine.includes(r.recordId) ? { state: 'checking' } : { state: 'on-open' }
    setIntegrity(initial)
    if (!mine.length) return
    const controller = new AbortController()
    api<VerifyResult>('/verify', { method: 'POST', json: { recordIds: mine }, signal: controller.signal }).then(
      (res) => setIntegrity((cur) => {
        const next = { ...cur }
        for (const item of res.results) next[item.recordId] = item.ok ? { state: 'ok' } : { state: 'bad', problem: item.problem ?? 'RECORD_INTEGRITY' }
        return next
      }),
      (err: unknown) => {
        if (controller.signal.aborted) return
        setIntegrity((cur) => Object.fromEntries(Object.entries(cur).map(([id, v]) => [id, v.state === 'checking' ? { state: 'error', message: describeError(err) } : v])))
      },
    )
    return () => controller.abort()
  }, [records])

  useEffect(() => {
    if (open) viewerRef.current?.scrollIntoView({ block: 'start' })
  }, [open])

  return (
    <LoadState loaded={loaded} what="records">
      {(page) => page.total === 0 ? <p className="empty">{q ? `No record matches “${q}”.` : 'No records yet.'}</p> : (
        <>
          <div className="table-wrap">
            <table className="records">
              <caption className="sr-only">Records, newest first</caption>
              <thead>
                <tr><th scope="col">File</th><th scope="col">Uploaded</th><th scope="col">By</th><th scope="col">Size</th><th scope="col">Integrity</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
              </thead>
              <tbody>
                {page.records.map((r) => (
                  <Fragment key={r.recordId}>
                    <tr className={open?.recordId === r.recordId ? 'selected' : undefined} data-record-id={r.recordId}>
                      <td><span className="file-name">{r.fileName || '(unreadable)'}</span><br /><span className="hint">{r.mediaType}</span></td>
                      <td>{formatDateTime(r.created || r.anchoredAt)}</td>
                      <td>{r.author.name}</td>
                      <td>{formatBytes(r.size)}</td>
                      <td><IntegrityBadge value={integrity[r.recordId]} /></td>
                      <td className="actions">
                        <button type="button" className="btn btn-primary" onClick={() => setOpen(r)} disabled={Boolean(r.problem)} aria-label={`View ${r.fileName}`}>View</button>
                        <button type="button" className="btn" aria-expanded={proof === r.recordId} onClick={() => setProof(proof === r.recordId ? undefined : r.recordId)} aria-label={`Ledger proof of ${r.fileName}`}>Proof</button>
                        <button type="button" className="btn" aria-expanded={fhir === r.recordId} onClick={() => setFhir(fhir === r.recordId ? undefined : r.recordId)} aria-label={`FHIR view of ${r.fileName}`}>FHIR</button>
                      </td>
                    </tr>
                    {proof === r.recordId && (
                      <tr className="proof-row"><td colSpan={6}><LedgerProof record={r} /></td></tr>
                    )}
                    {fhir === r.recordId && (
                      <tr className="fhir-row"><td colSpan={6}><FhirView recordId={r.recordId} /></td></tr>
                    )}
                  </Fragment>
                ))}
              </tbody>
            </table>
          </div>
          <Pager offset={page.offset} limit={page.limit} total={page.total} onChange={setOffset} />
          <div ref={viewerRef}>
            {open && <RecordViewer key={open.recordId} record={open} onClose={() => setOpen(undefined)} onFailed={onReadFailed} />}
          </div>
        </>
      )}
    </LoadState>
  )
}

function IntegrityBadge({ value }: { value: Integrity | undefined }) {
  if (!value || value.state === 'checking') return <Badge tone="neutral">Checking…</Badge>
  if (value.state === 'ok') return <Badge tone="ok" title="Every stored block hashes to the digest anchored on the ledger.">✓ Intact</Badge>
  if (value.state === 'on-open') return <Badge tone="info" title="Your access comes from the patient; the node re-checks every block against the ledger when you open it.">Checked when opened</Badge>
  if (value.state === 'error') return <Badge tone="warn" title={value.message}>Not checked</Badge>
  return <Badge tone="bad" title={value.problem}>✗ {value.problem === 'RECORD_UNAVAILABLE' ? 'Blocks missing' : 'Does not match the ledger'}</Badge>
}

/** What the ledger says about a record: enough for anyone to re-check it. */
export function LedgerProof({ record: r }: { record: RecordView }) {
  return (
    <dl className="proof">
      <dt>Record id</dt><dd><Mono>{r.recordId}</Mono></dd>
      <dt>IPFS CID</dt><dd><Mono>{r.cid}</Mono></dd>
      <dt>Anchored digest</dt><dd><Mono>{r.digest}</Mono></dd>
      <dt>Envelopes CID</dt><dd><Mono>{r.envelopesCid}</Mono></dd>
      <dt>Transaction</dt><dd><Mono>{r.txHash ?? '—'}</Mono></dd>
      <dt>Block</dt><dd>{r.blockNumber ?? '—'}{r.anchoredAt ? ` · ${formatDateTime(r.anchoredAt)}` : ''}</dd>
      <dt>Cipher suite</dt><dd>{suiteNames[r.suite] ?? r.suite} · {formatBytes(r.storedBytes)} stored</dd>
      <dt>Content SHA-256</dt><dd><Mono>{r.sha256 || '—'}</Mono></dd>
      <dt>Patient</dt><dd>{r.patient.name} <span className="hint" title={r.patient.address}>{shortHex(r.patient.address)}</span></dd>
    </dl>
  )
}

