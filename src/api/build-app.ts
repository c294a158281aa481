import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fastifyStatic from '@fastify/static'
import { AppError, errorRegistry, type ErrorCode } from '../errors.ts'
import { authenticate } from '../accounts/sessions.ts'
import { topUpResearchKeys } from '../consent/research-keys.ts'
import type { Actor } from '../accounts/account.ts'
import type { Services } from '../services.ts'
import { authRoutes } from './routes/auth.ts'
import { siweRoutes } from './routes/siwe.ts'
import { hospitalRoutes } from './routes/hospitals.ts'
import { userRoutes } from './routes/users.ts'
import { signupRoutes } from './routes/signup.ts'
import { doctorRoutes } from './routes/doctors.ts'
import { researcherRoutes } from './routes/researchers.ts'
import { studyRoutes } from './routes/studies.ts'
import { teamRoutes } from './routes/teams.ts'
import { recordRoutes } from './routes/records.ts'
import { rekeyRoutes } from './routes/rekey.ts'
import { statusRoutes } from './routes/status.ts'
import { mfaRoutes } from './routes/mfa.ts'
import { accountEventRoutes } from './routes/account-events.ts'
import { restrictDuringMfaEnrollment } from './restrict-during-mfa-enrollment.ts'
import { accessRequestRoutes } from './routes/access-requests.ts'
import { shareRoutes } from './routes/shares.ts'
import { erasureRoutes } from './routes/erasures.ts'
import { recoveryRoutes } from './routes/recoveries.ts'
import { emergencyRoutes } from './routes/emergencies.ts'
import { auditRoutes } from './routes/audit.ts'
import { mailRoutes } from './routes/mail.ts'
import { replicaRoutes } from './routes/replicas.ts'
import { registerRateLimits } from './rate-limit.ts'
import { describeCause, toAppError } from './to-app-error.ts'
import { drain } from './drain-request.ts'
import { fhirPlugin } from './fhir/fhir-plugin.ts'
import { fhirPrefix } from './fhir/bundle.ts'
import { operationOutcome } from './fhir/operation-outcome.ts'
import { sendResource } from './fhir/send-resource.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user, when the request carries a valid bearer token. */
    actor?: Actor
    /** The bearer token itself (for logout); never logged. */
    token?: string
  }
}

export const apiPrefix = '/api/v1'

/**
 * The web portal's pages may run only their own scripts and styles, never be framed, and
 * reach only this node. Records are shown from blob: URLs (images, PDF) or as text.
 */
export const portalCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "frame-src blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ')

/**
 * The API docs page (swagger-ui) gets the portal's policy: its scripts are its own files, never
 * inline ones. The one difference: swagger-ui's React renders one fixed `<style>` element,
 * allowed by its hash alone (a new swagger-ui version with another one fails test/web/upload-and-docs).
 */
export const docsCsp = portalCsp.replace("style-src 'self'", "style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='")

/** The OpenAPI document's head; @fastify/swagger adds every route's schema to it. */
const openapiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'MedLedger API',
    version: '1',
    description: 'Encrypted medical records in IPFS, anchored on an Ethereum ledger. Errors answer `{ code, message }`; a record you may not see is a 404.',
  },
  components: { securitySchemes: { bearer: { type: 'http' as const, scheme: 'bearer' } } },
  security: [{ bearer: [] }],
}

export interface BuildAppParams {
  services: Services
  /** The built web portal (build/web) to serve at `/`; none when null or absent. */
  webRoot?: string | null
}

/**
 * Builds the HTTP API (not listening): routes under /api/v1, the OpenAPI document at
 * /api/v1/openapi.json, a browsable page at /api/v1/docs, and the web portal at `/` when
 * `webRoot` holds its build.
 */
