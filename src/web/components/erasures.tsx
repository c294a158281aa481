// Erasure requests (issue 13 item 3): a patient asks to erase one of their records, with a
// reason; the hospital's staff confirm (the record is crypto-shredded on every node) or reject.
import { useState, type FormEvent } from 'react'
import { api } from '../api/client.ts'
import type { RecordPage } from '../api/types.ts'
import { useAction, useLoad } from '../lib/use-load.ts'
import { formatDateTime, shortHex } from '../lib/format.ts'
import { ActionStatus, Field, LoadState, Mono, StatusBadge, usePaged } from './ui.tsx'

interface Erasure {
  erasureId: string
  recordId: string
  status: 'pending' | 'confirmed' | 'rejected'
  patient: { id: string; name: string; address: string }
  reason: string | null
  decisionReason: string | null
  createdAt: string
  decidedAt: string | null
}

/** The hospital's erasure requests: pending ones to decide, decided ones for the record. */
export function StaffErasures() {
  const loaded = useLoad((signal) => api<{ erasures: Erasure[] }>('/erasures', { signal }), [])
  const action = useAction()
  const [rejecting, setRejecting] = useState<string | undefined>()
  const [reason, setReason] = useState('')
  const confirm = (e: Erasure) => action.run(async () => {
    await api(`/erasures/${encodeURIComponent(e.erasureId)}/confirm`, { method: 'POST' })
    loaded.reload()
    return `The record of ${e.patient.name} is erased: its keys and blocks are destroyed on every node.`
  })
  const reject = (ev: FormEvent, e: Erasure) => {
    ev.preventDefault()
    void action.run(async () => {
      await api(`/erasures/${encodeURIComponent(e.erasureId)}/reject`, { method: 'POST', json: { reason } })
      setRejecting(undefined)
      setReason('')
      loaded.reload()
      return `The request of ${e.patient.name} was rejected; the record stays and the patient has been told.`
    })
  }
  return (
    <section aria-labelledby="erasures-title">
      <h2 id="erasures-title">Erasure requests</h2>
      <p className="lead">A patient may ask to erase one of their records. Confirm only where no retention duty applies: the record's keys and blocks are then destroyed on every node, for good.</p>
      <ActionStatus action={action} busyText="Recording the decision on the ledger…" />
      <LoadState loaded={loaded} what="erasure requests">
        {({ erasures }) => <ErasureList erasures={erasures} busy={action.busy} rejecting={rejecting} setRejecting={setRejecting} reason={reason} setReason={setReason} confirm={confirm} reject={reject} />}
      </LoadState>
    </section>
  )
}

interface ErasureListProps {
  erasures: Erasure[]
  busy: boolean
  rejecting: string | undefined
  setRejecting: (id: string | undefined) => void
  reason: string
  setReason: (r: string) => void
  confirm: (e: Erasure) => Promise<boolean>
  reject: (ev: FormEvent, e: Erasure) => void
}

