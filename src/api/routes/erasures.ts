import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { decideErasure, listErasures, requestErasure } from '../../consent/erasures.ts'
import { actorOf } from '../actor-of.ts'
import { errors, idParams, partySchema } from './schemas.ts'
import type { Services } from '../../services.ts'

const erasureSchema = {
  type: 'object',
  properties: {
    erasureId: { type: 'string' },
    recordId: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'confirmed', 'rejected'] },
    patient: partySchema,
    hospitalId: { type: 'string' },
    reason: { type: ['string', 'null'], description: 'The patient\'s reason, kept off chain (null for a request made on another node).' },
    decisionReason: { type: ['string', 'null'], description: 'The staff\'s reason for a rejection, kept off chain.' },
    requestTx: { type: ['string', 'null'] },
    decisionTx: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    decidedAt: { type: ['string', 'null'] },
  },
} as const

const reasonBody = { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 2000 } } } as const
const listQuery = { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: ['pending', 'confirmed', 'rejected'] } } } as const

/** Erasure by crypto-shredding: the patient asks, the record's hospital (staff, or the admin) confirms or rejects. */
export async function erasureRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<{ Params: FromSchema<typeof idParams>; Body: FromSchema<typeof reasonBody> }>('/records/:id/erasure', {
    schema: {
      tags: ['records'],
      summary: 'The patient asks to erase one of their records, with a reason (kept off chain; its keyed hash goes on chain). The record reads as before until the hospital decides.',
      params: idParams,
      body: reasonBody,
      response: { 201: erasureSchema, ...errors(400, 401, 403, 404, 409, 410, 502, 503) },
    },
  }, async (req, reply) => reply.status(201).send(await requestErasure(services, { actor: actorOf(req), recordId: req.params.id, reason: req.body.reason })))

  app.get<{ Querystring: FromSchema<typeof listQuery> }>('/erasures', {
    schema: {
      tags: ['records'],
      summary: 'Erasure requests, newest first: staff see their hospital\'s, the admin all, a patient their own (`status` filters).',
      querystring: listQuery,
      response: { 200: { type: 'object', properties: { erasures: { type: 'array', items: erasureSchema } } }, ...errors(400, 401, 403) },
    },
  }, async (req) => ({ erasures: await listErasures(services, { actor: actorOf(req), status: req.query.status }) }))

  app.post<{ Params: FromSchema<typeof idParams> }>('/erasures/:id/confirm', {
    schema: {
      tags: ['records'],
      summary: 'Staff of the record\'s hospital (or the admin) confirm: the tombstone goes on chain, and every envelope, grant key and block of the record is destroyed on every node.',
      params: idParams,
      response: { 200: erasureSchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req) => decideErasure(services, { actor: actorOf(req), erasureId: req.params.id, confirm: true }))

  app.post<{ Params: FromSchema<typeof idParams>; Body: FromSchema<typeof reasonBody> }>('/erasures/:id/reject', {
    schema: {
      tags: ['records'],
      summary: 'Staff of the record\'s hospital (or the admin) reject, with a reason (kept off chain; its keyed hash goes on chain): the record stays.',
      params: idParams,
      body: reasonBody,
      response: { 200: erasureSchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req) => decideErasure(services, { actor: actorOf(req), erasureId: req.params.id, confirm: false, reason: req.body.reason }))
}
