// Patients: my records (viewed in the page, downloadable), access requests (approve — possibly
// narrower — or deny), grants (revoke), research studies (consent, withdraw), sharing (named or
// by share code), who accessed what.
import { useMemo, useState, type FormEvent } from 'react'
import { api } from '../api/client.ts'
import type { AccessRequest, Account, AuditEntry, Emergency, RecordPage, RecordView, Share } from '../api/types.ts'
import { useAction, useLoad } from '../lib/use-load.ts'
import { formatDateTime, formatDays, relativeTime } from '../lib/format.ts'
import { ActionStatus, Badge, Field, LoadState, SecretOnce, StatusBadge, usePaged } from '../components/ui.tsx'
import { RecordList } from '../components/record-list.tsx'
import { AuditTimeline } from '../components/audit-timeline.tsx'
import { EmergencyList } from '../components/emergency-list.tsx'
import { PatientCareTeams } from '../components/care-teams.tsx'
import { PatientErasures } from '../components/erasures.tsx'

export function PatientPortal({ me, tab }: { me: Account; tab: string }) {
  switch (tab) {
    case 'requests': return <Requests me={me} />
    case 'sharing': return <Sharing />
    case 'teams': return <PatientCareTeams />
    case 'activity': return <Activity me={me} />
    default: return (
      <section aria-labelledby="records-title">
        <h2 id="records-title">My records</h2>
        <p className="lead">Each record is encrypted, stored in IPFS and anchored on the ledger. Opening one re-checks it against its anchor.</p>
        <RecordList me={me} />
        <PatientErasures />
      </section>
    )
  }
}

/** All of my records (for pickers), across pages. */
function useAllRecords() {
  return useLoad(async (signal) => {
    const all: RecordView[] = []
    for (let offset = 0; ; offset += 1000) {
      const page = await api<RecordPage>(`/records?limit=1000&offset=${offset}`, { signal })
      all.push(...page.records)
      if (all.length >= page.total || !page.records.length) return all
    }
  }, [])
}

function Requests({ me }: { me: Account }) {
  const loaded = useLoad((signal) => api<{ requests: AccessRequest[] }>('/access-requests', { signal }), [])
  const records = useAllRecords()
  const action = useAction()
  const [offer, setOffer] = useState<RekeyOfferProps['offer']>()
  const revoked = (r: AccessRequest) => {
    loaded.reload()
    // The doctor keeps the data keys they already unwrapped: offer to re-key what the grant covered.
    const ids = r.grantedRecordIds ?? (records.data ?? []).map((x) => x.recordId)
    if (ids.length) setOffer({ doctor: r.requester.name, recordIds: ids })
  }
  const closeOffer = () => {
    setOffer(undefined)
    records.reload()
  }
  return (
    <section aria-labelledby="requests-title">
      <h2 id="requests-title">Access to my records</h2>
      <ActionStatus action={action} busyText="Recording your decision on the ledger…" />
      {offer && (
        <RekeyOffer offer={offer} action={action} onDone={closeOffer} />
      )}
      <LoadState loaded={loaded} what="requests">
        {({ requests }) => {
          const now = Date.now()
          const pending = requests.filter((r) => r.status === 'pending')
          const active = requests.filter((r) => r.status === 'approved' && r.expiresAt && new Date(r.expiresAt).getTime() > now)
          const past = requests.filter((r) => !pending.includes(r) && !active.includes(r))
          return (
            <>
              <h3>Waiting for your decision</h3>
              {pending.length ? (
                <ul className="cards">
                  {pending.map((r) => <PendingRequest key={r.requestId} request={r} records={records.data ?? []} action={action} onDecided={loaded.reload} />)}
                </ul>
              ) : <p className="empty">No request is waiting.</p>}
              <h3>Who has access now</h3>
              {active.length ? (
                <ul className="cards">
                  {active.map((r) => <ActiveGrant key={r.requestId} request={r} action={action} onRevoked={() => revoked(r)} records={records.data ?? []} />)}
                </ul>
              ) : <p className="empty">Nobody has access through a request right now.</p>}
              <h3>Earlier requests</h3>
              {past.length ? <PastRequests requests={past} /> : <p className="empty">None.</p>}
            </>
          )
        }}
      </LoadState>
      <ResearchStudies me={me} />
    </section>
  )
}

/** An approved research study as GET /studies shows it to a patient. */
interface Study { studyId: string; title: string; researcher: { name: string }; consent: 'given' | 'withdrawn' | null }

