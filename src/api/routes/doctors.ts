import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { confirmDoctor, listPendingDoctors, rejectDoctor } from '../../accounts/confirm-doctor.ts'
import { actorOf } from '../actor-of.ts'
import { accountSchema, errors, idParams } from './schemas.ts'
import type { Services } from '../../services.ts'

const rejectBody = { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } } as const

type IdParams = { Params: FromSchema<typeof idParams> }

/** Signed-up doctors: the admin or their hospital's staff confirm or reject them. */
export async function doctorRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get('/doctors/pending', {
    schema: { tags: ['users'], summary: 'Signed-up doctors waiting for confirmation (admin: all; staff: their hospital\'s), with their licence numbers.', response: { 200: { type: 'object', properties: { doctors: { type: 'array', items: { ...accountSchema, properties: { ...accountSchema.properties, licence: { type: ['string', 'null'] } } } } } }, ...errors(401, 403) } },
  }, async (req) => ({ doctors: await listPendingDoctors(services, { actor: actorOf(req) }) }))

  app.post<IdParams>('/doctors/:id/confirm', {
    schema: { tags: ['users'], summary: 'Confirm a signed-up doctor (admin or the hospital\'s staff), on chain from your own key.', params: idParams, response: { 200: accountSchema, ...errors(401, 403, 404, 409, 502, 503) } },
  }, async (req) => confirmDoctor(services, { actor: actorOf(req), id: req.params.id }))

  app.post<IdParams & { Body: FromSchema<typeof rejectBody> }>('/doctors/:id/reject', {
    schema: {
      tags: ['users'],
      summary: 'Reject a signed-up doctor with a reason (kept off chain).',
      params: idParams,
      body: rejectBody,
      response: { 200: accountSchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req) => rejectDoctor(services, { actor: actorOf(req), id: req.params.id, reason: req.body.reason }))
}
