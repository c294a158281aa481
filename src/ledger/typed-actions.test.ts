import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keccak256, toHex, zeroAddress, zeroHash, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { startAnvil, type StartAnvilResult } from './anvil.ts'
import { connectLedger, type Ledger } from './connect-ledger.ts'
import { deployContracts } from './deploy-contracts.ts'
import { addHospital } from './add-hospital.ts'
import { purposes } from './purposes.ts'
import { isEmergencyLive } from './consent/is-emergency-live.ts'
import { isGrantLive } from './consent/is-grant-live.ts'
import { isShareLive } from './consent/is-share-live.ts'
import { readShare } from './consent/read-share.ts'
import { sendAccessLog } from './consent/send-access-log.ts'
import { sendAccessRequest } from './consent/send-access-request.ts'
import { sendApproval } from './consent/send-approval.ts'
import { sendDenial } from './consent/send-denial.ts'
import { sendEmergency } from './consent/send-emergency.ts'
import { sendEmergencyRelease } from './consent/send-emergency-release.ts'
import { sendRevocation } from './consent/send-revocation.ts'
import { sendShare } from './consent/send-share.ts'
import { sendShareRevocation } from './consent/send-share-revocation.ts'
import { sendShareTokenUse } from './consent/send-share-token-use.ts'
import { readHasVoted } from './registry/read-has-voted.ts'
import { readIsMember } from './registry/read-is-member.ts'
import { readMemberCount } from './registry/read-member-count.ts'
import { readProposal } from './registry/read-proposal.ts'
import { sendConfirmation } from './registry/send-confirmation.ts'
import { sendHospitalProposal } from './registry/send-hospital-proposal.ts'
import { sendHospitalVote } from './registry/send-hospital-vote.ts'
import { sendRegistrationRequest } from './registry/send-registration-request.ts'
import { sendRejection } from './registry/send-rejection.ts'
import { openDatabase, type Db } from '../db/open-database.ts'
import { isAppError } from '../errors.ts'

const X25519 = 1
const DAY = 86_400n
const hash = (label: string): Hex => keccak256(toHex(label))
const randomId = (): Hex => generatePrivateKey() // 32 random bytes

/** Asserts a ledger action was refused with exactly `errorName(args…)`, as users see it in `details`. */
const reverted = (details: string) => (err: unknown) => {
  assert.ok(isAppError(err, 'LEDGER_REVERTED'), String(err))
  assert.equal(err.details, details)
  return true
}

