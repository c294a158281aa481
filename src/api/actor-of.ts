import type { FastifyRequest } from 'fastify'
import { AppError } from '../errors.ts'
import type { Actor } from '../accounts/account.ts'

/**
 * The signed-in actor of a request (set by buildApp's bearer-token hook).
 * @throws AppError UNAUTHENTICATED when the request carries no valid session.
 */
export function actorOf(req: FastifyRequest): Actor {
  if (!req.actor) throw new AppError('UNAUTHENTICATED')
  return req.actor
}
