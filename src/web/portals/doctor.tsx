// Doctors: the patients in their care (search), finding one patient by exact e-mail, a patient's
// records with integrity badges, uploads with progress, access requests and their state, break-glass.
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { api, ApiError, query } from '../api/client.ts'
import { uploadRecord } from '../api/upload-record.ts'
import type { AccessRequest, Account, Emergency, RecordView } from '../api/types.ts'
import { useAction, useLoad, type Loaded } from '../lib/use-load.ts'
import { navigate } from '../lib/router.ts'
import { formatBytes, formatDateTime, formatDays, relativeTime, shortHex, suiteNames } from '../lib/format.ts'
import { ActionStatus, ErrorMessage, Field, LoadState, Progress, StatusBadge, usePaged } from '../components/ui.tsx'
import { RecordList } from '../components/record-list.tsx'
import { EmergencyList } from '../components/emergency-list.tsx'

interface KnownPatient { id: string; name: string; email?: string; ownHospital: boolean; access: string[] }

export function DoctorPortal({ me, tab, rest }: { me: Account; tab: string; rest: string[] }) {
  switch (tab) {
    case 'requests': return <MyRequests />
    case 'emergencies': return <MyEmergencies />
    default: return rest[0] ? <PatientPage me={me} patientId={decodeURIComponent(rest[0])} /> : <Patients me={me} />
  }
}

/**
 * Patients in the doctor's care: those whose records they authored, who granted or shared records
 * to them, whom they asked (pending) or opened in an emergency. Others are found one at a time
 * by exact e-mail (FindPatient); the node never lists them.
 */
function usePatients(me: Account): Loaded<{ patients: KnownPatient[]; requests: AccessRequest[] }> {
  return useLoad(async (signal) => {
    const [{ users }, { requests }, { emergencies }] = await Promise.all([
      api<{ users: Account[] }>(`/users${query({ role: 'patient' })}`, { signal }),
      api<{ requests: AccessRequest[] }>('/access-requests', { signal }),
      api<{ emergencies: Emergency[] }>('/emergencies', { signal }),
    ])
    const byId = new Map<string, KnownPatient>()
    for (const u of users) byId.set(u.id, { id: u.id, name: u.name, email: u.email, ownHospital: u.hospitalId === me.hospitalId, access: [] })
    const add = (id: string, name: string, what: string) => {
      const p = byId.get(id) ?? { id, name, ownHospital: false, access: [] }
      if (!p.access.includes(what)) p.access.push(what)
      byId.set(id, p)
    }
    for (const r of requests) {
      if (r.status === 'approved' && r.expiresAt && new Date(r.expiresAt).getTime() > Date.now()) add(r.patient.id, r.patient.name, `granted until ${formatDateTime(r.expiresAt)}`)
      if (r.status === 'pending') add(r.patient.id, r.patient.name, 'request pending')
    }
    for (const e of emergencies) if (e.live) add(e.patient.id, e.patient.name, 'emergency access open')
    return { patients: [...byId.values()].sort((a, b) => a.name.localeCompare(b.name)), requests }
  }, [me.id])
}

function Patients({ me }: { me: Account }) {
  const loaded = usePatients(me)
  const [filter, setFilter] = useState('')
  return (
    <section aria-labelledby="patients-title">
      <h2 id="patients-title">Patients</h2>
      <Field label="Search patients">{(p) => <input {...p} type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="Name or e-mail" />}</Field>
      <LoadState loaded={loaded} what="patients">
        {({ patients }) => <PatientTable patients={patients.filter((p) => {
          const f = filter.trim().toLowerCase()
          return !f || p.name.toLowerCase().includes(f) || (p.email ?? '').toLowerCase().includes(f)
        })} filtered={Boolean(filter)} />}
      </LoadState>
      <FindPatient />
      <details className="card">
        <summary>Ask a patient of another hospital for access</summary>
        <RequestAccessForm onSent={loaded.reload} />
      </details>
      <BreakGlass onOpened={loaded.reload} />
    </section>
  )
}

