// The consortium admin: doctors to confirm, hospitals, emergencies to review, the audit
// trail, node status.
import { useEffect, useState, type FormEvent } from 'react'
import { api, query } from '../api/client.ts'
import type { Account, AuditEntry, Emergency, Hospital, NodeStatus, QuarantinedEvent } from '../api/types.ts'
import { useAction, useLoad } from '../lib/use-load.ts'
import { formatBytes, formatDateTime, shortHex } from '../lib/format.ts'
import { ActionStatus, Badge, Field, LoadState, Mono, StatusBadge } from '../components/ui.tsx'
import { EmergencyList } from '../components/emergency-list.tsx'
import { AddAccountForm, PendingDoctors } from '../components/account-forms.tsx'
import { AuditTimeline } from '../components/audit-timeline.tsx'
import { AdmissionVotes } from '../components/consortium.tsx'
import { Recoveries } from '../components/recoveries.tsx'

export function AdminPortal({ me, tab }: { me: Account; tab: string }) {
  switch (tab) {
    case 'hospitals': return <Hospitals me={me} />
    case 'emergencies': return <Emergencies />
    case 'audit': return <AuditSearch />
    case 'status': return <Status />
    case 'recoveries': return <Recoveries me={me} />
    default: return <PendingDoctors />
  }
}

