// Care teams (issue 13 item 5): a hospital's staff make teams of its doctors and change their
// members; a patient grants a team all their records, or revokes the grant.
import { useState } from 'react'
import { api, query } from '../api/client.ts'
import type { Account } from '../api/types.ts'
import { useAction, useLoad } from '../lib/use-load.ts'
import { formatDateTime, shortHex } from '../lib/format.ts'
import { ActionStatus, Field, LoadState, Mono } from './ui.tsx'

export interface CareTeam {
  teamId: string
  name: string
  hospitalId: string
  epoch: number
  members: { id: string; name: string; address: string }[]
  createdAt: string
  grantExpiresAt?: string | null
  /** For a patient: a team of another hospital (named after it; its members are not listed here). */
  remote?: boolean
}

const teamPath = (t: CareTeam) => `/teams/${encodeURIComponent(t.teamId)}`

/** The staff's view: the hospital's teams, a form to make one, and each team's members to add or remove. */
export function StaffCareTeams() {
  const loaded = useLoad((signal) => api<{ teams: CareTeam[] }>('/teams', { signal }), [])
  const doctors = useLoad((signal) => api<{ users: Account[] }>(`/users${query({ role: 'doctor' })}`, { signal }), [])
  const action = useAction()
  const [name, setName] = useState('')
  const create = () => action.run(async () => {
    const t = await api<CareTeam>('/teams', { method: 'POST', json: { name } })
    setName('')
    loaded.reload()
    return `Team ${t.name} is on the ledger.`
  })
  return (
    <section aria-labelledby="teams-title">
      <h2 id="teams-title">Care teams</h2>
      <p className="lead">A patient can grant a team all their records; its members read while they are members and the grant lives. Removing a member gives the team a new key.</p>
      <ActionStatus action={action} busyText="Recording the change on the ledger…" />
      <form className="card" onSubmit={(e) => { e.preventDefault(); void create() }}>
        <Field label="Team name">{(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />}</Field>
        <button type="submit" className="btn btn-primary" disabled={action.busy || !name.trim()}>Create team</button>
      </form>
      <LoadState loaded={loaded} what="care teams">
        {({ teams }) => teams.length === 0 ? <p className="empty">No care team yet.</p> : (
          <ul className="cards">
            {teams.map((t) => <StaffTeam key={t.teamId} team={t} doctors={(doctors.data?.users ?? []).filter((d) => d.status === 'active')} action={action} onChanged={loaded.reload} />)}
          </ul>
        )}
      </LoadState>
    </section>
  )
}

function StaffTeam({ team, doctors, action, onChanged }: { team: CareTeam; doctors: Account[]; action: ReturnType<typeof useAction>; onChanged: () => void }) {
  const [doctor, setDoctor] = useState('')
  const candidates = doctors.filter((d) => !team.members.some((m) => m.id === d.id))
  const add = () => action.run(async () => {
    await api<CareTeam>(`${teamPath(team)}/members`, { method: 'POST', json: { doctor } })
    setDoctor('')
    onChanged()
    return `${doctors.find((d) => d.id === doctor)?.name ?? 'The doctor'} joined ${team.name}.`
  })
  const remove = (m: CareTeam['members'][number]) => action.run(async () => {
    await api<CareTeam>(`${teamPath(team)}/members/${encodeURIComponent(m.id)}`, { method: 'DELETE' })
    onChanged()
    return `${m.name} left ${team.name}; the team has a new key.`
  })
  return (
    <li className="card" data-team={team.teamId}>
      <h3>{team.name}</h3>
      <p className="hint">Team <span title={team.teamId}><Mono>{shortHex(team.teamId)}</Mono></span> · key epoch {team.epoch} · since {formatDateTime(team.createdAt)}</p>
      {team.members.length === 0 ? <p className="empty">No members yet.</p> : (
        <ul aria-label={`Members of ${team.name}`}>
          {team.members.map((m) => (
            <li key={m.id}>{m.name} <button type="button" className="btn" disabled={action.busy} onClick={() => void remove(m)}>Remove {m.name}</button></li>
          ))}
        </ul>
      )}
      <form onSubmit={(e) => { e.preventDefault(); void add() }}>
        <Field label={`Add a doctor to ${team.name}`}>{(p) => (
          <select {...p} value={doctor} onChange={(e) => setDoctor(e.target.value)}>
            <option value="">Choose a doctor</option>
            {candidates.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
          </select>
        )}</Field>
        <button type="submit" className="btn btn-primary" disabled={action.busy || !doctor}>Add to team</button>
      </form>
    </li>
  )
}

/** The patient's view: their hospital's teams (and other hospitals' teams), who is on each, and their own grant to it. */
export function PatientCareTeams() {
  const loaded = useLoad((signal) => api<{ teams: CareTeam[] }>('/teams', { signal }), [])
  const action = useAction()
  const [days, setDays] = useState('30')
  const grant = (t: CareTeam) => action.run(async () => {
    const r = await api<{ expiresAt: string }>(`${teamPath(t)}/grant`, { method: 'POST', json: { days: Number(days) } })
    loaded.reload()
    return `${t.name} may read your records until ${formatDateTime(r.expiresAt)}.`
  })
  const revoke = (t: CareTeam) => action.run(async () => {
    await api(`${teamPath(t)}/grant`, { method: 'DELETE' })
    loaded.reload()
    return `${t.name} can no longer read your records.`
  })
  return (
    <section aria-labelledby="patient-teams-title">
      <h2 id="patient-teams-title">Care teams</h2>
      <p className="lead">Grant a care team of your hospital all your records: each member reads while on the team and until the grant ends. Your grant goes on the ledger from your own key.</p>
      <ActionStatus action={action} busyText="Recording your decision on the ledger…" />
      <Field label="Days a new grant lasts">{(p) => <input {...p} type="number" min={1} max={365} value={days} onChange={(e) => setDays(e.target.value)} />}</Field>
      <LoadState loaded={loaded} what="care teams">
        {({ teams }) => teams.length === 0 ? <p className="empty">Your hospital has no care team.</p> : (
          <ul className="cards">
            {teams.map((t) => {
              const live = Boolean(t.grantExpiresAt && Date.parse(t.grantExpiresAt) > Date.now())
              return (
                <li key={t.teamId} className="card" data-team={t.teamId}>
                  <h3>{t.name}</h3>
                  <p className="hint">{t.remote ? 'A care team of another member hospital' : t.members.map((m) => m.name).join(', ') || 'No members yet'}</p>
                  <p>{live ? `Granted until ${formatDateTime(t.grantExpiresAt)}` : 'Not granted'}</p>
                  {live
                    ? <button type="button" className="btn btn-danger" disabled={action.busy} onClick={() => void revoke(t)}>Revoke {t.name}</button>
                    : <button type="button" className="btn btn-primary" disabled={action.busy} onClick={() => void grant(t)}>Grant {t.name}</button>}
                </li>
              )
            })}
          </ul>
        )}
      </LoadState>
    </section>
  )
}
