import type { FhirResource, FhirResourceModule } from './resource-module.ts'

type Declared = Pick<FhirResourceModule, 'type' | 'interactions' | 'searchParams'> & { operations: NonNullable<FhirResourceModule['operations']> }

/**
 * What the modules declare, one entry per resource type in first-registered order: several
 * modules of one type (a read module and a create module) add up.
 */
export function byType(modules: readonly FhirResourceModule[]): Declared[] {
  const types = new Map<string, Declared>()
  for (const m of modules) {
    const t = types.get(m.type) ?? { type: m.type, interactions: [], searchParams: [], operations: [] }
    t.interactions.push(...m.interactions.filter((i) => !t.interactions.includes(i)))
    t.searchParams.push(...m.searchParams.filter((p) => !t.searchParams.some((q) => q.name === p.name)))
    t.operations.push(...(m.operations ?? []).filter((o) => !t.operations.some((q) => q.name === o.name)))
    types.set(m.type, t)
  }
  return [...types.values()]
}

/**
 * The CapabilityStatement of this server, built from the registered resource modules: each
 * type with exactly the interactions, search parameters and operations its module declares.
 */
export function capabilityStatement({ modules, base, date }: { modules: readonly FhirResourceModule[]; base: string; date: string }): FhirResource {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    publisher: 'MedLedger',
    kind: 'instance',
    software: { name: 'MedLedger' },
    implementation: { description: 'MedLedger node: encrypted records anchored on an Ethereum ledger, as FHIR R4', url: base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    rest: [{
      mode: 'server',
      documentation: 'A view computed from the ledger, the encrypted manifests and the database: nothing is stored as FHIR. Sessions as the native API (POST /api/v1/auth/login).',
      security: {
        description: 'Authorization: Bearer TOKEN, the session of the native API. What the caller may not see answers 404.',
      },
      resource: byType(modules).map((m) => ({
        type: m.type,
        interaction: m.interactions.map((code) => ({ code })),
        ...(m.searchParams.length > 0 ? { searchParam: m.searchParams.map((p) => ({ name: p.name, type: p.type, documentation: p.documentation })) } : {}),
        ...(m.operations.length > 0 ? { operation: m.operations.map((o) => ({ name: o.name, definition: o.definition })) } : {}),
      })),
    }],
  }
}
