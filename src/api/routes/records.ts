import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { uploadRecord } from '../../records/upload-record.ts'
import { readRecordFor } from '../../consent/read-record-for.ts'
import { listRecords } from '../../consent/list-records.ts'
import { listAllRecordsGrantees } from '../../consent/list-all-records-grantees.ts'
import { wrapResearchKey } from '../../consent/research-keys.ts'
import { verifyRecords } from '../../records/verify-records.ts'
import { resolveAccess } from '../../consent/resolve-access.ts'
import { viewRecord } from '../../records/view-record.ts'
import { rotateSearchKey } from '../../records/search/rotate-search-key.ts'
import { parseCipherSuite } from '../../crypto/stream.ts'
import { AppError } from '../../errors.ts'
import { actorOf } from '../actor-of.ts'
import { errors, idParams, recordSchema } from './schemas.ts'
import type { Services } from '../../services.ts'

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { patient: { type: 'string', maxLength: 80, description: 'Patient id or ledger address.' }, limit: { type: 'integer', minimum: 1, maximum: 1000 }, offset: { type: 'integer', minimum: 0 }, q: { type: 'string', minLength: 1, maxLength: 500, description: 'Keyword search: every word must match (words of 3+ letters as prefixes).' } },
} as const
const verifyBody = { type: 'object', additionalProperties: false, properties: { recordIds: { type: 'array', items: { type: 'string', maxLength: 80 }, maxItems: 10000 }, all: { type: 'boolean' } } } as const
const checkSchema = { type: 'object', properties: { recordId: { type: 'string' }, ok: { type: 'boolean' }, root: { type: 'string' }, problem: { type: 'string' }, detail: { type: 'string' }, erased: { type: 'boolean' } } } as const

type IdParams = { Params: FromSchema<typeof idParams> }

