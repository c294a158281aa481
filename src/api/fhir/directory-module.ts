import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import type { Actor } from '../../accounts/account.ts'
import type { Services } from '../../services.ts'
import { actorOf } from '../actor-of.ts'
import { checkFhirId } from './fhir-id.ts'
import { fhirBase, pagingParams, pagingQuery, searchsetBundle } from './bundle.ts'
import { sendResource } from './send-resource.ts'
import { valuesOf } from './search-params.ts'
import type { FhirResource, FhirResourceModule, FhirSearchParam } from './resource-module.ts'

const values = { type: 'array', items: { type: 'string', maxLength: 400 }, maxItems: 20 } as const
/** Every search parameter a directory type may take; each module matches only those it declares. */
const directoryQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { _id: values, identifier: values, organization: values, name: values, practitioner: values, ...pagingQuery },
} as const
type DirectoryQuery = FromSchema<typeof directoryQuery>
type DirectoryParam = Exclude<keyof DirectoryQuery, '_count' | '_offset'>
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 200 } } } as const

export interface DirectoryModuleParams<T> {
  type: string
  /** Search parameters and how one value matches an item (repeated parameters AND, commas OR). */
  search: (FhirSearchParam & { name: DirectoryParam; matches: (value: string, item: T) => boolean })[]
  /** The items the actor may see, as the native directory lists them. */
  list(s: Services, actor: Actor): Promise<T[]>
  /** One item the actor may see, as the native directory resolves it; AppError (a 404) otherwise. */
  read(s: Services, actor: Actor, id: string): Promise<FhirResource>
  toResource(item: T): FhirResource
}

/** A read-and-search FHIR module over a directory of the node (accounts, hospitals), with its visibility rules. */
export function directoryModule<T>(p: DirectoryModuleParams<T>): FhirResourceModule {
  return {
    type: p.type,
    interactions: ['read', 'search-type'],
    searchParams: [...p.search.map(({ name, type, documentation }) => ({ name, type, documentation })), ...pagingParams],
    register(scope: FastifyInstance, { services }) {
      scope.get<{ Params: FromSchema<typeof idParams> }>(`/${p.type}/:id`, {
        schema: { tags: ['fhir'], summary: `FHIR read of a ${p.type}: what the native directory shows the caller, else 404.`, params: idParams },
      }, async (req, reply) => sendResource(reply, await p.read(services, actorOf(req), checkFhirId(req.params.id))))
      scope.get<{ Querystring: DirectoryQuery }>(`/${p.type}`, {
        schema: { tags: ['fhir'], summary: `FHIR search of ${p.type}: a searchset Bundle of what the native directory shows the caller.`, querystring: directoryQuery },
      }, async (req, reply) => {
        const q = req.query
        const items = await p.list(services, actorOf(req))
        const used = p.search.filter((sp) => q[sp.name] !== undefined)
        const matches = items.filter((item) => used.every((sp) => (q[sp.name] ?? []).every((group) => valuesOf(group).some((v) => sp.matches(v, item)))))
        const params = Object.fromEntries(used.map((sp) => [sp.name, q[sp.name]]))
        return sendResource(reply, searchsetBundle({ base: fhirBase(req), path: p.type, params, matches: matches.map(p.toResource), count: q._count, offset: q._offset }))
      })
    },
  }
}
