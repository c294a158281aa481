import type { FhirResourceModule } from './resource-module.ts'

/** The FHIR resource modules this node serves, in CapabilityStatement order. */
export const fhirModules: readonly FhirResourceModule[] = [
]
