import type { FromSchema } from 'json-schema-to-ts'
import { resolveAccess } from '../../../consent/resolve-access.ts'
import { viewRecord } from '../../../records/view-record.ts'
import { AppError, isAppError } from '../../../errors.ts'
import { actorOf } from '../../actor-of.ts'
import { fhirBase, pagingParams, pagingQuery, searchsetBundle } from '../bundle.ts'
import { recordIdOfFhirId } from '../fhir-id.ts'
import { readableRecords, searchDocumentsPage, toDocumentReferences } from '../document-search.ts'
import { sendResource } from '../send-resource.ts'
import type { FhirResourceModule } from '../resource-module.ts'

const values = { type: 'array', items: { type: 'string', maxLength: 400 }, maxItems: 20 } as const
const searchQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { patient: values, subject: values, date: values, type: values, author: values, _content: values, _sort: { type: 'string', enum: ['date', '-date'] }, ...pagingQuery },
} as const
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 200 } } } as const

/**
 * The record id of a DocumentReference or Binary id: a valid FHIR id that is not 64 hex
 * characters names no record (404, as an unknown record).
 * @throws AppError INVALID_FHIR_ID, RECORD_NOT_FOUND
 */
export function recordIdOfDocumentId(id: string): `0x${string}` {
  const recordId = recordIdOfFhirId(id)
  if (!/^0x[0-9a-f]{64}$/.test(recordId)) throw new AppError('RECORD_NOT_FOUND')
  return recordId
}

/** DocumentReference: read and search over the records the caller may read (the native read and list decide). */
export const documentReferenceModule: FhirResourceModule = {
  type: 'DocumentReference',
  interactions: ['read', 'search-type'],
  searchParams: [
    { name: 'patient', type: 'reference', documentation: 'The patient (Patient/id): their records you may read.' },
    { name: 'subject', type: 'reference', documentation: 'As patient.' },
    { name: 'date', type: 'date', documentation: 'The anchor\'s block time; prefixes eq, ne, gt, lt, ge, le.' },
    { name: 'type', type: 'token', documentation: 'The document type: LOINC 18748-4, 34133-9, 60591-5, 11503-0, or data-absent-reason unknown.' },
    { name: 'author', type: 'reference', documentation: 'The uploading doctor (Practitioner/id).' },
    { name: '_content', type: 'string', documentation: 'Keyword search over the record\'s indexed terms (as GET /records?q=): every word must match, words of 3+ letters as prefixes.' },
    { name: '_sort', type: 'special', documentation: '-date (newest first, the default) or date.' },
    ...pagingParams,
  ],
  register(scope, { services }) {
    scope.get<{ Params: FromSchema<typeof idParams> }>('/DocumentReference/:id', {
      schema: { tags: ['fhir'], summary: 'FHIR read of a DocumentReference: a record you may read (as GET /records/{id}/meta), else 404.', params: idParams },
    }, async (req, reply) => {
      const view = await viewRecord(services, await resolveAccess(services, { actor: actorOf(req), recordId: recordIdOfDocumentId(req.params.id) }))
      const [doc] = await toDocumentReferences(services, [view])
      reply.header('etag', 'W/"1"')
      return sendResource(reply, doc)
    })
    scope.get<{ Querystring: FromSchema<typeof searchQuery> }>('/DocumentReference', {
      schema: { tags: ['fhir'], summary: 'FHIR search of DocumentReference: the records you may read (as GET /records), filtered; total counts only those.', querystring: searchQuery },
    }, async (req, reply) => {
      const { _count = 20, _offset = 0, ...query } = req.query
      // Only the page's records are opened (searchDocumentsPage), unless a filter needs them all.
      const { total, page } = await searchDocumentsPage(services, { actor: actorOf(req), query, count: _count, offset: _offset })
      return sendResource(reply, searchsetBundle({ base: fhirBase(req), path: 'DocumentReference', params: query, matches: await toDocumentReferences(services, page), count: _count, offset: _offset, total }))
    })
  },
  async everything(s, { actor, patientId, signal }) {
    try {
      return await toDocumentReferences(s, await readableRecords(s, { actor, patient: patientId, signal }))
    } catch (err) {
      // Staff and the admin read no records natively: $everything gives them none.
      if (isAppError(err, 'FORBIDDEN')) return []
      throw err
    }
  },
}
