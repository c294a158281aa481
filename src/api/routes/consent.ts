import type { FastifyInstance } from 'fastify'
import { requestAccess } from '../../consent/request-access.ts'
import { approveAccess } from '../../consent/approve-access.ts'
import { denyAccess } from '../../consent/deny-access.ts'
import { revokeAccess } from '../../consent/revoke-access.ts'
import { getAccessRequest } from '../../consent/get-access-request.ts'
import { listAccessRequests } from '../../consent/list-access-requests.ts'
import { createShare, listShares, revokeShare } from '../../consent/shares.ts'
import { listEmergencies, openEmergency } from '../../consent/emergency.ts'
import { auditTrail } from '../../consent/audit-trail.ts'
import { actorOf } from '../actor-of.ts'
import { errors } from './schemas.ts'
import type { Services } from '../../services.ts'

const id = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 80 } } } as const
const recordIds = { type: 'array', items: { type: 'string', maxLength: 80 }, maxItems: 1000 } as const
const party = { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, address: { type: 'string' } } } as const
const requestSchema = {
  type: 'object',
  properties: {
    requestId: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'approved', 'denied', 'revoked', 'expired'] },
    requester: party,
    patient: party,
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
const shareSchema = {
  type: 'object',
  properties: {
    shareId: { type: 'string' },
    recordIds: { type: 'array', items: { type: 'string' } },
    grantee: { type: ['object', 'null'], properties: party.properties },
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
const emergencySchema = {
  type: 'object',
  properties: {
    emergencyId: { type: 'string' },
    doctor: party,
    patient: party,
    reason: { type: 'string' },
    expiresAt: { type: 'string' },
    live: { type: 'boolean' },
    records: { type: 'integer' },
    declareTx: { type: ['string', 'null'] },
    releaseTx: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
} as const

/** Access requests and grants, selective sharing, break-glass and the audit trail. */
export async function consentRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post('/access-requests', {
    schema: {
      tags: ['consent'],
      summary: 'A confirmed doctor asks a patient for access to all (no recordIds) or listed records, for a purpose and a number of days. Sent on chain from the doctor\'s key; the purpose text stays off chain.',
      body: {
        type: 'object',
        required: ['patient', 'purpose', 'days'],
        additionalProperties: false,
        properties: { patient: { type: 'string', maxLength: 320 }, recordIds, purpose: { type: 'string', maxLength: 500 }, days: { type: 'number' } },
      },
      response: { 201: requestSchema, ...errors(400, 401, 403, 404, 502, 503) },
    },
  }, async (req, reply) => {
    const b = req.body as { patient: string; recordIds?: string[]; purpose: string; days: number }
    return reply.status(201).send(await requestAccess(services, { actor: actorOf(req), ...b }))
  })

  app.get('/access-requests', {
    schema: { tags: ['consent'], summary: 'Requests addressed to you (patient), made by you (doctor), or all (admin); newest first.', response: { 200: { type: 'object', properties: { requests: { type: 'array', items: requestSchema } } }, ...errors(401, 403) } },
  }, async (req) => ({ requests: await listAccessRequests(services, { actor: actorOf(req) }) }))

  app.get('/access-requests/:id', {
    schema: { tags: ['consent'], summary: 'One request you are party to.', params: id, response: { 200: requestSchema, ...errors(400, 401, 404) } },
  }, async (req) => getAccessRequest(services, { actor: actorOf(req), requestId: (req.params as { id: string }).id }))

  app.post('/access-requests/:id/approve', {
    schema: {
      tags: ['consent'],
      summary: 'The patient approves, optionally narrowing records or days: data keys are re-wrapped for the doctor and the approval is sent from the patient\'s key.',
      params: id,
      body: { type: ['object', 'null'], additionalProperties: false, properties: { days: { type: 'number' }, recordIds } },
      response: { 200: requestSchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req) => {
    const b = (req.body ?? {}) as { days?: number; recordIds?: string[] }
    return approveAccess(services, { actor: actorOf(req), requestId: (req.params as { id: string }).id, ...b })
  })

  app.post('/access-requests/:id/deny', {
    schema: {
      tags: ['consent'],
      summary: 'The patient denies, with a reason (kept off chain).',
      params: id,
      body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } },
      response: { 200: requestSchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req) => denyAccess(services, { actor: actorOf(req), requestId: (req.params as { id: string }).id, reason: (req.body as { reason: string }).reason }))

  app.post('/access-requests/:id/revoke', {
    schema: { tags: ['consent'], summary: 'The patient ends a grant now.', params: id, response: { 200: requestSchema, ...errors(400, 401, 403, 404, 409, 502, 503) } },
  }, async (req) => revokeAccess(services, { actor: actorOf(req), requestId: (req.params as { id: string }).id }))

  app.post('/shares', {
    schema: {
      tags: ['consent'],
      summary: 'The patient shares listed records with a named user (`to`: e-mail, id or address) or by a share token (`token: true`; the token is in this answer only). Readers with a token send it in the `X-Medledger-Share-Token` header of `GET /records/:id`.',
      body: {
        type: 'object',
        required: ['recordIds'],
        additionalProperties: false,
        properties: { recordIds, to: { type: 'string', maxLength: 320 }, token: { type: 'boolean' }, days: { type: 'number' }, once: { type: 'boolean' } },
      },
      response: { 201: shareSchema, ...errors(400, 401, 403, 404, 502, 503) },
    },
  }, async (req, reply) => {
    const b = req.body as { recordIds: string[]; to?: string; token?: boolean; days?: number; once?: boolean }
    return reply.status(201).send(await createShare(services, { actor: actorOf(req), ...b }))
  })

  app.get('/shares', {
    schema: { tags: ['consent'], summary: 'Your shares (patient) and shares made to you.', response: { 200: { type: 'object', properties: { shares: { type: 'array', items: shareSchema } } }, ...errors(401, 403) } },
  }, async (req) => ({ shares: await listShares(services, { actor: actorOf(req) }) }))

  app.post('/shares/:id/revoke', {
    schema: { tags: ['consent'], summary: 'The patient revokes a share.', params: id, response: { 200: shareSchema, ...errors(400, 401, 403, 404, 502, 503) } },
  }, async (req) => revokeShare(services, { actor: actorOf(req), shareId: (req.params as { id: string }).id }))

  app.post('/emergencies', {
    schema: {
      tags: ['consent'],
      summary: 'Break-glass: a confirmed doctor states a reason; the emergency is on chain before any key is released; the patient is told; admins review it.',
      body: { type: 'object', required: ['patient', 'reason'], additionalProperties: false, properties: { patient: { type: 'string', maxLength: 320 }, reason: { type: 'string', maxLength: 500 } } },
      response: { 201: emergencySchema, ...errors(400, 401, 403, 404, 502, 503) },
    },
  }, async (req, reply) => {
    const b = req.body as { patient: string; reason: string }
    return reply.status(201).send(await openEmergency(services, { actor: actorOf(req), ...b }))
  })

  app.get('/emergencies', {
    schema: { tags: ['consent'], summary: 'Emergency accesses: all (admin review list), your own (doctor), to your records (patient).', response: { 200: { type: 'object', properties: { emergencies: { type: 'array', items: emergencySchema } } }, ...errors(401, 403) } },
  }, async (req) => ({ emergencies: await listEmergencies(services, { actor: actorOf(req) }) }))

  app.get('/audit', {
    schema: {
      tags: ['consent'],
      summary: 'The on-chain audit trail of a patient (the patient or an admin) or of a record, newest first, with names from this node for display. A patient or record you may not see answers 404, as one that does not exist.',
      querystring: { type: 'object', additionalProperties: false, properties: { patient: { type: 'string', maxLength: 320 }, record: { type: 'string', maxLength: 80 } } },
      response: {
        200: {
          type: 'object',
          properties: {
            entries: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  event: { type: 'string' },
                  at: { type: 'string' },
                  blockNumber: { type: 'integer' },
                  txHash: { type: 'string' },
                  actor: { type: 'object', properties: { address: { type: 'string' }, name: { type: ['string', 'null'] }, role: { type: ['string', 'null'] } } },
                  recordId: { type: ['string', 'null'] },
                  ref: { type: ['string', 'null'] },
                  purpose: { type: ['string', 'null'] },
                  why: { type: ['string', 'null'] },
                  emergency: { type: 'boolean' },
                },
              },
            },
          },
        },
        ...errors(400, 401, 403, 404),
      },
    },
  }, async (req) => {
    const q = req.query as { patient?: string; record?: string }
    return { entries: await auditTrail(services, { actor: actorOf(req), patient: q.patient, recordId: q.record }) }
  })
}
