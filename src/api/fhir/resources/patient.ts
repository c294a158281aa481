import { listVisibleAccounts } from '../../../consent/list-visible-accounts.ts'
import { resolveAccount } from '../../../consent/resolve-account.ts'
import { AppError } from '../../../errors.ts'
import type { Account, Actor } from '../../../accounts/account.ts'
import { directoryModule } from '../directory-module.ts'
import { ledgerIdentifier, toPatient } from '../directory-resources.ts'
import { matchesToken, referenceId } from '../search-params.ts'
import { fhirBase, pagingQuery, searchsetBundle } from '../bundle.ts'
import { checkFhirId } from '../fhir-id.ts'
import { sendResource } from '../send-resource.ts'
import { actorOf } from '../../actor-of.ts'
import type { FhirResource, FhirResourceModule } from '../resource-module.ts'
import type { FromSchema } from 'json-schema-to-ts'
import type { Services } from '../../../services.ts'

/**
 * Patient: read and search, from patient accounts, with the native directory's visibility
 * (GET /users, POST /users/resolve): a doctor reading a patient outside their care gets the
 * id and ledger address only, as natively.
 */
const directory = directoryModule<Account>({
  type: 'Patient',
  search: [
    { name: '_id', type: 'token', documentation: 'The patient\'s account id.', matches: (v, a) => v === a.id },
    { name: 'identifier', type: 'token', documentation: 'The ledger address: urn:ietf:rfc:3986|urn:ethereum:0x…', matches: (v, a) => matchesToken(v, [ledgerIdentifier(a.address)]) },
    { name: 'organization', type: 'reference', documentation: 'The hospital (Organization/id).', matches: (v, a) => a.hospitalId !== null && referenceId(v, 'Organization') === a.hospitalId },
  ],
  list: async (s, actor) => (await listVisibleAccounts(s, { actor, role: 'patient' })),
  read: readPatient,
  toResource: toPatient,
})

/**
 * A patient as POST /users/resolve shows them to the actor.
 * @throws AppError UNKNOWN_ACCOUNT (absent, not a patient, or not visible)
 */
async function readPatient(s: Services, actor: Actor, id: string): Promise<FhirResource> {
  const a = await resolveAccount(s, { actor, ref: id })
  if (a.role !== 'patient' || a.id !== id) throw new AppError('UNKNOWN_ACCOUNT')
  return toPatient(a)
}

const everythingParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 200 } } } as const
const everythingQuery = { type: 'object', additionalProperties: false, properties: { ...pagingQuery } } as const

/** Patient, with Patient/{id}/$everything: the Patient and what every module's `everything` hook gives of them. */
export const patientModule: FhirResourceModule = {
  ...directory,
  operations: [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }],
  async register(scope, ctx) {
    await directory.register(scope, ctx)
    scope.get<{ Params: FromSchema<typeof everythingParams>; Querystring: FromSchema<typeof everythingQuery> }>('/Patient/:id/$everything', {
      schema: { tags: ['fhir'], summary: 'FHIR Patient $everything: the Patient, the DocumentReferences and Consents you may see, as a searchset Bundle.', params: everythingParams, querystring: everythingQuery },
    }, async (req, reply) => {
      const actor = actorOf(req)
      const id = checkFhirId(req.params.id)
      const matches = [await readPatient(ctx.services, actor, id)]
      for (const m of ctx.modules) if (m.everything) matches.push(...await m.everything(ctx.services, { actor, patientId: id }))
      return sendResource(reply, searchsetBundle({ base: fhirBase(req), path: `Patient/${id}/$everything`, params: {}, matches, count: req.query._count ?? 1000, offset: req.query._offset }))
    })
  },
}
