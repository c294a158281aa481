import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { authenticate, login, logout } from '../../accounts/sessions.ts'
import { topUpResearchKeys } from '../../consent/research-keys.ts'
import { AccountLockedError } from '../../accounts/lockout.ts'
import { actorOf } from '../actor-of.ts'
import { duringMfaEnrollment } from '../restrict-during-mfa-enrollment.ts'
import { recoverAccount } from '../../accounts/recover-account.ts'
import { accountSchema, errors, sessionSchema } from './schemas.ts'
import type { Services } from '../../services.ts'

const loginBody = {
  type: 'object',
  required: ['email', 'password'],
  additionalProperties: false,
  properties: {
    email: { type: 'string', maxLength: 320 },
    password: { type: 'string', maxLength: 1024 },
    totp: { type: 'string', maxLength: 64, description: 'A 6-digit code from the authenticator app, or one of the recovery codes.' },
  },
} as const
const recoverBody = {
  type: 'object',
  required: ['email', 'recoveryCode', 'newPassword'],
  additionalProperties: false,
  properties: { email: { type: 'string', maxLength: 320 }, recoveryCode: { type: 'string', maxLength: 200 }, newPassword: { type: 'string', maxLength: 1024 } },
} as const

/** The origin the node listens on (`http://host:port`, the real port after `--port 0`); undefined before it listens. */
export function listenUrl(req: FastifyRequest, config: { host: string }): string | undefined {
  const a = req.server.server.address()
  if (!a || typeof a === 'string') return undefined
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  return `http://${host}:${a.port}`
}

/** The account's current password, in the body of every request that changes how it signs in. */
export const currentPassword = { type: 'string', minLength: 1, maxLength: 1024, description: 'Your current password: every change to how you sign in needs it, whatever the session (a wallet session too).' } as const

/** Tells a locked-out client when to come back (Retry-After), then lets the error handler answer. */
export function withRetryAfter<T>(reply: FastifyReply, run: () => Promise<T>): Promise<T> {
  return run().catch((err: unknown) => {
    if (err instanceof AccountLockedError) reply.header('retry-after', String(err.retryAfterSeconds))
    throw err
  })
}

/** Sign-in with e-mail, password and second factor; recovery; sign-out; who am I. Wallet sign-in is in siwe.ts. */
export async function authRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<{ Body: FromSchema<typeof loginBody> }>('/auth/login', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Sign in with e-mail and password, plus a TOTP or recovery code once the account has an authenticator; returns a bearer token (kept server-side only as its SHA-256). Repeated failures lock the e-mail out with growing back-off (429 ACCOUNT_LOCKED).',
      security: [],
      body: loginBody,
      response: { 200: sessionSchema, ...errors(400, 401, 429) },
    },
  }, async (req, reply) => {
    const { email, password, totp } = req.body
    const session = await withRetryAfter(reply, () => login(services, { email, password, totp, clientAddress: req.ip }))
    // A patient signed in with their password: their key, unlocked now (and kept for the session), covers their
    // records that have no research copy yet, off this answer's path (consent/research-keys.ts).
    if (session.keysUnlocked && session.account.role === 'patient') {
      const actor = await authenticate(services, session.token).catch(() => undefined)
      if (actor) void topUpResearchKeys(services, actor, { force: true })
    }
    return session
  })

  app.post<{ Body: FromSchema<typeof recoverBody> }>('/auth/recover', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Forgotten password: set a new one with the recovery code shown at sign-up. Answers a NEW recovery code (shown once; the old one stops working), ends every session of the account and resets its two-factor sign-in (TOTP and its recovery codes; enrol again where your role requires it). Failures count towards the sign-in lock-out.',
      security: [],
      body: recoverBody,
      response: { 200: { type: 'object', properties: { recoveryCode: { type: 'string' } } }, ...errors(400, 401, 429) },
    },
  }, async (req, reply) => {
    return withRetryAfter(reply, () => recoverAccount(services, { ...req.body, clientAddress: req.ip }))
  })

  app.post('/auth/logout', { config: duringMfaEnrollment, schema: { tags: ['auth'], summary: 'End this session.', response: { 204: { type: 'null' }, ...errors(401) } } }, async (req, reply) => {
    actorOf(req)
    await logout(services, req.token!)
    return reply.status(204).send()
  })

  app.get('/auth/me', { config: duringMfaEnrollment, schema: { tags: ['auth'], summary: 'The signed-in account.', response: { 200: accountSchema, ...errors(401) } } }, async (req) => actorOf(req).account)
}
