import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { createTeam } from '../../consent/create-team.ts'
import { addTeamMember, removeTeamMember } from '../../consent/team-members.ts'
import { listTeams } from '../../consent/list-teams.ts'
import { grantTeam, revokeTeamGrant } from '../../consent/grant-team.ts'
import { actorOf } from '../actor-of.ts'
import { errors, idParams } from './schemas.ts'
import type { Services } from '../../services.ts'

const teamSchema = {
  type: 'object',
  properties: {
    teamId: { type: 'string' },
    name: { type: 'string' },
    hospitalId: { type: 'string' },
    epoch: { type: 'number', description: 'The team key\'s epoch: 1 at creation, one more at each removal.' },
    members: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, address: { type: 'string' } } } },
    createdAt: { type: 'string' },
    grantExpiresAt: { type: ['string', 'null'], description: 'For a patient: until when their own grant to the team runs (null: none).' },
    remote: { type: 'boolean', description: 'For a patient: a team of another hospital, mirrored from the chain (named after its hospital; members not listed).' },
  },
} as const

const teamGrantSchema = {
  type: 'object',
  properties: {
    teamId: { type: 'string' },
    patientId: { type: 'string' },
    epoch: { type: 'number' },
    expiresAt: { type: 'string' },
    envelopes: { type: 'string' },
    txHash: { type: 'string' },
    revoked: { type: 'boolean' },
  },
} as const

const createBody = { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', maxLength: 1000 } } } as const
const memberBody = { type: 'object', required: ['doctor'], additionalProperties: false, properties: { doctor: { type: 'string', maxLength: 320, description: 'The doctor\'s e-mail, id or ledger address.' } } } as const
const memberParams = { type: 'object', required: ['id', 'doctorId'], properties: { id: { type: 'string', maxLength: 200 }, doctorId: { type: 'string', maxLength: 320 } } } as const
const grantBody = { type: 'object', additionalProperties: false, properties: { days: { type: 'number' } } } as const

/** Care teams: a hospital's staff create them and manage members; a patient grants a team. */
export async function teamRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<{ Body: FromSchema<typeof createBody> }>('/teams', {
    schema: { tags: ['teams'], summary: 'The hospital\'s staff (or the admin) create a care team; its name stays on this node, its id and key digest go on chain.', body: createBody, response: { 201: teamSchema, ...errors(400, 401, 403, 404, 502, 503) } },
  }, async (req, reply) => reply.status(201).send(await createTeam(services, { actor: actorOf(req), name: req.body.name })))

  app.get('/teams', {
    schema: { tags: ['teams'], summary: 'The care teams you may see: the admin all; staff, doctors and patients their hospital\'s.', response: { 200: { type: 'object', properties: { teams: { type: 'array', items: teamSchema } } }, ...errors(401, 403) } },
  }, async (req) => listTeams(services, { actor: actorOf(req) }))

  app.post<{ Params: FromSchema<typeof idParams>; Body: FromSchema<typeof memberBody> }>('/teams/:id/members', {
    schema: { tags: ['teams'], summary: 'The hospital\'s staff (or the admin) add one of its doctors to the team: on chain, and the team key wrapped for the doctor (no record is re-wrapped).', params: idParams, body: memberBody, response: { 200: teamSchema, ...errors(400, 401, 403, 404, 409, 502, 503) } },
  }, async (req) => addTeamMember(services, { actor: actorOf(req), teamId: req.params.id, doctor: req.body.doctor }))

  app.delete<{ Params: FromSchema<typeof memberParams> }>('/teams/:id/members/:doctorId', {
    schema: { tags: ['teams'], summary: 'The hospital\'s staff (or the admin) remove a member: the team key moves to a new epoch, wrapped for the remaining members; the chain refuses the removed doctor\'s reads at once.', params: memberParams, response: { 200: teamSchema, ...errors(400, 401, 403, 404, 409, 502, 503) } },
  }, async (req) => removeTeamMember(services, { actor: actorOf(req), teamId: req.params.id, doctorId: req.params.doctorId }))

  app.post<{ Params: FromSchema<typeof idParams>; Body: FromSchema<typeof grantBody> }>('/teams/:id/grant', {
    schema: { tags: ['teams'], summary: 'The patient grants the team all of their records for `days` (default 30), from their own key; members read while members and while it lives.', params: idParams, body: grantBody, response: { 201: teamGrantSchema, ...errors(400, 401, 403, 404, 502, 503) } },
  }, async (req, reply) => reply.status(201).send(await grantTeam(services, { actor: actorOf(req), teamId: req.params.id, days: req.body?.days })))

  app.delete<{ Params: FromSchema<typeof idParams> }>('/teams/:id/grant', {
    schema: { tags: ['teams'], summary: 'The patient revokes their grant to the team at once.', params: idParams, response: { 200: teamGrantSchema, ...errors(400, 401, 403, 404, 409, 502, 503) } },
  }, async (req) => revokeTeamGrant(services, { actor: actorOf(req), teamId: req.params.id }))
}
