import type { FromSchema } from 'json-schema-to-ts'
import { Readable } from 'node:stream'
import { AppError } from '../../../errors.ts'
import { actorOf } from '../../actor-of.ts'
import { fhirBase } from '../bundle.ts'
import { fhirIdOfRecord } from '../fhir-id.ts'
import { sendResource } from '../send-resource.ts'
import { toDocumentReferences } from '../document-search.ts'
import { bytesOfBase64, createRecord, defaultFileName, maxCreateJsonBytes, patientOfReference } from '../create-record.ts'
import type { FhirResourceModule } from '../resource-module.ts'

/** What a create reads of a DocumentReference: the subject and the first attachment; the rest is the server's to fill. */
const createBody = {
  type: 'object',
  required: ['resourceType'],
  properties: {
    resourceType: { const: 'DocumentReference' },
    subject: { type: 'object', properties: { reference: { type: 'string', maxLength: 320 } } },
    content: {
      type: 'array',
      maxItems: 1,
      items: {
        type: 'object',
        required: ['attachment'],
        properties: {
          attachment: {
            type: 'object',
            properties: { contentType: { type: 'string', maxLength: 255 }, title: { type: 'string', maxLength: 1024 }, data: { type: 'string' }, size: { type: 'integer', minimum: 0 } },
          },
        },
      },
    },
  },
} as const

/**
 * DocumentReference create (issue 11 item 5): `subject` names the patient, the one attachment
 * carries the file in base64 `data` (`contentType` its media type, `title` its file name). The
 * file is stored by the native upload; the answer is the new record's DocumentReference.
 */
export const documentReferenceCreateModule: FhirResourceModule = {
  type: 'DocumentReference',
  interactions: ['create'],
  searchParams: [],
  register(scope, { services }) {
    scope.post<{ Body: FromSchema<typeof createBody> }>('/DocumentReference', {
      bodyLimit: maxCreateJsonBytes,
      schema: { tags: ['fhir'], summary: 'Create a record from a DocumentReference whose attachment carries the file in base64 data; stored as one encrypted, anchored record.', body: createBody },
    }, async (req, reply) => {
      actorOf(req)
      const attachment = req.body.content?.[0]?.attachment
      if (!req.body.subject?.reference) throw new AppError('VALIDATION_FAILED', { message: 'Name the patient: subject.reference Patient/{id}.' })
      const patient = patientOfReference(req.body.subject.reference)
      if (attachment?.data === undefined) throw new AppError('MISSING_FILE', { message: 'No file was sent: the attachment carries no data.' })
      const bytes = bytesOfBase64(attachment.data)
      if (attachment.size !== undefined && attachment.size !== bytes.length) throw new AppError('VALIDATION_FAILED', { message: 'The attachment size does not match its data.' })
      const stored = await createRecord(services, req, {
        patient,
        fileName: attachment.title ?? defaultFileName(attachment.contentType),
        mediaType: attachment.contentType,
        source: Readable.from([bytes]),
        declaredSize: bytes.length,
      })
      const [doc] = await toDocumentReferences(services, [stored])
      reply.header('location', `${fhirBase(req)}/DocumentReference/${fhirIdOfRecord(stored.recordId)}`)
      return sendResource(reply, doc, 201)
    })
  },
}
