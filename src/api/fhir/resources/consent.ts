import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { listConsentDirectives } from '../../../consent/list-consent-directives.ts'
import { AppError } from '../../../errors.ts'
import { actorOf } from '../../actor-of.ts'
import { fhirBase, pagingParams, pagingQuery, searchsetBundle } from '../bundle.ts'
import { checkFhirId } from '../fhir-id.ts'
import { sendResource } from '../send-resource.ts'
import { referenceId, valuesOf } from '../search-params.ts'
import { matchesDate, parseDateParam } from '../date-param.ts'
import { toConsents, type FhirConsent } from '../consent-resource.ts'
import { parseConsentId } from '../consent-id.ts'
import { updateConsent, consentUpdateBody } from '../consent-update.ts'
import type { FhirContext, FhirResource, FhirResourceModule } from '../resource-module.ts'
import type { Services } from '../../../services.ts'
import type { Actor } from '../../../accounts/account.ts'

const searchQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    patient: { anyOf: [{ type: 'string', maxLength: 200 }, { type: 'array', items: { type: 'string', maxLength: 200 }, maxItems: 10 }] },
    actor: { anyOf: [{ type: 'string', maxLength: 200 }, { type: 'array', items: { type: 'string', maxLength: 200 }, maxItems: 10 }] },
    status: { anyOf: [{ type: 'string', maxLength: 100 }, { type: 'array', items: { type: 'string', maxLength: 100 }, maxItems: 10 }] },
    date: { anyOf: [{ type: 'string', maxLength: 40 }, { type: 'array', items: { type: 'string', maxLength: 40 }, maxItems: 4 }] },
    ...pagingQuery,
  },
} as const
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 200 } } } as const
type SearchQuery = FromSchema<typeof searchQuery>

/** Every Consent the actor may see: the grants, shares and break-glass accesses the native lists show them. */
export async function visibleConsents(s: Services, actor: Actor): Promise<FhirConsent[]> {
  return toConsents(await listConsentDirectives(s, { actor }))
}

/** The Consents of a search: all the actor may see, narrowed by each parameter given (values of one parameter are OR'ed). */
function matching(all: FhirConsent[], q: SearchQuery): FhirConsent[] {
  const patients = valuesOf(q.patient).map((v) => referenceId(v, 'Patient') ?? '\0')
  const actors = valuesOf(q.actor).map((v) => ({ practitioner: referenceId(v, 'Practitioner'), patient: referenceId(v, 'Patient') }))
  const statuses = valuesOf(q.status)
  const dates = (q.date === undefined ? [] : Array.isArray(q.date) ? q.date : [q.date]).map(parseDateParam)
  return all.filter((c) =>
    (patients.length === 0 || patients.some((p) => c.patient.reference === `Patient/${p}`)) &&
    (actors.length === 0 || actors.some((a) => (c.provision.actor ?? []).some((x) => x.reference.reference === `Practitioner/${a.practitioner}` || x.reference.reference === `Patient/${a.patient}`))) &&
    (statuses.length === 0 || statuses.includes(c.status)) &&
    dates.every((d) => matchesDate(d, Date.parse(c.dateTime ?? ''))))
}

/**
 * Consent (issue 11 item 6): one for each access request and grant, share and break-glass
 * access, read and searched as the native lists show them; the patient decides a request by PUT.
 */
export const consentModule: FhirResourceModule = {
  type: 'Consent',
  interactions: ['read', 'update', 'search-type'],
  searchParams: [
    { name: 'patient', type: 'reference', documentation: 'The patient whose consent it is: Patient/{id}.' },
    { name: 'actor', type: 'reference', documentation: 'Who is given access (provision.actor): Practitioner/{id} or Patient/{id}.' },
    { name: 'status', type: 'token', documentation: 'proposed (a pending request), active, inactive (revoked or expired), rejected (denied).' },
    { name: 'date', type: 'date', documentation: 'When it was last decided on chain (dateTime), with the prefixes eq, ne, gt, lt, ge, le.' },
    ...pagingParams,
  ],
  register(scope: FastifyInstance, { services }: FhirContext) {
    scope.get<{ Querystring: SearchQuery }>('/Consent', {
      schema: { tags: ['fhir'], summary: 'Search the Consents you may see (grants, shares, break-glass accesses).', querystring: searchQuery },
    }, async (req, reply) => {
      const { _count, _offset, ...params } = req.query
      const matches = matching(await visibleConsents(services, actorOf(req)), req.query)
      return sendResource(reply, searchsetBundle({ base: fhirBase(req), path: 'Consent', params, matches, count: _count, offset: _offset }))
    })

    scope.get<{ Params: FromSchema<typeof idParams> }>('/Consent/:id', {
      schema: { tags: ['fhir'], summary: 'One Consent you may see.', params: idParams },
    }, async (req, reply) => {
      const id = checkFhirId(req.params.id)
      const { kind } = parseConsentId(id)
      const found = (await visibleConsents(services, actorOf(req))).find((c) => c.id === id)
      if (!found) throw new AppError(kind === 'grant' ? 'REQUEST_NOT_FOUND' : kind === 'share' ? 'SHARE_NOT_FOUND' : 'NOT_FOUND')
      return sendResource(reply, found)
    })

    scope.put<{ Params: FromSchema<typeof idParams>; Body: FromSchema<typeof consentUpdateBody> }>('/Consent/:id', {
      schema: { tags: ['fhir'], summary: 'The patient decides: status active approves a pending request (period.end and data may narrow it), rejected denies it, inactive revokes a grant or a share.', params: idParams, body: consentUpdateBody },
    }, async (req, reply) => {
      const updated = await updateConsent(services, { actor: actorOf(req), id: checkFhirId(req.params.id), body: req.body })
      return sendResource(reply, updated)
    })
  },
  async everything(s, { actor, patientId }) {
    return (await visibleConsents(s, actor)).filter((c) => c.patient.reference === `Patient/${patientId}`)
  },
}
