import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../../errors.ts'
import { actorOf } from '../actor-of.ts'
import type { Services } from '../../services.ts'
import { fhirBase } from './bundle.ts'
import { fhirIdOfRecord } from './fhir-id.ts'
import { sendResource } from './send-resource.ts'
import { createRecord, defaultFileName, maxCreateJsonBytes, patientOfReference } from './create-record.ts'
import { binaryResource } from './binary-resource.ts'

/**
 * POST /Binary: creates a record from the body, in one of two forms.
 * - Raw bytes of any media type (a whole FHIR Bundle included), streamed into the native upload
 *   and kept byte for byte as one encrypted record, never expanded; the patient in
 *   `X-Medledger-Patient`, the file name (optional) in `X-Medledger-File-Name`, as for POST /records.
 * - A `Binary` resource (`application/fhir+json`) whose `securityContext` references the
 *   Patient: its base64 `data` is the file, its `contentType` the media type.
 * Registered in a scope of its own whose only parser hands the body over unread, as POST /records.
 */
export async function registerBinaryCreate(scope: FastifyInstance, services: Services): Promise<void> {
  await scope.register(async (raw) => {
    raw.removeAllContentTypeParsers()
    raw.addContentTypeParser('*', (_req, payload, done) => done(null, payload))
    raw.post<{ Body: Readable | undefined }>('/Binary', {
      schema: {
        tags: ['fhir'],
        summary: 'Create a record: the body is the file (patient in X-Medledger-Patient), or a Binary resource whose securityContext references the Patient. Stored as one encrypted, anchored record.',
        headers: {
          type: 'object',
          properties: { 'x-medledger-patient': { type: 'string', maxLength: 320 }, 'x-medledger-file-name': { type: 'string', maxLength: 1024 } },
        },
      },
    }, async (req, reply) => {
      actorOf(req)
      const controller = new AbortController()
      req.raw.on('close', () => { if (!req.raw.readableEnded) controller.abort(new AppError('BAD_REQUEST', { details: 'client went away mid-upload' })) })
      const body = await bodyForm(req)
      const h = req.headers
      const fileName = typeof h['x-medledger-file-name'] === 'string' && h['x-medledger-file-name'] !== '' ? decodedName(h['x-medledger-file-name']) : undefined
      let stored
      if (body.kind === 'resource') {
        stored = await createRecord(services, req, { patient: body.patient, fileName: fileName ?? defaultFileName(body.contentType), mediaType: body.contentType, source: Readable.from([body.bytes]), declaredSize: body.bytes.length, signal: controller.signal })
      } else {
        if (typeof h['x-medledger-patient'] !== 'string') throw new AppError('VALIDATION_FAILED', { message: 'Name the patient in X-Medledger-Patient, or send a Binary resource whose securityContext references the Patient.' })
        const declared = h['content-length'] !== undefined ? Number(h['content-length']) : undefined
        const mediaType = typeof h['content-type'] === 'string' ? h['content-type'] : undefined
        stored = await createRecord(services, req, {
          patient: patientOfReference(h['x-medledger-patient']),
          fileName: fileName ?? defaultFileName(mediaType),
          mediaType,
          source: body.source,
          declaredSize: Number.isSafeInteger(declared) ? declared : undefined,
          signal: controller.signal,
        })
      }
      const id = fhirIdOfRecord(stored.recordId)
      reply.header('location', `${fhirBase(req)}/Binary/${id}`)
      // As GET /Binary/{id} shows it, without the data the client just sent.
      return sendResource(reply, { resourceType: 'Binary', id, meta: { versionId: '1' }, contentType: stored.mediaType, securityContext: { reference: `DocumentReference/${id}` } }, 201)
    })
  })
}

type BodyForm =
  | { kind: 'resource'; patient: string; contentType: string; bytes: Buffer }
  | { kind: 'raw'; source: AsyncIterable<Uint8Array> }

/**
 * Which form the body is. Only an `application/fhir+json` body can be a Binary resource: it is
 * read up to {@link maxCreateJsonBytes}; a Binary with a Patient `securityContext` is the resource
 * form, anything else (a Bundle, a Binary of no patient, what is not JSON, or a body past that
 * size) is raw bytes, streamed on from what was already read.
 * @throws AppError VALIDATION_FAILED (a Binary resource's data is not base64)
 */
async function bodyForm(req: FastifyRequest<{ Body: Readable | undefined }>): Promise<BodyForm> {
  const stream = req.body
  const source: AsyncIterator<Uint8Array> = stream ? stream.iterator({ destroyOnReturn: false }) : Readable.from([])[Symbol.asyncIterator]()
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  const head: Buffer[] = []
  let size = 0
  let whole = false
  while (type === 'application/fhir+json' && size <= maxCreateJsonBytes) {
    const next = await source.next()
    if (next.done) { whole = true; break }
    head.push(Buffer.from(next.value))
    size += next.value.byteLength
  }
  if (whole) {
    const resource = binaryResource(Buffer.concat(head))
    if (resource) return { kind: 'resource', ...resource }
  }
  return { kind: 'raw', source: replay(head, source) }
}

/** What was read ahead, then the rest of the body. */
async function * replay(head: Buffer[], rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield * head
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value
}

/** @throws AppError VALIDATION_FAILED */
function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    throw new AppError('VALIDATION_FAILED', { message: 'X-Medledger-File-Name must be percent-encoded UTF-8.' })
  }
}
