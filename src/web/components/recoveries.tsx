// Recovery of a patient who lost every secret (issue 13 item 4): staff of the patient's hospital,
// having verified the patient in person, start it and hand over the one-time code; a second staff
// member or the admin approves. The code lives only in this component's state: never in storage,
// never in a URL, gone once hidden or when the page is left.
import { useState, type FormEvent } from 'react'
import { api, ApiError, query } from '../api/client.ts'
import type { Account } from '../api/types.ts'
import { useAction, useLoad } from '../lib/use-load.ts'
import { formatDateTime, shortHex } from '../lib/format.ts'
import { ActionStatus, Field, LoadState, Mono, SecretOnce, StatusBadge, usePaged } from './ui.tsx'

interface Recovery {
  recoveryId: string
  patientId: string
  patientName: string
  oldAddress: string
  newAddress: string
  state: 'proposed' | 'approved'
  proposedBy: string
  proposedByName: string | null
  approvedBy: string | null
  approvedByName: string | null
  rewrapped: number | null
  notRewrapped: number | null
  createdAt: string
  approvedAt: string | null
}

/** The API's refusals of a recovery, in words that say what to do next. */
const readable: Record<string, string> = {
  RECOVERY_NOT_PENDING: 'This recovery is already approved, perhaps by someone else a moment ago. The list now shows its state.',
  UNKNOWN_PATIENT: 'No active patient of your hospital has that e-mail or id. Check it against the patient list.',
  FORBIDDEN: 'You may not do this: a recovery is started by staff of the patient\'s hospital, and approved by a second staff member of that hospital or the consortium admin, never by the one who started it.',
  NOT_FOUND: 'This recovery is not known on this node.',
}

function explain(err: unknown): never {
  if (err instanceof ApiError && readable[err.code]) throw new Error(readable[err.code])
  throw err
}

/** Staff: start a recovery and approve others'. The admin: every recovery, and approve. */
export function Recoveries({ me }: { me: Account }) {
  const loaded = useLoad((signal) => api<{ recoveries: Recovery[] }>('/recoveries', { signal }), [])
  return (
    <section aria-labelledby="recoveries-title">
      <h2 id="recoveries-title">Account recoveries</h2>
      <p className="lead">For a patient who lost both their password and their recovery code. The patient must come in person: check an official identity document before you start. The patient then gets a one-time code from you, which sets a new password once a second person approves: another staff member of the hospital or the consortium admin.</p>
      {me.role === 'staff'
        ? <StartRecovery onStarted={loaded.reload} />
        : <p className="hint">Staff of the patient's hospital start a recovery after verifying the patient in person; you may approve it.</p>}
      <h3 id="recovery-list-title">Recoveries</h3>
      <LoadState loaded={loaded} what="recoveries">
        {({ recoveries }) => <RecoveryList me={me} recoveries={recoveries} reload={loaded.reload} />}
      </LoadState>
    </section>
  )
}

function StartRecovery({ onStarted }: { onStarted: () => void }) {
  const patients = useLoad((signal) => api<{ users: Account[] }>(`/users${query({ role: 'patient' })}`, { signal }), [])
  const action = useAction()
  const [form, setForm] = useState({ patient: '', verifiedById: '', inPerson: false })
  const [issued, setIssued] = useState<{ name: string; code: string } | undefined>()
  const submit = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      const r = await api<{ recovery: { recoveryId: string; patientId: string }; code: string }>('/recoveries', { method: 'POST', json: { patient: form.patient.trim(), verifiedById: form.verifiedById } }).catch(explain)
      const name = patients.data?.users.find((u) => u.id === r.recovery.patientId)?.name ?? form.patient.trim()
      setIssued({ name, code: r.code })
      setForm({ patient: '', verifiedById: '', inPerson: false })
      onStarted()
      return `The recovery of ${name} is proposed on the ledger. It waits for a second person's approval.`
    })
  }
  const active = patients.data?.users.filter((u) => u.status === 'active') ?? []
  return (
    <>
      <form className="card form" onSubmit={submit} aria-label="Start a recovery">
        <h3>Start a recovery</h3>
        <Field label="Patient" hint="E-mail or id of one of your hospital's patients; start typing to pick from the list.">
          {(p) => <input {...p} required maxLength={200} list="recovery-patients" autoComplete="off" spellCheck={false} value={form.patient} onChange={(e) => setForm({ ...form, patient: e.target.value })} />}
        </Field>
        <datalist id="recovery-patients">
          {active.map((u) => <option key={u.id} value={u.email}>{u.name}</option>)}
        </datalist>
        <Field label="Verified by ID" hint="How you verified the patient in person, e.g. the kind of document you checked. It stays on this node; only its keyed hash goes on the ledger.">
          {(p) => <textarea {...p} required maxLength={200} rows={2} value={form.verifiedById} onChange={(e) => setForm({ ...form, verifiedById: e.target.value })} />}
        </Field>
        <label className="check"><input type="checkbox" required checked={form.inPerson} onChange={(e) => setForm({ ...form, inPerson: e.target.checked })} /> The patient is here in person and I checked their identity document</label>
        <button type="submit" className="btn btn-primary" disabled={action.busy || !form.inPerson || !form.patient.trim() || !form.verifiedById.trim()}>Start recovery</button>
        <ActionStatus action={action} busyText="Making the patient's new keys and proposing them on the ledger…" />
      </form>
      {issued && (
        <SecretOnce title={`One-time code for ${issued.name}`} secret={issued.code} onDismiss={() => { setIssued(undefined); action.clear() }}>
          <p className="msg msg-warn" role="note">Hand this code to the patient in person, now. Never e-mail, message or phone it. It opens nothing until a second staff member or the consortium admin approves the recovery; then the patient uses it on the sign-in page (<em>Forgot your password?</em>) to set a new password.</p>
        </SecretOnce>
      )}
    </>
  )
}

