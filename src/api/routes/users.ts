import type { FastifyInstance } from 'fastify'
import { createAccount } from '../../accounts/create-account.ts'
import { signUp } from '../../accounts/sign-up.ts'
import { confirmDoctor, listPendingDoctors, rejectDoctor } from '../../accounts/confirm-doctor.ts'
import type { Role } from '../../accounts/account.ts'
import { listVisibleAccounts } from '../../consent/list-visible-accounts.ts'
import { resolveAccount } from '../../consent/resolve-account.ts'
import { parseKeyScheme } from '../../crypto/key-wrap.ts'
import { actorOf } from '../actor-of.ts'
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
      summary: 'Accounts you may see, with name and e-mail: all (admin), your hospital\'s (staff), yourself and the patients you have a care relationship with — a record you authored, a pending request, a live grant, share or emergency (confirmed doctor), yourself (patient, and any account not active: pending, rejected or suspended).',
      querystring: { type: 'object', additionalProperties: false, properties: { role: { type: 'string', enum: ['admin', 'staff', 'doctor', 'patient'] }, hospital: { type: 'string' } } },
      response: { 200: { type: 'object', properties: { users: { type: 'array', items: accountSchema } } }, ...errors(401) },
    },
  }, async (req) => {
    const q = req.query as { role?: Role; hospital?: string }
    return { users: await listVisibleAccounts(services, { actor: actorOf(req), role: q.role, hospital: q.hospital }) }
  })

  app.post('/users/resolve', {
    schema: {
      tags: ['users'],
      summary: 'Find one account by exact e-mail, id or ledger address (in the body, so no e-mail lands in a URL or an access log): yourself; any account (admin); your hospital\'s (staff). A confirmed doctor finds one patient: in full with a care relationship, otherwise only `id`, `address` and `role` — enough to ask for access or upload. Anything else, and anyone whose account is not active, gets 404 UNKNOWN_ACCOUNT whether the account exists or not.',
      body: { type: 'object', required: ['ref'], additionalProperties: false, properties: { ref: { type: 'string', maxLength: 320 } } },
      response: { 200: accountSchema, ...errors(400, 401, 404) },
    },
  }, async (req) => {
    return resolveAccount(services, { actor: actorOf(req), ref: (req.body as { ref: string }).ref })
  })

  app.post('/signup', {
    schema: {
      tags: ['users'],
      summary: 'Sign up as a patient (active at once) or a doctor (pending until the admin or the hospital confirms), choosing a hospital. The account registers itself on chain from its own key. The recovery code is shown once. An e-mail address that already has an account gets the same 201 answer, of the same shape and after the same work, so the answer never tells who has an account; but then nothing is stored or registered, that body (its id, address and recovery code) opens nothing, and the address\'s owner is e-mailed that someone tried to sign up with it.',
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
      response: { 201: { type: 'object', properties: { account: accountSchema, recoveryCode: { type: 'string' } } }, ...errors(400, 404, 502, 503) },
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
