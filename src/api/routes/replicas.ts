import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { listReplicas } from '../../consortium/list-replicas.ts'
import { getReplica } from '../../consortium/get-replica.ts'
import { actorOf } from '../actor-of.ts'
import { errors, idParams } from './schemas.ts'
import type { Services } from '../../services.ts'

const replicaSchema = {
  type: 'object',
  properties: {
    recordId: { type: 'string' },
    state: { type: 'string', enum: ['home', 'wanted', 'pinned', 'elsewhere'], description: 'home: stored here by its own hospital; wanted: falls to this node, not fetched yet; pinned: kept here as a replica; elsewhere: kept by other members.' },
    attempts: { type: 'integer' },
    error: { type: ['string', 'null'] },
    seenAt: { type: ['string', 'null'], description: 'When this node saw the anchor.' },
    pinnedAt: { type: ['string', 'null'] },
  },
}

const listQuery = { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } } } as const

/** Replication, for the node's operator: which records this node keeps for the consortium. Pseudonymous ids and states only. */
export async function replicaRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get<{ Querystring: FromSchema<typeof listQuery> }>('/replicas', {
    schema: {
      tags: ['node'],
      summary: 'Records this node keeps for other members (admin): wanted and pinned replicas, newest first.',
      querystring: listQuery,
      response: { 200: { type: 'object', properties: { replicas: { type: 'array', items: replicaSchema } } }, ...errors(401, 403) },
    },
  }, async (req) => ({ replicas: await listReplicas(services, { actor: actorOf(req), limit: req.query.limit }) }))

  app.get<{ Params: FromSchema<typeof idParams> }>('/replicas/:id', {
    schema: {
      tags: ['node'],
      summary: 'Where one anchored record is kept, as far as this node is concerned (admin).',
      params: idParams,
      response: { 200: replicaSchema, ...errors(400, 401, 403, 404) },
    },
  }, async (req) => getReplica(services, { actor: actorOf(req), recordId: req.params.id }))
}