/** Approved studies: consent to one, or to all of my hospital's (de-identified use of my records, on the ledger), or withdraw. */
function ResearchStudies({ me }: { me: Account }) {
  const loaded = useLoad((signal) => api<{ studies: Study[]; hospitalConsent: 'given' | 'withdrawn' | null }>('/studies', { signal }), [])
  const action = useAction()
  const decideAll = (give: boolean) => void action.run(async () => {
    await api(`/hospitals/${encodeURIComponent(me.hospitalId ?? '')}/research-${give ? 'consent' : 'withdraw'}`, { method: 'POST' })
    loaded.reload()
    return give
      ? 'You consent to every approved study of your hospital\'s researchers, present and future; you can still withdraw from any one.'
      : 'You withdrew your consent to your hospital\'s studies; the studies you consented to one by one stay.'
  })
  const decide = (study: Study, give: boolean) => void action.run(async () => {
    await api(`/studies/${encodeURIComponent(study.studyId)}/${give ? 'consent' : 'withdraw'}`, { method: 'POST' })
    loaded.reload()
    return give
      ? `You consent to "${study.title}": its exports include your records, de-identified.`
      : `You withdrew from "${study.title}": its next export leaves your records out.`
  })
  return (
    <>
      <h3 id="research-title">Research studies</h3>
      <p className="lead">An approved study receives your records only de-identified (no name, address, contact, identifier or full date), and only while you consent. Your consent and its withdrawal are recorded on the ledger.</p>
      <ActionStatus action={action} busyText="Recording your choice on the ledger…" />
      <LoadState loaded={loaded} what="studies">
        {({ studies, hospitalConsent }) => (<>
          <p className="row">
            {hospitalConsent === 'given'
              ? <button type="button" className="btn btn-danger" onClick={() => decideAll(false)} disabled={action.busy}>Withdraw from all of my hospital's studies</button>
              : <button type="button" className="btn" onClick={() => decideAll(true)} disabled={action.busy || !me.hospitalId}>Consent to all of my hospital's studies</button>}
          </p>
          {studies.length ? (
          <ul className="cards" aria-labelledby="research-title">
            {studies.map((st) => (
              <li key={st.studyId} className="card" data-study-id={st.studyId}>
                <div className="card-head">
                  <div>
                    <h4>{st.title}</h4>
                    <p>by {st.researcher.name} · {st.consent === 'given' ? 'you consent' : st.consent === 'withdrawn' ? 'you withdrew' : 'no consent'}</p>
                  </div>
                  <div className="row">
                    {st.consent === 'given'
                      ? <button type="button" className="btn btn-danger" onClick={() => decide(st, false)} disabled={action.busy}>Withdraw</button>
                      : <button type="button" className="btn" onClick={() => decide(st, true)} disabled={action.busy}>Consent</button>}
                  </div>
                </div>
              </li>
            ))}
          </ul>
          ) : <p className="empty">No approved study.</p>}
        </>)}
      </LoadState>
    </>
  )
}

function PendingRequest({ request: r, records, action, onDecided }: { request: AccessRequest; records: RecordView[]; action: ReturnType<typeof useAction>; onDecided: () => void }) {
  const requestedDays = Math.max(1, Math.round(r.durationSeconds / 86_400))
  const offered = r.recordIds ? records.filter((x) => r.recordIds!.includes(x.recordId)) : records
  const [mode, setMode] = useState<'approve' | 'deny' | undefined>()
  const [days, setDays] = useState(requestedDays)
  const [narrow, setNarrow] = useState(false)
  const [chosen, setChosen] = useState<string[]>([])
  const [reason, setReason] = useState('')
  const approve = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      if (narrow && !chosen.length) throw new Error('Choose at least one record, or deny the request.')
      const done = await api<AccessRequest>(`/access-requests/${encodeURIComponent(r.requestId)}/approve`, {
        method: 'POST', json: { days, ...(narrow ? { recordIds: chosen } : {}) },
      })
      onDecided()
      return `Approved: ${r.requester.name} can read ${narrow ? `${chosen.length} record${chosen.length === 1 ? '' : 's'}` : r.recordIds ? 'the records asked for' : 'your records'} until ${formatDateTime(done.expiresAt)}.`
    })
  }
  const deny = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      await api(`/access-requests/${encodeURIComponent(r.requestId)}/deny`, { method: 'POST', json: { reason } })
      onDecided()
      return `Denied. ${r.requester.name} has been told.`
    })
  }
  return (
    <li className="card request" data-request-id={r.requestId}>
      <div className="card-head">
        <div>
          <h4>{r.requester.name} asks to read {r.recordIds ? `${r.recordIds.length} of your records` : 'all your records'}</h4>
          <p>Purpose: <strong>{r.purpose}</strong> · for {formatDays(r.durationSeconds)} · asked {relativeTime(r.createdAt)}</p>
        </div>
        <div className="row">
          <button type="button" className="btn btn-primary" aria-expanded={mode === 'approve'} onClick={() => setMode(mode === 'approve' ? undefined : 'approve')}>Approve…</button>
          <button type="button" className="btn" aria-expanded={mode === 'deny'} onClick={() => setMode(mode === 'deny' ? undefined : 'deny')}>Deny…</button>
        </div>
      </div>
      {mode === 'approve' && (
        <form className="form inline-form" onSubmit={approve} aria-label={`Approve ${r.requester.name}'s request`}>
          <Field label="Days of access" hint={`Asked for ${requestedDays}; you may give fewer.`}>
            {(p) => <input {...p} type="number" min={1} max={requestedDays} required value={days} onChange={(e) => setDays(Number(e.target.value))} />}
          </Field>
          <label className="check"><input type="checkbox" checked={narrow} onChange={(e) => { setNarrow(e.target.checked); setChosen(offered.map((x) => x.recordId)) }} /> Only some of the records</label>
          {narrow && (
            <fieldset className="checklist">
              <legend>Records to open</legend>
              {offered.length === 0 && <p className="hint">No record to choose from.</p>}
              {offered.map((x) => (
                <label key={x.recordId}><input type="checkbox" checked={chosen.includes(x.recordId)} onChange={(e) => setChosen(e.target.checked ? [...chosen, x.recordId] : chosen.filter((id) => id !== x.recordId))} /> {x.fileName} <span className="hint">({formatDateTime(x.created)})</span></label>
              ))}
            </fieldset>
          )}
          <button type="submit" className="btn btn-primary" disabled={action.busy}>Approve access</button>
        </form>
      )}
      {mode === 'deny' && (
        <form className="form inline-form" onSubmit={deny} aria-label={`Deny ${r.requester.name}'s request`}>
          <Field label="Reason" hint="Sent to the doctor; kept off the ledger.">{(p) => <textarea {...p} required maxLength={500} rows={2} value={reason} onChange={(e) => setReason(e.target.value)} />}</Field>
          <button type="submit" className="btn btn-danger" disabled={action.busy || !reason.trim()}>Deny request</button>
        </form>
      )}
    </li>
  )
}