function ErasureList({ erasures, busy, rejecting, setRejecting, reason, setReason, confirm, reject }: ErasureListProps) {
  const { page, pager } = usePaged(erasures)
  if (!erasures.length) return <p className="empty">No erasure request.</p>
  return (
    <>
      <ul className="cards" aria-label="Erasure requests">
        {page.map((e) => (
          <li key={e.erasureId} className="card" data-erasure-id={e.erasureId}>
            <div className="card-head">
              <div>
                <h3>{e.patient.name} <StatusBadge status={e.status} /></h3>
                <p className="hint">Record <span title={e.recordId}><Mono>{shortHex(e.recordId)}</Mono></span> · asked {formatDateTime(e.createdAt)}{e.decidedAt ? ` · decided ${formatDateTime(e.decidedAt)}` : ''}</p>
                {e.reason && <p>Reason: {e.reason}</p>}
                {e.decisionReason && <p>Rejected because: {e.decisionReason}</p>}
              </div>
              {e.status === 'pending' && (
                <div className="row">
                  <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void confirm(e)} aria-label={`Confirm the erasure for ${e.patient.name}`}>Confirm erasure</button>
                  <button type="button" className="btn" disabled={busy} aria-expanded={rejecting === e.erasureId} onClick={() => setRejecting(rejecting === e.erasureId ? undefined : e.erasureId)} aria-label={`Reject the erasure for ${e.patient.name}`}>Reject…</button>
                </div>
              )}
            </div>
            {rejecting === e.erasureId && (
              <form className="form inline-form" onSubmit={(ev) => reject(ev, e)}>
                <Field label="Reason for rejecting" hint="The patient is told that the request was rejected; the reason stays on this node, only its keyed hash goes on the ledger.">
                  {(p) => <textarea {...p} required maxLength={500} rows={2} value={reason} onChange={(ev) => setReason(ev.target.value)} />}
                </Field>
                <button type="submit" className="btn btn-primary" disabled={busy || !reason.trim()}>Reject request</button>
              </form>
            )}
          </li>
        ))}
      </ul>
      {pager}
    </>
  )
}

/** The patient's side: ask to erase one of their records, and follow the requests made. */
export function PatientErasures() {
  const records = useLoad((signal) => api<RecordPage>('/records?limit=1000', { signal }), [])
  const mine = useLoad((signal) => api<{ erasures: Erasure[] }>('/erasures', { signal }), [])
  const action = useAction()
  const [recordId, setRecordId] = useState('')
  const [reason, setReason] = useState('')
  const submit = (ev: FormEvent) => {
    ev.preventDefault()
    void action.run(async () => {
      const name = records.data?.records.find((r) => r.recordId === recordId)?.fileName ?? 'the record'
      await api(`/records/${encodeURIComponent(recordId)}/erasure`, { method: 'POST', json: { reason } })
      setRecordId('')
      setReason('')
      mine.reload()
      return `Your hospital was asked to erase ${name}. It reads as before until they decide.`
    })
  }
  return (
    <section aria-labelledby="erase-title">
      <h3 id="erase-title">Erasing a record</h3>
      <p className="lead">You may ask your hospital to erase one of your records. They decide, because of their medical retention duties; once they confirm, the record can no longer be read by anyone.</p>
      <ActionStatus action={action} busyText="Recording your request on the ledger…" />
      <form className="form" onSubmit={submit}>
        <Field label="Record to erase">
          {(p) => (
            <select {...p} required value={recordId} onChange={(ev) => setRecordId(ev.target.value)}>
              <option value="">Choose a record</option>
              {records.data?.records.map((r) => <option key={r.recordId} value={r.recordId}>{r.fileName} ({formatDateTime(r.created)})</option>)}
            </select>
          )}
        </Field>
        <Field label="Reason" hint="Your hospital sees it; it stays on this node, only its keyed hash goes on the ledger.">
          {(p) => <textarea {...p} required maxLength={500} rows={2} value={reason} onChange={(ev) => setReason(ev.target.value)} />}
        </Field>
        <button type="submit" className="btn btn-danger" disabled={action.busy || !recordId || !reason.trim()}>Ask to erase</button>
      </form>
      <LoadState loaded={mine} what="erasure requests">
        {({ erasures }) => erasures.length === 0 ? null : (
          <ul className="cards" aria-label="My erasure requests">
            {erasures.map((e) => (
              <li key={e.erasureId} className="card" data-erasure-id={e.erasureId}>
                <p>Record <span title={e.recordId}><Mono>{shortHex(e.recordId)}</Mono></span> <StatusBadge status={e.status} /></p>
                <p className="hint">Asked {formatDateTime(e.createdAt)}{e.decidedAt ? ` · decided ${formatDateTime(e.decidedAt)}` : ''}</p>
              </li>
            ))}
          </ul>
        )}
      </LoadState>
    </section>
  )
}
