/**
 * FHIR R4 at /fhir/R4 (issue 11): a view computed from the ledger, the encrypted manifests and
 * the database, through the same domain functions as the native API.
 *
 * How a resource module plugs in:
 * 1. Write `resources/<type>.ts` exporting a `FhirResourceModule` (resource-module.ts): its
 *    `type`, `interactions`, `searchParams` (and `operations`) are what GET /metadata lists,
 *    so declare exactly what `register` implements.
 * 2. Add it to `fhirModules` in modules.ts. Several modules may serve one type (a read module and
 *    a create module): the CapabilityStatement adds up what they declare.
 * 3. In `register(scope, ctx)`, add routes to `scope` with paths relative to the base
 *    (`/DocumentReference/:id`). Bodies of `application/fhir+json` and `application/json` arrive
 *    parsed; a route that takes raw bytes (POST /Binary) registers in a child scope of its own:
 *    `scope.register(async (raw) => { raw.removeAllContentTypeParsers(); raw.addContentTypeParser('*', (_r, payload, done) => done(null, payload)); … })`,
 *    as routes/records.ts does for POST /records.
 * 4. Take the actor with `actorOf(req)` (the native session), call domain functions (never
 *    SQL), answer with `sendResource(reply, resource, status?)` (send-resource.ts), and throw AppError for every
 *    failure: the plugin answers it as an OperationOutcome with the code's HTTP status (404 for
 *    what the caller may not see, as natively). Ids go through `checkFhirId`/`recordIdOfFhirId`,
 *    searches through `searchsetBundle` (bundle.ts) with `pagingQuery` in their querystring schema.
 * 5. A type with resources about a patient adds an `everything` hook: Patient/{id}/$everything
 *    gathers from every module that has one.
 */
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.ts'
import type { Services } from '../../services.ts'
import { describeCause, toAppError } from '../to-app-error.ts'
import { drain } from '../drain-request.ts'
import { operationOutcome } from './operation-outcome.ts'
import { capabilityStatement } from './capability-statement.ts'
import { fhirBase } from './bundle.ts'
import { fhirModules } from './modules.ts'
import { sendResource } from './send-resource.ts'
import type { FhirContext, FhirResourceModule } from './resource-module.ts'

/** JSON bodies (FHIR's and plain), at the API's body limit; any other media type is a 415 OperationOutcome. */
function parseJsonBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser(['application/fhir+json', 'application/json'], { parseAs: 'string' }, scope.getDefaultJsonParser('error', 'error'))
}

/** Every failure as an OperationOutcome with its code's status; 5xx logged with their cause, never answered with it. */
function answerOutcomes(scope: FastifyInstance, services: Services): void {
  scope.setErrorHandler(async (err, req, reply) => {
    const appErr = toAppError(err)
    if (appErr.status >= 500) services.log('error', `${req.method} ${req.routeOptions.url ?? 'unknown route'}: ${appErr.code} ${appErr.details ?? ''} ${describeCause(appErr)}`)
    if (!req.raw.readableEnded && !(await drain(req.raw, 64 * 1024 * 1024, 10_000))) reply.header('connection', 'close')
    return sendResource(reply, operationOutcome(appErr), appErr.status)
  })
  scope.setNotFoundHandler((_req, reply) => sendResource(reply, operationOutcome(new AppError('ROUTE_NOT_FOUND')), 404))
}

/**
 * The FHIR R4 interface, registered by buildApp under /fhir/R4: GET /metadata and the routes of
 * every resource module (modules.ts unless `modules` is given).
 */
export async function fhirPlugin(scope: FastifyInstance, { services, modules = fhirModules }: { services: Services; modules?: readonly FhirResourceModule[] }): Promise<void> {
  parseJsonBodies(scope)
  scope.decorate('fhirPublicUrl', services.config.publicUrl)
  answerOutcomes(scope, services)
  const ctx: FhirContext = { services, modules }
  const date = new Date().toISOString()
  scope.get('/metadata', {
    schema: { tags: ['fhir'], summary: 'FHIR R4 CapabilityStatement: the resources, interactions and search parameters implemented here.', security: [] },
  }, async (req, reply) => sendResource(reply, capabilityStatement({ modules, base: fhirBase(req), date })))
  for (const m of modules) await m.register(scope, ctx)
}
