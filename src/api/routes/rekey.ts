import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { rekeyRecord } from '../../consent/rekey-record.ts'
import { allowRekey } from '../../consent/allow-rekey.ts'
import { actorOf } from '../actor-of.ts'
import { errors, idParams } from './schemas.ts'
import type { Services } from '../../services.ts'

type IdParams = { Params: FromSchema<typeof idParams> }

const rekeySchema = {
  type: 'object',
  properties: {
    recordId: { type: 'string' },
    supersedes: { type: 'string' },
    txHash: { type: 'string' },
    wrappedFor: {
      type: 'object',
      properties: { patient: { type: 'boolean' }, author: { type: 'boolean' }, grantees: { type: 'integer' }, emergency: { type: 'boolean' }, emergencyShares: { type: 'integer' } },
    },
  },
} as const

/** Re-keying (issue 13 item 2): a record re-encrypted under a new data key, superseding the old id. */
export async function rekeyRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<IdParams>('/records/:id/rekey', {
    schema: {
      tags: ['records'],
      summary: 'Re-key a record: re-encrypted under a new data key wrapped only for whoever may read it now, anchored as superseding the old id (whose blocks every node drops). The patient, or the author once the patient allowed it.',
      params: idParams,
      response: { 201: rekeySchema, ...errors(400, 401, 403, 404, 409, 410, 502, 503) },
    },
  }, async (req, reply) => reply.status(201).send(await rekeyRecord(services, { actor: actorOf(req), recordId: req.params.id })))

  app.post<IdParams>('/records/:id/rekey-leave', {
    schema: {
      tags: ['records'],
      summary: 'The patient lets the record\'s author re-key it, once (RecordLedger.allowRekey, from the patient\'s key).',
      params: idParams,
      response: { 200: { type: 'object', properties: { recordId: { type: 'string' }, txHash: { type: 'string' } } }, ...errors(400, 401, 403, 404, 410, 502, 503) },
    },
  }, async (req) => allowRekey(services, { actor: actorOf(req), recordId: req.params.id }))
}
