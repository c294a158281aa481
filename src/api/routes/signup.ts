import type { FastifyInstance } from 'fastify'
import type { FromSchema } from 'json-schema-to-ts'
import { signUp } from '../../accounts/sign-up.ts'
import { parseKeyScheme } from '../../crypto/key-wrap.ts'
import { accountSchema, errors } from './schemas.ts'
import type { Services } from '../../services.ts'

const signupBody = {
  type: 'object',
  required: ['role', 'hospital', 'email', 'name', 'password'],
  additionalProperties: false,
  properties: {
    role: { type: 'string', enum: ['doctor', 'patient', 'researcher'] },
    hospital: { type: 'string', maxLength: 80 },
    email: { type: 'string', maxLength: 320 },
    name: { type: 'string', maxLength: 200 },
    password: { type: 'string', maxLength: 1024 },
    licence: { type: 'string', maxLength: 40 },
    keyScheme: { type: 'string', enum: ['x25519-hpke', 'rsa-oaep-4096'] },
  },
} as const

/** Self-service sign-up of patients and doctors, with no session. */
export async function signupRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.post<{ Body: FromSchema<typeof signupBody> }>('/signup', {
    schema: {
      tags: ['users'],
      summary: 'Sign up as a patient (active at once) or a doctor (pending until the admin or the hospital confirms), choosing a hospital. The account registers itself on chain from its own key. The recovery code is shown once. An e-mail address that already has an account gets the same 201 answer, of the same shape and after the same work, so the answer never tells who has an account; but then nothing is stored or registered, that body (its id, address and recovery code) opens nothing, and the address\'s owner is e-mailed that someone tried to sign up with it.',
      security: [],
      body: signupBody,
      response: { 201: { type: 'object', properties: { account: accountSchema, recoveryCode: { type: 'string' } } }, ...errors(400, 404, 502, 503) },
    },
  }, async (req, reply) => {
    const b = req.body
    const r = await signUp(services, { ...b, keyScheme: b.keyScheme ? parseKeyScheme(b.keyScheme) : undefined })
    return reply.status(201).send(r)
  })
}
