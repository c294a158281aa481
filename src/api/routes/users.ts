import type { FastifyInstance } from 'fastify'
import { createAccount } from '../../accounts/create-account.ts'
import { signUp } from '../../accounts/sign-up.ts'
import { confirmDoctor, listPendingDoctors, rejectDoctor } from '../../accounts/confirm-doctor.ts'
import { findAccount, toAccount, type AccountRow, type Actor, type Role } from '../../accounts/account.ts'
import { parseKeyScheme } from '../../crypto/key-wrap.ts'
import { AppError } from '../../errors.ts'
import { actorOf } from '../build-app.ts'
import { accountSchema, errors } from './schemas.ts'
import type { Services } from '../../services.ts'

/** Accounts: the admin (or a hospital's staff) creates them; each sees those in its scope. */
export async function userRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post('/users', {
    schema: {
      tags: ['users'],
      summary: 'Create a doctor, patient or (admin only) staff account of a hospital, registered on chain from your own key. The recovery code is shown once.',
      body: {
        type: 'object',
        required: ['role', 'email', 'name', 'password'],
        additionalProperties: false,
        properties: {
          role: { type: 'string', enum: ['staff', 'doctor', 'patient'] },
          hospital: { type: 'string', description: 'Hospital id or ledger address; staff may leave it out.' },
          email: { type: 'string', maxLength: 320 },
          name: { type: 'string', maxLength: 200 },
          password: { type: 'string', maxLength: 1024 },
          keyScheme: { type: 'string', enum: ['x25519-hpke', 'rsa-oaep-4096'] },
        },
      },
      response: { 201: { type: 'object', properties: { account: accountSchema, recoveryCode: { type: 'string' } } }, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req, reply) => {
    const b = req.body as { role: Role; hospital?: string; email: string; name: string; password: string; keyScheme?: string }
    const { account, recoveryCode } = await createAccount(services, {
      actor: actorOf(req), role: b.role, hospital: b.hospital, email: b.email, name: b.name, password: b.password,
      keyScheme: b.keyScheme ? parseKeyScheme(b.keyScheme) : undefined,
    })
    return reply.status(201).send({ account, recoveryCode })
  })

  app.get('/users', {
    schema: {
      tags: ['users'],
      summary: 'Accounts you may see: all (admin), your hospital\'s (staff), your hospital\'s patients (doctor), yourself (patient).',
      querystring: { type: 'object', additionalProperties: false, properties: { role: { type: 'string', enum: ['admin', 'staff', 'doctor', 'patient'] }, hospital: { type: 'string' } } },
      response: { 200: { type: 'object', properties: { users: { type: 'array', items: accountSchema } } }, ...errors(401) },
    },
  }, async (req) => {
    const actor = actorOf(req)
    const q = req.query as { role?: Role; hospital?: string }
    const rows = await services.db.all(`SELECT * FROM accounts WHERE state IN ('active', 'pending', 'rejected') ORDER BY created_at`) as AccountRow[]
    return { users: rows.filter((r) => visible(actor, r) && (!q.role || r.role === q.role) && (!q.hospital || r.hospital_id === q.hospital)).map(toAccount) }
  })

  app.post('/users/resolve', {
    schema: {
      tags: ['users'],
      summary: 'Find one account you may see by e-mail, id or ledger address (in the body, so no e-mail lands in a URL or an access log).',
      body: { type: 'object', required: ['ref'], additionalProperties: false, properties: { ref: { type: 'string', maxLength: 320 } } },
      response: { 200: accountSchema, ...errors(400, 401, 404) },
    },
  }, async (req) => {
    const actor = actorOf(req)
    const ref = (req.body as { ref: string }).ref.trim().toLowerCase()
    const me = actor.account
    if ([me.email, me.id, me.address.toLowerCase()].includes(ref)) return me
    const row = await findAccount(services.db, ref)
    if (!row || !(visible(actor, row) || await hasAccessPath(services, actor, row))) throw new AppError('UNKNOWN_ACCOUNT')
    return toAccount(row)
  })

  app.post('/signup', {
    schema: {
      tags: ['users'],
      summary: 'Sign up as a patient (active at once) or a doctor (pending until the admin or the hospital confirms), choosing a hospital. The account registers itself on chain from its own key. The recovery code is shown once.',
      security: [],
      body: {
        type: 'object',
        required: ['role', 'hospital', 'email', 'name', 'password'],
        additionalProperties: false,
        properties: {
          role: { type: 'string', enum: ['doctor', 'patient'] },
          hospital: { type: 'string', maxLength: 80 },
          email: { type: 'string', maxLength: 320 },
          name: { type: 'string', maxLength: 200 },
          password: { type: 'string', maxLength: 1024 },
          licence: { type: 'string', maxLength: 40 },
          keyScheme: { type: 'string', enum: ['x25519-hpke', 'rsa-oaep-4096'] },
        },
      },
      response: { 201: { type: 'object', properties: { account: accountSchema, recoveryCode: { type: 'string' } } }, ...errors(400, 404, 409, 502, 503) },
    },
  }, async (req, reply) => {
    const b = req.body as { role: 'doctor' | 'patient'; hospital: string; email: string; name: string; password: string; licence?: string; keyScheme?: string }
    const r = await signUp(services, { ...b, keyScheme: b.keyScheme ? parseKeyScheme(b.keyScheme) : undefined })
    return reply.status(201).send(r)
  })

  const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 80 } } } as const
  app.get('/doctors/pending', {
    schema: { tags: ['users'], summary: 'Signed-up doctors waiting for confirmation (admin: all; staff: their hospital\'s), with their licence numbers.', response: { 200: { type: 'object', properties: { doctors: { type: 'array', items: { ...accountSchema, properties: { ...accountSchema.properties, licence: { type: ['string', 'null'] } } } } } }, ...errors(401, 403) } },
  }, async (req) => ({ doctors: await listPendingDoctors(services, { actor: actorOf(req) }) }))

  app.post('/doctors/:id/confirm', {
    schema: { tags: ['users'], summary: 'Confirm a signed-up doctor (admin or the hospital\'s staff), on chain from your own key.', params: idParam, response: { 200: accountSchema, ...errors(401, 403, 404, 409, 502, 503) } },
  }, async (req) => confirmDoctor(services, { actor: actorOf(req), id: (req.params as { id: string }).id }))

  app.post('/doctors/:id/reject', {
    schema: {
      tags: ['users'],
      summary: 'Reject a signed-up doctor with a reason (kept off chain).',
      params: idParam,
      body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } },
      response: { 200: accountSchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req) => rejectDoctor(services, { actor: actorOf(req), id: (req.params as { id: string }).id, reason: (req.body as { reason: string }).reason }))
}

/** A doctor of another hospital sees a patient who granted, shared or had to open (break-glass) records to them. */
async function hasAccessPath(s: Services, actor: Actor, row: AccountRow): Promise<boolean> {
  if (actor.account.role !== 'doctor' || row.role !== 'patient') return false
  return Boolean(await s.db.get(`SELECT 1 FROM access_requests WHERE requester_id = ? AND patient_id = ? AND status IN ('pending', 'approved')
    UNION ALL SELECT 1 FROM shares WHERE grantee_id = ? AND patient_id = ? UNION ALL SELECT 1 FROM emergencies WHERE doctor_id = ? AND patient_id = ? LIMIT 1`, actor.account.id, row.id, actor.account.id, row.id, actor.account.id, row.id))
}

function visible(actor: Actor, row: AccountRow): boolean {
  const a = actor.account
  if (a.role === 'admin' || row.id === a.id) return true
  if (a.role === 'staff') return row.hospital_id === a.hospitalId
  if (a.role === 'doctor') return row.role === 'patient' && row.hospital_id === a.hospitalId
  return false
}