function Hospitals({ me }: { me: Account }) {
  const loaded = useLoad((signal) => api<{ hospitals: Hospital[] }>('/hospitals', { signal }), [])
  const action = useAction()
  const [name, setName] = useState('')
  const [keyScheme, setKeyScheme] = useState('x25519-hpke')
  const [staffFor, setStaffFor] = useState<string | undefined>()
  const admit = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      const h = await api<Hospital>('/hospitals', { method: 'POST', json: { name, keyScheme } })
      setName('')
      loaded.reload()
      return h.status === 'proposed'
        ? `${h.name} is proposed: the member hospitals' staff now vote on its admission.`
        : `${h.name} is admitted: its ledger identity and emergency key are registered.`
    })
  }
  return (
    <section aria-labelledby="hospitals-title">
      <h2 id="hospitals-title">Hospitals</h2>
      <form className="card form" onSubmit={admit} aria-label="Admit a hospital">
        <h3>Admit a hospital</h3>
        <p className="hint">While the consortium has one member the hospital joins at once; after that, the members vote.</p>
        <div className="grid-2">
          <Field label="Hospital name">{(p) => <input {...p} required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
          <Field label="Emergency key scheme">
            {(p) => (
              <select {...p} value={keyScheme} onChange={(e) => setKeyScheme(e.target.value)}>
                <option value="x25519-hpke">X25519 HPKE (default)</option>
                <option value="rsa-oaep-4096">RSA-OAEP-4096</option>
              </select>
            )}
          </Field>
        </div>
        <button type="submit" className="btn btn-primary" disabled={action.busy}>Admit hospital</button>
        <ActionStatus action={action} busyText="Creating the hospital's keys and registering it on the ledger…" />
      </form>
      <LoadState loaded={loaded} what="hospitals">
        {({ hospitals }) => hospitals.length === 0 ? <p className="empty">No hospital yet.</p> : (
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Hospitals of the consortium</caption>
              <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Id (for sign-up)</th><th scope="col">Ledger address</th><th scope="col">Since</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
              <tbody>
                {hospitals.map((h) => (
                  <tr key={h.id} data-hospital-id={h.id}>
                    <td>{h.name}</td>
                    <td>{h.status === 'proposed' ? <Badge tone="info">admission vote in progress</Badge> : <StatusBadge status={h.status} />}</td>
                    <td><Mono>{h.id}</Mono></td>
                    <td><span title={h.address}><Mono>{shortHex(h.address)}</Mono></span></td>
                    <td>{formatDateTime(h.createdAt)}</td>
                    <td>{h.status === 'active' && <button type="button" className="btn" aria-expanded={staffFor === h.id} onClick={() => setStaffFor(staffFor === h.id ? undefined : h.id)}>Add staff…</button>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </LoadState>
      {staffFor && <AddAccountForm key={staffFor} role="staff" hospitalId={staffFor} hospitalName={loaded.data?.hospitals.find((h) => h.id === staffFor)?.name} />}
      <AdmitApplicant onDone={loaded.reload} />
      <AdmissionVotes key={loaded.data?.hospitals.length} canVote={me.hospitalId !== null} />
    </section>
  )
}

/** A hospital that applied from its own node (`medledger start --registry`): admitted, or put to the members' vote. */
function AdmitApplicant({ onDone }: { onDone: () => void }) {
  const action = useAction()
  const [address, setAddress] = useState('')
  const [name, setName] = useState('')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      const r = await api<{ address: string; name: string; admitted: boolean }>('/hospitals/admit', { method: 'POST', json: { address: address.trim(), name } })
      setAddress('')
      setName('')
      onDone()
      return r.admitted ? `${r.name} is admitted: its node leaves read-only mode.` : `${r.name} is proposed: the member hospitals' staff now vote on its admission.`
    })
  }
  return (
    <form className="card form" onSubmit={submit} aria-label="Admit a joining node's hospital">
      <h3>Admit a hospital that applied from its own node</h3>
      <p className="hint">Its node shows its ledger address while it waits for admission (and <code>medledger status</code> prints it).</p>
      <div className="grid-2">
        <Field label="Its ledger address">{(p) => <input {...p} required pattern="0x[0-9a-fA-F]{40}" value={address} onChange={(e) => setAddress(e.target.value)} spellCheck={false} autoComplete="off" />}</Field>
        <Field label="Its name">{(p) => <input {...p} required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
      </div>
      <button type="submit" className="btn btn-primary" disabled={action.busy}>Admit or propose</button>
      <ActionStatus action={action} busyText="Checking its application on the ledger…" />
    </form>
  )
}

function Emergencies() {
  const loaded = useLoad((signal) => api<{ emergencies: Emergency[] }>('/emergencies', { signal }), [])
  return (
    <section aria-labelledby="emergencies-title">
      <h2 id="emergencies-title">Emergency accesses to review</h2>
      <p className="lead">Every break-glass access: who opened which patient's records, why, and for how long. The patient has been told of each.</p>
      <LoadState loaded={loaded} what="emergency accesses">
        {({ emergencies }) => <EmergencyList emergencies={emergencies} />}
      </LoadState>
    </section>
  )
}

function AuditSearch() {
  const [by, setBy] = useState<'patient' | 'record'>('patient')
  const [ref, setRef] = useState('')
  const [actor, setActor] = useState('')
  const [result, setResult] = useState<{ entries: AuditEntry[]; title: string } | undefined>()
  const action = useAction()
  const search = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      let q: string
      let title: string
      if (by === 'patient') {
        // Resolved in a POST body first, so no e-mail ever lands in a URL.
        const patient = await api<Account>('/users/resolve', { method: 'POST', json: { ref: ref.trim() } })
        q = query({ patient: patient.id })
        title = `${patient.name} (${patient.email})`
      } else {
        q = query({ record: ref.trim() })
        title = `record ${shortHex(ref.trim())}`
      }
      const r = await api<{ entries: AuditEntry[] }>(`/audit${q}`)
      setResult({ entries: r.entries, title })
      return `${r.entries.length} event${r.entries.length === 1 ? '' : 's'} on the ledger for ${title}.`
    })
  }
  const needle = actor.trim().toLowerCase()
  const shown = result?.entries.filter((e) => !needle || (e.actor.name ?? '').toLowerCase().includes(needle) || e.actor.address.toLowerCase().includes(needle))
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit trail</h2>
      <form className="card form" onSubmit={search} aria-label="Search the audit trail">
        <fieldset className="choice">
          <legend>Search by</legend>
          <label><input type="radio" name="by" checked={by === 'patient'} onChange={() => setBy('patient')} /> Patient</label>
          <label><input type="radio" name="by" checked={by === 'record'} onChange={() => setBy('record')} /> Record</label>
        </fieldset>
        <div className="grid-2">
          <Field label={by === 'patient' ? 'Patient e-mail, id or ledger address' : 'Record id'}>
            {(p) => <input {...p} required value={ref} onChange={(e) => setRef(e.target.value)} spellCheck={false} autoComplete="off" />}
          </Field>
          <Field label="Only actions by (name or address)" hint="Optional; filters the results.">
            {(p) => <input {...p} value={actor} onChange={(e) => setActor(e.target.value)} autoComplete="off" />}
          </Field>
        </div>
        <button type="submit" className="btn btn-primary" disabled={action.busy}>Search</button>
        <ActionStatus action={action} busyText="Reading the ledger's events…" />
      </form>
      {shown && <AuditTimeline entries={shown} />}
    </section>
  )
}

