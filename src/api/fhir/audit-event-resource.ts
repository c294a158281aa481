import type { Hex } from 'viem'
import type { AuditAccess } from '../../consent/audit-accesses.ts'
import { base32Of, hexOfBase32 } from './consent-id.ts'

/** A FHIR R4 AuditEvent as this node emits it, after IHE Basic Audit Log Patterns (read of a patient's document). */
export type FhirAuditEvent = {
  resourceType: 'AuditEvent'
  id: string
  type: Coding
  subtype: Coding[]
  action: 'R'
  recorded: string
  outcome: '0'
  agent: {
    type: { coding: Coding[] }
    who: { reference?: string; identifier: { system: string; value: string }; display?: string }
    requestor: boolean
    purposeOfUse: { coding: Coding[] }[]
  }[]
  source: { site?: string; observer: { reference: string; display?: string }; type: Coding[] }
  entity: {
    what: { reference?: string; identifier?: { system: string; value: string } }
    type: Coding
    role?: Coding
  }[]
}

interface Coding { system: string; code: string; display?: string }

const actReason = 'http://terminology.hl7.org/CodeSystem/v3-ActReason'
/** The chain's purpose of a read as a v3 ActReason: treatment, emergency treatment (and break-glass), the patient's own request, operations. */
const purposeOfUse: Record<string, Coding[]> = {
  own: [{ system: actReason, code: 'PATRQT', display: 'patient requested' }],
  author: [{ system: actReason, code: 'TREAT', display: 'treatment' }],
  grant: [{ system: actReason, code: 'TREAT', display: 'treatment' }],
  share: [{ system: actReason, code: 'TREAT', display: 'treatment' }],
  shareToken: [{ system: actReason, code: 'TREAT', display: 'treatment' }],
  emergency: [{ system: actReason, code: 'ETREAT', display: 'Emergency Treatment' }, { system: actReason, code: 'BTG', display: 'break the glass' }],
  verify: [{ system: actReason, code: 'HOPERAT', display: 'healthcare operations' }],
}
const resourceOf = { patient: 'Patient', practitioner: 'Practitioner', organization: 'Organization' } as const

/** The AuditEvent id of a read: its transaction (base32, 52 characters), a dot, and its place among the transaction's reads. */
export function auditEventId(a: Pick<AuditAccess, 'txHash' | 'ordinal'>): string {
  return `${base32Of(a.txHash)}.${a.ordinal}`
}

/** The transaction and ordinal of an AuditEvent id, or undefined for an id {@link auditEventId} does not make. */
export function parseAuditEventId(id: string): { txHash: Hex; ordinal: number } | undefined {
  const m = /^([a-z2-7]{52})\.(0|[1-9][0-9]{0,5})$/.exec(id)
  const txHash = m ? hexOfBase32(m[1]) : undefined
  return m && txHash ? { txHash, ordinal: Number(m[2]) } : undefined
}

/** One read in the on-chain trail as an AuditEvent: the reader, the patient, the document, the transaction, the node's hospital as the source. */
export function toAuditEvent(a: AuditAccess, source: { id: string; name: string }): FhirAuditEvent {
  const agentRef = a.agent.kind && a.agent.id ? `${resourceOf[a.agent.kind]}/${a.agent.id}` : undefined
  return {
    resourceType: 'AuditEvent',
    id: auditEventId(a),
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read', display: 'read' }],
    action: 'R',
    recorded: a.at,
    outcome: '0',
    agent: [{
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] },
      who: {
        ...(agentRef ? { reference: agentRef } : {}),
        identifier: { system: 'urn:ietf:rfc:3986', value: `urn:ethereum:${a.agent.address.toLowerCase()}` },
        ...(a.agent.name ? { display: a.agent.name } : {}),
      },
      requestor: true,
      purposeOfUse: [{ coding: purposeOfUse[a.purpose ?? ''] ?? (a.emergency ? purposeOfUse.emergency : purposeOfUse.grant) }],
    }],
    source: {
      site: source.name,
      observer: { reference: `Organization/${source.id}`, display: source.name },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    entity: [
      {
        what: { reference: `Patient/${a.patient.id}` },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
      },
      {
        what: { reference: `DocumentReference/${a.recordId.slice(2).toLowerCase()}` },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
      },
      {
        // The ledger transaction that logged the read: anyone can look it up on the chain.
        what: { identifier: { system: 'urn:ietf:rfc:3986', value: `urn:ethereum:tx:${a.txHash.toLowerCase()}` } },
        type: { system: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType', code: 'XrequestId', display: 'XrequestId' },
      },
    ],
  }
}
