import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Secret, TOTP } from 'otpauth'
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { createSiweMessage } from 'viem/siwe'
import { createPublicClient, createWalletClient, http } from 'viem'
import { registryAbi } from '../src/ledger/abis.ts'
import { seed, testEnv, type Api } from './helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from './helpers/in-process-node.ts'
import { consentId } from '../src/api/fhir/consent-id.ts'

type Role = 'admin' | 'staff' | 'pendingDoctor' | 'doctor' | 'otherDoctor' | 'patient' | 'otherPatient' | 'researcher' | 'anonymous'
const roles: Role[] = ['admin', 'staff', 'pendingDoctor', 'doctor', 'otherDoctor', 'patient', 'otherPatient', 'researcher', 'anonymous']
const signedIn = roles.filter((r) => r !== 'anonymous')
// A researcher reaches no directory, record or verification route: deny by default (issue 12).
const clinical = signedIn.filter((r) => r !== 'researcher')

interface Call { path: string; body?: unknown; headers?: Record<string, string>; token?: string | null; raw?: Uint8Array }
interface Row {
  /** Roles that must succeed (2xx); every other role must be refused (401, 403 or 404). `public`: no role is refused for lack of a session or a role. */
  allow: Role[] | 'public'
  /** Builds the request for one role; state-changing routes prepare fresh objects so an allowed call can succeed. */
  call: (role: Role) => Promise<Call> | Call
}

