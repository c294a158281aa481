import type { FastifyInstance, FastifyRequest } from 'fastify'
import { confirmTotpEnrolment, getMfaStatus, startTotpEnrolment } from '../../accounts/mfa.ts'
import { AppError } from '../../errors.ts'
import { actorOf } from '../build-app.ts'
import { errors } from './schemas.ts'
import type { Services } from '../../services.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route is open to a session that must enrol a second factor before anything else. */
    duringMfaEnrollment?: boolean
  }
}

/** Route config of the few routes a session restricted to MFA enrolment may call. */
export const duringMfaEnrollment = { duringMfaEnrollment: true } as const

/**
 * Refuses every route but enrolment, /auth/me and sign-out to a session whose role needs a
 * second factor that the account has not confirmed yet.
 * @throws AppError MFA_ENROLLMENT_REQUIRED
 */
export function restrictDuringMfaEnrollment(req: FastifyRequest): void {
  if (req.actor?.mfaEnrollmentRequired && !req.routeOptions.config?.duringMfaEnrollment) throw new AppError('MFA_ENROLLMENT_REQUIRED')
}

/** TOTP enrolment (RFC 6238): start, confirm with a first code, and the account's two-factor state. */
export async function mfaRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get('/mfa', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Your two-factor state: whether your role requires it, whether TOTP is enabled or waiting for its first code, and how many recovery codes are left.',
      response: {
        200: {
          type: 'object',
          properties: { required: { type: 'boolean' }, totpEnabled: { type: 'boolean' }, enrolmentPending: { type: 'boolean' }, recoveryCodesLeft: { type: 'integer' } },
        },
        ...errors(401),
      },
    },
  }, async (req) => await getMfaStatus(services, actorOf(req).account))

  app.post('/mfa/totp', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Start TOTP enrolment: a fresh secret (sealed at rest, shown only in this answer) as an otpauth:// URI and a QR code for an authenticator app. Confirm it with POST /mfa/totp/verify.',
      response: {
        201: { type: 'object', properties: { otpauthUri: { type: 'string' }, secret: { type: 'string' }, qrSvg: { type: 'string' } } },
        ...errors(401, 409),
      },
    },
  }, async (req, reply) => reply.status(201).send(await startTotpEnrolment(services, { actor: actorOf(req) })))

  app.post('/mfa/totp/verify', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Confirm TOTP enrolment with a first code: TOTP is then required at every sign-in. Answers ten one-time recovery codes, shown only now.',
      body: { type: 'object', required: ['code'], additionalProperties: false, properties: { code: { type: 'string', maxLength: 64 } } },
      response: {
        200: { type: 'object', properties: { recoveryCodes: { type: 'array', items: { type: 'string' } } } },
        ...errors(400, 401, 409),
      },
    },
  }, async (req) => await confirmTotpEnrolment(services, { actor: actorOf(req), code: (req.body as { code: string }).code }))
}