interface RekeyOfferProps {
  offer: { doctor: string; recordIds: string[] }
  /** The tab's action: its outcome stays on the page once the offer is gone. */
  action: ReturnType<typeof useAction>
  onDone: () => void
}

/**
 * After a revocation: the doctor may still hold the data keys of the records they read. Re-keying
 * (POST /records/:id/rekey) re-encrypts each under a new key wrapped only for whoever may read it
 * now, and every node drops the old version, so those keys open nothing any node still serves.
 */
function RekeyOffer({ offer, action, onDone }: RekeyOfferProps) {
  const n = offer.recordIds.length
  const rekey = () => void action.run(async () => {
    for (const id of offer.recordIds) await api(`/records/${encodeURIComponent(id)}/rekey`, { method: 'POST' })
    onDone()
    return `Re-keyed ${n} record${n === 1 ? '' : 's'}: ${offer.doctor}'s old keys open nothing any hospital still keeps.`
  })
  return (
    <div className="msg msg-warn banner rekey-offer" role="region" aria-label="Re-key after revoking">
      <p>{offer.doctor} may still hold the keys of the {n === 1 ? 'record' : `${n} records`} they could open. Re-key {n === 1 ? 'it' : 'them'} so those keys open nothing: each is encrypted again under a new key, for whoever may read it now, and the old copies are deleted on the node of every hospital.</p>
      <div className="row">
        <button type="button" className="btn btn-primary" onClick={rekey} disabled={action.busy}>Re-key {n === 1 ? 'the record' : `${n} records`}</button>
        <button type="button" className="btn" onClick={onDone} disabled={action.busy}>Not now</button>
      </div>
    </div>
  )
}