function Status() {
  const loaded = useLoad((signal) => api<NodeStatus>('/status', { signal, anonymous: true }), [])
  useEffect(() => {
    const timer = setInterval(loaded.reload, 15_000)
    return () => clearInterval(timer)
  }, [loaded.reload])
  return (
    <section aria-labelledby="status-title">
      <div className="section-head">
        <h2 id="status-title">Node status</h2>
        <button type="button" className="btn" onClick={loaded.reload} disabled={loaded.loading}>Refresh</button>
      </div>
      <LoadState loaded={loaded} what="the node's status">
        {(s) => (
          <>
            <div className="stats">
              <Stat label="Chain id" value={String(s.chainId)} />
              <Stat label="Block height" value={s.blockNumber.toLocaleString()} />
              <Stat label="Records stored" value={s.records.toLocaleString()} />
              <Stat label="IPFS storage used" value={s.ipfsBytes === undefined ? '—' : formatBytes(s.ipfsBytes)} />
              <Stat label="Journal backlog" value={String(s.journalBacklog)} tone={s.journalBacklog > 0 ? 'warn' : undefined} hint={s.journalBacklog > 0 ? 'Transactions signed but not yet mined' : 'Every transaction is mined'} />
              <Stat label="Hospitals · accounts" value={`${s.hospitals} · ${s.accounts}`} />
              {s.follow && <Stat label="Ledger follower" value={s.follow.lagBlocks === 0 ? 'at the head' : `${s.follow.lagBlocks} blocks behind`} tone={s.follow.error ? 'warn' : undefined} hint={s.follow.error ?? `Applied up to block ${s.follow.lastBlock.toLocaleString()}`} />}
              <Stat label="Quarantined events" value={String(s.quarantinedEvents ?? 0)} tone={(s.quarantinedEvents ?? 0) > 0 ? 'warn' : undefined} hint={(s.quarantinedEvents ?? 0) > 0 ? 'Ledger events set aside, listed below' : 'Every ledger event was applied'} />
            </div>
            {(s.quarantinedEvents ?? 0) > 0 && <Quarantine count={s.quarantinedEvents!} />}
            <dl className="proof card">
              <dt>Chain RPC</dt><dd><Mono>{s.chainRpc}</Mono></dd>
              <dt>Registry</dt><dd><Mono>{s.contracts.registry}</Mono></dd>
              <dt>RecordLedger</dt><dd><Mono>{s.contracts.recordLedger}</Mono></dd>
              <dt>Consent</dt><dd><Mono>{s.contracts.consent}</Mono></dd>
              <dt>Version</dt><dd>{s.version}</dd>
            </dl>
          </>
        )}
      </LoadState>
    </section>
  )
}

/** The ledger events the follower set aside: where each was mined and why, for the operator. */
function Quarantine({ count }: { count: number }) {
  const loaded = useLoad((signal) => api<{ events: QuarantinedEvent[] }>('/status/quarantine', { signal }), [count])
  return (
    <section aria-labelledby="quarantine-title" className="card">
      <h3 id="quarantine-title">Quarantined ledger events</h3>
      <p className="hint">Events this node could not apply. The follower skipped them and kept up with the chain; each is retried in the background until it applies or the node gives up on it.</p>
      <LoadState loaded={loaded} what="the quarantined events">
        {({ events }) => (
          <div className="table-wrap">
          <table>
            <thead><tr><th scope="col">Block</th><th scope="col">Event</th><th scope="col">Transaction</th><th scope="col">Reason</th><th scope="col">Attempts</th><th scope="col">Next attempt</th></tr></thead>
            <tbody>
              {events.map((e) => (
                <tr key={`${e.txHash}:${e.logIndex}`} data-quarantined={e.eventName}>
                  <td>{e.blockNumber.toLocaleString()}</td>
                  <td>{e.contract}.{e.eventName} <span className="hint">log {e.logIndex}</span></td>
                  <td><Mono>{shortHex(e.txHash)}</Mono></td>
                  <td>{e.reason}</td>
                  <td>{e.attempts}</td>
                  <td>{e.nextAttemptAt ? formatDateTime(e.nextAttemptAt) : 'given up'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        )}
      </LoadState>
    </section>
  )
}

function Stat({ label, value, hint, tone }: { label: string; value: string; hint?: string; tone?: 'warn' }) {
  return (
    <div className={`stat card${tone ? ` stat-${tone}` : ''}`}>
      <p className="stat-label">{label}</p>
      <p className="stat-value">{value}</p>
      {hint && <p className="hint">{hint}</p>}
    </div>
  )
}
