import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { requestAccess } from '../../consent/request-access.ts'
import { approveAccess } from '../../consent/approve-access.ts'
import { denyAccess } from '../../consent/deny-access.ts'
import { revokeAccess } from '../../consent/revoke-access.ts'
import { getAccessRequest } from '../../consent/get-access-request.ts'
import { listAccessRequests } from '../../consent/list-access-requests.ts'
import { actorOf } from '../actor-of.ts'
import { errors, idParams, partySchema, recordIdsSchema } from './schemas.ts'
import type { Services } from '../../services.ts'

const requestSchema = {
  type: 'object',
  properties: {
    requestId: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'approved', 'denied', 'revoked', 'expired'] },
    requester: partySchema,
    patient: partySchema,
    recordIds: { type: ['array', 'null'], items: { type: 'string' } },
    grantedRecordIds: { type: ['array', 'null'], items: { type: 'string' } },
    purpose: { type: 'string' },
    durationSeconds: { type: 'integer' },
    expiresAt: { type: ['string', 'null'] },
    reason: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    decidedAt: { type: ['string', 'null'] },
    requestTx: { type: ['string', 'null'] },
    decisionTx: { type: ['string', 'null'] },
  },
} as const

const requestBody = {
  type: 'object',
  required: ['patient', 'purpose', 'days'],
  additionalProperties: false,
  properties: { patient: { type: 'string', maxLength: 320 }, recordIds: recordIdsSchema, purpose: { type: 'string', maxLength: 500 }, days: { type: 'number' } },
} as const
const approveBody = { type: ['object', 'null'], additionalProperties: false, properties: { days: { type: 'number' }, recordIds: recordIdsSchema } } as const
const denyBody = { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } } as const

type IdParams = { Params: FromSchema<typeof idParams> }

/** Access requests and grants: a doctor asks, the patient approves, denies or revokes. */
export async function accessRequestRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<{ Body: FromSchema<typeof requestBody> }>('/access-requests', {
    schema: {
      tags: ['consent'],
      summary: 'A confirmed doctor asks a patient for access to all (no recordIds) or listed records, for a purpose and a number of days. Sent on chain from the doctor\'s key; the purpose text stays off chain.',
      body: requestBody,
      response: { 201: requestSchema, ...errors(400, 401, 403, 404, 502, 503) },
    },
  }, async (req, reply) => reply.status(201).send(await requestAccess(services, { actor: actorOf(req), ...req.body })))

  app.get('/access-requests', {
    schema: { tags: ['consent'], summary: 'Requests addressed to you (patient), made by you (doctor), or all (admin); newest first.', response: { 200: { type: 'object', properties: { requests: { type: 'array', items: requestSchema } } }, ...errors(401, 403) } },
  }, async (req) => ({ requests: await listAccessRequests(services, { actor: actorOf(req) }) }))

  app.get<IdParams>('/access-requests/:id', {
    schema: { tags: ['consent'], summary: 'One request you are party to.', params: idParams, response: { 200: requestSchema, ...errors(400, 401, 404) } },
  }, async (req) => getAccessRequest(services, { actor: actorOf(req), requestId: req.params.id }))

  app.post<IdParams & { Body: FromSchema<typeof approveBody> }>('/access-requests/:id/approve', {
    schema: {
      tags: ['consent'],
      summary: 'The patient approves, optionally narrowing records or days: data keys are re-wrapped for the doctor and the approval is sent from the patient\'s key.',
      params: idParams,
      body: approveBody,
      response: { 200: requestSchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req) => approveAccess(services, { actor: actorOf(req), requestId: req.params.id, ...(req.body ?? {}) }))

  app.post<IdParams & { Body: FromSchema<typeof denyBody> }>('/access-requests/:id/deny', {
    schema: {
      tags: ['consent'],
      summary: 'The patient denies, with a reason (kept off chain).',
      params: idParams,
      body: denyBody,
      response: { 200: requestSchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req) => denyAccess(services, { actor: actorOf(req), requestId: req.params.id, reason: req.body.reason }))

  app.post<IdParams>('/access-requests/:id/revoke', {
    schema: { tags: ['consent'], summary: 'The patient ends a grant now.', params: idParams, response: { 200: requestSchema, ...errors(400, 401, 403, 404, 409, 502, 503) } },
  }, async (req) => revokeAccess(services, { actor: actorOf(req), requestId: req.params.id }))
}