function ActiveGrant({ request: r, records, action, onRevoked }: { request: AccessRequest; records: RecordView[]; action: ReturnType<typeof useAction>; onRevoked: () => void }) {
  const [confirming, setConfirming] = useState(false)
  const names = r.grantedRecordIds?.map((id) => records.find((x) => x.recordId === id)?.fileName ?? id.slice(0, 10))
  const revoke = () => void action.run(async () => {
    await api(`/access-requests/${encodeURIComponent(r.requestId)}/revoke`, { method: 'POST' })
    onRevoked()
    return `${r.requester.name} can no longer open your records. What was already read stays in the audit trail.`
  })
  return (
    <li className="card grant" data-request-id={r.requestId}>
      <div className="card-head">
        <div>
          <h4>{r.requester.name}</h4>
          <p>{names ? names.join(', ') : 'All your records'} · until {formatDateTime(r.expiresAt)} ({relativeTime(r.expiresAt)}) · purpose: {r.purpose}</p>
        </div>
        <div className="row">
          {!confirming && <button type="button" className="btn btn-danger" onClick={() => setConfirming(true)}>Revoke…</button>}
          {confirming && (
            <>
              <button type="button" className="btn btn-danger" onClick={revoke} disabled={action.busy}>Revoke now</button>
              <button type="button" className="btn" onClick={() => setConfirming(false)}>Keep</button>
            </>
          )}
        </div>
      </div>
    </li>
  )
}

