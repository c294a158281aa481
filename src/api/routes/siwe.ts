import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { issueSiweNonce, linkWallet, signInWithEthereum, siweSite } from '../../accounts/siwe.ts'
import { actorOf } from '../actor-of.ts'
import { duringMfaEnrollment } from '../restrict-during-mfa-enrollment.ts'
import { currentPassword, listenUrl, withRetryAfter } from './auth.ts'
import { errors, sessionSchema } from './schemas.ts'
import type { Services } from '../../services.ts'

const siweBody = {
  type: 'object',
  required: ['message', 'signature'],
  additionalProperties: false,
  properties: {
    message: { type: 'string', maxLength: 4096, description: 'The EIP-4361 message exactly as signed, with a nonce from POST /auth/siwe/nonce.' },
    signature: { type: 'string', maxLength: 2050, description: 'The personal_sign (EIP-191) signature, 0x-hex.' },
  },
} as const
const siweSignInBody = { ...siweBody, properties: { ...siweBody.properties, totp: { type: 'string', maxLength: 64, description: 'Needed when the account has an authenticator.' } } } as const
const walletBody = { ...siweBody, required: [...siweBody.required, 'password'], properties: { ...siweBody.properties, password: currentPassword } } as const

/** Sign-In with Ethereum (EIP-4361): a nonce, sign-in with a linked wallet, and linking a wallet. */
export async function siweRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
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

  app.post<{ Body: FromSchema<typeof siweSignInBody> }>('/auth/siwe', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Sign in with a wallet linked to an account (EIP-4361): checks the nonce (used up on success), the domain and URI (this node\'s --public-url, or the address it listens on; never the Host header), the chain id (this node\'s ledger), the validity window and the signature. The session cannot use the account\'s keys.',
      security: [],
      body: siweSignInBody,
      response: { 200: sessionSchema, ...errors(400, 401, 429) },
    },
  }, async (req, reply) => {
    return withRetryAfter(reply, () => signInWithEthereum(services, { ...req.body, site: siweSite(services, listenUrl(req, services.config)), clientAddress: req.ip }))
  })

  app.post<{ Body: FromSchema<typeof walletBody> }>('/auth/wallet', {
    schema: {
      tags: ['auth'],
      summary: 'Link a wallet to your account by signing an EIP-4361 message for this node (same checks as /auth/siwe). Needs a password session and your current password in the body; wrong passwords count towards the sign-in lock-out.',
      body: walletBody,
      response: { 200: { type: 'object', properties: { walletAddress: { type: 'string' } } }, ...errors(400, 401, 403, 409, 429) },
    },
  }, async (req, reply) => {
    return withRetryAfter(reply, () => linkWallet(services, { actor: actorOf(req), ...req.body, site: siweSite(services, listenUrl(req, services.config)), clientAddress: req.ip }))
  })
}
