import { errorRegistry } from '../../errors.ts'

/** The error body every failing route answers with. */
export const errorSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', enum: Object.keys(errorRegistry) },
    message: { type: 'string' },
    supersededBy: { type: 'string', description: 'With 410 RECORD_SUPERSEDED: the id of the record\'s re-keyed version.' },
  },
} as const

export const accountSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string', enum: ['admin', 'staff', 'doctor', 'patient'] },
    hospitalId: { type: ['string', 'null'] },
    address: { type: 'string' },
    keyScheme: { type: 'string' },
    status: { type: 'string' },
    createdAt: { type: 'string' },
  },
} as const

/** A session, as sign-in answers it. */
export const sessionSchema = {
  type: 'object',
  properties: {
    token: { type: 'string' },
    expiresAt: { type: 'string' },
    account: accountSchema,
    mfaEnrollmentRequired: { type: 'boolean', description: 'Your role needs two-factor sign-in and you have not enrolled: until you do (POST /mfa/totp, /mfa/totp/verify), this session may only enrol, read /auth/me and sign out.' },
    keysUnlocked: { type: 'boolean', description: 'False for a wallet (SIWE) session: it cannot use your keys, so operations that need them answer KEYS_LOCKED.' },
  },
} as const

export const hospitalSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, address: { type: 'string' }, keyScheme: { type: 'string' }, status: { type: 'string' }, createdAt: { type: 'string' } },
} as const

export const recordSchema = {
  type: 'object',
  properties: {
    recordId: { type: 'string' },
    cid: { type: 'string' },
    digest: { type: 'string' },
    envelopesCid: { type: 'string' },
    suite: { type: 'string' },
    storedBytes: { type: 'integer' },
    txHash: { type: ['string', 'null'] },
    blockNumber: { type: ['integer', 'null'] },
    anchoredAt: { type: ['string', 'null'] },
    patient: { type: 'object', properties: { id: { type: 'string' }, address: { type: 'string' }, name: { type: 'string' } } },
    author: { type: 'object', properties: { id: { type: 'string' }, address: { type: 'string' }, name: { type: 'string' } } },
    hospitalId: { type: 'string' },
    fileName: { type: 'string' },
    mediaType: { type: 'string' },
    size: { type: 'integer' },
    sha256: { type: 'string' },
    created: { type: 'string' },
    problem: { type: 'string' },
  },
} as const

/** The `:id` path parameter of a route on one resource. */
export const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 80 } } } as const

/** Record ids in a request body. */
export const recordIdsSchema = { type: 'array', items: { type: 'string', maxLength: 80 }, maxItems: 1000 } as const

/** A party to a consent (doctor, patient, grantee), for display. */
export const partySchema = { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, address: { type: 'string' } } } as const

/** Error responses a route documents, all with the `{ code, message }` body. */
export function errors(...statuses: number[]): Record<number, typeof errorSchema> {
  return Object.fromEntries(statuses.map((s) => [s, errorSchema]))
}
