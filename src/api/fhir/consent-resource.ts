import { createHash } from 'node:crypto'
import type { Hex } from 'viem'
import type { AccessRequestView } from '../../consent/access-request.ts'
import type { ShareView } from '../../consent/shares.ts'
import type { EmergencyView } from '../../consent/emergency.ts'
import type { ResearchConsentView } from '../../consent/research-consent.ts'
import type { ConsentDirectives } from '../../consent/list-consent-directives.ts'
import type { TeamGrantView } from '../../consent/list-team-grants.ts'
import { consentId, type ConsentKind } from './consent-id.ts'

/** A FHIR R4 Consent as this node emits it (the fields it fills). */
export type FhirConsent = {
  resourceType: 'Consent'
  id: string
  meta?: { lastUpdated?: string }
  identifier: { system: string; value: string }[]
  status: ConsentStatus
  scope: { coding: Coding[] }
  category: { coding: Coding[] }[]
  patient: Reference
  dateTime?: string
  performer?: Reference[]
  policyRule: { coding: Coding[] }
  provision: {
    type: 'permit'
    period?: { start?: string; end?: string }
    actor?: { role: { coding: Coding[] }; reference: Reference }[]
    action: { coding: Coding[] }[]
    purpose: Coding[]
    data?: { meaning: 'instance'; reference: Reference }[]
  }
}

export type ConsentStatus = 'proposed' | 'active' | 'inactive' | 'rejected'
interface Coding { system: string; code: string; display?: string }
interface Reference { reference: string; display?: string }

const actReason = 'http://terminology.hl7.org/CodeSystem/v3-ActReason'
const purposeOf: Record<ConsentKind, Coding> = {
  grant: { system: actReason, code: 'TREAT', display: 'treatment' },
  share: { system: actReason, code: 'TREAT', display: 'treatment' },
  emergency: { system: actReason, code: 'ETREAT', display: 'Emergency Treatment' },
  research: { system: actReason, code: 'HRESCH', display: 'healthcare research' },
  team: { system: actReason, code: 'TREAT', display: 'treatment' },
}
const scope = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy', display: 'Privacy Consent' }] }
const category = [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }]
const access = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentaction', code: 'access', display: 'Access' }] }]
const recipient = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] }
const optIn = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN', display: 'opt-in' }] }
const emergencyOnly = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'EMRGONLY', display: 'emergency only' }] }

/** The status of an access request as a Consent: pending → proposed, a live grant → active, revoked or expired → inactive, denied → rejected. */
export function grantStatus(view: Pick<AccessRequestView, 'status'>): ConsentStatus {
  return ({ pending: 'proposed', approved: 'active', denied: 'rejected', revoked: 'inactive', expired: 'inactive' } as const)[view.status]
}

/** Every Consent the directives hold, newest first by `dateTime`. */
export function toConsents(d: ConsentDirectives): FhirConsent[] {
  const all = [
    ...d.grants.map((g) => grantConsent(g, d)),
    ...d.shares.flatMap((sh) => d.sharePatients.has(sh.shareId) ? [shareConsent(sh, d, d.sharePatients.get(sh.shareId)!)] : []),
    ...d.emergencies.map((e) => emergencyConsent(e, d)),
    ...d.research.map((r) => researchConsent(r, d)),
    ...d.teams.map((t) => teamConsent(t, d)),
  ]
  return all.sort((a, b) => (b.dateTime ?? '').localeCompare(a.dateTime ?? ''))
}

