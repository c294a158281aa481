import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { createAccount } from '../../accounts/create-account.ts'
import { listVisibleAccounts } from '../../consent/list-visible-accounts.ts'
import { resolveAccount } from '../../consent/resolve-account.ts'
import { parseKeyScheme } from '../../crypto/key-wrap.ts'
import { actorOf } from '../actor-of.ts'
import { accountSchema, errors } from './schemas.ts'
import type { Services } from '../../services.ts'

const createBody = {
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
} as const
const listQuery = { type: 'object', additionalProperties: false, properties: { role: { type: 'string', enum: ['admin', 'staff', 'doctor', 'patient'] }, hospital: { type: 'string' } } } as const
const resolveBody = { type: 'object', required: ['ref'], additionalProperties: false, properties: { ref: { type: 'string', maxLength: 320 } } } as const

/** Accounts: the admin (or a hospital's staff) creates them; each sees those in its scope. */
export async function userRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<{ Body: FromSchema<typeof createBody> }>('/users', {
    schema: {
      tags: ['users'],
      summary: 'Create a doctor, patient or (admin only) staff account of a hospital, registered on chain from your own key. The recovery code is shown once.',
      body: createBody,
      response: { 201: { type: 'object', properties: { account: accountSchema, recoveryCode: { type: 'string' } } }, ...errors(400, 401, 403, 404, 409, 502, 503) },
    },
  }, async (req, reply) => {
    const b = req.body
    const { account, recoveryCode } = await createAccount(services, {
      actor: actorOf(req), role: b.role, hospital: b.hospital, email: b.email, name: b.name, password: b.password,
      keyScheme: b.keyScheme ? parseKeyScheme(b.keyScheme) : undefined,
    })
    return reply.status(201).send({ account, recoveryCode })
  })

  app.get<{ Querystring: FromSchema<typeof listQuery> }>('/users', {
    schema: {
      tags: ['users'],
      summary: 'Accounts you may see, with name and e-mail: all (admin), your hospital\'s (staff), yourself and the patients you have a care relationship with — a record you authored, a pending request, a live grant, share or emergency (confirmed doctor), yourself (patient, and any account not active: pending, rejected or suspended).',
      querystring: listQuery,
      response: { 200: { type: 'object', properties: { users: { type: 'array', items: accountSchema } } }, ...errors(401) },
    },
  }, async (req) => ({ users: await listVisibleAccounts(services, { actor: actorOf(req), role: req.query.role, hospital: req.query.hospital }) }))

  app.post<{ Body: FromSchema<typeof resolveBody> }>('/users/resolve', {
    schema: {
      tags: ['users'],
      summary: 'Find one account by exact e-mail, id or ledger address (in the body, so no e-mail lands in a URL or an access log): yourself; any account (admin); your hospital\'s (staff). A confirmed doctor finds one patient: in full with a care relationship, otherwise only `id`, `address` and `role` — enough to ask for access or upload. Anything else, and anyone whose account is not active, gets 404 UNKNOWN_ACCOUNT whether the account exists or not.',
      body: resolveBody,
      response: { 200: accountSchema, ...errors(400, 401, 404) },
    },
  }, async (req) => resolveAccount(services, { actor: actorOf(req), ref: req.body.ref }))
}
