import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { listEmergencies, openEmergency } from '../../consent/emergency.ts'
import { setEmergencyThreshold } from '../../consent/emergency-threshold.ts'
import { rekeyAllEmergency } from '../../consent/rekey-all-emergency.ts'
import { actorOf } from '../actor-of.ts'
import { errors, partySchema } from './schemas.ts'
import type { Services } from '../../services.ts'

const emergencySchema = {
  type: 'object',
  properties: {
    emergencyId: { type: 'string' },
    doctor: partySchema,
    patient: partySchema,
    reason: { type: 'string' },
    expiresAt: { type: 'string' },
    live: { type: 'boolean' },
    records: { type: 'integer' },
    declareTx: { type: ['string', 'null'] },
    releaseTx: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
} as const

const emergencyBody = { type: 'object', required: ['patient', 'reason'], additionalProperties: false, properties: { patient: { type: 'string', maxLength: 320 }, reason: { type: 'string', maxLength: 500 } } } as const

const thresholdBody = {
  type: 'object', required: ['shares', 'threshold'], additionalProperties: false,
  properties: { shares: { type: 'integer', minimum: 0, maximum: 16 }, threshold: { type: 'integer', minimum: 0, maximum: 16 } },
} as const

/** Break-glass access: a confirmed doctor opens an emergency; admins review them all. */
export async function emergencyRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<{ Body: FromSchema<typeof emergencyBody> }>('/emergencies', {
    schema: {
      tags: ['consent'],
      summary: 'Break-glass: a confirmed doctor states a reason; the emergency is on chain before any key is released; the patient is told; admins review it.',
      body: emergencyBody,
      response: { 201: emergencySchema, ...errors(400, 401, 403, 404, 502, 503) },
    },
  }, async (req, reply) => reply.status(201).send(await openEmergency(services, { actor: actorOf(req), ...req.body })))

  app.put<{ Body: FromSchema<typeof thresholdBody> }>('/emergencies/threshold', {
    schema: {
      tags: ['consent'],
      summary: 'Threshold break-glass: the consortium admin sets among how many member hospitals new records\' data keys are split and how many must release their shares (0, 0: the default).',
      body: thresholdBody,
      response: { 200: { type: 'object', properties: { shares: { type: 'integer' }, threshold: { type: 'integer' }, txHash: { type: 'string' } } }, ...errors(400, 401, 403, 502, 503) },
    },
  }, async (req) => setEmergencyThreshold(services, { actor: actorOf(req), ...req.body }))

  app.post('/emergencies/rekey-all', {
    schema: {
      tags: ['consent'],
      summary: 'record rekey --all-emergency: staff or the admin move their hospital\'s records from before threshold break-glass to shares among member hospitals and retire its emergency key.',
      response: { 200: { type: 'object', properties: { hospital: { type: 'string' }, moved: { type: 'integer' }, rewrapped: { type: 'integer' }, rotated: { type: 'boolean' } } }, ...errors(401, 403, 404, 409, 502, 503) },
    },
  }, async (req) => rekeyAllEmergency(services, { actor: actorOf(req) }))

  app.get('/emergencies', {
    schema: { tags: ['consent'], summary: 'Emergency accesses: all (admin review list), your own (doctor), to your records (patient).', response: { 200: { type: 'object', properties: { emergencies: { type: 'array', items: emergencySchema } } }, ...errors(401, 403) } },
  }, async (req) => ({ emergencies: await listEmergencies(services, { actor: actorOf(req) }) }))
}
