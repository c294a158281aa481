import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { createShare, listShares, revokeShare } from '../../consent/shares.ts'
import { actorOf } from '../actor-of.ts'
import { errors, idParams, partySchema, recordIdsSchema } from './schemas.ts'
import type { Services } from '../../services.ts'

const shareSchema = {
  type: 'object',
  properties: {
    shareId: { type: 'string' },
    recordIds: { type: 'array', items: { type: 'string' } },
    grantee: { type: ['object', 'null'], properties: partySchema.properties },
    byToken: { type: 'boolean' },
    once: { type: 'boolean' },
    used: { type: 'boolean' },
    expiresAt: { type: 'string' },
    revoked: { type: 'boolean' },
    live: { type: 'boolean' },
    txHash: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    token: { type: 'string', description: 'Share-token shares only, in the answer to their creation: shown once, never stored.' },
  },
} as const

const shareBody = {
  type: 'object',
  required: ['recordIds'],
  additionalProperties: false,
  properties: { recordIds: recordIdsSchema, to: { type: 'string', maxLength: 320 }, token: { type: 'boolean' }, days: { type: 'number' }, once: { type: 'boolean' } },
} as const

/** Selective sharing: the patient shares listed records with a user or by a share token, and revokes. */
export async function shareRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<{ Body: FromSchema<typeof shareBody> }>('/shares', {
    schema: {
      tags: ['consent'],
      summary: 'The patient shares listed records with a named user (`to`: e-mail, id or address) or by a share token (`token: true`; the token is in this answer only). Readers with a token send it in the `X-Medledger-Share-Token` header of `GET /records/:id`.',
      body: shareBody,
      response: { 201: shareSchema, ...errors(400, 401, 403, 404, 502, 503) },
    },
  }, async (req, reply) => reply.status(201).send(await createShare(services, { actor: actorOf(req), ...req.body })))

  app.get('/shares', {
    schema: { tags: ['consent'], summary: 'Your shares (patient) and shares made to you.', response: { 200: { type: 'object', properties: { shares: { type: 'array', items: shareSchema } } }, ...errors(401, 403) } },
  }, async (req) => ({ shares: await listShares(services, { actor: actorOf(req) }) }))

  app.post<{ Params: FromSchema<typeof idParams> }>('/shares/:id/revoke', {
    schema: { tags: ['consent'], summary: 'The patient revokes a share.', params: idParams, response: { 200: shareSchema, ...errors(400, 401, 403, 404, 502, 503) } },
  }, async (req) => revokeShare(services, { actor: actorOf(req), shareId: req.params.id }))
}
