import type { FastifyInstance } from 'fastify'
import { login, logout } from '../../accounts/sessions.ts'
import { actorOf } from '../build-app.ts'
import { accountSchema, errors } from './schemas.ts'
import type { Services } from '../../services.ts'

/** Sign-in with e-mail and password, sign-out, and who am I. */
export async function authRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post('/auth/login', {
    schema: {
      tags: ['auth'],
      summary: 'Sign in with e-mail and password; returns a bearer token (kept server-side only as its SHA-256).',
      security: [],
      body: {
        type: 'object',
        required: ['email', 'password'],
        additionalProperties: false,
        properties: { email: { type: 'string', maxLength: 320 }, password: { type: 'string', maxLength: 1024 } },
      },
      response: {
        200: { type: 'object', properties: { token: { type: 'string' }, expiresAt: { type: 'string' }, account: accountSchema } },
        ...errors(400, 401),
      },
    },
  }, async (req) => {
    const { email, password } = req.body as { email: string; password: string }
    return login(services, { email, password })
  })

  app.post('/auth/logout', { schema: { tags: ['auth'], summary: 'End this session.', response: { 204: { type: 'null' }, ...errors(401) } } }, async (req, reply) => {
    actorOf(req)
    logout(services, req.token!)
    return reply.status(204).send()
  })

  app.get('/auth/me', { schema: { tags: ['auth'], summary: 'The signed-in account.', response: { 200: accountSchema, ...errors(401) } } }, async (req) => actorOf(req).account)
}