/** An access request, pending or decided, as a Consent: the patient consents to the requesting doctor's access. */
export function grantConsent(g: AccessRequestView, d: Pick<ConsentDirectives, 'txTimes'>): FhirConsent {
  const decided = g.decisionTx ? d.txTimes.get(g.decisionTx.toLowerCase()) : undefined
  const requested = g.requestTx ? d.txTimes.get(g.requestTx.toLowerCase()) : undefined
  const granted = g.status === 'approved' || g.status === 'expired' || g.status === 'revoked'
  // A grant runs from its approval's block to the expiry the chain computed from it.
  const period = granted && g.expiresAt ? { start: iso(Date.parse(g.expiresAt) / 1000 - g.durationSeconds), end: iso(Date.parse(g.expiresAt) / 1000) } : undefined
  const records = granted ? g.grantedRecordIds : g.recordIds
  return base('grant', g.requestId, {
    status: grantStatus(g),
    patient: { reference: `Patient/${g.patient.id}`, display: g.patient.name },
    dateTime: iso(decided ?? requested) ?? g.decidedAt ?? g.createdAt,
    performer: [{ reference: `Patient/${g.patient.id}`, display: g.patient.name }],
    policyRule: optIn,
    provision: provision('grant', { period, actor: { reference: `Practitioner/${g.requester.id}`, display: g.requester.name }, records }),
  })
}

/** A patient's share of listed records with a named account (or by a share token: no actor) as a Consent. */
export function shareConsent(sh: ShareView, d: Pick<ConsentDirectives, 'txTimes' | 'roles'>, owner: { id: string; name: string }): FhirConsent {
  const at = sh.txHash ? d.txTimes.get(sh.txHash.toLowerCase()) : undefined
  const grantee = sh.grantee
  return base('share', sh.shareId, {
    status: sh.live ? 'active' : 'inactive',
    patient: { reference: `Patient/${owner.id}`, display: owner.name },
    dateTime: iso(at) ?? sh.createdAt,
    performer: [{ reference: `Patient/${owner.id}`, display: owner.name }],
    policyRule: optIn,
    provision: provision('share', {
      period: { ...(at !== undefined ? { start: iso(at) } : {}), end: iso(Date.parse(sh.expiresAt) / 1000) },
      actor: grantee ? { reference: `${d.roles.get(grantee.id) === 'patient' ? 'Patient' : 'Practitioner'}/${grantee.id}`, display: grantee.name } : undefined,
      records: sh.recordIds,
    }),
  })
}

/** A break-glass access as a Consent: declared by the doctor, the keys released for its window; proposed until they are. */
export function emergencyConsent(e: EmergencyView, d: Pick<ConsentDirectives, 'txTimes' | 'now'>): FhirConsent {
  const at = e.declareTx ? d.txTimes.get(e.declareTx.toLowerCase()) : undefined
  const ended = Date.parse(e.expiresAt) / 1000 <= d.now
  return base('emergency', e.emergencyId, {
    status: e.live ? 'active' : ended ? 'inactive' : 'proposed',
    patient: { reference: `Patient/${e.patient.id}`, display: e.patient.name },
    dateTime: iso(at) ?? e.createdAt,
    performer: [{ reference: `Practitioner/${e.doctor.id}`, display: e.doctor.name }],
    policyRule: emergencyOnly,
    provision: provision('emergency', { period: { ...(at !== undefined ? { start: iso(at) } : {}), end: iso(Date.parse(e.expiresAt) / 1000) }, actor: { reference: `Practitioner/${e.doctor.id}`, display: e.doctor.name }, records: null }),
  })
}

/**
 * A patient's research consent to a study as a Consent (purpose HRESCH): active while given,
 * inactive once withdrawn; the actor is the study's researcher, who receives de-identified data only.
 * A second identifier names the study (`urn:medledger:study:<id>`); a consent to every study of a
 * hospital names the hospital (`urn:medledger:hospital-studies:<address>`, its Organization the recipient).
 */
