import type { Account } from '../../accounts/account.ts'
import type { Hospital } from '../../accounts/hospital.ts'
import type { AccountRef } from '../../consent/resolve-account.ts'
import type { FhirResource } from './resource-module.ts'

/** A ledger address as a FHIR identifier: an RFC 3986 URI, `urn:ethereum:0x…`. */
export function ledgerIdentifier(address: string): { system: string; value: string } {
  return { system: 'urn:ietf:rfc:3986', value: `urn:ethereum:${address.toLowerCase()}` }
}

/** A Patient from an account in full, or from the id, address and role a doctor may learn of a patient outside their care. */
export function toPatient(a: Account | AccountRef): FhirResource {
  if (!('name' in a)) return { resourceType: 'Patient', id: a.id, identifier: [ledgerIdentifier(a.address)] }
  return {
    resourceType: 'Patient',
    id: a.id,
    identifier: [ledgerIdentifier(a.address)],
    active: a.status === 'active',
    name: [{ text: a.name }],
    telecom: [{ system: 'email', value: a.email }],
    ...(a.hospitalId ? { managingOrganization: { reference: `Organization/${a.hospitalId}` } } : {}),
  }
}

/** A Practitioner from a doctor's or staff member's account. */
export function toPractitioner(a: Account): FhirResource {
  return {
    resourceType: 'Practitioner',
    id: a.id,
    identifier: [ledgerIdentifier(a.address)],
    active: a.status === 'active',
    name: [{ text: a.name }],
    telecom: [{ system: 'email', value: a.email }],
  }
}

/** The PractitionerRole of a doctor or staff member at their hospital; its id is the account's. */
export function toPractitionerRole(a: Account): FhirResource {
  const code = a.role === 'doctor'
    ? { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/practitioner-role', code: 'doctor', display: 'Doctor' }] }
    : { text: 'Hospital staff' }
  return {
    resourceType: 'PractitionerRole',
    id: a.id,
    active: a.status === 'active',
    practitioner: { reference: `Practitioner/${a.id}`, display: a.name },
    ...(a.hospitalId ? { organization: { reference: `Organization/${a.hospitalId}` } } : {}),
    code: [code],
  }
}

/** An Organization from a hospital of the consortium. */
export function toOrganization(h: Hospital): FhirResource {
  return {
    resourceType: 'Organization',
    id: h.id,
    identifier: [ledgerIdentifier(h.address)],
    active: h.status === 'active',
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov', display: 'Healthcare Provider' }] }],
    name: h.name,
  }
}
