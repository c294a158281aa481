import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { approveRecovery, listRecoveries, startRecovery } from '../../consent/patient-recovery.ts'
import { actorOf } from '../actor-of.ts'
import { errors, idParams } from './schemas.ts'
import type { Services } from '../../services.ts'

const recoverySchema = {
  type: 'object',
  properties: {
    recoveryId: { type: 'string' },
    patientId: { type: 'string' },
    oldAddress: { type: 'string' },
    newAddress: { type: 'string' },
    state: { type: 'string', enum: ['proposed', 'approved'] },
    proposedBy: { type: 'string', description: 'The staff account that verified the patient in person.' },
    approvedBy: { type: ['string', 'null'] },
    envelopes: { type: ['string', 'null'], description: 'Digest (on chain, in RecoveryApproved) of the block re-wrapping the records\' data keys for the new key.' },
    rewrapped: { type: ['integer', 'null'], description: 'How many records the approval re-wrapped (in the approval\'s answer and the list; null while proposed).' },
    notRewrapped: { type: ['integer', 'null'], description: 'How many it could not: their data key is split into threshold shares (in the approval\'s answer and the list).' },
    patientName: { type: 'string', description: 'In the list only.' },
    proposedByName: { type: ['string', 'null'], description: 'In the list only; null for a recovery mirrored from the patient\'s home node.' },
    approvedByName: { type: ['string', 'null'], description: 'In the list only.' },
    createdAt: { type: 'string', format: 'date-time', description: 'In the list only.' },
    approvedAt: { type: ['string', 'null'], format: 'date-time', description: 'In the list only.' },
  },
} as const

const startBody = {
  type: 'object',
  required: ['patient', 'verifiedById'],
  additionalProperties: false,
  properties: {
    patient: { type: 'string', maxLength: 200 },
    verifiedById: { type: 'string', maxLength: 1000, description: 'How the patient was verified in person (kept on this node; only its keyed hash goes on chain).' },
  },
} as const

/** Recovery of a patient who lost every secret: staff start it, a second staff member or the admin approves. */
export async function recoveryRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<{ Body: FromSchema<typeof startBody> }>('/recoveries', {
    schema: {
      tags: ['accounts'],
      summary: 'Staff of the patient\'s hospital, having verified the patient in person, start a recovery: new keys are made and proposed on chain; `code` (shown once) is handed to the patient in person and sets a new password once a second person approves.',
      body: startBody,
      response: { 201: { type: 'object', properties: { recovery: recoverySchema, code: { type: 'string' } } }, ...errors(400, 401, 403, 404, 502, 503) },
    },
  }, async (req, reply) => reply.status(201).send(await startRecovery(services, { actor: actorOf(req), patient: req.body.patient, verifiedById: req.body.verifiedById })))

  app.post<{ Params: FromSchema<typeof idParams> }>('/recoveries/:id/approve', {
    schema: {
      tags: ['accounts'],
      summary: 'A second staff member of the patient\'s hospital (not the one who started it), or the admin, approves: the records are re-wrapped for the new key, the old key is retired on chain.',
      params: idParams,
      response: { 200: recoverySchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req) => approveRecovery(services, { actor: actorOf(req), recoveryId: req.params.id }))

  app.get('/recoveries', {
    schema: {
      tags: ['accounts'],
      summary: 'Account recoveries, newest first: staff see their hospital\'s, the admin all.',
      response: { 200: { type: 'object', properties: { recoveries: { type: 'array', items: recoverySchema } } }, ...errors(401, 403) },
    },
  }, async (req) => ({ recoveries: await listRecoveries(services, actorOf(req)) }))
}
