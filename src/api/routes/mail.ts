import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { listMail } from '../../notify/list-mail.ts'
import { notificationKinds } from '../../notify/render-notification.ts'
import { actorOf } from '../actor-of.ts'
import { errors } from './schemas.ts'
import type { Services } from '../../services.ts'

const mailSchema = {
  type: 'object',
  required: ['id', 'kind', 'subject', 'body', 'state', 'createdAt'],
  properties: {
    id: { type: 'integer' },
    kind: { type: 'string', enum: [...notificationKinds] },
    subject: { type: 'string' },
    body: { type: 'string', description: 'Plain text. Names, roles, counts, dates and a link: never a key, token, password, purpose, reason or clinical content.' },
    state: { type: 'string', enum: ['kept', 'queued', 'sent', 'failed'], description: '`kept`: no SMTP is configured, the outbox is the mailbox; `queued`: waiting for the mail worker; `sent`: accepted by the SMTP server; `failed`: will be retried.' },
    createdAt: { type: 'string', format: 'date-time' },
    sentAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const

const mailQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, offset: { type: 'integer', minimum: 0, default: 0 } },
} as const

/** The signed-in user's own notifications (the outbox), whoever they are: nobody reads another's mail. */
export async function mailRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get<{ Querystring: FromSchema<typeof mailQuery> }>('/mail', {
    schema: {
      tags: ['mail'],
      summary: 'Your own notifications, newest first: new record, access requested / approved / denied / revoked, emergency access, doctor confirmed / rejected. The admin too sees only their own.',
      querystring: mailQuery,
      response: {
        200: { type: 'object', properties: { mail: { type: 'array', items: mailSchema }, total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' } } },
        ...errors(400, 401),
      },
    },
  }, async (req) => await listMail(services, { accountId: actorOf(req).account.id, limit: req.query.limit, offset: req.query.offset }))
}
