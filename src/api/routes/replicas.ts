import type { FastifyInstance } from 'fastify'
import { parseRecordId } from '../../crypto/tokens.ts'
import { requireRole } from '../../accounts/account.ts'
import { AppError } from '../../errors.ts'
import { actorOf } from '../actor-of.ts'
import { errors } from './schemas.ts'
import type { Services } from '../../services.ts'

const replicaSchema = {
  type: 'object',
  properties: {
    recordId: { type: 'string' },
    state: { type: 'string', enum: ['home', 'wanted', 'pinned', 'elsewhere'], description: 'home: stored here by its own hospital; wanted: falls to this node, not fetched yet; pinned: kept here as a replica; elsewhere: kept by other members.' },
    attempts: { type: 'integer' },
    error: { type: ['string', 'null'] },
    seenAt: { type: ['string', 'null'], description: 'When this node saw the anchor.' },
    pinnedAt: { type: ['string', 'null'] },
  },
}

interface Row { record_id: string; own: number; state: string | null; attempts: number | null; error: string | null; seen_at: number | null; pinned_at: number | null }

const select = `SELECT r.record_id, CASE WHEN h.sealed_secrets <> '' THEN 1 ELSE 0 END AS own, p.state, p.attempts, p.error, p.seen_at, p.pinned_at
  FROM records r JOIN hospitals h ON h.id = r.hospital_id LEFT JOIN replicas p ON p.record_id = r.record_id WHERE r.state = 'anchored'`

function toView(r: Row) {
  return {
    recordId: r.record_id,
    state: r.own === 1 ? 'home' : (r.state ?? 'elsewhere'),
    attempts: r.attempts ?? 0,
    error: r.error,
    seenAt: r.seen_at === null ? null : new Date(r.seen_at).toISOString(),
    pinnedAt: r.pinned_at === null ? null : new Date(r.pinned_at).toISOString(),
  }
}

/** Replication, for the node's operator: which records this node keeps for the consortium. Pseudonymous ids and states only. */
export async function replicaRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get('/replicas', {
    schema: {
      tags: ['node'],
      summary: 'Records this node keeps for other members (admin): wanted and pinned replicas, newest first.',
      querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } } },
      response: { 200: { type: 'object', properties: { replicas: { type: 'array', items: replicaSchema } } }, ...errors(401, 403) },
    },
  }, async (req) => {
    requireRole(actorOf(req), 'admin')
    const limit = (req.query as { limit?: number }).limit ?? 100
    const rows = await services.db.all<Row>(`${select} AND p.record_id IS NOT NULL ORDER BY p.seen_at DESC LIMIT ?`, limit)
    return { replicas: rows.map(toView) }
  })

  app.get('/replicas/:id', {
    schema: {
      tags: ['node'],
      summary: 'Where one anchored record is kept, as far as this node is concerned (admin).',
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 80 } } },
      response: { 200: replicaSchema, ...errors(400, 401, 403, 404) },
    },
  }, async (req) => {
    requireRole(actorOf(req), 'admin')
    const row = await services.db.get<Row>(`${select} AND r.record_id = ?`, parseRecordId((req.params as { id: string }).id))
    if (!row) throw new AppError('RECORD_NOT_FOUND')
    return toView(row)
  })
}