export async function buildApp({ services, webRoot }: BuildAppParams): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    // The router's own answers to a malformed URL (bad percent-encoding, an over-long path
    // parameter) would echo the URL, which may carry personal data, in a shape of its own.
    frameworkErrors: (_err, req, reply) => {
      if (req.url.startsWith(`${fhirPrefix}/`)) return void sendResource(reply as FastifyReply, operationOutcome(new AppError('BAD_REQUEST')), 400)
      void (reply as FastifyReply).code(400).send({ code: 'BAD_REQUEST', message: errorRegistry.BAD_REQUEST.message })
    },
    // Requests the HTTP parser refuses (headers too large, a timeout, broken framing) get a
    // registered { code, message } too.
    clientErrorHandler: answerClientError,
  })
  // JSON routes take JSON only: any other media type is a 415, never a string body that a
  // handler mistakes for an object. POST /records has its own raw parser (routes/records.ts).
  app.removeContentTypeParser('text/plain')
  // Before any route: the limits attach to each unauthenticated route as it is added.
  await registerRateLimits(app, services)
  await app.register(swagger, { openapi: openapiDocument })
  await app.register(swaggerUi, { routePrefix: `${apiPrefix}/docs` })

  app.decorateRequest('actor', undefined)
  app.decorateRequest('token', undefined)
  app.addHook('onRequest', async (req) => {
    const header = req.headers.authorization
    if (!header) return
    const m = /^Bearer ([A-Za-z0-9_-]{20,200})$/.exec(header)
    if (!m) throw new AppError('UNAUTHENTICATED')
    req.actor = await authenticate(services, m[1])
    req.token = m[1]
    // A patient's unlocked key covers their records that have no research copy yet (off this request's path, at most once a minute).
    void topUpResearchKeys(services, req.actor)
    restrictDuringMfaEnrollment(req)
  })
  app.addHook('onSend', async (req, reply) => {
    const path = req.url.split('?')[0]
    const portal = webRoot && !isApiPath(path)
    const docs = path === `${apiPrefix}/docs` || path.startsWith(`${apiPrefix}/docs/`)
    // Vite names every asset by its content hash: those can be cached for good.
    reply.header('cache-control', portal && path.startsWith('/assets/') && reply.statusCode === 200 ? 'public, max-age=31536000, immutable' : 'no-store')
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    if (portal || docs) {
      reply.header('content-security-policy', docs ? docsCsp : portalCsp)
      reply.header('x-frame-options', 'DENY')
      reply.header('cross-origin-opener-policy', 'same-origin')
    }
  })

  app.setErrorHandler(async (err, req, reply) => {
    const appErr = toAppError(err)
    if (appErr.status >= 500) services.log('error', `${req.method} ${req.routeOptions.url ?? 'unknown route'}: ${appErr.code} ${appErr.details ?? ''} ${describeCause(appErr)}`)
    // A refused upload may still be sending: a client that is cut off mid-write never reads
    // the answer, so read and discard a bounded rest of the body first; past that, hang up.
    if (!req.raw.readableEnded && !(await drain(req.raw, 64 * 1024 * 1024, 10_000))) reply.header('connection', 'close')
    return reply.status(appErr.status).send({ ...appErr.body, code: appErr.code, message: appErr.message })
  })
  app.setNotFoundHandler((req, reply) => {
    // The portal routes in the browser: any other page path gets its index.html.
    const path = req.url.split('?')[0]
    if (webRoot && (req.method === 'GET' || req.method === 'HEAD') && !isApiPath(path) && !/\.[A-Za-z0-9]+$/.test(path)) {
      return reply.type('text/html; charset=utf-8').sendFile('index.html', webRoot)
    }
    return reply.status(404).send({ code: 'ROUTE_NOT_FOUND', message: errorRegistry.ROUTE_NOT_FOUND.message })
  })
  if (webRoot) {
    await app.register(fastifyStatic, { root: webRoot, prefix: '/', wildcard: true, index: ['index.html'], dotfiles: 'deny', schemaHide: true })
  }

  app.get(`${apiPrefix}/openapi.json`, { schema: { hide: true } }, async () => app.swagger())
  await registerApiRoutes(app, services)
  return app
}

/** The API's routes under /api/v1; POST /records in a scope of its own (its raw body parser). */
async function registerApiRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const ctx = { services }
  await app.register(async (scope) => {
    await authRoutes(scope, ctx)
    await siweRoutes(scope, ctx)
    await mfaRoutes(scope, ctx)
    await accountEventRoutes(scope, ctx)
    await hospitalRoutes(scope, ctx)
    await userRoutes(scope, ctx)
    await signupRoutes(scope, ctx)
    await doctorRoutes(scope, ctx)
    await researcherRoutes(scope, ctx)
    await studyRoutes(scope, ctx)
    await statusRoutes(scope, ctx)
    await accessRequestRoutes(scope, ctx)
    await shareRoutes(scope, ctx)
    await erasureRoutes(scope, ctx)
    await recoveryRoutes(scope, ctx)
    await emergencyRoutes(scope, ctx)
    await auditRoutes(scope, ctx)
    await mailRoutes(scope, ctx)
    await replicaRoutes(scope, ctx)
    await rekeyRoutes(scope, ctx)
    await teamRoutes(scope, ctx)
  }, { prefix: apiPrefix })
  await app.register(async (scope) => { await recordRoutes(scope, ctx) }, { prefix: apiPrefix })
  await app.register(async (scope) => { await fhirPlugin(scope, ctx) }, { prefix: fhirPrefix })
}

/** Answers a request the HTTP parser refused with a registered { code, message }, then hangs up. */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST'
  const { status, message } = errorRegistry[code]
  const body = JSON.stringify({ code, message })
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`)
  socket.destroy(err)
}

function isApiPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/') || path === '/fhir' || path.startsWith('/fhir/')
}