// One whole node (temp home, SQLite or with MEDLEDGER_TEST_DB=postgres a Postgres database, embedded
// anvil, Helia) in this process, its API built by buildApp and called with app.inject().
describe('authorization matrix: every role × every API route', () => {
  let node: InProcessNode
  let api: Api
  const token: Partial<Record<Role, string>> = {}
  let a: Awaited<ReturnType<typeof seed>>
  let b: Awaited<ReturnType<typeof seed>>
  let otherPatientEmail = ''
  let emergencyPatientEmail = ''
  let recordId = ''
  let grantedRecordId = ''
  let requestForView = ''
  let n = 0
  const unique = (tag: string) => `${tag}-${++n}-${randomBytes(3).toString('hex')}@example.org`

  before(async () => {
    node = await startInProcessNode()
    api = new InjectApi(node.app, node.url)
    a = await seed(api, { hospitalName: 'Alpha', tag: 'alpha' })
    b = await seed(api, { hospitalName: 'Beta', tag: 'beta' })
    token.admin = a.admin
    token.doctor = a.doctor.token
    token.patient = a.patient.token
    token.otherDoctor = b.doctor.token
    const mk = async (role: string, email: string, hospital = a.hospital.id) => {
      const r = await api.json('POST', '/users', { role, hospital, email, name: role, password: 'matrix-password-123' }, a.admin)
      assert.equal(r.status, 201, JSON.stringify(r.body))
      return api.login(email, 'matrix-password-123')
    }
    token.staff = await mk('staff', 'staff-alpha@example.org')
    otherPatientEmail = 'other-patient@example.org'
    token.otherPatient = await mk('patient', otherPatientEmail)
    emergencyPatientEmail = 'emergency-patient@example.org'
    await mk('patient', emergencyPatientEmail)
    // A wallet linked to an account that no row signs in with a password, for the SIWE row.
    const linked = await api.json('POST', '/auth/wallet', { ...(await siwe(siweWallet)), password: 'matrix-password-123' }, await api.login(emergencyPatientEmail, 'matrix-password-123'))
    assert.equal(linked.status, 200, JSON.stringify(linked.body))
    const signup = await api.json('POST', '/signup', { role: 'doctor', hospital: a.hospital.id, email: 'pending@example.org', name: 'Pending', password: 'matrix-password-123', licence: 'LIC-0001' }, null)
    assert.equal(signup.status, 201)
    token.pendingDoctor = await api.login('pending@example.org', 'matrix-password-123')
    // A confirmed researcher of Alpha (issue 12): no route to an identified record, whatever it holds.
    const researcher = await api.json('POST', '/signup', { role: 'researcher', hospital: a.hospital.id, email: 'researcher@example.org', name: 'Researcher', password: 'matrix-password-123' }, null)
    assert.equal(researcher.status, 201, JSON.stringify(researcher.body))
    assert.equal((await api.json('POST', `/researchers/${researcher.body.account.id}/confirm`, undefined, token.staff)).status, 200)
    token.researcher = await api.login('researcher@example.org', 'matrix-password-123')
    recordId = (await api.upload(a.doctor.token, a.patient.email, 'matrix.txt', Buffer.from('matrix'))).body.recordId
    // Requests the table approves to test approve/revoke name only this record, so the reads of
    // `recordId` stay the patient's and the author's alone.
    grantedRecordId = (await api.upload(a.doctor.token, a.patient.email, 'granted.txt', Buffer.from('granted'))).body.recordId
    requestForView = (await api.json('POST', '/access-requests', { patient: a.patient.email, purpose: 'view', days: 1 }, b.doctor.token)).body.requestId
  })
  after(async () => {
    await node?.stop()
  })

  const siweWallet = privateKeyToAccount(generatePrivateKey())
  /** A signed EIP-4361 message for this node, with a fresh nonce. */
  const siwe = async (wallet: PrivateKeyAccount) => {
    const nonce = (await api.json('POST', '/auth/siwe/nonce', undefined, null)).body.nonce
    const message = createSiweMessage({ address: wallet.address, chainId: 31337, domain: new URL(node.url).host, nonce, uri: `${node.url}/`, version: '1', issuedAt: new Date() })
    return { message, signature: await wallet.signMessage({ message }) }
  }
  /** FHIR routes live outside /api/v1, where the test client's paths start: the same inject, with the whole path (JSON bodies as application/fhir+json). */
  const fhirCall = async (method: string, c: Call, t: string | null): Promise<Response> => {
    const headers: Record<string, string> = { accept: 'application/fhir+json', ...(t ? { authorization: `Bearer ${t}` } : {}), ...(c.body !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...c.headers }
    const payload = c.raw ? Buffer.from(c.raw) : c.body !== undefined ? JSON.stringify(c.body) : undefined
    const r = await node.app.inject({ method: method as 'GET', url: c.path, headers, ...(payload !== undefined ? { payload } : {}) })
    return new Response(r.rawPayload.length > 0 ? new Uint8Array(r.rawPayload) : null, { status: r.statusCode, headers: { 'content-type': String(r.headers['content-type'] ?? '') } })
  }
  let auditEventId = ''
  /** An AuditEvent of a read of `recordId` (the patient reads it; the trail shows it once mined), found once as the admin. */
  const auditEventOfRecord = async (): Promise<string> => {
    if (auditEventId) return auditEventId
    assert.equal((await api.download(a.patient.token, recordId)).status, 200)
    for (let i = 0; i < 100 && !auditEventId; i++) {
      const r = await fhirCall('GET', { path: `/fhir/R4/AuditEvent?entity=DocumentReference/${recordId.slice(2)}` }, a.admin)
      auditEventId = (await r.json()).entry?.[0]?.resource.id ?? ''
      if (!auditEventId) await new Promise((done) => setTimeout(done, 300))
    }
    assert.ok(auditEventId, 'the read is on chain')
    return auditEventId
  }
  /** A hospital that applied for membership from its own key (as a joining node does), not yet admitted. */
  const applicant = async (): Promise<string> => {
    const st = (await api.json('GET', '/status')).body
    const key = privateKeyToAccount(generatePrivateKey())
    const wallet = createWalletClient({ account: key, transport: http(st.chainRpc) })
    const hash = await wallet.writeContract({ chain: null, address: st.contracts.registry, abi: registryAbi, functionName: 'applyForMembership', args: [1, `0x${randomBytes(32).toString('hex')}`], maxFeePerGas: 0n, maxPriorityFeePerGas: 0n })
    await createPublicClient({ transport: http(st.chainRpc) }).waitForTransactionReceipt({ hash })
    return key.address
  }
  /** Starts TOTP enrolment for the role's own account and answers the current code. */
  /** Each role's own current password, which every change of sign-in factor needs in its request. */
  const passwordOf = (role: Role) => ({ admin: testEnv.MEDLEDGER_ADMIN_PASSWORD, doctor: a.doctor.password, otherDoctor: b.doctor.password, patient: a.patient.password } as Partial<Record<Role, string>>)[role] ?? 'matrix-password-123'
  const totpSecrets: Partial<Record<Role, string>> = {}
  const totpCode = async (role: Role) => {
    if (role === 'anonymous') return '000000'
    const { secret } = (await api.json('POST', '/mfa/totp', { password: passwordOf(role) }, token[role])).body
    totpSecrets[role] = secret
    return TOTP.generate({ secret: Secret.fromBase32(secret) })
  }

  const freshRecord = async () => (await api.upload(a.doctor.token, a.patient.email, 'erase.txt', Buffer.from('erase'))).body.recordId as string
  const freshPatient = async () => (await api.json('POST', '/users', { role: 'patient', hospital: a.hospital.id, email: unique('recovered'), name: 'Recovered', password: 'matrix-password-123' }, a.admin)).body.account.id as string
  const freshRecovery = async () => (await api.json('POST', '/recoveries', { patient: await freshPatient(), verifiedById: 'matrix id card' }, token.staff)).body.recovery.recoveryId as string
  const freshErasure = async () => (await api.json('POST', `/records/${await freshRecord()}/erasure`, { reason: 'matrix' }, a.patient.token)).body.erasureId as string
  /** A fresh care team of Alpha, made by its staff; `member` adds Alpha's doctor. */
  const freshTeam = async (member = false) => {
    const id = (await api.json('POST', '/teams', { name: 'Matrix team' }, token.staff)).body.teamId as string
    if (member) assert.equal((await api.json('POST', `/teams/${id}/members`, { doctor: a.doctor.email }, token.staff)).status, 200)
    return id
  }
  const freshRequest = async () => (await api.json('POST', '/access-requests', { patient: a.patient.email, recordIds: [grantedRecordId], purpose: 'matrix', days: 1 }, b.doctor.token)).body.requestId as string
  const freshStudy = async (approved: boolean) => {
    const id = (await api.json('POST', '/studies', { title: 'Matrix study', purpose: 'Matrix protocol.' }, token.researcher)).body.studyId as string
    if (approved) assert.equal((await api.json('POST', `/studies/${id}/approve`, undefined, a.admin)).status, 200)
    return id
  }
  const freshExport = async () => {
    const id = await freshStudy(true)
    return `/studies/${id}/exports/${(await api.json('POST', `/studies/${id}/exports`, undefined, token.researcher)).body.exportId as string}`
  }
  const freshResearcher = async () => (await api.json('POST', '/signup', { role: 'researcher', hospital: a.hospital.id, email: unique('researcher'), name: 'R', password: 'matrix-password-123' }, null)).body.account.id as string
  const freshSignup = async () => (await api.json('POST', '/signup', { role: 'doctor', hospital: a.hospital.id, email: unique('signup'), name: 'S', password: 'matrix-password-123', licence: 'LIC-9999' }, null)).body.account.id as string

  const table: Record<string, Row> = {
    'GET /api/v1/health': { allow: 'public', call: () => ({ path: '/health' }) },
    'GET /api/v1/status': { allow: 'public', call: () => ({ path: '/status' }) },
    'GET /api/v1/status/quarantine': { allow: ['admin'], call: () => ({ path: '/status/quarantine' }) },
    // An account that no row enrols in TOTP (the /mfa/totp/verify row enrols each role's own).
    'POST /api/v1/auth/login': { allow: 'public', call: () => ({ path: '/auth/login', body: { email: emergencyPatientEmail, password: 'matrix-password-123' }, token: null }) },
    'POST /api/v1/auth/siwe/nonce': { allow: 'public', call: () => ({ path: '/auth/siwe/nonce', token: null }) },
    'POST /api/v1/auth/siwe': { allow: 'public', call: async () => ({ path: '/auth/siwe', body: await siwe(siweWallet), token: null }) },
    'POST /api/v1/auth/wallet': { allow: signedIn, call: async (role) => ({ path: '/auth/wallet', body: { ...(await siwe(privateKeyToAccount(generatePrivateKey()))), password: passwordOf(role) } }) },
    'GET /api/v1/mfa': { allow: signedIn, call: () => ({ path: '/mfa' }) },
    'POST /api/v1/mfa/totp': { allow: signedIn, call: (role) => ({ path: '/mfa/totp', body: { password: passwordOf(role) } }) },
    // A fresh patient of hospital Alpha each time: its staff and the admin may reset its second factor.
    'POST /api/v1/users/{id}/mfa/reset': {
      allow: ['admin', 'staff'],
      call: async (role) => {
        const r = await api.json('POST', '/users', { role: 'patient', hospital: a.hospital.id, email: unique('mfa-reset'), name: 'M', password: 'matrix-password-123' }, a.admin)
        return { path: `/users/${r.body.account.id}/mfa/reset`, body: { password: passwordOf(role) } }
      },
    },
    'GET /api/v1/account-events': { allow: ['admin'], call: () => ({ path: '/account-events' }) },
    'POST /api/v1/auth/recover': {
      allow: 'public',
      call: async () => {
        const email = unique('recover')
        const r = await api.json('POST', '/signup', { role: 'patient', hospital: a.hospital.id, email, name: 'R', password: 'matrix-password-123' }, null)
        return { path: '/auth/recover', body: { email, recoveryCode: r.body.recoveryCode, newPassword: 'matrix-password-456' }, token: null }
      },
    },
    'POST /api/v1/signup': { allow: 'public', call: () => ({ path: '/signup', body: { role: 'patient', hospital: a.hospital.id, email: unique('self'), name: 'Self', password: 'matrix-password-123' }, token: null }) },
    'POST /api/v1/auth/logout': {
      allow: signedIn,
      call: async (role) => {
        if (role === 'anonymous') return { path: '/auth/logout' }
        // A session of its own, so the matrix keeps the role's main session.
        const creds: Record<string, [string, string]> = {
          admin: [testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD], staff: ['staff-alpha@example.org', 'matrix-password-123'],
          pendingDoctor: ['pending@example.org', 'matrix-password-123'], doctor: [a.doctor.email, a.doctor.password], otherDoctor: [b.doctor.email, b.doctor.password],
          patient: [a.patient.email, a.patient.password], otherPatient: [otherPatientEmail, 'matrix-password-123'],
          researcher: ['researcher@example.org', 'matrix-password-123'],
        }
        return { path: '/auth/logout', token: await api.login(...creds[role]) }
      },
    },
    'GET /api/v1/auth/me': { allow: signedIn, call: () => ({ path: '/auth/me' }) },
    'POST /api/v1/hospitals': { allow: ['admin'], call: () => ({ path: '/hospitals', body: { name: `H ${++n}` } }) },
    'GET /api/v1/hospitals': { allow: signedIn, call: () => ({ path: '/hospitals' }) },
    'POST /api/v1/hospitals/{id}/vote': {
      allow: ['staff'],
      call: async () => ({ path: `/hospitals/${(await api.json('POST', '/hospitals', { name: `Vote ${++n}` }, a.admin)).body.id}/vote`, body: { approve: true } }),
    },
    'GET /api/v1/hospitals/proposals': { allow: ['admin', 'staff'], call: () => ({ path: '/hospitals/proposals' }) },
    'POST /api/v1/hospitals/admit': { allow: ['admin', 'staff'], call: async () => ({ path: '/hospitals/admit', body: { address: await applicant(), name: `Joining ${++n}` } }) },
    'GET /api/v1/replicas': { allow: ['admin'], call: () => ({ path: '/replicas' }) },
    'GET /api/v1/replicas/{id}': { allow: ['admin'], call: () => ({ path: `/replicas/${recordId}` }) },
    'POST /api/v1/users': { allow: ['admin', 'staff'], call: () => ({ path: '/users', body: { role: 'patient', hospital: a.hospital.id, email: unique('p'), name: 'P', password: 'matrix-password-123' } }) },
    'GET /api/v1/users': { allow: clinical, call: () => ({ path: '/users' }) },
    'POST /api/v1/users/resolve': { allow: clinical, call: async (role) => ({ path: '/users/resolve', body: { ref: role === 'anonymous' ? a.patient.email : (await api.json('GET', '/auth/me', undefined, token[role])).body.email } }) },
    'GET /api/v1/doctors/pending': { allow: ['admin', 'staff'], call: () => ({ path: '/doctors/pending' }) },
    'POST /api/v1/doctors/{id}/confirm': { allow: ['admin', 'staff'], call: async () => ({ path: `/doctors/${await freshSignup()}/confirm` }) },
    'POST /api/v1/doctors/{id}/reject': { allow: ['admin', 'staff'], call: async () => ({ path: `/doctors/${await freshSignup()}/reject`, body: { reason: 'no licence' } }) },
    'GET /api/v1/researchers/pending': { allow: ['admin', 'staff'], call: () => ({ path: '/researchers/pending' }) },
    // Research (issue 12): researchers propose, the admin decides, patients consent, the researcher exports.
    'POST /api/v1/studies': { allow: ['researcher'], call: () => ({ path: '/studies', body: { title: 'Matrix study', purpose: 'Matrix protocol.' } }) },
    'GET /api/v1/studies': { allow: ['admin', 'staff', 'pendingDoctor', 'doctor', 'otherDoctor', 'patient', 'otherPatient', 'researcher'], call: () => ({ path: '/studies' }) },
    'POST /api/v1/studies/{id}/approve': { allow: ['admin'], call: async () => ({ path: `/studies/${await freshStudy(false)}/approve` }) },
    'POST /api/v1/studies/{id}/reject': { allow: ['admin'], call: async () => ({ path: `/studies/${await freshStudy(false)}/reject` }) },
    'POST /api/v1/studies/{id}/consent': { allow: ['patient', 'otherPatient'], call: async () => ({ path: `/studies/${await freshStudy(true)}/consent` }) },
    'POST /api/v1/studies/{id}/withdraw': {
      allow: ['patient', 'otherPatient'],
      call: async (role) => {
        const id = await freshStudy(true)
        if (role === 'patient' || role === 'otherPatient') assert.equal((await api.json('POST', `/studies/${id}/consent`, undefined, token[role])).status, 200)
        return { path: `/studies/${id}/withdraw` }
      },
    },
    'POST /api/v1/studies/{id}/export': { allow: ['researcher'], call: async () => ({ path: `/studies/${await freshStudy(true)}/export` }) },
    'POST /api/v1/studies/{id}/exports': { allow: ['researcher'], call: async () => ({ path: `/studies/${await freshStudy(true)}/exports` }) },
    'GET /api/v1/studies/{id}/exports/{exportId}': { allow: ['researcher'], call: async () => ({ path: await freshExport() }) },
    'POST /api/v1/studies/{id}/exports/{exportId}/collect': { allow: ['researcher'], call: async () => ({ path: `${await freshExport()}/collect` }) },
    'POST /api/v1/hospitals/{id}/research-consent': { allow: ['patient', 'otherPatient'], call: () => ({ path: `/hospitals/${a.hospital.id}/research-consent` }) },
    'POST /api/v1/hospitals/{id}/research-withdraw': {
      allow: ['patient', 'otherPatient'],
      call: async (role) => {
        // given by the row above in the same pass; given here when this row runs alone
        if (role === 'patient' || role === 'otherPatient') await api.json('POST', `/hospitals/${a.hospital.id}/research-consent`, undefined, token[role])
        return { path: `/hospitals/${a.hospital.id}/research-withdraw` }
      },
    },
    'POST /api/v1/researchers/{id}/confirm': { allow: ['admin', 'staff'], call: async () => ({ path: `/researchers/${await freshResearcher()}/confirm` }) },
    'POST /api/v1/researchers/{id}/reject': { allow: ['admin', 'staff'], call: async () => ({ path: `/researchers/${await freshResearcher()}/reject`, body: { reason: 'no protocol' } }) },
    'POST /api/v1/records': {
      allow: ['doctor'],
      call: () => ({ path: '/records', raw: Buffer.from('x'), headers: { 'content-type': 'text/plain', 'x-medledger-patient': a.patient.email, 'x-medledger-file-name': 'x.txt' } }),
    },
    'GET /api/v1/records': { allow: ['pendingDoctor', 'doctor', 'otherDoctor', 'patient', 'otherPatient'], call: () => ({ path: '/records' }) },
    'GET /api/v1/records/{id}': { allow: ['doctor', 'patient'], call: () => ({ path: `/records/${recordId}` }) },
    'GET /api/v1/records/{id}/meta': { allow: ['doctor', 'patient'], call: () => ({ path: `/records/${recordId}/meta` }) },
    'POST /api/v1/search-key/rotate': { allow: ['patient', 'otherPatient'], call: () => ({ path: '/search-key/rotate', body: {} }) },
    'POST /api/v1/verify': { allow: clinical, call: () => ({ path: '/verify', body: { all: true } }) },
    'POST /api/v1/access-requests': { allow: ['doctor', 'otherDoctor'], call: () => ({ path: '/access-requests', body: { patient: a.patient.email, purpose: 'matrix', days: 1 } }) },
    'GET /api/v1/access-requests': { allow: ['admin', 'pendingDoctor', 'doctor', 'otherDoctor', 'patient', 'otherPatient'], call: () => ({ path: '/access-requests' }) },
    'GET /api/v1/access-requests/{id}': { allow: ['admin', 'otherDoctor', 'patient'], call: () => ({ path: `/access-requests/${requestForView}` }) },
    'POST /api/v1/access-requests/{id}/approve': { allow: ['patient'], call: async () => ({ path: `/access-requests/${await freshRequest()}/approve`, body: {} }) },
    'POST /api/v1/access-requests/{id}/deny': { allow: ['patient'], call: async () => ({ path: `/access-requests/${await freshRequest()}/deny`, body: { reason: 'no' } }) },
    'POST /api/v1/access-requests/{id}/revoke': {
      allow: ['patient'],
      call: async () => {
        const id = await freshRequest()
        await api.json('POST', `/access-requests/${id}/approve`, {}, a.patient.token)
        return { path: `/access-requests/${id}/revoke` }
      },
    },
    'POST /api/v1/shares': { allow: ['patient'], call: () => ({ path: '/shares', body: { recordIds: [recordId], token: true, days: 1 } }) },
    'GET /api/v1/shares': { allow: ['admin', 'staff', 'pendingDoctor', 'doctor', 'otherDoctor', 'patient', 'otherPatient'], call: () => ({ path: '/shares' }) },
    'POST /api/v1/shares/{id}/revoke': {
      allow: ['patient'],
      call: async () => ({ path: `/shares/${(await api.json('POST', '/shares', { recordIds: [recordId], token: true, days: 1 }, a.patient.token)).body.shareId}/revoke` }),
    },
    // Erasure (issue 13 item 3): only the record's patient asks; staff of its hospital or the admin decide.
    'POST /api/v1/records/{id}/erasure': { allow: ['patient'], call: async () => ({ path: `/records/${await freshRecord()}/erasure`, body: { reason: 'matrix erasure' } }) },
    'GET /api/v1/erasures': { allow: ['admin', 'staff', 'patient', 'otherPatient'], call: () => ({ path: '/erasures' }) },
    'POST /api/v1/recoveries': { allow: ['staff'], call: async () => ({ path: '/recoveries', body: { patient: await freshPatient(), verifiedById: 'matrix id card' } }) },
    // The matrix's only staff member started it: a second person (here the admin) approves.
    'POST /api/v1/recoveries/{id}/approve': { allow: ['admin'], call: async () => ({ path: `/recoveries/${await freshRecovery()}/approve` }) },
    'GET /api/v1/recoveries': { allow: ['admin', 'staff'], call: () => ({ path: '/recoveries' }) },
    'POST /api/v1/erasures/{id}/confirm': { allow: ['admin', 'staff'], call: async () => ({ path: `/erasures/${await freshErasure()}/confirm` }) },
    'POST /api/v1/erasures/{id}/reject': { allow: ['admin', 'staff'], call: async () => ({ path: `/erasures/${await freshErasure()}/reject`, body: { reason: 'matrix retention' } }) },
    // Re-key (issue 13 item 2): the patient re-keys, or gives the author leave to; the author without leave is refused.
    'POST /api/v1/records/{id}/rekey': { allow: ['patient'], call: async () => ({ path: `/records/${await freshRecord()}/rekey` }) },
    'POST /api/v1/records/{id}/rekey-leave': { allow: ['patient'], call: async () => ({ path: `/records/${await freshRecord()}/rekey-leave` }) },
    // Care teams (issue 13 item 5): staff of the team's hospital or the admin manage them; a patient grants and revokes.
    'POST /api/v1/teams': { allow: ['admin', 'staff'], call: () => ({ path: '/teams', body: { name: 'Matrix team' } }) },
    'GET /api/v1/teams': { allow: ['admin', 'staff', 'pendingDoctor', 'doctor', 'otherDoctor', 'patient', 'otherPatient'], call: () => ({ path: '/teams' }) },
    'POST /api/v1/teams/{id}/members': { allow: ['admin', 'staff'], call: async () => ({ path: `/teams/${await freshTeam()}/members`, body: { doctor: a.doctor.email } }) },
    'DELETE /api/v1/teams/{id}/members/{doctorId}': { allow: ['admin', 'staff'], call: async () => ({ path: `/teams/${await freshTeam(true)}/members/${a.doctor.id}` }) },
    'POST /api/v1/teams/{id}/grant': { allow: ['patient', 'otherPatient'], call: async () => ({ path: `/teams/${await freshTeam()}/grant`, body: { days: 1 } }) },
    'DELETE /api/v1/teams/{id}/grant': {
      allow: ['patient', 'otherPatient'],
      call: async (role) => {
        const id = await freshTeam()
        if (role === 'patient' || role === 'otherPatient') assert.equal((await api.json('POST', `/teams/${id}/grant`, { days: 1 }, token[role])).status, 201)
        return { path: `/teams/${id}/grant` }
      },
    },
    'POST /api/v1/emergencies': { allow: ['doctor', 'otherDoctor'], call: () => ({ path: '/emergencies', body: { patient: emergencyPatientEmail, reason: 'matrix emergency' } }) },
    'POST /api/v1/emergencies/rekey-all': { allow: ['admin', 'staff'], call: () => ({ path: '/emergencies/rekey-all' }) },
    'PUT /api/v1/emergencies/threshold': { allow: ['admin'], call: () => ({ path: '/emergencies/threshold', body: { shares: 0, threshold: 0 } }) },
    'GET /api/v1/emergencies': { allow: ['admin', 'pendingDoctor', 'doctor', 'otherDoctor', 'patient', 'otherPatient'], call: () => ({ path: '/emergencies' }) },
    'GET /api/v1/audit': { allow: ['admin', 'patient'], call: () => ({ path: `/audit?patient=${a.patient.id}` }) },
    'GET /api/v1/mail': { allow: signedIn, call: () => ({ path: '/mail' }) },
    // FHIR R4 (issue 11): paths from /fhir/R4 on, called by fhirCall below.
    'GET /fhir/R4/metadata': { allow: 'public', call: () => ({ path: '/fhir/R4/metadata' }) },
    // Reads as POST /users/resolve shows the account: Beta's doctor has a pending request of Alpha's patient (a care relationship).
    'GET /fhir/R4/Patient/{id}': { allow: ['admin', 'staff', 'doctor', 'otherDoctor', 'patient'], call: () => ({ path: `/fhir/R4/Patient/${a.patient.id}` }) },
    'GET /fhir/R4/Patient': { allow: clinical, call: () => ({ path: '/fhir/R4/Patient' }) },
    'GET /fhir/R4/Patient/{id}/$everything': { allow: ['admin', 'staff', 'doctor', 'otherDoctor', 'patient'], call: () => ({ path: `/fhir/R4/Patient/${a.patient.id}/$everything` }) },
    'GET /fhir/R4/Practitioner/{id}': { allow: ['admin', 'staff', 'doctor'], call: () => ({ path: `/fhir/R4/Practitioner/${a.doctor.id}` }) },
    'GET /fhir/R4/Practitioner': { allow: clinical, call: () => ({ path: '/fhir/R4/Practitioner' }) },
    'GET /fhir/R4/PractitionerRole/{id}': { allow: ['admin', 'staff', 'doctor'], call: () => ({ path: `/fhir/R4/PractitionerRole/${a.doctor.id}` }) },
    'GET /fhir/R4/PractitionerRole': { allow: clinical, call: () => ({ path: '/fhir/R4/PractitionerRole' }) },
    'GET /fhir/R4/Organization/{id}': { allow: clinical, call: () => ({ path: `/fhir/R4/Organization/${a.hospital.id}` }) },
    'GET /fhir/R4/Organization': { allow: clinical, call: () => ({ path: '/fhir/R4/Organization' }) },
    // Records as natively: the patient and the author read them; staff and the admin search none (403).
    'GET /fhir/R4/DocumentReference/{id}': { allow: ['doctor', 'patient'], call: () => ({ path: `/fhir/R4/DocumentReference/${recordId.slice(2)}` }) },
    'GET /fhir/R4/DocumentReference': { allow: ['pendingDoctor', 'doctor', 'otherDoctor', 'patient', 'otherPatient'], call: () => ({ path: '/fhir/R4/DocumentReference' }) },
    'GET /fhir/R4/Binary/{id}': { allow: ['doctor', 'patient'], call: () => ({ path: `/fhir/R4/Binary/${recordId.slice(2)}` }) },
    // Creates as POST /records: a confirmed doctor of the patient's hospital (issue 11 part B).
    'POST /fhir/R4/DocumentReference': {
      allow: ['doctor'],
      call: () => ({ path: '/fhir/R4/DocumentReference', body: { resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${a.patient.id}` }, content: [{ attachment: { contentType: 'text/plain', title: 'matrix-fhir.txt', data: Buffer.from('matrix fhir').toString('base64') } }] } }),
    },
    'POST /fhir/R4/Binary': { allow: ['doctor'], call: () => ({ path: '/fhir/R4/Binary', raw: Buffer.from('matrix binary'), headers: { 'content-type': 'text/plain', 'x-medledger-patient': `Patient/${a.patient.id}` } }) },
    // Consents as the native lists show them: a search answers everyone signed in with what they may see (staff and others: nothing).
    'GET /fhir/R4/Consent': { allow: signedIn, call: () => ({ path: '/fhir/R4/Consent' }) },
    'GET /fhir/R4/Consent/{id}': { allow: ['admin', 'otherDoctor', 'patient'], call: () => ({ path: `/fhir/R4/Consent/${consentId('grant', requestForView as `0x${string}`)}` }) },
    // Only the patient decides: a fresh request of Beta's doctor, denied by PUT status rejected.
    'PUT /fhir/R4/Consent/{id}': {
      allow: ['patient'],
      call: async () => {
        const r = await api.json('POST', '/access-requests', { patient: a.patient.email, purpose: 'matrix consent', days: 1 }, b.doctor.token)
        const id = consentId('grant', r.body.requestId)
        return { path: `/fhir/R4/Consent/${id}`, body: { resourceType: 'Consent', id, status: 'rejected' } }
      },
    },
    // The on-chain trail as GET /audit shows it: a patient's to the patient and the admin, a record's also to its author.
    'GET /fhir/R4/AuditEvent': { allow: ['admin', 'patient'], call: () => ({ path: `/fhir/R4/AuditEvent?patient=Patient/${a.patient.id}` }) },
    'GET /fhir/R4/AuditEvent/{id}': { allow: ['admin', 'doctor', 'patient'], call: async () => ({ path: `/fhir/R4/AuditEvent/${await auditEventOfRecord()}` }) },
    // Last: it turns on TOTP for the role's account, which its later password sign-ins would need.
    'POST /api/v1/mfa/totp/verify': { allow: signedIn, call: async (role) => ({ path: '/mfa/totp/verify', body: { code: await totpCode(role), password: passwordOf(role) } }) },
    // After it: turns the role's TOTP off again, with the next step's code (the current one was just used).
    'POST /api/v1/mfa/totp/disable': {
      allow: signedIn,
      call: (role) => ({ path: '/mfa/totp/disable', body: { password: passwordOf(role), code: totpSecrets[role] ? TOTP.generate({ secret: Secret.fromBase32(totpSecrets[role]!), timestamp: Date.now() + 30_000 }) : '000000' } }),
    },
  }

  it('has a row for every route of the API', async () => {
    const doc = (await api.json('GET', '/openapi.json')).body
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => `${m.toUpperCase()} ${path}`))
      .filter((r) => !r.includes('/api/v1/docs'))
    const missing = routes.filter((r) => !(r in table))
    assert.deepEqual(missing, [], `routes with no row in the authorization matrix: ${missing.join(', ')}`)
    const stale = Object.keys(table).filter((r) => !routes.includes(r))
    assert.deepEqual(stale, [], `rows for routes that do not exist: ${stale.join(', ')}`)
  })

  // Issue 9, item 2: not only who may call GET /users and POST /users/resolve, but exactly what each kind of account gets.
  it('GET /users lists exactly the accounts each kind of account may see; POST /users/resolve answers with exactly the allowed keys', async () => {
    const pw = 'matrix-password-123'
    const me = async (t: string) => (await api.json('GET', '/auth/me', undefined, t)).body as { id: string; email: string }
    const listed = async (t: string | undefined) => {
      const r = await api.json('GET', '/users', undefined, t ?? null)
      return r.status === 200 ? (r.body.users as { id: string }[]).map((u) => u.id).sort() : r.status
    }
    const lone = await api.json('POST', '/users', { role: 'doctor', hospital: a.hospital.id, email: unique('lone-doctor'), name: 'Lone', password: pw }, a.admin)
    const loneDoctor = await api.login(lone.body.account.email, pw)
    const betaStaff = await api.json('POST', '/users', { role: 'staff', hospital: b.hospital.id, email: unique('staff-beta'), name: 'Beta staff', password: pw }, a.admin)
    const otherStaff = await api.login(betaStaff.body.account.email, pw)
    const rejectedEmail = unique('rejected')
    const rejected = await api.json('POST', '/signup', { role: 'doctor', hospital: a.hospital.id, email: rejectedEmail, name: 'Rejected', password: pw, licence: 'LIC-0002' }, null)
    const rejectedDoctor = await api.login(rejectedEmail, pw)
    assert.equal((await api.json('POST', `/doctors/${rejected.body.account.id}/reject`, { reason: 'no licence' }, a.admin)).status, 200)

    const all = (await api.json('GET', '/users', undefined, a.admin)).body.users as { id: string; hospitalId: string | null }[]
    const of = (hospital: string) => all.filter((u) => u.hospitalId === hospital).map((u) => u.id).sort()
    const sorted = (...ids: string[]) => [...ids].sort()
    const expected: [string, string | undefined, string[] | number][] = [
      ['admin', a.admin, all.map((u) => u.id).sort()],
      ['staff', token.staff, of(a.hospital.id)],
      ['staff of another hospital', otherStaff, of(b.hospital.id)],
      ['pending doctor', token.pendingDoctor, [(await me(token.pendingDoctor!)).id]],
      ['rejected doctor', rejectedDoctor, 401],
      // Authored the records of `recordId` and `grantedRecordId`.
      ['confirmed doctor with a care relationship (records)', token.doctor, sorted(a.doctor.id, a.patient.id)],
      // Made the pending request `requestForView`.
      ['confirmed doctor with a care relationship (pending request)', token.otherDoctor, sorted(b.doctor.id, a.patient.id)],
      ['confirmed doctor without a care relationship', loneDoctor, [lone.body.account.id]],
      ['patient', token.patient, [a.patient.id]],
      ['other patient', token.otherPatient, [(await me(token.otherPatient!)).id]],
      ['anonymous', undefined, 401],
    ]
    for (const [who, t, ids] of expected) assert.deepEqual(await listed(t), ids, `GET /users as ${who}`)
    assert.ok(!of(a.hospital.id).some((id) => of(b.hospital.id).includes(id)))

    const full = ['address', 'createdAt', 'email', 'hospitalId', 'id', 'keyScheme', 'name', 'role', 'status']
    const resolveAs: [string, string | undefined, number, string[] | string][] = [
      ['admin', a.admin, 200, full],
      ['staff', token.staff, 200, full],
      ['staff of another hospital', otherStaff, 404, 'UNKNOWN_ACCOUNT'],
      ['pending doctor', token.pendingDoctor, 404, 'UNKNOWN_ACCOUNT'],
      // Rejection ends the session the doctor signed in with.
      ['rejected doctor', rejectedDoctor, 401, 'SESSION_EXPIRED'],
      ['confirmed doctor with a care relationship (records)', token.doctor, 200, full],
      ['confirmed doctor with a care relationship (pending request)', token.otherDoctor, 200, full],
      ['confirmed doctor without a care relationship', loneDoctor, 200, ['address', 'id', 'role']],
      ['other patient', token.otherPatient, 404, 'UNKNOWN_ACCOUNT'],
      ['anonymous', undefined, 401, 'UNAUTHENTICATED'],
    ]
    for (const ref of [a.patient.email, a.patient.id, a.patient.address]) {
      for (const [who, t, status, want] of resolveAs) {
        const r = await api.json('POST', '/users/resolve', { ref }, t ?? null)
        assert.equal(r.status, status, `resolve ${ref} as ${who}: ${JSON.stringify(r.body)}`)
        if (Array.isArray(want)) {
          assert.deepEqual(Object.keys(r.body).sort(), want, `resolve as ${who}`)
          assert.equal(r.body.id, a.patient.id)
        } else {
          assert.equal(r.body.code, want, `resolve as ${who}`)
        }
      }
    }
    // A confirmed doctor finds patients only; anyone refused gets the same answer for an account that does not exist.
    assert.equal((await api.json('POST', '/users/resolve', { ref: b.doctor.email }, loneDoctor)).status, 404)
    for (const [who, t, status] of resolveAs.filter(([, , s]) => s === 404)) {
      const r = await api.json('POST', '/users/resolve', { ref: unique('nobody') }, t ?? null)
      assert.equal(r.status, status, who)
      assert.equal(r.body.code, 'UNKNOWN_ACCOUNT', who)
    }
  })

  for (const role of roles) {
    it(`${role}: allowed where the table says, refused everywhere else`, async () => {
      const failures: string[] = []
      for (const [route, row] of Object.entries(table)) {
        const [method] = route.split(' ')
        const c = await row.call(role)
        const t = c.token === null ? undefined : c.token ?? token[role]
        const res = c.path.startsWith('/fhir/') ? await fhirCall(method, c, t ?? null) : await api.call(method, c.path, {
          token: t ?? null,
          headers: c.headers,
          ...(c.raw ? { body: c.raw as unknown as BodyInit } : c.body !== undefined ? { json: c.body } : {}),
        })
        const text = await res.text()
        const expectAllow = row.allow === 'public' || row.allow.includes(role)
        if (row.allow === 'public') {
          if (res.status === 401 || res.status === 403) failures.push(`${route}: public, got ${res.status} ${text}`)
        } else if (expectAllow && (res.status < 200 || res.status >= 300)) {
          failures.push(`${route}: should be allowed, got ${res.status} ${text}`)
        } else if (!expectAllow && ![401, 403, 404].includes(res.status)) {
          failures.push(`${route}: should be refused, got ${res.status} ${text.slice(0, 200)}`)
        } else if (!expectAllow && role === 'anonymous' && res.status !== 401) {
          failures.push(`${route}: anonymous should get 401, got ${res.status}`)
        }
      }
      assert.deepEqual(failures, [])
    })
  }
})
