import type { FastifyRequest } from 'fastify'
import { AppError } from '../errors.ts'

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
