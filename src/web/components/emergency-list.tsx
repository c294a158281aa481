// Emergency (break-glass) accesses, each highlighted: the admins' review list, a doctor's own,
// and those to a patient's records.
import type { Emergency } from '../api/types.ts'
import { formatDateTime, shortHex } from '../lib/format.ts'
import { Badge, usePaged } from './ui.tsx'

/** Emergency accesses, each highlighted; live ones say so. */
export function EmergencyList({ emergencies, viewer = 'admin' }: { emergencies: Emergency[]; viewer?: 'admin' | 'doctor' | 'patient' }) {
  const { page, pager } = usePaged(emergencies)
  if (!emergencies.length) return <p className="empty">No emergency access so far.</p>
  return (
    <>
      <ul className="cards">
        {page.map((e) => (
          <li key={e.emergencyId} className="card emergency" data-emergency-id={e.emergencyId}>
            <div className="card-head">
              <h3><Badge tone="bad">Emergency</Badge> {viewer === 'patient' ? `${e.doctor.name} opened your records` : viewer === 'doctor' ? `Break-glass for ${e.patient.name}` : `${e.doctor.name} → ${e.patient.name}`}</h3>
              {e.live ? <Badge tone="bad">open until {formatDateTime(e.expiresAt)}</Badge> : <Badge tone="neutral">ended {formatDateTime(e.expiresAt)}</Badge>}
            </div>
            <p className="emergency-reason">Stated reason: <strong>{e.reason}</strong></p>
            <p className="hint">Declared {formatDateTime(e.createdAt)} · {e.records} record{e.records === 1 ? '' : 's'} opened · declared in tx <span title={e.declareTx ?? ''}>{shortHex(e.declareTx)}</span>, keys released in tx <span title={e.releaseTx ?? ''}>{shortHex(e.releaseTx)}</span></p>
          </li>
        ))}
      </ul>
      {pager}
    </>
  )
}