export function researchConsent(r: ResearchConsentView, d: Pick<ConsentDirectives, 'txTimes'>): FhirConsent {
  const at = r.txHash ? d.txTimes.get(r.txHash.toLowerCase()) : undefined
  // One Consent per patient and study (or hospital): its id hashes both (the study's id alone is every consenting patient's).
  const subject = r.studyId ? r.studyId.toLowerCase() : `hospital|${r.hospital!.id}`
  const nativeId = `0x${createHash('sha256').update(`${subject}|${r.patient.id}`).digest('hex')}` as Hex
  const recipient = r.researcher ? { reference: `Practitioner/${r.researcher.id}`, display: r.researcher.name } : { reference: `Organization/${r.hospital!.id}`, display: r.hospital!.name }
  const consent = base('research', nativeId, {
    status: r.state === 'given' ? 'active' : 'inactive',
    patient: { reference: `Patient/${r.patient.id}`, display: r.patient.name },
    dateTime: iso(at) ?? r.updatedAt,
    performer: [{ reference: `Patient/${r.patient.id}`, display: r.patient.name }],
    policyRule: optIn,
    provision: provision('research', { actor: recipient, records: null }),
  })
  consent.identifier.push({ system: 'urn:ietf:rfc:3986', value: r.studyId ? `urn:medledger:study:${r.studyId.toLowerCase()}` : `urn:medledger:hospital-studies:${r.hospital!.address.toLowerCase()}` })
  return consent
}

/**
 * A patient's grant to a care team as a Consent: all the patient's records, the actor the team
 * (`CareTeam/{team id without 0x}`, named); active while live, inactive once revoked or expired
 * by the chain's clock. Its id hashes the team and the patient (one grant per pair, the latest).
 */
export function teamConsent(t: TeamGrantView, d: Pick<ConsentDirectives, 'txTimes' | 'now'>): FhirConsent {
  const at = d.txTimes.get(t.txHash.toLowerCase())
  const nativeId = teamConsentNativeId(t.teamId, t.patient.id)
  const consent = base('team', nativeId, {
    status: !t.revoked && t.expiresAt > d.now ? 'active' : 'inactive',
    patient: { reference: `Patient/${t.patient.id}`, display: t.patient.name },
    dateTime: iso(at) ?? new Date(t.grantedAt).toISOString(),
    performer: [{ reference: `Patient/${t.patient.id}`, display: t.patient.name }],
    policyRule: optIn,
    provision: provision('team', { period: { ...(at !== undefined ? { start: iso(at) } : {}), end: iso(t.expiresAt) }, actor: { reference: `CareTeam/${t.teamId.slice(2).toLowerCase()}`, display: t.teamName }, records: null }),
  })
  consent.identifier.push({ system: 'urn:ietf:rfc:3986', value: `urn:medledger:care-team:${t.teamId.toLowerCase()}` })
  return consent
}

/** The native id of a patient's Consent for a care team: SHA-256 of the team id and the patient's id. */
export function teamConsentNativeId(teamId: Hex, patientId: string): Hex {
  return `0x${createHash('sha256').update(`team|${teamId.toLowerCase()}|${patientId}`).digest('hex')}` as Hex
}

function base(kind: ConsentKind, nativeId: Hex, rest: Omit<FhirConsent, 'resourceType' | 'id' | 'identifier' | 'scope' | 'category'>): FhirConsent {
  return {
    resourceType: 'Consent',
    id: consentId(kind, nativeId),
    identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:medledger:${kind}:${nativeId.toLowerCase()}` }],
    status: rest.status,
    scope,
    category,
    patient: rest.patient,
    dateTime: rest.dateTime,
    performer: rest.performer,
    policyRule: rest.policyRule,
    provision: rest.provision,
  }
}

function provision(kind: ConsentKind, { period, actor, records }: { period?: { start?: string; end?: string }; actor?: Reference; records: readonly Hex[] | null }): FhirConsent['provision'] {
  return {
    type: 'permit',
    ...(period ? { period } : {}),
    ...(actor ? { actor: [{ role: recipient, reference: actor }] } : {}),
    action: access,
    purpose: [purposeOf[kind]],
    ...(records && records.length > 0 ? { data: records.map((r) => ({ meaning: 'instance' as const, reference: { reference: `DocumentReference/${r.slice(2).toLowerCase()}` } })) } : {}),
  }
}

function iso(seconds: number | undefined): string | undefined {
  return seconds === undefined || !Number.isFinite(seconds) ? undefined : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z')
}
