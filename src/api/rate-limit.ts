import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { clientBucket } from '../accounts/lockout.ts'
import { AppError } from '../errors.ts'
import type { Config } from '../config.ts'

/** Routes that only say whether the node is up: polled by monitors and the portal, cheap to answer. */
const generousRoutes = new Set(['/api/v1/health', '/api/v1/status'])

/**
 * True for a route anyone may call without a session: its OpenAPI `security` is empty or
 * offers the empty alternative (`{}`) beside a bearer token.
 */
function isUnauthenticatedRoute(req: FastifyRequest): boolean {
  const security = securityOf(req)
  return security !== undefined && (security.length === 0 || security.some((s) => Object.keys(s).length === 0))
}

/** True for a route that also takes a session (`bearer` among its `security` alternatives). */
function takesSession(req: FastifyRequest): boolean {
  return (securityOf(req) ?? []).some((s) => Object.keys(s).length > 0)
}

function securityOf(req: FastifyRequest): object[] | undefined {
  const security = (req.routeOptions.schema as { security?: unknown } | undefined)?.security
  return Array.isArray(security) ? security.filter((s): s is object => typeof s === 'object' && s !== null) : undefined
}

/**
 * Rate limits on every unauthenticated route (sign-in, SIWE, recovery, sign-up, share-token
 * reads, health and status): `rateLimitPerMinute` requests per minute per client address
 * (`req.ip`, no proxy headers trusted; an IPv6 client by its /64) and per route, ten times
 * that for health and status. A signed-in request to a route that also takes a session (a
 * record download) is not counted. Over the limit: 429 RATE_LIMITED with Retry-After.
 * Registered before the routes, as the limits attach to each route as it is added.
 */
export async function registerRateLimits(app: FastifyInstance, { config }: { config: Pick<Config, 'rateLimitPerMinute'> }): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    timeWindow: 60_000,
    max: (req) => generousRoutes.has(req.routeOptions.url ?? '') ? config.rateLimitPerMinute * 10 : config.rateLimitPerMinute,
    keyGenerator: (req) => `${clientBucket(req.ip)} ${req.method} ${req.routeOptions.url ?? ''}`,
    allowList: (req) => !isUnauthenticatedRoute(req) || (req.actor !== undefined && takesSession(req)),
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    addHeaders: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false, 'retry-after': true },
    errorResponseBuilder: (_req, ctx) => new AppError('RATE_LIMITED', { message: `Too many requests from your address; try again in ${Math.max(1, Math.ceil(ctx.ttl / 1000))} seconds.` }),
  })
}
