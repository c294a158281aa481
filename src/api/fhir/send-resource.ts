import type { FastifyReply } from 'fastify'
import type { FhirResource } from './resource-module.ts'

export const fhirJsonType = 'application/fhir+json; charset=utf-8'

/** Answers a FHIR resource as application/fhir+json. */
export function sendResource(reply: FastifyReply, resource: FhirResource, status = 200): FastifyReply {
  return reply.status(status).type(fhirJsonType).send(resource)
}