function RecoveryList({ me, recoveries, reload }: { me: Account; recoveries: Recovery[]; reload: () => void }) {
  const { page, pager } = usePaged(recoveries)
  const action = useAction()
  const [confirming, setConfirming] = useState<string | undefined>()
  const approve = (r: Recovery) => action.run(async () => {
    try {
      const done = await api<Recovery>(`/recoveries/${encodeURIComponent(r.recoveryId)}/approve`, { method: 'POST' }).catch(explain)
      const split = done.notRewrapped ? ` ${done.notRewrapped} record(s) with a split key open once enough member hospitals have released their shares.` : ''
      return `The recovery of ${r.patientName} is approved: ${done.rewrapped ?? 0} record(s) re-wrapped for the new key, the old key retired on the ledger.${split}`
    } finally {
      setConfirming(undefined)
      reload()
    }
  })
  if (!recoveries.length) return <p className="empty">No recovery.</p>
  return (
    <>
      <ActionStatus action={action} busyText="Re-wrapping the patient's records for the new key and recording the approval on the ledger…" />
      <ul className="cards" aria-labelledby="recovery-list-title">
        {page.map((r) => (
          <li key={r.recoveryId} className="card" data-recovery-id={r.recoveryId}>
            <div className="card-head">
              <div>
                <h4>{r.patientName} <StatusBadge status={r.state} /></h4>
                <p className="hint">Started {formatDateTime(r.createdAt)} by {r.proposedByName ?? 'the patient\'s home node'}{r.approvedAt ? ` · approved ${formatDateTime(r.approvedAt)} by ${r.approvedByName ?? 'the patient\'s home node'}` : ''}</p>
                <p className="hint">Ledger address <span title={r.oldAddress}><Mono>{shortHex(r.oldAddress)}</Mono></span> → <span title={r.newAddress}><Mono>{shortHex(r.newAddress)}</Mono></span></p>
                {r.state === 'approved' && <p>Re-wrapped: {r.rewrapped ?? 0} · Not re-wrapped (key split into shares): {r.notRewrapped ?? 0}</p>}
                {r.state === 'approved' && Boolean(r.notRewrapped) && <p className="hint">The patient reads those once enough member hospitals have released their shares for the new key; each release is in the patient's trail.</p>}
              </div>
              {r.state === 'proposed' && <ApproveControl me={me} r={r} busy={action.busy} confirming={confirming === r.recoveryId} setConfirming={setConfirming} approve={approve} />}
            </div>
          </li>
        ))}
      </ul>
      {pager}
    </>
  )
}

interface ApproveControlProps {
  me: Account
  r: Recovery
  busy: boolean
  confirming: boolean
  setConfirming: (id: string | undefined) => void
  approve: (r: Recovery) => Promise<boolean>
}

function ApproveControl({ me, r, busy, confirming, setConfirming, approve }: ApproveControlProps) {
  const hintId = `recovery-${r.recoveryId}-hint`
  if (r.proposedBy === me.id) {
    return (
      <div>
        <button type="button" className="btn" disabled aria-describedby={hintId}>Approve</button>
        <p className="hint" id={hintId}>You started this recovery: a second staff member or the consortium admin approves it.</p>
      </div>
    )
  }
  if (!confirming) {
    return <button type="button" className="btn btn-primary" disabled={busy} aria-expanded={false} onClick={() => setConfirming(r.recoveryId)} aria-label={`Approve the recovery of ${r.patientName}`}>Approve…</button>
  }
  return (
    <div role="group" aria-label={`Approving the recovery of ${r.patientName}`}>
      <p className="msg msg-warn">Approve only if the patient was verified in person. The patient's old password, recovery code, sessions and two-factor sign-in stop working; their records are re-wrapped for the new key and the old key is retired on the ledger.</p>
      <div className="row">
        <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void approve(r)}>Confirm approval</button>
        <button type="button" className="btn" disabled={busy} onClick={() => setConfirming(undefined)}>Cancel</button>
      </div>
    </div>
  )
}