function PatientTable({ patients, filtered }: { patients: KnownPatient[]; filtered: boolean }) {
  const { page, pager } = usePaged(patients, 100)
  if (!patients.length) return <p className="empty">{filtered ? 'No patient matches.' : 'No patient in your care yet. Find one by their exact e-mail below, then upload a report or ask for access.'}</p>
  return (
    <>
      <div className="table-wrap">
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">E-mail</th><th scope="col">Access</th><th scope="col"><span className="sr-only">Open</span></th></tr></thead>
          <tbody>
            {page.map((p) => (
              <tr key={p.id}>
                <td>{p.name}</td>
                <td>{p.email ?? <span className="hint">another hospital</span>}</td>
                <td>{[p.ownHospital ? 'your hospital' : undefined, ...p.access].filter(Boolean).join(' · ')}</td>
                <td><a className="btn" href={`/doctor/patients/${encodeURIComponent(p.id)}`} onClick={(e) => { e.preventDefault(); navigate(`/doctor/patients/${encodeURIComponent(p.id)}`) }} aria-label={`Open ${p.name}`}>Open</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pager}
    </>
  )
}

/** Finds ONE patient by exact e-mail: the node answers only their id and ledger address, enough to open their page, upload or ask. */
function FindPatient() {
  const [email, setEmail] = useState('')
  const action = useAction()
  const submit = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      // In a POST body, so the e-mail never lands in a URL.
      const found = await api<Pick<Account, 'id' | 'address'>>('/users/resolve', { method: 'POST', json: { ref: email.trim() } }).catch((err: unknown) => {
        if (err instanceof ApiError && err.code === 'UNKNOWN_ACCOUNT') throw new Error('No patient you may look up has that e-mail address.')
        throw err
      })
      navigate(`/doctor/patients/${encodeURIComponent(found.id)}`)
      return undefined
    })
  }
  return (
    <form className="card form" onSubmit={submit} aria-label="Find a patient">
      <h3>Find a patient</h3>
      <Field label="Patient's exact e-mail" hint="One patient at a time, by the exact address they gave: you then see their page, can upload a report (your hospital's patients) or ask for access.">
        {(p) => <input {...p} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" />}
      </Field>
      <button type="submit" className="btn" disabled={action.busy}>Find patient</button>
      <ActionStatus action={action} busyText="Looking up…" />
    </form>
  )
}

function PatientPage({ me, patientId }: { me: Account; patientId: string }) {
  const patients = usePatients(me)
  const [refresh, setRefresh] = useState(0)
  const [records, setRecords] = useState<RecordView[]>([])
  const known = patients.data?.patients.find((p) => p.id === patientId)
  const resolved = useLoad((signal) => known ? Promise.resolve(undefined) : api<Account>('/users/resolve', { method: 'POST', json: { ref: patientId }, signal }), [patientId, Boolean(known)])
  // A patient found by e-mail and not (yet) in the doctor's care comes with id and address only.
  const name = known?.name ?? resolved.data?.name ?? (resolved.data?.address ? `Patient ${shortHex(resolved.data.address, 4)}` : 'Patient')
  // Unknown hospital: offer the upload; the node accepts it only for the doctor's own hospital's patient.
  const ownHospital = known?.ownHospital ?? (resolved.data ? resolved.data.hospitalId === undefined || resolved.data.hospitalId === me.hospitalId : false)
  const requests = (patients.data?.requests ?? []).filter((r) => r.patient.id === patientId)
  const pending = requests.some((r) => r.status === 'pending')
  useEffect(() => {
    if (!pending) return
    const timer = setInterval(patients.reload, 5000)
    return () => clearInterval(timer)
  }, [pending, patients.reload])

  return (
    <section aria-labelledby="patient-title">
      <p><a href="/doctor/patients" onClick={(e) => { e.preventDefault(); navigate('/doctor/patients') }}>← All patients</a></p>
      <h2 id="patient-title">{name}</h2>
      {known?.email && <p className="hint">{known.email}{known.ownHospital ? ' · your hospital' : ''}</p>}
      <h3>Records</h3>
      <RecordList me={me} patientId={patientId} refreshKey={refresh} onLoaded={setRecords} onReadFailed={patients.reload} />
      <div className="grid-2 panels">
        {ownHospital && <UploadForm patientId={patientId} patientName={name} onUploaded={() => { setRefresh((n) => n + 1); patients.reload() }} />}
        <div className="card">
          <h3>Access requests to {name}</h3>
          {requests.length ? <RequestTable requests={requests} showPatient={false} /> : <p className="empty">You have not asked yet.</p>}
          {pending && <p className="hint" role="status">Waiting for the patient; this updates by itself.</p>}
          <RequestAccessForm patient={patientId} records={records} onSent={() => { patients.reload(); setRefresh((n) => n + 1) }} />
        </div>
      </div>
      <BreakGlass patientId={patientId} patientName={name} onOpened={() => { patients.reload(); setRefresh((n) => n + 1) }} />
    </section>
  )
}

