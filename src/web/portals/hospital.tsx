// A hospital's staff: its doctors and patients (add either), sign-ups to confirm, and the
// consortium's members and the hospital's votes on admitting new ones.
import { useState } from 'react'
import { api, query } from '../api/client.ts'
import type { Account, Hospital } from '../api/types.ts'
import { useLoad } from '../lib/use-load.ts'
import { formatDateTime, shortHex } from '../lib/format.ts'
import { Field, LoadState, Mono, StatusBadge, usePaged } from '../components/ui.tsx'
import { AddAccountForm, PendingDoctors } from '../components/account-forms.tsx'
import { MfaResetForm } from '../components/mfa-reset-form.tsx'
import { AdmissionVotes, ConsortiumMembers } from '../components/consortium.tsx'
import { StaffCareTeams } from '../components/care-teams.tsx'
import { StaffErasures } from '../components/erasures.tsx'
import { Recoveries } from '../components/recoveries.tsx'

export function HospitalPortal({ me, tab }: { me: Account; tab: string }) {
  switch (tab) {
    case 'patients': return <People me={me} role="patient" />
    case 'pending': return <PendingDoctors />
    case 'votes': return <Votes />
    case 'teams': return <StaffCareTeams />
    case 'erasures': return <StaffErasures />
    case 'recoveries': return <Recoveries me={me} />
    default: return <People me={me} role="doctor" />
  }
}

function People({ me, role }: { me: Account; role: 'doctor' | 'patient' }) {
  const [refresh, setRefresh] = useState(0)
  const [filter, setFilter] = useState('')
  const loaded = useLoad((signal) => api<{ users: Account[] }>(`/users${query({ role })}`, { signal }), [role, refresh])
  const hospitals = useLoad((signal) => api<{ hospitals: Hospital[] }>('/hospitals', { signal }), [])
  const hospital = hospitals.data?.hospitals.find((h) => h.id === me.hospitalId)
  const plural = role === 'doctor' ? 'Doctors' : 'Patients'
  return (
    <section aria-labelledby="people-title">
      <h2 id="people-title">{plural}{hospital ? ` of ${hospital.name}` : ''}</h2>
      {hospital && <p className="hint">Hospital id for self sign-up: <Mono>{hospital.id}</Mono></p>}
      <Field label={`Search ${plural.toLowerCase()}`}>{(p) => <input {...p} type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="Name or e-mail" />}</Field>
      <LoadState loaded={loaded} what={plural.toLowerCase()}>
        {({ users }) => <PeopleTable users={users.filter((u) => matches(u, filter))} empty={filter ? 'Nobody matches.' : `No ${plural.toLowerCase()} yet.`} />}
      </LoadState>
      <AddAccountForm role={role} hospitalId={me.hospitalId ?? undefined} onCreated={() => setRefresh((n) => n + 1)} />
      {loaded.data && <MfaResetForm members={loaded.data.users.filter((u) => u.role === role && u.status === 'active')} />}
    </section>
  )
}

function matches(u: Account, filter: string): boolean {
  const f = filter.trim().toLowerCase()
  return !f || u.name.toLowerCase().includes(f) || u.email.toLowerCase().includes(f)
}

function PeopleTable({ users, empty }: { users: Account[]; empty: string }) {
  const { page, pager } = usePaged(users, 100)
  if (!users.length) return <p className="empty">{empty}</p>
  return (
    <>
      <div className="table-wrap">
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">E-mail</th><th scope="col">Status</th><th scope="col">Ledger address</th><th scope="col">Since</th></tr></thead>
          <tbody>
            {page.map((u) => (
              <tr key={u.id}>
                <td>{u.name}</td><td>{u.email}</td><td><StatusBadge status={u.status} /></td>
                <td><span title={u.address}><Mono>{shortHex(u.address)}</Mono></span></td><td>{formatDateTime(u.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pager}
    </>
  )
}

function Votes() {
  return (
    <section aria-labelledby="votes-title">
      <h2 id="votes-title">Admission votes</h2>
      <p className="lead">The hospitals of the consortium, and the ones waiting for the members' vote: who has voted so far, and your hospital's vote.</p>
      <ConsortiumMembers />
      <AdmissionVotes canVote />
    </section>
  )
}