test('src/ledger calls contracts by typed function names only: no `as never`, no function name in a variable', () => {
  const dir = new URL('.', import.meta.url).pathname
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && f !== 'typed-actions.test.ts')
  const offences: string[] = []
  for (const file of files) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n')
    lines.forEach((line, i) => {
      if (/\bas never\b/.test(line)) offences.push(`${file}:${i + 1}: as never`)
      if (/\bfunctionName\s*(:\s*[^'\s]|[,}])/.test(line)) offences.push(`${file}:${i + 1}: function name from a variable`)
    })
  }
  assert.deepEqual(offences, [])
})

describe('typed ledger actions on a real chain', () => {
  let home: string
  let anvil: StartAnvilResult
  let db: Db
  let ledger: Ledger
  const admin = privateKeyToAccount(generatePrivateKey())
  const hospitalA = privateKeyToAccount(generatePrivateKey())
  const hospitalB = privateKeyToAccount(generatePrivateKey())
  const doctor = privateKeyToAccount(generatePrivateKey())
  const patient = privateKeyToAccount(generatePrivateKey())
  const journal = async () => (await db.all<{ purpose: string; ref: string }>('SELECT purpose, ref FROM journal ORDER BY id')).map((r) => `${r.purpose} ${r.ref}`)

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'ml-typed-'))
    anvil = await startAnvil({ home, port: 0 })
    db = await openDatabase({ url: `sqlite:${join(home, 'node.db')}` })
    ledger = await connectLedger({ rpcUrl: anvil.rpcUrl, db })
    ledger.contracts = await deployContracts(ledger, { admin })
    await addHospital(ledger, { admin, hospital: hospitalA.address, keyScheme: X25519, emergencyKey: hash('emergency A') })
  })

  after(async () => {
    await db?.close()
    await anvil?.stop()
    rmSync(home, { recursive: true, force: true })
  })

  test('registry: sign-up, confirmation, rejection, proposal and vote, each journaled under its purpose', async () => {
    const before = (await journal()).length
    await sendRegistrationRequest(ledger, { account: doctor, role: 'doctor', hospital: hospitalA.address, keyScheme: X25519, encryptionKey: hash('doctor key') })
    await sendRegistrationRequest(ledger, { account: patient, role: 'patient', hospital: hospitalA.address, keyScheme: X25519, encryptionKey: hash('patient key') })
    await sendConfirmation(ledger, { by: admin, account: doctor.address })
    // confirmed: no longer pending (Status.Active = 2)
    await assert.rejects(sendConfirmation(ledger, { by: admin, account: doctor.address }), reverted(`RegistryNotPending(${doctor.address}, 2)`))

    const other = privateKeyToAccount(generatePrivateKey())
    await sendRegistrationRequest(ledger, { account: other, role: 'doctor', hospital: hospitalA.address, keyScheme: X25519, encryptionKey: hash('other key') })
    await assert.rejects(sendRejection(ledger, { by: admin, account: other.address, reasonHash: zeroHash }), reverted('RegistryEmptyReason()'))
    await sendRejection(ledger, { by: admin, account: other.address, reasonHash: hash('no licence') })

    assert.equal(await readMemberCount(ledger), 1)
    assert.deepEqual(await readProposal(ledger, { hospital: hospitalB.address }), { kind: 0, keyScheme: 0, id: 0, approvals: 0, rejections: 0 })
    await sendHospitalProposal(ledger, { by: admin, hospital: hospitalB.address, keyScheme: X25519, emergencyKey: hash('emergency B') })
    assert.deepEqual(await readProposal(ledger, { hospital: hospitalB.address }), { kind: 1, keyScheme: X25519, id: 1, approvals: 0, rejections: 0 })
    assert.equal(await readHasVoted(ledger, { hospital: hospitalB.address, voter: hospitalA.address }), false)
    assert.equal(await readIsMember(ledger, { hospital: hospitalB.address }), false)
    await sendHospitalVote(ledger, { voter: hospitalA, candidate: hospitalB.address, approve: true })
    assert.equal(await readIsMember(ledger, { hospital: hospitalB.address }), true)
    assert.equal(await readMemberCount(ledger), 2)

    const lower = (a: string) => a.toLowerCase()
    assert.deepEqual((await journal()).slice(before), [
      `register ${lower(doctor.address)}`,
      `register ${lower(patient.address)}`,
      `confirm ${lower(doctor.address)}`,
      `register ${lower(other.address)}`,
      `reject ${lower(other.address)}`,
      `propose-hospital ${lower(hospitalB.address)}`,
      `vote-hospital ${lower(hospitalB.address)}`,
    ])
  })

  test('consent: request, approve, log, revoke; deny; share and token use; emergency and release', async () => {
    const before = (await journal()).length
    const requestId = randomId()
    await sendAccessRequest(ledger, { doctor, requestId, patient: patient.address, scope: zeroHash, purpose: purposes.grant, purposeHash: hash('treatment'), duration: 30n * DAY })
    assert.equal(await isGrantLive(ledger, { requestId, grantee: doctor.address }), false)
    await sendApproval(ledger, { patient, requestId, scope: zeroHash, duration: DAY, envelopes: hash('envelopes') })
    assert.equal(await isGrantLive(ledger, { requestId, grantee: doctor.address }), true)
    assert.equal(await isGrantLive(ledger, { requestId, grantee: patient.address }), false)
    const recordId = randomId()
    await sendAccessLog(ledger, { reader: doctor, recordId, patient: patient.address, purpose: purposes.grant, ref: requestId })
    await sendRevocation(ledger, { patient, requestId })
    assert.equal(await isGrantLive(ledger, { requestId, grantee: doctor.address }), false)

    const denied = randomId()
    await sendAccessRequest(ledger, { doctor, requestId: denied, patient: patient.address, scope: zeroHash, purpose: purposes.grant, purposeHash: hash('second opinion'), duration: DAY })
    await sendDenial(ledger, { patient, requestId: denied, reasonHash: hash('no') })
    // RequestStatus.Denied = 3
    await assert.rejects(sendApproval(ledger, { patient, requestId: denied, scope: zeroHash, duration: DAY, envelopes: hash('envelopes') }), reverted(`ConsentRequestNotPending(${denied}, 3)`))

    const shareId = randomId()
    await sendShare(ledger, { patient, shareId, grantee: zeroAddress, tokenHash: hash('token'), scope: hash('scope'), duration: DAY, once: true, envelopes: hash('share envelopes') })
    assert.equal(await isShareLive(ledger, { shareId }), true)
    assert.deepEqual(await readShare(ledger, { shareId }), { revoked: false, used: false })
    await sendShareTokenUse(ledger, { hospital: hospitalA, shareId, recordId })
    assert.deepEqual(await readShare(ledger, { shareId }), { revoked: false, used: true })
    assert.equal(await isShareLive(ledger, { shareId }), false)
    await assert.rejects(sendShareTokenUse(ledger, { hospital: hospitalA, shareId, recordId }), reverted(`ConsentShareUsed(${shareId})`))

    const revokedShare = randomId()
    await sendShare(ledger, { patient, shareId: revokedShare, grantee: doctor.address, tokenHash: zeroHash, scope: hash('scope'), duration: DAY, once: false, envelopes: hash('share envelopes') })
    await sendShareRevocation(ledger, { patient, shareId: revokedShare })
    assert.deepEqual(await readShare(ledger, { shareId: revokedShare }), { revoked: true, used: false })

    const emergencyId = randomId()
    await sendEmergency(ledger, { doctor, emergencyId, patient: patient.address, reasonHash: hash('unconscious'), window: DAY })
    assert.equal(await isEmergencyLive(ledger, { emergencyId, doctor: doctor.address }), true)
    assert.equal(await isEmergencyLive(ledger, { emergencyId, doctor: patient.address }), false)
    await assert.rejects(sendEmergencyRelease(ledger, { hospital: hospitalB, emergencyId, envelopes: hash('emergency envelopes') }), reverted(`ConsentNotHospitalOf(${hospitalB.address}, ${patient.address})`))
    await sendEmergencyRelease(ledger, { hospital: hospitalA, emergencyId, envelopes: hash('emergency envelopes') })

    assert.deepEqual((await journal()).slice(before), [
      `consent-request ${requestId}`,
      `consent-approve ${requestId}`,
      `audit ${recordId}`,
      `consent-revoke ${requestId}`,
      `consent-request ${denied}`,
      `consent-deny ${denied}`,
      `consent-share ${shareId}`,
      `consent-share-use ${shareId}`,
      `consent-share ${revokedShare}`,
      `consent-share-revoke ${revokedShare}`,
      `consent-emergency ${emergencyId}`,
      `consent-emergency-release ${emergencyId}`,
    ])
  })

  test('a view on a chain that stopped answering is LEDGER_UNAVAILABLE, not a raw client error', async () => {
    const gone = await connectLedger({ rpcUrl: anvil.rpcUrl, db })
    gone.contracts = ledger.contracts
    await anvil.stop()
    await assert.rejects(isShareLive(gone, { shareId: randomId() }), (err: unknown) => isAppError(err, 'LEDGER_UNAVAILABLE'))
    await assert.rejects(readMemberCount(gone), (err: unknown) => isAppError(err, 'LEDGER_UNAVAILABLE'))
  })
})