const mediaTypes: Record<string, string> = {
  dcm: 'application/dicom', dicom: 'application/dicom', xml: 'application/xml', json: 'application/json', hl7: 'x-application/hl7-v2+er7',
  pdf: 'application/pdf', txt: 'text/plain', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp',
}

/** The browser's own media type for the file; by its extension when the browser has none. */
function mediaTypeOf(file: File): string {
  if (file.type) return file.type
  const ext = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase() ?? ''
  return mediaTypes[ext] ?? 'application/octet-stream'
}

interface UploadItem { name: string; size: number; sent: number; phase: 'waiting' | 'sending' | 'anchoring' | 'done' | 'failed'; error?: string; record?: RecordView }

function UploadForm({ patientId, patientName, onUploaded }: { patientId: string; patientName: string; onUploaded: () => void }) {
  const [files, setFiles] = useState<File[]>([])
  const [suite, setSuite] = useState('aes-256-gcm')
  const [items, setItems] = useState<UploadItem[]>([])
  const [busy, setBusy] = useState(false)
  const abort = useRef<AbortController | undefined>(undefined)
  const input = useRef<HTMLInputElement>(null)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (!files.length) return
    setBusy(true)
    const controller = new AbortController()
    abort.current = controller
    const list: UploadItem[] = files.map((f) => ({ name: f.name, size: f.size, sent: 0, phase: 'waiting' }))
    setItems(list)
    const update = (i: number, patch: Partial<UploadItem>) => setItems((cur) => cur.map((it, j) => (j === i ? { ...it, ...patch } : it)))
    for (const [i, file] of files.entries()) {
      if (controller.signal.aborted) { update(i, { phase: 'failed', error: 'Cancelled before sending; nothing was stored.' }); continue }
      update(i, { phase: 'sending' })
      try {
        const record = await uploadRecord({
          file, patient: patientId, suite, mediaType: mediaTypeOf(file), signal: controller.signal,
          onProgress: ({ sent, total }) => update(i, { sent, phase: sent >= total ? 'anchoring' : 'sending' }),
        })
        update(i, { phase: 'done', sent: file.size, record })
        onUploaded()
      } catch (err) {
        update(i, { phase: 'failed', error: (err as Error).message })
      }
    }
    setBusy(false)
    setFiles([])
    if (input.current) input.current.value = ''
  }

  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label={`Upload a report for ${patientName}`}>
      <h3>Upload a report</h3>
      <Field label="Files" hint="DICOM, C-CDA or FHIR documents, PDF, images, text: encrypted on the node before anything is stored.">
        {(p) => <input {...p} ref={input} type="file" multiple onChange={(e) => setFiles(Array.from(e.target.files ?? []))} disabled={busy} />}
      </Field>
      <Field label="Cipher suite">
        {(p) => (
          <select {...p} value={suite} onChange={(e) => setSuite(e.target.value)} disabled={busy}>
            {Object.entries(suiteNames).map(([v, n]) => <option key={v} value={v}>{n}{v === 'aes-256-gcm' ? ' (default)' : ''}</option>)}
          </select>
        )}
      </Field>
      <div className="row">
        <button type="submit" className="btn btn-primary" disabled={busy || !files.length}>Upload {files.length > 1 ? `${files.length} files` : ''}</button>
        {busy && <button type="button" className="btn" onClick={() => abort.current?.abort()}>Cancel</button>}
      </div>
      {items.length > 0 && (
        <ul className="uploads" aria-label="Uploads">
          {items.map((it, i) => (
            <li key={i} data-upload={it.name} data-phase={it.phase}>
              <Progress
                label={it.name}
                value={it.phase === 'waiting' ? 0 : it.phase === 'failed' ? it.sent / Math.max(1, it.size) : it.phase === 'sending' ? it.sent / Math.max(1, it.size) : 1}
                detail={{
                  waiting: 'waiting',
                  sending: `sending ${formatBytes(it.sent)} of ${formatBytes(it.size)}`,
                  anchoring: 'encrypted and sent; storing in IPFS and anchoring on the ledger…',
                  done: `stored and anchored${it.record?.blockNumber ? ` in block ${it.record.blockNumber}` : ''}`,
                  failed: 'failed',
                }[it.phase]}
              />
              <ErrorMessage>{it.error}</ErrorMessage>
            </li>
          ))}
        </ul>
      )}
    </form>
  )
}

