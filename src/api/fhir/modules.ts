import type { FhirResourceModule } from './resource-module.ts'
import { patientModule } from './resources/patient.ts'
import { practitionerModule, practitionerRoleModule } from './resources/practitioner.ts'
import { organizationModule } from './resources/organization.ts'
import { documentReferenceModule } from './resources/document-reference.ts'
import { binaryModule } from './resources/binary.ts'
import { documentReferenceCreateModule } from './resources/document-reference-create.ts'
import { binaryCreateModule } from './resources/binary-create.ts'
import { consentModule } from './resources/consent.ts'
import { auditEventModule } from './resources/audit-event.ts'

/** The FHIR resource modules this node serves, in CapabilityStatement order. */
export const fhirModules: readonly FhirResourceModule[] = [
  patientModule,
  practitionerModule,
  practitionerRoleModule,
  organizationModule,
  documentReferenceModule,
  binaryModule,
  documentReferenceCreateModule,
  binaryCreateModule,
  consentModule,
  auditEventModule,
]