/** Upload (streamed), read (streamed, verified first), list and verify records. */
export async function recordRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  // The upload body is the file itself, of any media type (JSON and XML included), streamed
  // into the encryptor: its own scope has the raw catch-all as its only parser, so no parser
  // of the other routes can consume it. The other routes keep the API's JSON parsing.
  await app.register(async (upload) => {
    upload.removeAllContentTypeParsers()
    upload.addContentTypeParser('*', (_req, payload, done) => done(null, payload))
    uploadRoute(upload, services)
  })

  app.get<{ Querystring: FromSchema<typeof listQuery> }>('/records', {
    schema: {
      tags: ['records'],
      summary: 'Records you may read, newest first, with their decrypted metadata: a patient\'s own, or a doctor\'s uploads (optionally for one patient).',
      querystring: listQuery,
      response: { 200: { type: 'object', properties: { records: { type: 'array', items: recordSchema }, total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' } } }, ...errors(400, 401, 403, 404) },
    },
  }, async (req) => listRecords(services, { actor: actorOf(req), patient: req.query.patient, limit: req.query.limit, offset: req.query.offset, q: req.query.q }))

  app.get<IdParams>('/records/:id/meta', {
    schema: { tags: ['records'], summary: 'One record\'s ledger facts and decrypted metadata.', params: idParams, response: { 200: recordSchema, ...errors(400, 401, 404, 409, 503) } },
  }, async (req) => viewRecord(services, await resolveAccess(services, { actor: actorOf(req), recordId: req.params.id })))

  readRoute(app, services)
  verifyRoute(app, services)

  app.post('/search-key/rotate', {
    schema: {
      tags: ['records'],
      summary: 'The patient replaces their search key; every record of theirs is re-indexed under the new one (README "Search").',
      response: { 200: { type: 'object', properties: { version: { type: 'integer' }, records: { type: 'integer' }, tokens: { type: 'integer' } } }, ...errors(401, 403, 404) },
    },
  }, async (req) => rotateSearchKey(services, { actor: actorOf(req) }))
}

/** GET /records/:id: the record's plaintext, streamed once every block is checked and the read is on the ledger. */
function readRoute(app: FastifyInstance, services: Services): void {
  app.get<IdParams>('/records/:id', {
    schema: {
      tags: ['records'],
      summary: 'Download a record\'s plaintext: the patient, the author, a live grant, share or emergency access, or — with no session — the holder of a share token in `X-Medledger-Share-Token`. Every block is checked against the ledger anchor, every chunk authenticated and the read written to the ledger before the first byte is sent; otherwise 409 RECORD_INTEGRITY.',
      security: [{ bearer: [] }, {}],
      params: idParams,
      response: { ...errors(400, 401, 404, 409, 503) },
    },
  }, async (req, reply) => {
    const token = req.headers['x-medledger-share-token']
    const { record, body } = await readRecordFor(services, {
      actor: req.actor,
      token: typeof token === 'string' && !req.actor ? token : undefined,
      recordId: req.params.id,
    })
    reply.header('content-type', record.mediaType)
    reply.header('content-length', String(record.size))
    reply.header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(record.fileName)}`)
    // A record is the patient's file, not part of this site: never let a browser run it here.
    reply.header('content-security-policy', "sandbox; default-src 'none'")
    reply.header('x-medledger-record-id', record.recordId)
    reply.header('x-medledger-sha256', record.sha256)
    return reply.send(Readable.from(body))
  })
}

/** POST /verify: re-check stored records against their ledger anchors. */
function verifyRoute(app: FastifyInstance, services: Services): void {
  app.post<{ Body: FromSchema<typeof verifyBody> }>('/verify', {
    schema: {
      tags: ['records'],
      summary: 'Re-check stored records against their ledger anchors (every block hashed); reports each mismatch.',
      body: verifyBody,
      response: {
        200: {
          type: 'object',
          properties: {
            checked: { type: 'integer' },
            intact: { type: 'integer' },
            erased: { type: 'integer', description: 'Records erased at their patient\'s request (tombstone on chain): listed in results with erased: true, not mismatches.' },
            mismatches: { type: 'array', items: checkSchema },
            results: { type: 'array', items: checkSchema },
          },
        },
        ...errors(400, 401, 403, 404),
      },
    },
  }, async (req) => verifyRecords(services, { actor: actorOf(req), recordIds: req.body?.recordIds, all: req.body?.all }))
}

/** POST /records: the body is the record's bytes, whatever its Content-Type. */
function uploadRoute(app: FastifyInstance, services: Services): void {
  app.post<{ Body: Readable | undefined }>('/records', {
    schema: {
      tags: ['records'],
      summary: 'Upload a record for a patient (doctor of the patient\'s hospital). The body is the file, streamed; the answer comes once blocks, envelopes and the mined anchor are durable.',
      description: 'Headers: `X-Medledger-Patient` (patient e-mail, id or ledger address), `X-Medledger-File-Name` (percent-encoded UTF-8), optional `X-Medledger-Suite` (aes-256-gcm, aes-192-gcm, aes-128-gcm, xchacha20-poly1305), optional `X-Medledger-Tags` (search tags, comma-separated, each percent-encoded UTF-8); `Content-Type` is kept as the record\'s media type.',
      headers: {
        type: 'object',
        required: ['x-medledger-patient'],
        properties: {
          'x-medledger-patient': { type: 'string', maxLength: 320 },
          'x-medledger-file-name': { type: 'string', maxLength: 1024 },
          'x-medledger-suite': { type: 'string', maxLength: 40 },
          'x-medledger-tags': { type: 'string', maxLength: 2048 },
        },
      },
      response: { 201: recordSchema, ...errors(400, 401, 403, 404, 409, 413, 502, 503) },
    },
  }, async (req, reply) => {
    const actor = actorOf(req)
    const h = req.headers
    const rawName = h['x-medledger-file-name']
    if (typeof rawName !== 'string' || rawName === '') throw new AppError('MISSING_FILE', { message: 'No file was sent: the X-Medledger-File-Name header is required.' })
    let fileName: string
    try {
      fileName = decodeURIComponent(rawName)
    } catch {
      throw new AppError('VALIDATION_FAILED', { message: 'X-Medledger-File-Name must be percent-encoded UTF-8.' })
    }
    const tags = typeof h['x-medledger-tags'] === 'string' ? parseTags(h['x-medledger-tags']) : undefined
    const suite = typeof h['x-medledger-suite'] === 'string' ? parseCipherSuite(h['x-medledger-suite']) : undefined
    const declared = h['content-length'] !== undefined ? Number(h['content-length']) : undefined
    const controller = new AbortController()
    req.raw.on('close', () => { if (!req.raw.readableEnded) controller.abort(new AppError('BAD_REQUEST', { details: 'client went away mid-upload' })) })
    // Leaving the loop early (a refusal) must not destroy the socket before the answer is sent.
    const source: AsyncIterable<Uint8Array> = req.body ? req.body.iterator({ destroyOnReturn: false }) : Readable.from([])
    const result = await uploadRecord(services, {
      actor,
      patient: String(h['x-medledger-patient']),
      fileName,
      mediaType: typeof h['content-type'] === 'string' ? h['content-type'] : undefined,
      suite,
      tags,
      source,
      declaredSize: Number.isSafeInteger(declared) ? declared : undefined,
      grantees: (patientId, signal) => listAllRecordsGrantees(services, { patientId, signal }),
      researchCopy: (c) => wrapResearchKey(services, c),
      signal: controller.signal,
    })
    return reply.status(201).send(result)
  })
}

/** X-Medledger-Tags: comma-separated, each percent-encoded UTF-8; empty ones dropped. */
function parseTags(header: string): string[] {
  try {
    return header.split(',').map((t) => decodeURIComponent(t).trim()).filter((t) => t !== '')
  } catch {
    throw new AppError('VALIDATION_FAILED', { message: 'X-Medledger-Tags must be comma-separated percent-encoded UTF-8.' })
  }
}
