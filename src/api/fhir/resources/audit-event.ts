import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { findAuditAccess, listAuditAccesses, type AuditAccess } from '../../../consent/audit-accesses.ts'
import { nodeHospital } from '../../../accounts/node-hospital.ts'
import { AppError } from '../../../errors.ts'
import { actorOf } from '../../actor-of.ts'
import { fhirBase, pagingParams, pagingQuery, searchsetBundle } from '../bundle.ts'
import { checkFhirId } from '../fhir-id.ts'
import { sendResource } from '../send-resource.ts'
import { referenceId, valuesOf } from '../search-params.ts'
import { matchesDate, parseDateParam } from '../date-param.ts'
import { parseAuditEventId, toAuditEvent, type FhirAuditEvent } from '../audit-event-resource.ts'
import type { FhirContext, FhirResourceModule } from '../resource-module.ts'
import type { Services } from '../../../services.ts'
import type { Actor } from '../../../accounts/account.ts'

const oneOrMore = (max: number) => ({ anyOf: [{ type: 'string', maxLength: max }, { type: 'array', items: { type: 'string', maxLength: max }, maxItems: 4 }] }) as const
const searchQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { patient: oneOrMore(200), entity: oneOrMore(200), agent: oneOrMore(200), date: oneOrMore(40), ...pagingQuery },
} as const
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 200 } } } as const
type SearchQuery = FromSchema<typeof searchQuery>

/** The source of every AuditEvent: this node's hospital. */
async function sourceOf(s: Services): Promise<{ id: string; name: string }> {
  const h = await nodeHospital(s)
  return h ? { id: h.id, name: h.name } : { id: 'unknown', name: 'MedLedger node' }
}

/**
 * The reads a search covers, from the trails the native `GET /audit` shows the actor: the
 * patient's (`patient`, or `entity=Patient/…`), a record's (`entity=DocumentReference/…`), or,
 * for a patient who names neither, their own.
 * @throws AppError VALIDATION_FAILED (no patient or entity), UNKNOWN_PATIENT, RECORD_NOT_FOUND, FORBIDDEN
 */
async function accessesOf(s: Services, actor: Actor, q: SearchQuery): Promise<AuditAccess[]> {
  const patients = valuesOf(q.patient).concat(valuesOf(q.entity).filter((v) => /(^|\/)Patient\//.test(v))).map((v) => referenceId(v, 'Patient'))
  const records = valuesOf(q.entity).filter((v) => !/(^|\/)Patient\//.test(v)).map((v) => referenceId(v, 'DocumentReference'))
  if (patients.some((p) => p === undefined) || records.some((r) => r === undefined)) throw new AppError('VALIDATION_FAILED', { message: 'patient is Patient/{id}; entity is Patient/{id} or DocumentReference/{id}.' })
  const asks: { patient?: string; recordId?: string }[] = [...new Set(patients)].map((patient) => ({ patient }))
  asks.push(...[...new Set(records)].map((r) => ({ recordId: `0x${r}` })))
  if (asks.length === 0) {
    if (actor.account.role !== 'patient') throw new AppError('VALIDATION_FAILED', { message: 'Name a patient (patient=Patient/{id}) or an entity (entity=DocumentReference/{id}).' })
    asks.push({ patient: actor.account.id })
  }
  const seen = new Map<string, AuditAccess>()
  for (const ask of asks) for (const a of await listAuditAccesses(s, { actor, ...ask })) seen.set(`${a.txHash}.${a.ordinal}`, a)
  // With both a patient and a record named, a read must concern both.
  return [...seen.values()].filter((a) =>
    (patients.length === 0 || patients.includes(a.patient.id)) &&
    (records.length === 0 || records.includes(a.recordId.slice(2).toLowerCase())))
}

function byAgentAndDate(events: FhirAuditEvent[], q: SearchQuery): FhirAuditEvent[] {
  const agents = valuesOf(q.agent)
  const dates = (q.date === undefined ? [] : Array.isArray(q.date) ? q.date : [q.date]).map(parseDateParam)
  return events.filter((e) =>
    (agents.length === 0 || agents.some((v) => {
      const who = e.agent[0].who
      return (who.reference !== undefined && (who.reference === v || who.reference.endsWith(`/${v}`) || v.endsWith(`/${who.reference}`))) || who.identifier.value === v.toLowerCase()
    })) &&
    dates.every((d) => matchesDate(d, Date.parse(e.recorded ?? ''))))
}

/** Refuses a client's write, after the session check as everywhere: the trail is the ledger's. */
async function refuseWrite(req: FastifyRequest): Promise<never> {
  actorOf(req)
  throw new AppError('AUDIT_EVENT_READ_ONLY')
}

/**
 * AuditEvent (issue 11 item 7): every read in the on-chain trail, after IHE Basic Audit Log
 * Patterns; read and searched only — a client never writes one (405).
 */
export const auditEventModule: FhirResourceModule = {
  type: 'AuditEvent',
  interactions: ['read', 'search-type'],
  searchParams: [
    { name: 'patient', type: 'reference', documentation: 'Whose record was read: Patient/{id} (the patient or an admin). A patient who names no patient and no entity gets their own trail.' },
    { name: 'entity', type: 'reference', documentation: 'What was read: DocumentReference/{id} (its patient, author or an admin) or Patient/{id}.' },
    { name: 'agent', type: 'reference', documentation: 'Who read: Practitioner/{id}, Patient/{id}, Organization/{id}, or urn:ethereum:0x… .' },
    { name: 'date', type: 'date', documentation: 'When the read was logged (block time), with the prefixes eq, ne, gt, lt, ge, le.' },
    ...pagingParams,
  ],
  register(scope: FastifyInstance, { services }: FhirContext) {
    scope.get<{ Querystring: SearchQuery }>('/AuditEvent', {
      schema: { tags: ['fhir'], summary: 'Search the reads in the on-chain audit trail you may see.', querystring: searchQuery },
    }, async (req, reply) => {
      const { _count, _offset, ...params } = req.query
      const source = await sourceOf(services)
      const events = (await accessesOf(services, actorOf(req), req.query)).map((a) => toAuditEvent(a, source))
      const matches = byAgentAndDate(events, req.query).sort((a, b) => b.recorded.localeCompare(a.recorded))
      return sendResource(reply, searchsetBundle({ base: fhirBase(req), path: 'AuditEvent', params, matches, count: _count, offset: _offset }))
    })

    scope.get<{ Params: FromSchema<typeof idParams> }>('/AuditEvent/:id', {
      schema: { tags: ['fhir'], summary: 'One read in the on-chain audit trail, when you may see that trail.', params: idParams },
    }, async (req, reply) => {
      const ref = parseAuditEventId(checkFhirId(req.params.id))
      if (!ref) throw new AppError('NOT_FOUND')
      const access = await findAuditAccess(services, { actor: actorOf(req), ...ref })
      return sendResource(reply, toAuditEvent(access, await sourceOf(services)))
    })

    // Refusals, not operations: kept out of the OpenAPI document (and so of the authorization matrix's rows).
    const refused = { schema: { hide: true } }
    scope.post('/AuditEvent', refused, refuseWrite)
    scope.put('/AuditEvent/:id', refused, refuseWrite)
    scope.patch('/AuditEvent/:id', refused, refuseWrite)
    scope.delete('/AuditEvent/:id', refused, refuseWrite)
  },
}
