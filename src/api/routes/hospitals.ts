import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { createHospital, voteOnHospital } from '../../accounts/create-hospital.ts'
import { admitHospital } from '../../consortium/admit.ts'
import { listAdmissionVotes } from '../../consortium/list-admission-votes.ts'
import { listHospitals } from '../../accounts/list-hospitals.ts'
import { parseKeyScheme } from '../../crypto/key-wrap.ts'
import { actorOf } from '../actor-of.ts'
import { errors, hospitalSchema, idParams } from './schemas.ts'
import type { Services } from '../../services.ts'

const createBody = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, keyScheme: { type: 'string' } },
} as const
const admitBody = {
  type: 'object',
  required: ['address', 'name'],
  additionalProperties: false,
  properties: { address: { type: 'string', maxLength: 42 }, name: { type: 'string', minLength: 1, maxLength: 200 } },
} as const
const admissionVoteSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    address: { type: 'string' },
    proposalId: { type: 'integer' },
    approvals: { type: 'integer' },
    rejections: { type: 'integer' },
    memberCount: { type: 'integer', description: 'Member hospitals now; a strict majority of them admits.' },
    members: {
      type: 'array',
      description: 'Each member hospital and whether it has voted (the chain keeps whether, not how: the tallies say that).',
      items: { type: 'object', properties: { address: { type: 'string' }, name: { type: 'string' }, voted: { type: 'boolean' } } },
    },
    expired: { type: 'boolean', description: 'Older than the Registry\'s proposal lifetime (MEDLEDGER_PROPOSAL_TTL_DAYS at founding; chain time): it can no longer be voted on (409 PROPOSAL_EXPIRED), and a new proposal may be opened.' },
    votedByYourHospital: { type: 'boolean', description: 'Whether the hospital the caller acts for has voted (false when it acts for none).' },
  },
} as const
const voteBody = { type: 'object', required: ['approve'], additionalProperties: false, properties: { approve: { type: 'boolean' } } } as const

/** Hospitals of the consortium: the admin admits them; any signed-in user lists them. */
export async function hospitalRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<{ Body: FromSchema<typeof createBody> }>('/hospitals', {
    schema: {
      tags: ['hospitals'],
      summary: 'Admit a hospital (consortium admin): creates its ledger identity and emergency key and adds it to the Registry — directly while the consortium has one member, as a proposal for the members\' vote once it has several.',
      body: createBody,
      response: { 201: hospitalSchema, ...errors(400, 401, 403, 502, 503) },
    },
  }, async (req, reply) => {
    const body = req.body
    const hospital = await createHospital(services, { actor: actorOf(req), name: body.name, keyScheme: body.keyScheme ? parseKeyScheme(body.keyScheme) : undefined })
    return reply.status(201).send(hospital)
  })

  app.post<{ Body: FromSchema<typeof admitBody> }>('/hospitals/admit', {
    schema: {
      tags: ['hospitals'],
      summary: 'Admit a hospital that applied from its own node (medledger start --registry): the consortium admin adds it while there is one member; after that this opens the vote and casts this node\'s hospital\'s vote.',
      body: admitBody,
      response: {
        200: { type: 'object', properties: { address: { type: 'string' }, name: { type: 'string' }, admitted: { type: 'boolean' } } },
        ...errors(400, 401, 403, 404, 409, 502, 503),
      },
    },
  }, async (req) => {
    const result = await admitHospital(services, { actor: actorOf(req), address: req.body.address, name: req.body.name })
    await services.consortium?.refresh().catch(() => {})
    return result
  })

  app.get('/hospitals', { schema: { tags: ['hospitals'], summary: 'List the admitted hospitals.', response: { 200: { type: 'object', properties: { hospitals: { type: 'array', items: hospitalSchema } } }, ...errors(401) } } }, async (req) => {
    actorOf(req)
    return { hospitals: await listHospitals(services) }
  })

  app.get('/hospitals/proposals', {
    schema: {
      tags: ['hospitals'],
      summary: 'The open admission votes (consortium admin, hospital staff): each proposed hospital with the tallies on chain and which members have voted.',
      response: { 200: { type: 'object', properties: { proposals: { type: 'array', items: admissionVoteSchema } } }, ...errors(401, 403, 503) },
    },
  }, async (req) => ({ proposals: await listAdmissionVotes(services, { actor: actorOf(req) }) }))

  app.post<{ Params: FromSchema<typeof idParams>; Body: FromSchema<typeof voteBody> }>('/hospitals/:id/vote', {
    schema: {
      tags: ['hospitals'],
      summary: 'A member hospital\'s staff casts the hospital\'s vote (from the hospital\'s own key) on admitting a proposed hospital; a strict majority of members admits it.',
      params: idParams,
      body: voteBody,
      response: { 200: hospitalSchema, ...errors(400, 401, 403, 404, 502, 503) },
    },
  }, async (req) => voteOnHospital(services, { actor: actorOf(req), candidate: req.params.id, approve: req.body.approve }))
}
