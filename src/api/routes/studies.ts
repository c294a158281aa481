import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { createStudy, decideStudy, listStudies } from '../../consent/studies.ts'
import { ownHospitalResearchConsent, setHospitalResearchConsent, setResearchConsent } from '../../consent/research-consent.ts'
import { exportStudy } from '../../consent/export-study.ts'
import { collectStudyExport, requestStudyExport, studyExportProgress } from '../../consent/export-across.ts'
import { actorOf } from '../actor-of.ts'
import { errors, idParams } from './schemas.ts'
import type { Services } from '../../services.ts'

const createBody = {
  type: 'object',
  required: ['title', 'purpose'],
  additionalProperties: false,
  properties: { title: { type: 'string', maxLength: 800 }, purpose: { type: 'string', maxLength: 20000 }, minK: { type: 'integer' } },
} as const

const studySchema = {
  type: 'object',
  properties: {
    studyId: { type: 'string' },
    title: { type: 'string' },
    purpose: { type: 'string' },
    minK: { type: ['integer', 'null'] },
    status: { type: 'string' },
    researcher: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } },
    protocolHash: { type: 'string' },
    txHash: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    consent: { type: ['string', 'null'] },
  },
} as const

const consentSchema = { type: 'object', properties: { studyId: { type: 'string' }, consent: { type: 'string' }, purpose: { type: 'string' }, txHash: { type: 'string' } } } as const

const exportSchema = {
  type: 'object',
  properties: {
    manifest: { type: 'object', additionalProperties: true },
    manifestHash: { type: 'string' },
    txHash: { type: 'string' },
    files: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, content: { type: 'string' }, encoding: { type: 'string' } } } },
  },
} as const

const progressSchema = {
  type: 'object',
  properties: {
    exportId: { type: 'string' },
    studyId: { type: 'string' },
    txHash: { type: 'string' },
    answered: { type: 'integer' },
    hospitals: {
      type: 'array',
      items: { type: 'object', properties: { hospital: { type: 'string' }, name: { type: ['string', 'null'] }, answered: { type: 'boolean' }, parts: { type: 'integer' }, patients: { type: 'integer' }, resources: { type: 'integer' } } },
    },
  },
} as const

const exportParams = { type: 'object', required: ['id', 'exportId'], properties: { id: { type: 'string', maxLength: 80 }, exportId: { type: 'string', maxLength: 80 } } } as const

type IdParams = { Params: FromSchema<typeof idParams> }
type ExportParams = { Params: FromSchema<typeof exportParams> }

/** Research studies (issue 12): proposed by researchers, decided by the admin, consented to by patients, exported de-identified. */
export async function studyRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<{ Body: FromSchema<typeof createBody> }>('/studies', {
    schema: { tags: ['research'], summary: 'Propose a study (a confirmed researcher): its id, your address and the hash of its protocol text go on chain.', body: createBody, response: { 201: studySchema, ...errors(400, 401, 403, 502, 503) } },
  }, async (req, reply) => reply.status(201).send(await createStudy(services, { actor: actorOf(req), title: req.body.title, purpose: req.body.purpose, minK: req.body.minK })))

  app.get('/studies', {
    schema: { tags: ['research'], summary: 'Studies: a researcher\'s own, all for the admin, the approved ones for everyone else (a patient with their consent, and their consent to all of their hospital\'s studies as hospitalConsent).', response: { 200: { type: 'object', properties: { studies: { type: 'array', items: studySchema }, hospitalConsent: { type: ['string', 'null'] } } }, ...errors(401, 403) } },
  }, async (req) => {
    const actor = actorOf(req)
    const studies = await listStudies(services, { actor })
    return actor?.account.role === 'patient' ? { studies, hospitalConsent: await ownHospitalResearchConsent(services, { actor }) } : { studies }
  })

  for (const decision of ['approve', 'reject'] as const) {
    app.post<IdParams>(`/studies/:id/${decision}`, {
      schema: { tags: ['research'], summary: `${decision === 'approve' ? 'Approve' : 'Reject'} a proposed study (the consortium admin), on chain from your own key.`, params: idParams, response: { 200: studySchema, ...errors(401, 403, 404, 409, 502, 503) } },
    }, async (req) => decideStudy(services, { actor: actorOf(req), id: req.params.id, approve: decision === 'approve' }))
  }

  for (const action of ['consent', 'withdraw'] as const) {
    app.post<IdParams>(`/studies/:id/${action}`, {
      schema: { tags: ['research'], summary: action === 'consent' ? 'Consent to the use of your records, de-identified, in an approved study (a patient; on chain, purpose HRESCH).' : 'Withdraw your consent to a study (on chain); the next export leaves you out.', params: idParams, response: { 200: consentSchema, ...errors(401, 403, 404, 409, 502, 503) } },
    }, async (req) => setResearchConsent(services, { actor: actorOf(req), study: req.params.id, give: action === 'consent' }))
  }

  for (const action of ['research-consent', 'research-withdraw'] as const) {
    app.post<IdParams>(`/hospitals/:id/${action}`, {
      schema: { tags: ['research'], summary: action === 'research-consent' ? 'Consent to every approved study, present and future, of this hospital\'s researchers (a patient; on chain, purpose HRESCH).' : 'Withdraw your consent to this hospital\'s studies (on chain).', params: idParams, response: { 200: { type: 'object', properties: { hospitalId: { type: 'string' }, consent: { type: 'string' }, purpose: { type: 'string' }, txHash: { type: 'string' } } }, ...errors(401, 403, 404, 409, 502, 503) } },
    }, async (req) => setHospitalResearchConsent(services, { actor: actorOf(req), hospital: req.params.id, give: action === 'research-consent' }))
  }

  app.post<IdParams>('/studies/:id/export', {
    schema: { tags: ['research'], summary: 'Export a study (its researcher): the consenting patients\' records, de-identified, as NDJSON per resource type with a manifest; recorded on chain.', params: idParams, response: { 200: exportSchema, ...errors(401, 403, 404, 409, 502, 503) } },
  }, async (req) => exportStudy(services, { actor: actorOf(req), id: req.params.id }))

  // Exports across nodes: requested on chain, answered by each home node of consenting patients, collected here.
  app.post<IdParams>('/studies/:id/exports', {
    schema: { tags: ['research'], summary: 'Request an export across nodes (the study\'s researcher, on chain): every node home to consenting patients de-identifies them and submits its part, encrypted for you.', params: idParams, response: { 201: progressSchema, ...errors(401, 403, 404, 409, 502, 503) } },
  }, async (req, reply) => reply.status(201).send(await requestStudyExport(services, { actor: actorOf(req), id: req.params.id })))

  app.get<ExportParams>('/studies/:id/exports/:exportId', {
    schema: { tags: ['research'], summary: 'Where an export across nodes stands: the hospitals asked and which have submitted their part.', params: exportParams, response: { 200: progressSchema, ...errors(401, 403, 404, 503) } },
  }, async (req) => studyExportProgress(services, { actor: actorOf(req), id: req.params.id, exportId: req.params.exportId }))

  app.post<ExportParams>('/studies/:id/exports/:exportId/collect', {
    schema: { tags: ['research'], summary: 'Collect an export across nodes: the parts submitted so far, decrypted and merged (k over all of them), with a manifest listing every hospital asked; recorded on chain.', params: exportParams, response: { 200: exportSchema, ...errors(401, 403, 404, 409, 502, 503, 504) } },
  }, async (req) => collectStudyExport(services, { actor: actorOf(req), id: req.params.id, exportId: req.params.exportId }))
}
