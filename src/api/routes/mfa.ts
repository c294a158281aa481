import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { confirmTotpEnrolment, getMfaStatus, startTotpEnrolment } from '../../accounts/mfa.ts'
import { resetMfa } from '../../accounts/reset-mfa.ts'
import { disableTotp } from '../../accounts/disable-totp.ts'
import { actorOf } from '../actor-of.ts'
import { duringMfaEnrollment } from '../restrict-during-mfa-enrollment.ts'
import { currentPassword, withRetryAfter } from './auth.ts'
import { errors, idParams } from './schemas.ts'
import type { Services } from '../../services.ts'

const mfaStatusSchema = {
  type: 'object',
  properties: { required: { type: 'boolean' }, totpEnabled: { type: 'boolean' }, enrolmentPending: { type: 'boolean' }, recoveryCodesLeft: { type: 'integer' } },
} as const
const passwordBody = { type: 'object', required: ['password'], additionalProperties: false, properties: { password: currentPassword } } as const
const codeBody = { type: 'object', required: ['code', 'password'], additionalProperties: false, properties: { code: { type: 'string', maxLength: 64 }, password: currentPassword } } as const
const disableBody = { type: 'object', required: ['password', 'code'], additionalProperties: false, properties: { password: currentPassword, code: { type: 'string', maxLength: 64 } } } as const

/**
 * TOTP enrolment (RFC 6238): start, confirm with a first code, and the account's two-factor
 * state; a member's reset by hospital staff or the admin.
 */
export async function mfaRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get('/mfa', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Your two-factor state: whether your role requires it, whether TOTP is enabled or waiting for its first code, and how many recovery codes are left.',
      response: {
        200: mfaStatusSchema,
        ...errors(401),
      },
    },
  }, async (req) => await getMfaStatus(services, actorOf(req).account))

  app.post<{ Body: FromSchema<typeof passwordBody> }>('/mfa/totp', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Start TOTP enrolment, with your current password (whatever the session): a fresh secret (sealed at rest, shown only in this answer) as an otpauth:// URI and a QR code for an authenticator app. Confirm it with POST /mfa/totp/verify.',
      body: passwordBody,
      response: {
        201: { type: 'object', properties: { otpauthUri: { type: 'string' }, secret: { type: 'string' }, qrSvg: { type: 'string' } } },
        ...errors(400, 401, 403, 409, 429),
      },
    },
  }, async (req, reply) => {
    const { password } = req.body
    return reply.status(201).send(await withRetryAfter(reply, () => startTotpEnrolment(services, { actor: actorOf(req), password, clientAddress: req.ip })))
  })

  app.post<{ Body: FromSchema<typeof codeBody> }>('/mfa/totp/verify', {
    config: duringMfaEnrollment,
    schema: {
      tags: ['auth'],
      summary: 'Confirm TOTP enrolment with a first code and your current password (whatever the session): TOTP is then required at every sign-in. Answers ten one-time recovery codes, shown only now.',
      body: codeBody,
      response: {
        200: { type: 'object', properties: { recoveryCodes: { type: 'array', items: { type: 'string' } } } },
        ...errors(400, 401, 403, 409, 429),
      },
    },
  }, async (req, reply) => {
    const { code, password } = req.body
    return withRetryAfter(reply, () => confirmTotpEnrolment(services, { actor: actorOf(req), code, password, clientAddress: req.ip }))
  })

  disableRoute(app, services)

  app.post<{ Params: FromSchema<typeof idParams>; Body: FromSchema<typeof passwordBody> }>('/users/:id/mfa/reset', {
    schema: {
      tags: ['auth'],
      summary: 'Reset a member\'s two-factor sign-in (lost authenticator): its TOTP secret and recovery codes are deleted and its sessions end; the member is notified and the reset is written to the account events. Hospital staff: their own hospital\'s doctors and patients; the admin: any account but their own. Needs your own current password.',
      params: idParams,
      body: passwordBody,
      response: {
        200: { type: 'object', properties: { accountId: { type: 'string' }, mfaReset: { type: 'boolean' } } },
        ...errors(400, 401, 403, 404, 429),
      },
    },
  }, async (req, reply) => {
    const actor = actorOf(req)
    const { id } = req.params
    const { password } = req.body
    const result = await withRetryAfter(reply, () => resetMfa(services, { actor, accountId: id, password, clientAddress: req.ip }))
    await services.notify?.({ accountId: id, by: { accountId: actor.account.id }, kind: 'mfa-reset' })
    return result
  })
}

/** POST /mfa/totp/disable: TOTP off, with the password and a code, for a role that does not require it. */
function disableRoute(app: FastifyInstance, services: Services): void {
  app.post<{ Body: FromSchema<typeof disableBody> }>('/mfa/totp/disable', {
    schema: {
      tags: ['auth'],
      summary: 'Turn two-factor sign-in off, with your current password and a code from the authenticator (or a recovery code), whatever the session. The secret and recovery codes are deleted, you are mailed, and the change is in the account events; a role that requires two-factor sign-in (MEDLEDGER_MFA_ROLES) cannot turn it off (403 MFA_REQUIRED_BY_ROLE). Wrong passwords and codes count towards the sign-in lock-out.',
      body: disableBody,
      response: {
        200: { type: 'object', properties: { totpEnabled: { type: 'boolean' } } },
        ...errors(400, 401, 403, 409, 429),
      },
    },
  }, async (req, reply) => {
    const actor = actorOf(req)
    const { password, code } = req.body
    const result = await withRetryAfter(reply, () => disableTotp(services, { actor, password, code, clientAddress: req.ip }))
    await services.notify?.({ accountId: actor.account.id, by: { accountId: actor.account.id }, kind: 'mfa-disabled' })
    return result
  })
}
