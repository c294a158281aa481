import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { listAccountEvents } from '../../accounts/list-account-events.ts'
import { accountEventKinds } from '../../accounts/record-account-event.ts'
import { actorOf } from '../actor-of.ts'
import { errors } from './schemas.ts'
import type { Services } from '../../services.ts'

const eventsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { account: { type: 'string', maxLength: 80 }, limit: { type: 'integer', minimum: 1, maximum: 1000 }, offset: { type: 'integer', minimum: 0 } },
} as const

/** The admin's audit log of changes to accounts' sign-in factors. */
export async function accountEventRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get<{ Querystring: FromSchema<typeof eventsQuery> }>('/account-events', {
    schema: {
      tags: ['auth'],
      summary: 'The admin\'s audit log of changes to accounts\' sign-in factors, newest first: TOTP enabled or disabled by the account, two-factor reset by staff or the admin (actorId), account recovered with its recovery code (actorId null), wallet linked.',
      querystring: eventsQuery,
      response: {
        200: {
          type: 'object',
          properties: {
            events: {
              type: 'array',
              items: {
                type: 'object',
                properties: { id: { type: 'integer' }, accountId: { type: 'string' }, kind: { type: 'string', enum: [...accountEventKinds] }, actorId: { type: ['string', 'null'] }, createdAt: { type: 'string' } },
              },
            },
            total: { type: 'integer' },
            limit: { type: 'integer' },
            offset: { type: 'integer' },
          },
        },
        ...errors(400, 401, 403),
      },
    },
  }, async (req) => listAccountEvents(services, { actor: actorOf(req), accountId: req.query.account, limit: req.query.limit, offset: req.query.offset }))
}
