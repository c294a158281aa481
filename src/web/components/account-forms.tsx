// Creating accounts (admin: staff; staff: doctors and patients) and confirming signed-up doctors.
import { useState, type FormEvent } from 'react'
import { api } from '../api/client.ts'
import type { Account, Hospital } from '../api/types.ts'
import { useAction, useLoad } from '../lib/use-load.ts'
import { formatDateTime } from '../lib/format.ts'
import { ActionStatus, Field, LoadState, SecretOnce, usePaged } from './ui.tsx'

/** Creates an account through POST /users; shows its recovery code once. */
export function AddAccountForm({ role, hospitalId, hospitalName, onCreated }: { role: 'staff' | 'doctor' | 'patient'; hospitalId?: string; hospitalName?: string; onCreated?: () => void }) {
  const action = useAction()
  const [created, setCreated] = useState<{ account: Account; recoveryCode: string } | undefined>()
  const [form, setForm] = useState({ name: '', email: '', password: '', keyScheme: 'x25519-hpke' })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      const r = await api<{ account: Account; recoveryCode: string }>('/users', { method: 'POST', json: { role, hospital: hospitalId, ...form } })
      setCreated(r)
      setForm({ name: '', email: '', password: '', keyScheme: form.keyScheme })
      onCreated?.()
      return `${r.account.name} was added and registered on the ledger.`
    })
  }
  const noun = role === 'staff' ? 'staff member' : role
  return (
    <form className="card form" onSubmit={submit} aria-label={`Add a ${noun}`}>
      <h3>Add a {noun}{hospitalName ? ` to ${hospitalName}` : ''}</h3>
      <div className="grid-2">
        <Field label="Full name">{(p) => <input {...p} required maxLength={200} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} autoComplete="off" />}</Field>
        <Field label="E-mail">{(p) => <input {...p} type="email" required maxLength={320} value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} autoComplete="off" />}</Field>
        <Field label="Initial password" hint="At least 12 characters. Hand it over safely; the person can set their own with the recovery code.">
          {(p) => <input {...p} type="password" required minLength={12} value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} autoComplete="new-password" />}
        </Field>
        <Field label="Key-wrap scheme">
          {(p) => (
            <select {...p} value={form.keyScheme} onChange={(e) => setForm({ ...form, keyScheme: e.target.value })}>
              <option value="x25519-hpke">X25519 HPKE (default)</option>
              <option value="rsa-oaep-4096">RSA-OAEP-4096</option>
            </select>
          )}
        </Field>
      </div>
      <button type="submit" className="btn btn-primary" disabled={action.busy}>Add {noun}</button>
      <ActionStatus action={action} busyText="Creating the keys and registering the account on the ledger…" />
      {created && (
        <SecretOnce title={`Recovery code for ${created.account.email}`} secret={created.recoveryCode} onDismiss={() => setCreated(undefined)}>
          <p>Give this code to {created.account.name} with the password. It re-opens the account if the password is forgotten.</p>
        </SecretOnce>
      )}
    </form>
  )
}

/** Doctors who signed up and wait for confirmation: confirm, or reject with a reason. */
export function PendingDoctors() {
  const loaded = useLoad((signal) => Promise.all([
    api<{ doctors: Account[] }>('/doctors/pending', { signal }),
    api<{ hospitals: Hospital[] }>('/hospitals', { signal }),
  ]), [])
  const action = useAction()
  const [rejecting, setRejecting] = useState<string | undefined>()
  const [reason, setReason] = useState('')
  const confirm = (d: Account) => action.run(async () => {
    await api(`/doctors/${encodeURIComponent(d.id)}/confirm`, { method: 'POST' })
    loaded.reload()
    return `${d.name} is confirmed: they can now upload records and ask patients for access.`
  })
  const reject = (e: FormEvent, d: Account) => {
    e.preventDefault()
    void action.run(async () => {
      await api(`/doctors/${encodeURIComponent(d.id)}/reject`, { method: 'POST', json: { reason } })
      setRejecting(undefined)
      setReason('')
      loaded.reload()
      return `${d.name}'s registration was rejected; they have been told.`
    })
  }
  return (
    <section aria-labelledby="pending-title">
      <h2 id="pending-title">Doctors waiting for confirmation</h2>
      <p className="lead">A signed-up doctor can sign in but do nothing clinical until confirmed. Check the licence number before confirming.</p>
      <ActionStatus action={action} busyText="Recording the decision on the ledger…" />
      <LoadState loaded={loaded} what="sign-ups">
        {([{ doctors }, { hospitals }]) => <PendingTable doctors={doctors} hospitals={hospitals} busy={action.busy} rejecting={rejecting} setRejecting={setRejecting} reason={reason} setReason={setReason} confirm={confirm} reject={reject} />}
      </LoadState>
    </section>
  )
}

interface PendingTableProps {
  doctors: Account[]
  hospitals: Hospital[]
  busy: boolean
  rejecting: string | undefined
  setRejecting: (id: string | undefined) => void
  reason: string
  setReason: (r: string) => void
  confirm: (d: Account) => Promise<boolean>
  reject: (e: FormEvent, d: Account) => void
}

function PendingTable({ doctors, hospitals, busy, rejecting, setRejecting, reason, setReason, confirm, reject }: PendingTableProps) {
  const { page, pager } = usePaged(doctors)
  if (!doctors.length) return <p className="empty">No sign-up is waiting.</p>
  const hospitalName = (id: string | null) => hospitals.find((h) => h.id === id)?.name ?? '—'
  return (
    <>
      <ul className="cards">
        {page.map((d) => (
          <li key={d.id} className="card" data-doctor-email={d.email}>
            <div className="card-head">
              <div>
                <h3>{d.name}</h3>
                <p className="hint">{d.email} · {hospitalName(d.hospitalId)} · signed up {formatDateTime(d.createdAt)}</p>
                <p>Licence: <strong>{d.licence || 'not given'}</strong></p>
              </div>
              <div className="row">
                <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void confirm(d)} aria-label={`Confirm ${d.name}`}>Confirm</button>
                <button type="button" className="btn" disabled={busy} aria-expanded={rejecting === d.id} onClick={() => setRejecting(rejecting === d.id ? undefined : d.id)} aria-label={`Reject ${d.name}`}>Reject…</button>
              </div>
            </div>
            {rejecting === d.id && (
              <form className="form inline-form" onSubmit={(e) => reject(e, d)}>
                <Field label="Reason for rejecting" hint="The doctor is told that they were rejected; the reason stays on this node, never on the ledger.">
                  {(p) => <textarea {...p} required maxLength={500} rows={2} value={reason} onChange={(e) => setReason(e.target.value)} />}
                </Field>
                <button type="submit" className="btn btn-danger" disabled={busy || !reason.trim()}>Reject registration</button>
              </form>
            )}
          </li>
        ))}
      </ul>
      {pager}
    </>
  )
}