function RequestAccessForm({ patient, records = [], onSent }: { patient?: string; records?: RecordView[]; onSent?: () => void }) {
  const [patientRef, setPatientRef] = useState('')
  const [scope, setScope] = useState<'all' | 'listed'>('all')
  const [chosen, setChosen] = useState<string[]>([])
  const [pasted, setPasted] = useState('')
  const [purpose, setPurpose] = useState('')
  const [days, setDays] = useState(30)
  const action = useAction()
  const submit = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      const listed = [...chosen, ...pasted.split(/[\s,]+/).filter(Boolean)]
      if (scope === 'listed' && !listed.length) throw new Error('Choose at least one record, or ask for all records.')
      const r = await api<AccessRequest>('/access-requests', {
        method: 'POST',
        json: { patient: patient ?? patientRef.trim(), purpose, days, ...(scope === 'listed' ? { recordIds: [...new Set(listed)] } : {}) },
      })
      setPurpose('')
      setChosen([])
      setPasted('')
      onSent?.()
      return `Request sent to ${r.patient.name}; they have been notified. It stays pending until they decide.`
    })
  }
  return (
    <form className="form" onSubmit={submit} aria-label="Request access">
      <h4>Request access</h4>
      {!patient && <Field label="Patient's e-mail, id or ledger address" hint="Exact, never a search: a patient of this node by e-mail, id or ledger address; a patient of another member hospital's node by their ledger address (0x…), which the patient can read on their account page.">{(p) => <input {...p} required maxLength={320} value={patientRef} onChange={(e) => setPatientRef(e.target.value)} spellCheck={false} autoComplete="off" />}</Field>}
      <fieldset className="choice">
        <legend>Records</legend>
        <label><input type="radio" name="scope" checked={scope === 'all'} onChange={() => setScope('all')} /> All records</label>
        <label><input type="radio" name="scope" checked={scope === 'listed'} onChange={() => setScope('listed')} /> Only some</label>
      </fieldset>
      {scope === 'listed' && (
        <>
          {records.length > 0 && (
            <fieldset className="checklist">
              <legend>Records you can see</legend>
              {records.map((r) => (
                <label key={r.recordId}><input type="checkbox" checked={chosen.includes(r.recordId)} onChange={(e) => setChosen(e.target.checked ? [...chosen, r.recordId] : chosen.filter((x) => x !== r.recordId))} /> {r.fileName}</label>
              ))}
            </fieldset>
          )}
          <Field label="Record ids" hint="One per line or separated by commas, as the patient or their hospital gave them.">{(p) => <textarea {...p} rows={2} value={pasted} onChange={(e) => setPasted(e.target.value)} spellCheck={false} />}</Field>
        </>
      )}
      <div className="grid-2">
        <Field label="Purpose" hint="Shown to the patient; kept off the ledger.">{(p) => <input {...p} required maxLength={500} value={purpose} onChange={(e) => setPurpose(e.target.value)} />}</Field>
        <Field label="Days">{(p) => <input {...p} type="number" required min={1} max={365} value={days} onChange={(e) => setDays(Number(e.target.value))} />}</Field>
      </div>
      <button type="submit" className="btn btn-primary" disabled={action.busy}>Send request</button>
      <ActionStatus action={action} busyText="Sending the request to the ledger…" />
    </form>
  )
}

