import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { confirmDoctor, listPendingDoctors, rejectDoctor } from '../../accounts/confirm-doctor.ts'
import { actorOf } from '../actor-of.ts'
import { accountSchema, errors, idParams } from './schemas.ts'
import type { Services } from '../../services.ts'

const rejectBody = { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } } as const

type IdParams = { Params: FromSchema<typeof idParams> }

/** Signed-up researchers: the admin or their hospital's staff confirm or reject them, as doctors. */
export async function researcherRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get('/researchers/pending', {
    schema: { tags: ['users'], summary: 'Signed-up researchers waiting for confirmation (admin: all; staff: their hospital\'s).', response: { 200: { type: 'object', properties: { researchers: { type: 'array', items: accountSchema } } }, ...errors(401, 403) } },
  }, async (req) => ({ researchers: await listPendingDoctors(services, { actor: actorOf(req), role: 'researcher' }) }))

  app.post<IdParams>('/researchers/:id/confirm', {
    schema: { tags: ['users'], summary: 'Confirm a signed-up researcher (admin or the hospital\'s staff), on chain from your own key.', params: idParams, response: { 200: accountSchema, ...errors(401, 403, 404, 409, 502, 503) } },
  }, async (req) => confirmDoctor(services, { actor: actorOf(req), id: req.params.id, role: 'researcher' }))

  app.post<IdParams & { Body: FromSchema<typeof rejectBody> }>('/researchers/:id/reject', {
    schema: {
      tags: ['users'],
      summary: 'Reject a signed-up researcher with a reason (kept off chain).',
      params: idParams,
      body: rejectBody,
      response: { 200: accountSchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req) => rejectDoctor(services, { actor: actorOf(req), id: req.params.id, reason: req.body.reason, role: 'researcher' }))
}