function PastRequests({ requests }: { requests: AccessRequest[] }) {
  const { page, pager } = usePaged(requests)
  return (
    <>
      <div className="table-wrap">
        <table>
          <thead><tr><th scope="col">Doctor</th><th scope="col">Purpose</th><th scope="col">Status</th><th scope="col">Decided</th></tr></thead>
          <tbody>
            {page.map((r) => (
              <tr key={r.requestId} data-status={r.status}>
                <td>{r.requester.name}</td><td>{r.purpose}</td>
                <td><StatusBadge status={r.status} />{r.reason ? <span className="hint"> — {r.reason}</span> : null}</td>
                <td>{formatDateTime(r.decidedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pager}
    </>
  )
}

function Sharing() {
  const shares = useLoad((signal) => api<{ shares: Share[] }>('/shares', { signal }), [])
  const records = useAllRecords()
  const create = useAction()
  const revoke = useAction()
  const [form, setForm] = useState({ to: 'token' as 'token' | 'person', email: '', days: 7, once: false })
  const [chosen, setChosen] = useState<string[]>([])
  const [created, setCreated] = useState<{ text: string } | undefined>()

  const submit = (e: FormEvent) => {
    e.preventDefault()
    void create.run(async () => {
      if (!chosen.length) throw new Error('Choose at least one record to share.')
      const s = await api<Share>('/shares', {
        method: 'POST',
        json: { recordIds: chosen, days: form.days, once: form.once, ...(form.to === 'token' ? { token: true } : { to: form.email.trim() }) },
      })
      shares.reload()
      setChosen([])
      if (s.token) {
        // The record ids may go in the link; the share code never does.
        const link = `${location.origin}/shared?records=${s.recordIds.join(',')}`
        setCreated({ text: `Open ${link}\nand enter this share code: ${s.token}` })
        return 'Share created. Copy the link and code now: the code is not shown again.'
      }
      return `Shared with ${s.grantee?.name ?? form.email} until ${formatDateTime(s.expiresAt)}.`
    })
  }
  const end = (s: Share) => void revoke.run(async () => {
    await api(`/shares/${encodeURIComponent(s.shareId)}/revoke`, { method: 'POST' })
    shares.reload()
    return 'The share is revoked.'
  })
  const names = useMemo(() => new Map((records.data ?? []).map((r) => [r.recordId, r.fileName])), [records.data])
  return (
    <section aria-labelledby="sharing-title">
      <h2 id="sharing-title">Sharing</h2>
      <form className="card form" onSubmit={submit} aria-label="Share records">
        <h3>Share records</h3>
        <LoadState loaded={records} what="your records">
          {(list) => list.length === 0 ? <p className="empty">You have no record to share yet.</p> : (
            <fieldset className="checklist">
              <legend>Records</legend>
              {list.map((r) => (
                <label key={r.recordId}><input type="checkbox" checked={chosen.includes(r.recordId)} onChange={(e) => setChosen(e.target.checked ? [...chosen, r.recordId] : chosen.filter((x) => x !== r.recordId))} /> {r.fileName} <span className="hint">({formatDateTime(r.created)})</span></label>
              ))}
            </fieldset>
          )}
        </LoadState>
        <fieldset className="choice">
          <legend>With</legend>
          <label><input type="radio" name="to" checked={form.to === 'token'} onChange={() => setForm({ ...form, to: 'token' })} /> Anyone I give a share link and code to</label>
          <label><input type="radio" name="to" checked={form.to === 'person'} onChange={() => setForm({ ...form, to: 'person' })} /> Someone with a MedLedger account</label>
        </fieldset>
        {form.to === 'person' && <Field label="Their e-mail">{(p) => <input {...p} type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} autoComplete="off" />}</Field>}
        <div className="grid-2">
          <Field label="Days">{(p) => <input {...p} type="number" min={1} max={365} required value={form.days} onChange={(e) => setForm({ ...form, days: Number(e.target.value) })} />}</Field>
        </div>
        <label className="check"><input type="checkbox" checked={form.once} onChange={(e) => setForm({ ...form, once: e.target.checked })} /> Single use: the share ends after one read</label>
        <button type="submit" className="btn btn-primary" disabled={create.busy}>Create share</button>
        <ActionStatus action={create} busyText="Wrapping the keys and recording the share on the ledger…" />
        {created && <SecretOnce title="Share link and code" secret={created.text} onDismiss={() => setCreated(undefined)}><p>Send the link and the code by different channels if you can. Anyone with both can open the records until the share ends.</p></SecretOnce>}
      </form>
      <h3>My shares</h3>
      <ActionStatus action={revoke} busyText="Revoking on the ledger…" />
      <LoadState loaded={shares} what="shares">
        {({ shares: list }) => <ShareTable shares={list} names={names} onRevoke={end} busy={revoke.busy} />}
      </LoadState>
    </section>
  )
}

function ShareTable({ shares, names, onRevoke, busy }: { shares: Share[]; names: Map<string, string>; onRevoke: (s: Share) => void; busy: boolean }) {
  const { page, pager } = usePaged(shares)
  if (!shares.length) return <p className="empty">You have not shared anything.</p>
  return (
    <>
      <div className="table-wrap">
        <table>
          <thead><tr><th scope="col">Records</th><th scope="col">With</th><th scope="col">Until</th><th scope="col">State</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {page.map((s) => (
              <tr key={s.shareId} data-share-id={s.shareId}>
                <td>{s.recordIds.map((id) => names.get(id) ?? id.slice(0, 10)).join(', ')}</td>
                <td>{s.byToken ? `share code${s.once ? ' (single use)' : ''}` : s.grantee?.name ?? '—'}</td>
                <td>{formatDateTime(s.expiresAt)}</td>
                <td>{s.revoked ? <StatusBadge status="revoked" /> : s.live ? <Badge tone="ok">live</Badge> : s.used ? <Badge tone="neutral">used</Badge> : <StatusBadge status="expired" />}</td>
                <td>{s.live && !s.revoked && <button type="button" className="btn btn-danger" disabled={busy} onClick={() => onRevoke(s)}>Revoke</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pager}
    </>
  )
}

function Activity({ me }: { me: Account }) {
  const loaded = useLoad((signal) => Promise.all([
    api<{ entries: AuditEntry[] }>(`/audit?patient=${encodeURIComponent(me.id)}`, { signal }),
    api<{ emergencies: Emergency[] }>('/emergencies', { signal }),
  ]), [me.id])
  const records = useAllRecords()
  const names = useMemo(() => Object.fromEntries((records.data ?? []).map((r) => [r.recordId.toLowerCase(), r.fileName])), [records.data])
  return (
    <section aria-labelledby="activity-title">
      <div className="section-head">
        <h2 id="activity-title">Who accessed my records</h2>
        <button type="button" className="btn" onClick={loaded.reload}>Refresh</button>
      </div>
      <p className="lead">Read from the ledger, where no hospital can erase it. Emergency accesses are highlighted.</p>
      <LoadState loaded={loaded} what="the audit trail">
        {([{ entries }, { emergencies }]) => (
          <>
            {emergencies.length > 0 && (
              <>
                <h3>Emergency accesses</h3>
                <EmergencyList emergencies={emergencies} viewer="patient" />
              </>
            )}
            <h3>Timeline</h3>
            <AuditTimeline entries={entries} recordNames={names} />
          </>
        )}
      </LoadState>
    </section>
  )
}
