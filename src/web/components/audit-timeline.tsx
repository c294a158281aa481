// The on-chain audit trail as a timeline, newest first; emergencies stand out.
import type { AuditEntry } from '../api/types.ts'
import { formatDateTime, roleNames, shortHex } from '../lib/format.ts'
import { Badge, usePaged } from './ui.tsx'

const events: Record<string, string> = {
  RecordAnchored: 'Record stored and anchored',
  AccessRequested: 'Access requested',
  AccessApproved: 'Access approved',
  AccessDenied: 'Access denied',
  AccessRevoked: 'Access revoked',
  Shared: 'Records shared',
  ShareRevoked: 'Share revoked',
  ShareTokenUsed: 'Share code used',
  EmergencyDeclared: 'Emergency access declared (break-glass)',
  EmergencyKeyReleased: 'Emergency keys released by the hospital',
}

const reads: Record<string, string> = {
  own: 'Read by the patient',
  author: 'Read by its author',
  grant: 'Read under an approved request',
  share: 'Read under a share',
  shareToken: 'Read with a share code',
  emergency: 'Read under emergency access',
  verify: 'Integrity check',
}

/** A plain-words name for an audit event. */
export function describeEvent(e: AuditEntry): string {
  if (e.event === 'AccessLogged') return reads[e.purpose ?? ''] ?? 'Record read'
  return events[e.event] ?? e.event
}

export function AuditTimeline({ entries, recordNames = {} }: { entries: AuditEntry[]; recordNames?: Record<string, string> }) {
  const { page, pager } = usePaged(entries, 100)
  if (!entries.length) return <p className="empty">Nothing on the ledger yet.</p>
  return (
    <>
      <ol className="timeline" aria-label="Audit trail, newest first">
        {page.map((e) => (
          <li key={`${e.txHash ?? e.at}-${e.event}-${e.recordId ?? ''}`} className={e.emergency ? 'timeline-item emergency' : 'timeline-item'} data-event={e.event}>
            <div className="timeline-when"><time dateTime={e.at}>{formatDateTime(e.at)}</time></div>
            <div className="timeline-what">
              <p className="timeline-title">
                {e.emergency && <Badge tone="bad">Emergency</Badge>} <strong>{describeEvent(e)}</strong>
                {' by '}{e.actor.name ?? <span title={e.actor.address}>{shortHex(e.actor.address)}</span>}
                {e.actor.role ? <span className="hint"> ({roleNames[e.actor.role] ?? e.actor.role})</span> : null}
              </p>
              {e.recordId && <p className="hint">Record: {recordNames[e.recordId.toLowerCase()] ?? <span title={e.recordId}>{shortHex(e.recordId)}</span>}</p>}
              {e.why && <p className="timeline-why">{e.event === 'AccessDenied' ? 'Reason' : e.emergency ? 'Stated reason' : 'Purpose'}: {e.why}</p>}
              {e.status === 'pending'
                ? <p className="hint"><Badge tone="warn">Pending</Badge> kept by this node, waiting for its audit batch to be mined</p>
                : <p className="hint">Block {e.blockNumber} · tx <span title={e.txHash}>{shortHex(e.txHash)}</span></p>}
            </div>
          </li>
        ))}
      </ol>
      {pager}
    </>
  )
}
