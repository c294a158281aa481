// The consortium as the admin and a hospital's staff see it: its members, the open admission
// votes with who has voted, and the vote of the viewer's hospital.
import { api } from '../api/client.ts'
import type { AdmissionVote, Hospital } from '../api/types.ts'
import { useAction, useLoad } from '../lib/use-load.ts'
import { formatDateTime, shortHex } from '../lib/format.ts'
import { ActionStatus, Badge, LoadState, Mono } from './ui.tsx'

/** The member hospitals (those admitted on chain), from this node's view of the Registry. */
export function ConsortiumMembers() {
  const loaded = useLoad((signal) => api<{ hospitals: Hospital[] }>('/hospitals', { signal }), [])
  return (
    <section aria-labelledby="members-title" className="card">
      <h3 id="members-title">Members of the consortium</h3>
      <LoadState loaded={loaded} what="members">
        {({ hospitals }) => {
          const members = hospitals.filter((h) => h.status === 'active' || h.status === 'remote')
          if (!members.length) return <p className="empty">No member yet.</p>
          return (
            <ul className="members">
              {members.map((h) => (
                <li key={h.id} data-member={h.address}>
                  <strong>{h.name}</strong> <span title={h.address}><Mono>{shortHex(h.address)}</Mono></span>{' '}
                  <span className="hint">{h.status === 'active' ? 'served by this node' : 'another node'} · since {formatDateTime(h.createdAt)}</span>
                </li>
              ))}
            </ul>
          )
        }}
      </LoadState>
    </section>
  )
}

/**
 * The admission votes, open or expired (an expired one takes no more votes); `canVote` when the viewer acts for a member hospital (its staff, or
 * a joined node's admin). The chain keeps whether each member voted, not how: the tallies say that.
 */
export function AdmissionVotes({ canVote }: { canVote: boolean }) {
  const loaded = useLoad((signal) => api<{ proposals: AdmissionVote[] }>('/hospitals/proposals', { signal }), [])
  const action = useAction()
  const vote = (p: AdmissionVote, approve: boolean) => action.run(async () => {
    const r = await api<Hospital>(`/hospitals/${encodeURIComponent(p.id)}/vote`, { method: 'POST', json: { approve } })
    loaded.reload()
    return `Your hospital's vote ${approve ? 'for' : 'against'} ${p.name} is on the ledger${r.status === 'proposed' ? '.' : `; ${p.name} is now a member.`}`
  })
  return (
    <section aria-labelledby="admission-votes-title">
      <h3 id="admission-votes-title">Open admission votes</h3>
      <p className="hint">A proposed hospital joins when a strict majority of the member hospitals vote for it.{canVote ? ' You vote for your hospital, from its own ledger key.' : ' A vote is a member hospital\'s: its staff cast it.'}</p>
      <ActionStatus action={action} busyText="Sending your hospital's vote to the ledger…" />
      <LoadState loaded={loaded} what="admission votes">
        {({ proposals }) => proposals.length === 0 ? <p className="empty">No admission is waiting for a vote.</p> : (
          <ul className="cards">
            {proposals.map((p) => (
              <li key={p.id} className="card" data-proposal={p.address}>
                <div className="card-head">
                  <div>
                    <h4>{p.name}</h4>
                    <p className="hint">Proposal {p.proposalId} · <span title={p.address}><Mono>{shortHex(p.address)}</Mono></span> · {p.approvals} for, {p.rejections} against, {Math.floor(p.memberCount / 2) + 1} of {p.memberCount} needed</p>
                  </div>
                  {p.expired && <Badge tone="warn">expired: no more votes; it may be proposed again</Badge>}
                  {!p.expired && canVote && p.votedByYourHospital && <Badge tone="ok">your hospital has voted</Badge>}
                  {!p.expired && canVote && !p.votedByYourHospital && (
                    <div className="row">
                      <button type="button" className="btn btn-primary" disabled={action.busy} onClick={() => void vote(p, true)} aria-label={`Vote to admit ${p.name}`}>Vote to admit</button>
                      <button type="button" className="btn" disabled={action.busy} onClick={() => void vote(p, false)} aria-label={`Vote against ${p.name}`}>Vote against</button>
                    </div>
                  )}
                </div>
                <ul className="voters" aria-label={`Members' votes on ${p.name}`}>
                  {p.members.map((m) => (
                    <li key={m.address} data-voter={m.address} data-voted={m.voted}>
                      {m.name} {m.voted ? <Badge tone="ok">voted</Badge> : <Badge tone="info">not yet</Badge>}
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        )}
      </LoadState>
    </section>
  )
}