/** Break-glass for a known patient, or (no `patientId`) for a patient named by e-mail. */
function BreakGlass({ patientId, patientName, onOpened }: { patientId?: string; patientName?: string; onOpened: () => void }) {
  const [open, setOpen] = useState(false)
  const [email, setEmail] = useState('')
  const [reason, setReason] = useState('')
  const [understood, setUnderstood] = useState(false)
  const action = useAction()
  const submit = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      const r = await api<Emergency>('/emergencies', { method: 'POST', json: { patient: patientId ?? email.trim(), reason } })
      setReason('')
      setUnderstood(false)
      onOpened()
      return `Emergency access open until ${formatDateTime(r.expiresAt)} (${r.records} record${r.records === 1 ? '' : 's'}). ${r.patient.name} has been told.`
    })
  }
  return (
    <section className="card breakglass" aria-labelledby="breakglass-title">
      <h3 id="breakglass-title">Emergency access (break-glass)</h3>
      {!open ? (
        <button type="button" className="btn btn-danger" onClick={() => setOpen(true)} aria-expanded={false}>Break the glass…</button>
      ) : (
        <form className="form" onSubmit={submit}>
          <div className="warning" role="note">
            <p><strong>Only when the patient cannot consent and care cannot wait.</strong></p>
            <p>This is written to the ledger <strong>before</strong> any key is released, with your identity. {patientName ?? 'The patient'} is notified at once, and the consortium admins review every emergency access.</p>
          </div>
          {!patientId && <Field label="Patient's e-mail" hint="Any hospital's patient.">{(p) => <input {...p} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" />}</Field>}
          <Field label="Reason" hint="Required. Shown to the patient and the reviewers.">{(p) => <textarea {...p} required maxLength={500} rows={3} value={reason} onChange={(e) => setReason(e.target.value)} />}</Field>
          <label className="check"><input type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.target.checked)} required /> I understand that this access is logged and that the patient is told.</label>
          <div className="row">
            <button type="submit" className="btn btn-danger" disabled={action.busy || !understood || !reason.trim()}>Open emergency access</button>
            <button type="button" className="btn" onClick={() => setOpen(false)} disabled={action.busy}>Cancel</button>
          </div>
        </form>
      )}
      <ActionStatus action={action} busyText="Declaring the emergency on the ledger, then releasing the keys…" />
    </section>
  )
}

export function RequestTable({ requests, showPatient = true }: { requests: AccessRequest[]; showPatient?: boolean }) {
  const { page, pager } = usePaged(requests)
  return (
    <>
      <div className="table-wrap">
        <table className="requests">
          <thead><tr>{showPatient && <th scope="col">Patient</th>}<th scope="col">Scope</th><th scope="col">Purpose</th><th scope="col">Status</th><th scope="col">Asked</th></tr></thead>
          <tbody>
            {page.map((r) => (
              <tr key={r.requestId} data-request-id={r.requestId} data-status={r.status}>
                {showPatient && <td>{r.patient.name}</td>}
                <td>{scopeText(r)} · {formatDays(r.durationSeconds)}</td>
                <td>{r.purpose}</td>
                <td><StatusBadge status={r.status} />{r.status === 'approved' && r.expiresAt ? <span className="hint"> until {formatDateTime(r.expiresAt)}</span> : null}{r.status === 'denied' && r.reason ? <span className="hint"> — {r.reason}</span> : null}</td>
                <td>{relativeTime(r.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pager}
    </>
  )
}

function scopeText(r: AccessRequest): string {
  const granted = r.grantedRecordIds
  if (r.status === 'approved' && granted) return `${granted.length} record${granted.length === 1 ? '' : 's'} granted`
  return r.recordIds ? `${r.recordIds.length} record${r.recordIds.length === 1 ? '' : 's'}` : 'all records'
}

function MyRequests() {
  const loaded = useLoad((signal) => api<{ requests: AccessRequest[] }>('/access-requests', { signal }), [])
  const pending = loaded.data?.requests.some((r) => r.status === 'pending')
  useEffect(() => {
    if (!pending) return
    const timer = setInterval(loaded.reload, 5000)
    return () => clearInterval(timer)
  }, [pending, loaded.reload])
  return (
    <section aria-labelledby="requests-title">
      <div className="section-head">
        <h2 id="requests-title">My access requests</h2>
        <button type="button" className="btn" onClick={loaded.reload}>Refresh</button>
      </div>
      <LoadState loaded={loaded} what="requests">
        {({ requests }) => requests.length ? <RequestTable requests={requests} /> : <p className="empty">You have not asked any patient for access yet.</p>}
      </LoadState>
    </section>
  )
}

function MyEmergencies() {
  const loaded = useLoad((signal) => api<{ emergencies: Emergency[] }>('/emergencies', { signal }), [])
  return (
    <section aria-labelledby="my-emergencies-title">
      <h2 id="my-emergencies-title">My emergency accesses</h2>
      <LoadState loaded={loaded} what="emergency accesses">{({ emergencies }) => <EmergencyList emergencies={emergencies} viewer="doctor" />}</LoadState>
    </section>
  )
}

