import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { resolveAccess } from '../../../consent/resolve-access.ts'
import { readRecordFor } from '../../../consent/read-record-for.ts'
import { AppError } from '../../../errors.ts'
import type { Services } from '../../../services.ts'
import { actorOf } from '../../actor-of.ts'
import { fhirIdOfRecord } from '../fhir-id.ts'
import { sendResource } from '../send-resource.ts'
import type { FhirResourceModule } from '../resource-module.ts'
import { recordIdOfDocumentId } from './document-reference.ts'

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 200 } } } as const

/** True when the client asks for the Binary resource rather than the bytes. */
function wantsResource(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? ''
  return accept.split(',').some((part) => part.split(';')[0].trim().toLowerCase() === 'application/fhir+json')
}

/** True when the client's If-None-Match already names this version (records never change: every ETag is W/"1"). */
function notModified(req: FastifyRequest): boolean {
  const tags = req.headers['if-none-match']
  return typeof tags === 'string' && tags.split(',').some((t) => ['W/"1"', '"1"', '*'].includes(t.trim()))
}

/** Collects a record's plaintext, already bounded by the size check before it. */
async function collect(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of body) chunks.push(c)
  return Buffer.concat(chunks)
}

/**
 * GET /Binary/{id}: the native read (readRecordFor: access decided, every block checked, the
 * read on the ledger first). As a Binary resource (Accept: application/fhir+json) up to
 * fhirBinaryMaxMb, checked on the decrypted manifest before anything is read; otherwise the
 * bytes themselves, streamed with the record's media type. A conditional read that names the
 * version answers 304, after the access decision and without reading.
 */
async function readBinary(services: Services, req: FastifyRequest<{ Params: FromSchema<typeof idParams> }>, reply: FastifyReply): Promise<FastifyReply> {
  const actor = actorOf(req)
  const recordId = recordIdOfDocumentId(req.params.id)
  const asResource = wantsResource(req)
  if (asResource || notModified(req)) {
    const { manifest } = await resolveAccess(services, { actor, recordId })
    if (notModified(req)) return reply.status(304).header('etag', 'W/"1"').send()
    if (manifest.size > services.config.fhirBinaryMaxMb * 1024 * 1024) throw new AppError('BINARY_TOO_LARGE')
  }
  const { record, body } = await readRecordFor(services, { actor, recordId })
  reply.header('etag', 'W/"1"')
  reply.header('x-medledger-sha256', record.sha256)
  if (asResource) {
    const id = fhirIdOfRecord(record.recordId)
    return sendResource(reply, { resourceType: 'Binary', id, meta: { versionId: '1' }, contentType: record.mediaType, securityContext: { reference: `DocumentReference/${id}` }, data: (await collect(body)).toString('base64') })
  }
  reply.header('content-type', record.mediaType)
  reply.header('content-length', String(record.size))
  reply.header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(record.fileName)}`)
  // A record is the patient's file, not part of this site: never let a browser run it here.
  reply.header('content-security-policy', "sandbox; default-src 'none'")
  return reply.send(Readable.from(body))
}

/** Binary: read of a record's content, as a resource or as its own bytes. */
export const binaryModule: FhirResourceModule = {
  type: 'Binary',
  interactions: ['read'],
  searchParams: [],
  register(scope, { services }) {
    scope.get<{ Params: FromSchema<typeof idParams> }>('/Binary/:id', {
      schema: { tags: ['fhir'], summary: 'FHIR read of a Binary: a record\'s content, as a Binary resource (Accept: application/fhir+json, up to MEDLEDGER_FHIR_BINARY_MAX_MB) or as its own bytes, streamed. Same access decision, integrity check and on-chain read entry as GET /api/v1/records/{id}.', params: idParams },
    }, async (req, reply) => readBinary(services, req, reply))
  },
}
