import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { login, logout } from '../../accounts/sessions.ts'
import { issueSiweNonce, linkWallet, signInWithEthereum, siweSite } from '../../accounts/siwe.ts'
import { AccountLockedError } from '../../accounts/lockout.ts'
import { actorOf } from '../actor-of.ts'
import { duringMfaEnrollment } from '../restrict-during-mfa-enrollment.ts'
import { recoverAccount } from '../../accounts/recover-account.ts'
import { accountSchema, errors } from './schemas.ts'
import type { Services } from '../../services.ts'

const sessionSchema = {
  type: 'object',
  properties: {
    token: { type: 'string' },
    expiresAt: { type: 'string' },
    account: accountSchema,
    mfaEnrollmentRequired: { type: 'boolean', description: 'Your role needs two-factor sign-in and you have not enrolled: until you do (POST /mfa/totp, /mfa/totp/verify), this session may only enrol, read /auth/me and sign out.' },
    keysUnlocked: { type: 'boolean', description: 'False for a wallet (SIWE) session: it cannot use your keys, so operations that need them answer KEYS_LOCKED.' },
  },
} as const

const siweBody = {
  type: 'object',
  required: ['message', 'signature'],
  additionalProperties: false,
  properties: {
    message: { type: 'string', maxLength: 4096, description: 'The EIP-4361 message exactly as signed, with a nonce from POST /auth/siwe/nonce.' },
    signature: { type: 'string', maxLength: 2050, description: 'The personal_sign (EIP-191) signature, 0x-hex.' },
  },
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

/** Sign-in with e-mail, password and second factor, or with a wallet (SIWE); sign-out; who am I. */
export async function authRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post('/auth/login', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Sign in with e-mail and password, plus a TOTP or recovery code once the account has an authenticator; returns a bearer token (kept server-side only as its SHA-256). Repeated failures lock the e-mail out with growing back-off (429 ACCOUNT_LOCKED).',
      security: [],
      body: {
        type: 'object',
        required: ['email', 'password'],
        additionalProperties: false,
        properties: {
          email: { type: 'string', maxLength: 320 },
          password: { type: 'string', maxLength: 1024 },
          totp: { type: 'string', maxLength: 64, description: 'A 6-digit code from the authenticator app, or one of the recovery codes.' },
        },
      },
      response: { 200: sessionSchema, ...errors(400, 401, 429) },
    },
  }, async (req, reply) => {
    const { email, password, totp } = req.body as { email: string; password: string; totp?: string }
    return withRetryAfter(reply, () => login(services, { email, password, totp, clientAddress: req.ip }))
  })

  app.post('/auth/siwe/nonce', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'A single-use nonce (128 random bits, valid five minutes) for an EIP-4361 Sign-In with Ethereum message, with the domain and URI the message must name: this node\'s configured public URL (--public-url), or else the address it listens on. Never taken from the request.',
      security: [],
      response: {
        200: {
          type: 'object',
          properties: {
            nonce: { type: 'string' },
            expiresAt: { type: 'string' },
            domain: { type: 'string', description: 'The `domain` the message must name (host[:port]); empty when the node listens on every interface and has no --public-url: wallet sign-in is then off.' },
            uri: { type: 'string', description: 'The origin the message\'s `URI` must be on.' },
          },
        },
      },
    },
  }, async (req) => {
    const site = siweSite(services, listenUrl(req, services.config))
    return { ...(await issueSiweNonce(services)), domain: site.domain, uri: site.origin ?? '' }
  })

  app.post('/auth/siwe', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Sign in with a wallet linked to an account (EIP-4361): checks the nonce (used up on success), the domain and URI (this node\'s --public-url, or the address it listens on; never the Host header), the chain id (this node\'s ledger), the validity window and the signature. The session cannot use the account\'s keys.',
      security: [],
      body: { ...siweBody, properties: { ...siweBody.properties, totp: { type: 'string', maxLength: 64, description: 'Needed when the account has an authenticator.' } } },
      response: { 200: sessionSchema, ...errors(400, 401, 429) },
    },
  }, async (req, reply) => {
    const b = req.body as { message: string; signature: string; totp?: string }
    return withRetryAfter(reply, () => signInWithEthereum(services, { ...b, site: siweSite(services, listenUrl(req, services.config)), clientAddress: req.ip }))
  })

  app.post('/auth/wallet', {
    schema: {
      tags: ['auth'],
      summary: 'Link a wallet to your account by signing an EIP-4361 message for this node (same checks as /auth/siwe). Needs a password session and your current password in the body; wrong passwords count towards the sign-in lock-out.',
      body: { ...siweBody, required: [...siweBody.required, 'password'], properties: { ...siweBody.properties, password: currentPassword } },
      response: { 200: { type: 'object', properties: { walletAddress: { type: 'string' } } }, ...errors(400, 401, 403, 409, 429) },
    },
  }, async (req, reply) => {
    const b = req.body as { message: string; signature: string; password: string }
    return withRetryAfter(reply, () => linkWallet(services, { actor: actorOf(req), ...b, site: siweSite(services, listenUrl(req, services.config)), clientAddress: req.ip }))
  })

  app.post('/auth/recover', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Forgotten password: set a new one with the recovery code shown at sign-up. Answers a NEW recovery code (shown once; the old one stops working), ends every session of the account and resets its two-factor sign-in (TOTP and its recovery codes; enrol again where your role requires it). Failures count towards the sign-in lock-out.',
      security: [],
      body: {
        type: 'object',
        required: ['email', 'recoveryCode', 'newPassword'],
        additionalProperties: false,
        properties: { email: { type: 'string', maxLength: 320 }, recoveryCode: { type: 'string', maxLength: 200 }, newPassword: { type: 'string', maxLength: 1024 } },
      },
      response: { 200: { type: 'object', properties: { recoveryCode: { type: 'string' } } }, ...errors(400, 401, 429) },
    },
  }, async (req, reply) => {
    const b = req.body as { email: string; recoveryCode: string; newPassword: string }
    return withRetryAfter(reply, () => recoverAccount(services, { ...b, clientAddress: req.ip }))
  })

  app.post('/auth/logout', { config: duringMfaEnrollment, schema: { tags: ['auth'], summary: 'End this session.', response: { 204: { type: 'null' }, ...errors(401) } } }, async (req, reply) => {
    actorOf(req)
    await logout(services, req.token!)
    return reply.status(204).send()
  })

  app.get('/auth/me', { config: duringMfaEnrollment, schema: { tags: ['auth'], summary: 'The signed-in account.', response: { 200: accountSchema, ...errors(401) } } }, async (req) => actorOf(req).account)
}
