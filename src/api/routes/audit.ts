import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { auditTrailWithPending } from '../../consent/audit-trail.ts'
import { actorOf } from '../actor-of.ts'
import { errors } from './schemas.ts'
import type { Services } from '../../services.ts'

const auditQuery = { type: 'object', additionalProperties: false, properties: { patient: { type: 'string', maxLength: 320 }, record: { type: 'string', maxLength: 80 } } } as const

const entrySchema = {
  type: 'object',
  properties: {
    event: { type: 'string' },
    at: { type: 'string' },
    blockNumber: { type: ['integer', 'null'] },
    txHash: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['pending', 'mined'] },
    actor: { type: 'object', properties: { address: { type: 'string' }, name: { type: ['string', 'null'] }, role: { type: ['string', 'null'] } } },
    recordId: { type: ['string', 'null'] },
    ref: { type: ['string', 'null'] },
    purpose: { type: ['string', 'null'] },
    why: { type: ['string', 'null'] },
    emergency: { type: 'boolean' },
  },
} as const

/** The on-chain audit trail of a patient or a record. */
export async function auditRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get<{ Querystring: FromSchema<typeof auditQuery> }>('/audit', {
    schema: {
      tags: ['consent'],
      summary: 'The on-chain audit trail of a patient (the patient or an admin) or of a record, newest first, with names from this node for display; reads this node served whose audit batch is not mined yet come first, with status pending (blockNumber and txHash null). A patient or record you may not see answers 404, as one that does not exist.',
      querystring: auditQuery,
      response: { 200: { type: 'object', properties: { entries: { type: 'array', items: entrySchema } } }, ...errors(400, 401, 403, 404) },
    },
  }, async (req) => ({ entries: await auditTrailWithPending(services, { actor: actorOf(req), patient: req.query.patient, recordId: req.query.record }) }))
}
