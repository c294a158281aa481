import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { encodePacked, keccak256, zeroAddress, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { consentAbi, recordLedgerAbi, registryAbi } from '../src/ledger/abis.ts'
import { purposeNames, purposes } from '../src/ledger/purposes.ts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from './helpers/test-chain.ts'

const Role = { Staff: 1, Doctor: 2, Patient: 3 } as const
const Request = { None: 0, Pending: 1, Approved: 2, Denied: 3, Revoked: 4 } as const
const X25519 = 1
const HOUR = 3600n
const DAY = 86_400n

const hash = (label: string): Hex => keccak256(new TextEncoder().encode(label))
const sha256 = (text: string): Hex => `0x${createHash('sha256').update(text).digest('hex')}`
const randomId = (): Hex => generatePrivateKey() // 32 random bytes
const scopeOf = (ids: Hex[]): Hex => {
  const sorted = ids.map((id) => id.toLowerCase() as Hex).sort()
  return keccak256(encodePacked(sorted.map(() => 'bytes32'), sorted))
}

describe('Consent contract', () => {
  let t: TestChain
  let registry: Address
  let ledger: Address
  let consent: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address
  const gas: Record<string, bigint> = {}

  const write = (by: string, functionName: string, args: readonly unknown[]) =>
    w[by]!.writeContract({ address: consent, abi: consentAbi, functionName, args, ...noFees } as never) as Promise<Hex>
  const read = <T>(functionName: string, args: readonly unknown[]) =>
    t.client.readContract({ address: consent, abi: consentAbi, functionName, args } as never) as Promise<T>
  const events = (txHash: Hex) => t.eventsOf(txHash, consentAbi, consent)
  /** Sends, asserts the exact events, records the gas under `label` and returns the block time. */
  async function expectEvents(tx: Promise<Hex>, expected: { eventName: string; args: unknown }[] | ((time: bigint) => { eventName: string; args: unknown }[]), label?: string) {
    const txHash = await tx
    const { gasUsed, events: got } = await events(txHash)
    const receipt = await t.client.getTransactionReceipt({ hash: txHash })
    const time = (await t.client.getBlock({ blockNumber: receipt.blockNumber })).timestamp
    assert.deepEqual(got, typeof expected === 'function' ? expected(time) : expected)
    if (label) gas[label] = gasUsed
    return { time, gasUsed }
  }

  const requestAccess = (by: string, requestId: Hex, patient: Address, scope: Hex, duration: bigint, purpose: number = purposes.grant) =>
    write(by, 'requestAccess', [requestId, patient, scope, purpose, hash(`purpose ${requestId}`), duration])
  const approve = (by: string, requestId: Hex, scope: Hex, duration: bigint, envelopes: Hex = hash('envelopes')) =>
    write(by, 'approve', [requestId, scope, duration, envelopes])
  const deny = (by: string, requestId: Hex, reasonHash: Hex = hash('reason')) => write(by, 'deny', [requestId, reasonHash])
  const revoke = (by: string, requestId: Hex) => write(by, 'revoke', [requestId])
  const grantOf = (requestId: Hex) => read<Record<string, unknown>>('grantOf', [requestId])
  const isGrantLive = (requestId: Hex, grantee: Address) => read<boolean>('isGrantLive', [requestId, grantee])

  /** A fresh request of doctorB (hospital B) to patientA (hospital A), for all records, 30 days. */
  async function pendingRequest(): Promise<Hex> {
    const id = randomId()
    await events(await requestAccess('doctorB', id, addr('patientA'), zeroHash, 30n * DAY))
    return id
  }

  before(async () => {
    t = await startTestChain()
    for (const name of [
      'admin', 'hospitalA', 'hospitalB', 'staffA', 'staffB', 'doctorA', 'doctorB', 'patientA', 'patientA2', 'patientB',
      'pendingDoctor', 'rejectedDoctor', 'stranger',
    ]) w[name] = t.newWallet()

    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    ledger = (await t.deploy(w.admin!, 'RecordLedger', [registry])).address
    const deployed = await t.deploy(w.admin!, 'Consent', [registry])
    consent = deployed.address
    gas['deploy Consent'] = deployed.gasUsed

    const reg = (by: string, functionName: string, args: readonly unknown[]) =>
      w[by]!.writeContract({ address: registry, abi: registryAbi, functionName, args, ...noFees } as never).then((h) => t.eventsOf(h as Hex, registryAbi, registry))
    await reg('admin', 'addHospital', [addr('hospitalA'), X25519, hash('emergency key A')])
    await reg('admin', 'addHospital', [addr('hospitalB'), X25519, hash('emergency key B')])
    await reg('admin', 'registerAccount', [addr('staffA'), Role.Staff, addr('hospitalA'), X25519, hash('staffA')])
    await reg('admin', 'registerAccount', [addr('staffB'), Role.Staff, addr('hospitalB'), X25519, hash('staffB')])
    for (const [staff, who, role, hospital] of [
      ['staffA', 'doctorA', Role.Doctor, 'hospitalA'], ['staffB', 'doctorB', Role.Doctor, 'hospitalB'],
      ['staffA', 'patientA', Role.Patient, 'hospitalA'], ['staffA', 'patientA2', Role.Patient, 'hospitalA'],
      ['staffB', 'patientB', Role.Patient, 'hospitalB'],
    ] as const) await reg(staff, 'registerAccount', [addr(who), role, addr(hospital), X25519, hash(who)])
    await reg('pendingDoctor', 'requestRegistration', [Role.Doctor, addr('hospitalA'), X25519, hash('pendingDoctor')])
    await reg('rejectedDoctor', 'requestRegistration', [Role.Doctor, addr('hospitalB'), X25519, hash('rejectedDoctor')])
    await reg('staffB', 'rejectAccount', [addr('rejectedDoctor'), hash('no licence')])
  })

  after(async () => {
    const lines = Object.entries(gas).map(([name, used]) => `${name}: ${used}`)
    console.log(`Consent gas used (receipt, including the 21000 base):\n  ${lines.join('\n  ')}`)
    await t?.stop()
  })

  test('it names its registry; purpose codes match the contract\'s', async () => {
    assert.equal(await read('registry', []), registry)
    assert.deepEqual(purposes, { own: 1, author: 2, grant: 3, share: 4, shareToken: 5, emergency: 6, verify: 7, team: 8 })
    assert.equal(purposeNames[5], 'shareToken')
    await expectRevert(write('patientA', 'logAccess', [randomId(), addr('patientA'), 9, zeroHash]), 'ConsentInvalidPurpose', [9])
  })

  describe('access requests', () => {
    test('a confirmed doctor asks a patient of another hospital for access', async () => {
      const id = randomId()
      const records = [randomId(), randomId()]
      const { time } = await expectEvents(requestAccess('doctorB', id, addr('patientA'), scopeOf(records), 30n * DAY), [{
        eventName: 'AccessRequested',
        args: { requestId: id, requester: addr('doctorB'), patient: addr('patientA'), scope: scopeOf(records), purpose: purposes.grant, purposeHash: hash(`purpose ${id}`), duration: 30n * DAY },
      }], 'requestAccess')
      assert.ok(time > 0n)
      assert.deepEqual(await grantOf(id), {
        patient: addr('patientA'), status: Request.Pending, purpose: purposes.grant, expiresAt: 0n,
        requester: addr('doctorB'), duration: 30n * DAY, scope: scopeOf(records),
      })
      assert.equal(await isGrantLive(id, addr('doctorB')), false)
    })

    test('a pending or rejected doctor, or anyone not an active doctor, cannot request', async () => {
      for (const by of ['pendingDoctor', 'rejectedDoctor', 'patientB', 'staffA', 'hospitalA', 'admin', 'stranger']) {
        await expectRevert(requestAccess(by, randomId(), addr('patientA'), zeroHash, DAY), 'ConsentNotActiveDoctor', [addr(by)])
      }
    })

    test('a request names an active patient, a purpose code, a duration of 1 hour to 365 days and a fresh id', async () => {
      for (const who of ['doctorA', 'pendingDoctor', 'staffB', 'hospitalB', 'stranger']) {
        await expectRevert(requestAccess('doctorB', randomId(), addr(who), zeroHash, DAY), 'ConsentNotActivePatient', [addr(who)])
      }
      await expectRevert(requestAccess('doctorB', randomId(), zeroAddress, zeroHash, DAY), 'ConsentNotActivePatient', [zeroAddress])
      await expectRevert(requestAccess('doctorB', randomId(), addr('patientA'), zeroHash, HOUR - 1n), 'ConsentInvalidDuration', [HOUR - 1n])
      await expectRevert(requestAccess('doctorB', randomId(), addr('patientA'), zeroHash, 365n * DAY + 1n), 'ConsentInvalidDuration', [365n * DAY + 1n])
      await expectRevert(requestAccess('doctorB', randomId(), addr('patientA'), zeroHash, DAY, 0), 'ConsentInvalidPurpose', [0])
      await expectRevert(requestAccess('doctorB', randomId(), addr('patientA'), zeroHash, DAY, 9), 'ConsentInvalidPurpose', [9])
      await expectRevert(requestAccess('doctorB', zeroHash, addr('patientA'), zeroHash, DAY), 'ConsentZeroId')
      const id = await pendingRequest()
      await expectRevert(requestAccess('doctorA', id, addr('patientB'), zeroHash, DAY), 'ConsentRequestExists', [id])
      // the bounds themselves are allowed
      await events(await requestAccess('doctorA', randomId(), addr('patientB'), zeroHash, HOUR))
      await events(await requestAccess('doctorA', randomId(), addr('patientB'), zeroHash, 365n * DAY))
    })

    test('only the request\'s patient approves: not the requester, not another patient', async () => {
      const id = await pendingRequest()
      const before_ = await grantOf(id)
      await expectRevert(approve('doctorB', id, zeroHash, DAY), 'ConsentNotPatient', [addr('doctorB'), id])
      await expectRevert(approve('patientA2', id, zeroHash, DAY), 'ConsentNotPatient', [addr('patientA2'), id])
      await expectRevert(approve('patientB', id, zeroHash, DAY), 'ConsentNotPatient', [addr('patientB'), id])
      await expectRevert(approve('staffA', id, zeroHash, DAY), 'ConsentNotPatient', [addr('staffA'), id])
      await expectRevert(approve('hospitalA', id, zeroHash, DAY), 'ConsentNotPatient', [addr('hospitalA'), id])
      const unknown = randomId()
      await expectRevert(approve('patientA', unknown, zeroHash, DAY), 'ConsentUnknownRequest', [unknown])
      assert.deepEqual(await grantOf(id), before_)
      assert.equal(await isGrantLive(id, addr('doctorB')), false)
    })

    test('an approval may shorten the duration, not extend it, and names its envelopes', async () => {
      const id = await pendingRequest()
      await expectRevert(approve('patientA', id, zeroHash, 30n * DAY + 1n), 'ConsentDurationExceedsRequest', [30n * DAY + 1n, 30n * DAY])
      await expectRevert(approve('patientA', id, zeroHash, HOUR - 1n), 'ConsentInvalidDuration', [HOUR - 1n])
      await expectRevert(approve('patientA', id, zeroHash, DAY, zeroHash), 'ConsentEmptyEnvelopes')
      assert.equal((await grantOf(id)).status, Request.Pending)
    })

    test('the patient approves, keeping the scope: a live grant for the requester only, within 60,000 gas', async () => {
      const id = await pendingRequest()
      const envelopes = sha256('envelopes block')
      const { time, gasUsed } = await expectEvents(approve('patientA', id, zeroHash, 7n * DAY, envelopes), (time) => [{
        eventName: 'AccessApproved',
        args: { requestId: id, requester: addr('doctorB'), patient: addr('patientA'), scope: zeroHash, expiresAt: time + 7n * DAY, envelopes },
      }], 'approve')
      assert.ok(gasUsed <= 60_000n, `approve used ${gasUsed} gas`)
      assert.deepEqual(await grantOf(id), {
        patient: addr('patientA'), status: Request.Approved, purpose: purposes.grant, expiresAt: time + 7n * DAY,
        requester: addr('doctorB'), duration: 30n * DAY, scope: zeroHash,
      })
      assert.equal(await isGrantLive(id, addr('doctorB')), true)
      for (const other of ['doctorA', 'patientA', 'hospitalB']) assert.equal(await isGrantLive(id, addr(other)), false)
      assert.equal(await isGrantLive(id, zeroAddress), false)
      assert.equal(await isGrantLive(randomId(), addr('doctorB')), false)
      // decided once
      await expectRevert(approve('patientA', id, zeroHash, DAY), 'ConsentRequestNotPending', [id, Request.Approved])
    })

    test('the patient approves a narrower scope', async () => {
      const records = [randomId(), randomId(), randomId()]
      const narrowed = scopeOf(records.slice(0, 1))
      const listed = randomId()
      await events(await requestAccess('doctorB', listed, addr('patientA'), scopeOf(records), 30n * DAY))
      const { gasUsed } = await expectEvents(approve('patientA', listed, narrowed, 30n * DAY), (time) => [{
        eventName: 'AccessApproved',
        args: { requestId: listed, requester: addr('doctorB'), patient: addr('patientA'), scope: narrowed, expiresAt: time + 30n * DAY, envelopes: hash('envelopes') },
      }], 'approve (narrower list)')
      assert.ok(gasUsed <= 60_000n, `approve (narrowed) used ${gasUsed} gas`)
      assert.equal((await grantOf(listed)).scope, narrowed)

      const all = await pendingRequest()
      await expectEvents(approve('patientA', all, narrowed, DAY), (time) => [{
        eventName: 'AccessApproved',
        args: { requestId: all, requester: addr('doctorB'), patient: addr('patientA'), scope: narrowed, expiresAt: time + DAY, envelopes: hash('envelopes') },
      }], 'approve (all narrowed to a list)')
      assert.equal((await grantOf(all)).scope, narrowed)
    })

    test('only the patient denies, with a reason, only a pending request', async () => {
      const id = await pendingRequest()
      await expectRevert(deny('doctorB', id), 'ConsentNotPatient', [addr('doctorB'), id])
      await expectRevert(deny('patientB', id), 'ConsentNotPatient', [addr('patientB'), id])
      await expectRevert(deny('patientA', id, zeroHash), 'ConsentEmptyReason')
      await expectEvents(deny('patientA', id, hash('not now')), [{
        eventName: 'AccessDenied', args: { requestId: id, requester: addr('doctorB'), patient: addr('patientA'), reasonHash: hash('not now') },
      }], 'deny')
      assert.equal((await grantOf(id)).status, Request.Denied)
      await expectRevert(approve('patientA', id, zeroHash, DAY), 'ConsentRequestNotPending', [id, Request.Denied])
      await expectRevert(deny('patientA', id), 'ConsentRequestNotPending', [id, Request.Denied])
      await expectRevert(revoke('patientA', id), 'ConsentRequestNotApproved', [id, Request.Denied])
      assert.equal(await isGrantLive(id, addr('doctorB')), false)

      const approved = await pendingRequest()
      await events(await approve('patientA', approved, zeroHash, DAY))
      await expectRevert(deny('patientA', approved), 'ConsentRequestNotPending', [approved, Request.Approved])
      const unknown = randomId()
      await expectRevert(deny('patientA', unknown), 'ConsentUnknownRequest', [unknown])
    })

    test('only the patient revokes, only an approved grant; the grant ends at once', async () => {
      const id = await pendingRequest()
      await expectRevert(revoke('patientA', id), 'ConsentRequestNotApproved', [id, Request.Pending])
      await events(await approve('patientA', id, zeroHash, DAY))
      for (const by of ['doctorB', 'patientB', 'patientA2', 'hospitalA', 'admin']) {
        await expectRevert(revoke(by, id), 'ConsentNotPatient', [addr(by), id])
      }
      assert.equal(await isGrantLive(id, addr('doctorB')), true)
      await expectEvents(revoke('patientA', id), [{
        eventName: 'AccessRevoked', args: { requestId: id, requester: addr('doctorB'), patient: addr('patientA') },
      }], 'revoke')
      assert.equal(await isGrantLive(id, addr('doctorB')), false)
      assert.equal((await grantOf(id)).status, Request.Revoked)
      await expectRevert(revoke('patientA', id), 'ConsentRequestNotApproved', [id, Request.Revoked])
      const unknown = randomId()
      await expectRevert(revoke('patientA', unknown), 'ConsentUnknownRequest', [unknown])
    })

    test('a grant expires by the chain\'s clock', async () => {
      const id = await pendingRequest()
      const { time } = await expectEvents(approve('patientA', id, zeroHash, HOUR), (time) => [{
        eventName: 'AccessApproved',
        args: { requestId: id, requester: addr('doctorB'), patient: addr('patientA'), scope: zeroHash, expiresAt: time + HOUR, envelopes: hash('envelopes') },
      }])
      const expiresAt = time + HOUR
      let now = await t.advance(Number(expiresAt - (await t.now()) - 10n))
      assert.ok(now < expiresAt)
      assert.equal(await isGrantLive(id, addr('doctorB')), true)
      now = await t.advance(Number(expiresAt - now))
      assert.ok(now >= expiresAt)
      assert.equal(await isGrantLive(id, addr('doctorB')), false)
      // still Approved on record: an expired grant may still be revoked, for the trail
      assert.equal((await grantOf(id)).status, Request.Approved)
    })
  })

  describe('shares', () => {
    const share = (by: string, shareId: Hex, grantee: Address, tokenHash: Hex, scope: Hex, duration: bigint, once: boolean, envelopes: Hex = hash('share envelopes')) =>
      write(by, 'share', [shareId, grantee, tokenHash, scope, duration, once, envelopes])
    const useToken = (by: string, shareId: Hex, recordId: Hex) => write(by, 'useShareToken', [shareId, recordId])
    const revokeShare = (by: string, shareId: Hex) => write(by, 'revokeShare', [shareId])
    const isShareLive = (shareId: Hex) => read<boolean>('isShareLive', [shareId])
    const shareOf = (shareId: Hex) => read<Record<string, unknown>>('shareOf', [shareId])
    const scope = scopeOf([randomId(), randomId()])
    const recordId = randomId()

    test('a patient shares listed records with a named account', async () => {
      const id = randomId()
      const { time } = await expectEvents(share('patientA', id, addr('doctorB'), zeroHash, scope, 7n * DAY, false), (time) => [{
        eventName: 'Shared',
        args: { shareId: id, patient: addr('patientA'), grantee: addr('doctorB'), tokenHash: zeroHash, scope, expiresAt: time + 7n * DAY, once: false, envelopes: hash('share envelopes') },
      }], 'share')
      assert.deepEqual(await shareOf(id), {
        patient: addr('patientA'), expiresAt: time + 7n * DAY, once: false, used: false, revoked: false,
        grantee: addr('doctorB'), tokenHash: zeroHash, scope,
      })
      assert.equal(await isShareLive(id), true)
      // a named share is read with the grantee's own key, not served as a token
      await expectRevert(useToken('hospitalA', id, recordId), 'ConsentNotTokenShare', [id])
    })

    test('a single-use token works once; only its hash reaches the chain', async () => {
      const token = 'base64url-token-shown-once'
      const id = randomId()
      const { time } = await expectEvents(share('patientA', id, zeroAddress, sha256(token), scope, DAY, true), (time) => [{
        eventName: 'Shared',
        args: { shareId: id, patient: addr('patientA'), grantee: zeroAddress, tokenHash: sha256(token), scope, expiresAt: time + DAY, once: true, envelopes: hash('share envelopes') },
      }], 'share (token)')
      // any member hospital serves a token read
      await expectEvents(useToken('hospitalB', id, recordId), [{
        eventName: 'ShareTokenUsed', args: { shareId: id, patient: addr('patientA'), recordId, hospital: addr('hospitalB') },
      }], 'useShareToken')
      assert.deepEqual(await shareOf(id), {
        patient: addr('patientA'), expiresAt: time + DAY, once: true, used: true, revoked: false,
        grantee: zeroAddress, tokenHash: sha256(token), scope,
      })
      assert.equal(await isShareLive(id), false)
      await expectRevert(useToken('hospitalB', id, recordId), 'ConsentShareUsed', [id])
      await expectRevert(useToken('hospitalA', id, randomId()), 'ConsentShareUsed', [id])
    })

    test('a reusable token works until it expires', async () => {
      const id = randomId()
      const { time } = await expectEvents(share('patientA', id, zeroAddress, sha256('another token'), scope, HOUR, false), (time) => [{
        eventName: 'Shared',
        args: { shareId: id, patient: addr('patientA'), grantee: zeroAddress, tokenHash: sha256('another token'), scope, expiresAt: time + HOUR, once: false, envelopes: hash('share envelopes') },
      }])
      for (let i = 0; i < 2; i++) {
        await expectEvents(useToken('hospitalA', id, recordId), [{
          eventName: 'ShareTokenUsed', args: { shareId: id, patient: addr('patientA'), recordId, hospital: addr('hospitalA') },
        }])
      }
      assert.equal(await isShareLive(id), true)
      await t.advance(Number(time + HOUR - (await t.now())))
      assert.equal(await isShareLive(id), false)
      await expectRevert(useToken('hospitalA', id, recordId), 'ConsentShareNotLive', [id])
      await expectRevert(revokeShare('patientA', id), 'ConsentShareNotLive', [id])
    })

    test('only a member hospital records a token use', async () => {
      const id = randomId()
      await events(await share('patientA', id, zeroAddress, sha256('t3'), scope, DAY, true))
      for (const by of ['doctorA', 'patientA', 'staffA', 'admin', 'stranger']) {
        await expectRevert(useToken(by, id, recordId), 'ConsentNotMemberHospital', [addr(by)])
      }
      const unknown = randomId()
      await expectRevert(useToken('hospitalA', unknown, recordId), 'ConsentUnknownShare', [unknown])
      await expectRevert(useToken('hospitalA', id, zeroHash), 'ConsentZeroId')
      assert.equal(await isShareLive(id), true)
      assert.equal((await shareOf(id)).used, false)
    })

    test('only the share\'s patient revokes it; a revoked token stops at once', async () => {
      const id = randomId()
      await events(await share('patientA', id, zeroAddress, sha256('t4'), scope, DAY, false))
      for (const by of ['patientB', 'patientA2', 'doctorB', 'hospitalA']) {
        await expectRevert(revokeShare(by, id), 'ConsentNotPatient', [addr(by), id])
      }
      await expectEvents(revokeShare('patientA', id), [{ eventName: 'ShareRevoked', args: { shareId: id, patient: addr('patientA') } }], 'revokeShare')
      assert.equal(await isShareLive(id), false)
      assert.equal((await shareOf(id)).revoked, true)
      await expectRevert(useToken('hospitalA', id, recordId), 'ConsentShareNotLive', [id])
      await expectRevert(revokeShare('patientA', id), 'ConsentShareNotLive', [id])
      const unknown = randomId()
      await expectRevert(revokeShare('patientA', unknown), 'ConsentUnknownShare', [unknown])
      assert.equal(await isShareLive(unknown), false)
    })

    test('share refuses non-patients and malformed shares', async () => {
      for (const by of ['doctorA', 'staffA', 'hospitalA', 'stranger', 'pendingDoctor']) {
        await expectRevert(share(by, randomId(), addr('doctorB'), zeroHash, scope, DAY, false), 'ConsentNotActivePatient', [addr(by)])
      }
      for (const who of ['patientA', 'pendingDoctor', 'rejectedDoctor', 'stranger', 'hospitalB']) {
        await expectRevert(share('patientA', randomId(), addr(who), zeroHash, scope, DAY, false), 'ConsentInvalidGrantee', [addr(who)])
      }
      await expectRevert(share('patientA', randomId(), addr('doctorB'), sha256('t'), scope, DAY, false), 'ConsentInvalidShareTarget')
      await expectRevert(share('patientA', randomId(), zeroAddress, zeroHash, scope, DAY, false), 'ConsentInvalidShareTarget')
      await expectRevert(share('patientA', randomId(), addr('doctorB'), zeroHash, zeroHash, DAY, false), 'ConsentEmptyScope')
      await expectRevert(share('patientA', randomId(), addr('doctorB'), zeroHash, scope, 59n, false), 'ConsentInvalidDuration', [59n])
      await expectRevert(share('patientA', randomId(), addr('doctorB'), zeroHash, scope, 365n * DAY + 1n, false), 'ConsentInvalidDuration', [365n * DAY + 1n])
      await expectRevert(share('patientA', randomId(), addr('doctorB'), zeroHash, scope, DAY, false, zeroHash), 'ConsentEmptyEnvelopes')
      await expectRevert(share('patientA', zeroHash, addr('doctorB'), zeroHash, scope, DAY, false), 'ConsentZeroId')
      const id = randomId()
      await events(await share('patientA', id, addr('patientB'), zeroHash, scope, 60n, false))
      await expectRevert(share('patientB', id, addr('patientA'), zeroHash, scope, DAY, false), 'ConsentShareExists', [id])
    })
  })

  describe('break-glass', () => {
    const declare = (by: string, id: Hex, patient: Address, reasonHash: Hex, window: bigint) =>
      write(by, 'declareEmergency', [id, patient, reasonHash, window])
    const release = (by: string, id: Hex, envelopes: Hex = hash('emergency envelopes')) => write(by, 'releaseEmergencyKey', [id, envelopes])
    const isEmergencyLive = (id: Hex, doctor: Address) => read<boolean>('isEmergencyLive', [id, doctor])

    test('a doctor declares an emergency on chain; then the patient\'s hospital releases the keys', async () => {
      const id = randomId()
      const { time } = await expectEvents(declare('doctorB', id, addr('patientA'), hash('unconscious, allergies unknown'), DAY), (time) => [{
        eventName: 'EmergencyDeclared',
        args: { emergencyId: id, doctor: addr('doctorB'), patient: addr('patientA'), reasonHash: hash('unconscious, allergies unknown'), expiresAt: time + DAY },
      }], 'declareEmergency')
      assert.deepEqual(await read('emergencyOf', [id]), { doctor: addr('doctorB'), expiresAt: time + DAY, released: false, patient: addr('patientA') })
      assert.equal(await isEmergencyLive(id, addr('doctorB')), true)
      assert.equal(await isEmergencyLive(id, addr('doctorA')), false)
      assert.equal(await isEmergencyLive(id, zeroAddress), false)

      // not the doctor, not the doctor's hospital, not another member: the patient's hospital
      for (const by of ['doctorB', 'hospitalB', 'staffA', 'patientA', 'admin', 'stranger']) {
        await expectRevert(release(by, id), 'ConsentNotHospitalOf', [addr(by), addr('patientA')])
      }
      await expectRevert(release('hospitalA', id, zeroHash), 'ConsentEmptyEnvelopes')
      await expectEvents(release('hospitalA', id, sha256('rewrapped keys')), [{
        eventName: 'EmergencyKeyReleased',
        args: { emergencyId: id, patient: addr('patientA'), hospital: addr('hospitalA'), doctor: addr('doctorB'), envelopes: sha256('rewrapped keys') },
      }], 'releaseEmergencyKey')
      assert.equal((await read<{ released: boolean }>('emergencyOf', [id])).released, true)
      await expectRevert(release('hospitalA', id), 'ConsentEmergencyReleased', [id])
      const unknown = randomId()
      await expectRevert(release('hospitalA', unknown), 'ConsentUnknownEmergency', [unknown])
      assert.equal(await isEmergencyLive(unknown, addr('doctorB')), false)
    })

    test('break-glass needs a reason, a window of 1 minute to 7 days, an active doctor and an active patient', async () => {
      await expectRevert(declare('doctorA', randomId(), addr('patientB'), zeroHash, DAY), 'ConsentEmptyReason')
      await expectRevert(declare('doctorA', randomId(), addr('patientB'), hash('r'), 59n), 'ConsentInvalidDuration', [59n])
      await expectRevert(declare('doctorA', randomId(), addr('patientB'), hash('r'), 7n * DAY + 1n), 'ConsentInvalidDuration', [7n * DAY + 1n])
      for (const by of ['pendingDoctor', 'rejectedDoctor', 'patientA', 'staffA', 'hospitalA', 'stranger']) {
        await expectRevert(declare(by, randomId(), addr('patientB'), hash('r'), DAY), 'ConsentNotActiveDoctor', [addr(by)])
      }
      for (const who of ['doctorB', 'stranger', 'hospitalB']) {
        await expectRevert(declare('doctorA', randomId(), addr(who), hash('r'), DAY), 'ConsentNotActivePatient', [addr(who)])
      }
      await expectRevert(declare('doctorA', zeroHash, addr('patientB'), hash('r'), DAY), 'ConsentZeroId')
      const id = randomId()
      await events(await declare('doctorA', id, addr('patientB'), hash('r'), 60n))
      await expectRevert(declare('doctorB', id, addr('patientA'), hash('r'), DAY), 'ConsentEmergencyExists', [id])
    })

    test('an emergency expires by the chain\'s clock; no key is released after', async () => {
      const id = randomId()
      const { time } = await expectEvents(declare('doctorA', id, addr('patientB'), hash('r'), HOUR), (time) => [{
        eventName: 'EmergencyDeclared', args: { emergencyId: id, doctor: addr('doctorA'), patient: addr('patientB'), reasonHash: hash('r'), expiresAt: time + HOUR },
      }])
      await t.advance(Number(time + HOUR - (await t.now())))
      assert.equal(await isEmergencyLive(id, addr('doctorA')), false)
      await expectRevert(release('hospitalB', id), 'ConsentEmergencyNotLive', [id])
    })
  })

  describe('audit', () => {
    test('a grantee logs its read under a live grant, event only, within 40,000 gas', async () => {
      const recordId = randomId()
      const ref = await pendingRequest()
      await events(await approve('patientA', ref, zeroHash, DAY))
      const { gasUsed } = await expectEvents(write('doctorB', 'logAccess', [recordId, addr('patientA'), purposes.grant, ref]), [{
        eventName: 'AccessLogged', args: { recordId, patient: addr('patientA'), actor: addr('doctorB'), purpose: purposes.grant, ref },
      }], 'logAccess')
      // the caller check reads the grant's slots: a few thousand gas over the bare event
      assert.ok(gasUsed <= 40_000n, `logAccess used ${gasUsed} gas`)
      await expectEvents(write('patientA', 'logAccess', [recordId, addr('patientA'), purposes.own, zeroHash]), [{
        eventName: 'AccessLogged', args: { recordId, patient: addr('patientA'), actor: addr('patientA'), purpose: purposes.own, ref: zeroHash },
      }])
      await expectRevert(write('patientA', 'logAccess', [recordId, addr('patientA'), 0, zeroHash]), 'ConsentInvalidPurpose', [0])
      await expectRevert(write('patientA', 'logAccess', [zeroHash, addr('patientA'), purposes.own, zeroHash]), 'ConsentZeroId')
      // the grant is the patient's, to this requester only, and only while live
      await expectRevert(write('doctorA', 'logAccess', [recordId, addr('patientA'), purposes.grant, ref]), 'ConsentNoAccessPath', [addr('doctorA'), addr('patientA'), purposes.grant, ref])
      await expectRevert(write('doctorB', 'logAccess', [recordId, addr('patientA2'), purposes.grant, ref]), 'ConsentNoAccessPath', [addr('doctorB'), addr('patientA2'), purposes.grant, ref])
      await events(await revoke('patientA', ref))
      await expectRevert(write('doctorB', 'logAccess', [recordId, addr('patientA'), purposes.grant, ref]), 'ConsentNoAccessPath', [addr('doctorB'), addr('patientA'), purposes.grant, ref])
      // nor while pending, nor once expired by the chain's clock
      const later = await pendingRequest()
      await expectRevert(write('doctorB', 'logAccess', [recordId, addr('patientA'), purposes.grant, later]), 'ConsentNoAccessPath', [addr('doctorB'), addr('patientA'), purposes.grant, later])
      const { time } = await expectEvents(approve('patientA', later, zeroHash, HOUR), (time) => [{
        eventName: 'AccessApproved', args: { requestId: later, patient: addr('patientA'), requester: addr('doctorB'), scope: zeroHash, expiresAt: time + HOUR, envelopes: hash('envelopes') },
      }])
      await expectEvents(write('doctorB', 'logAccess', [recordId, addr('patientA'), purposes.grant, later]), [{
        eventName: 'AccessLogged', args: { recordId, patient: addr('patientA'), actor: addr('doctorB'), purpose: purposes.grant, ref: later },
      }])
      await t.advance(Number(time + HOUR - (await t.now())))
      await expectRevert(write('doctorB', 'logAccess', [recordId, addr('patientA'), purposes.grant, later]), 'ConsentNoAccessPath', [addr('doctorB'), addr('patientA'), purposes.grant, later])
    })

    test('only a party holding an access path writes into a patient\'s trail', async () => {
      const recordId = randomId()
      const noPath = (by: string, patient: string, purpose: number, ref: Hex = zeroHash) =>
        expectRevert(write(by, 'logAccess', [recordId, addr(patient), purpose, ref]), 'ConsentNoAccessPath', [addr(by), addr(patient), purpose, ref])
      const logged = (by: string, patient: string, purpose: number, ref: Hex = zeroHash) =>
        expectEvents(write(by, 'logAccess', [recordId, addr(patient), purpose, ref]), [{
          eventName: 'AccessLogged', args: { recordId, patient: addr(patient), actor: addr(by), purpose, ref },
        }])
      // own: the patient, no one else, with no ref
      await logged('patientA', 'patientA', purposes.own)
      for (const by of ['stranger', 'patientB', 'doctorA', 'hospitalA', 'admin']) await noPath(by, 'patientA', purposes.own)
      await noPath('patientA', 'patientA', purposes.own, randomId())
      await noPath('stranger', 'stranger', purposes.own) // not a registered patient
      // author: an active doctor of the patient's hospital (who alone can anchor for the patient)
      await logged('doctorA', 'patientA', purposes.author)
      for (const by of ['doctorB', 'pendingDoctor', 'rejectedDoctor', 'staffA', 'stranger', 'patientA']) await noPath(by, 'patientA', purposes.author)
      await noPath('doctorA', 'doctorB', purposes.author) // not a patient
      // grant, share, emergency: made-up refs are no path
      for (const purpose of [purposes.grant, purposes.share, purposes.shareToken, purposes.emergency]) {
        await noPath('stranger', 'patientA', purpose, randomId())
        await noPath('doctorB', 'patientA', purpose, randomId())
      }
      // share: the named grantee of a live share of this patient
      const shareId = randomId()
      await events(await write('patientA', 'share', [shareId, addr('doctorB'), zeroHash, hash('scope'), DAY, false, hash('share envelopes')]))
      await logged('doctorB', 'patientA', purposes.share, shareId)
      await noPath('doctorA', 'patientA', purposes.share, shareId)
      await noPath('doctorB', 'patientA2', purposes.share, shareId)
      // share token: a member hospital serving a token share of this patient
      const tokenShare = randomId()
      await events(await write('patientA', 'share', [tokenShare, zeroAddress, sha256('token'), hash('scope'), DAY, true, hash('share envelopes')]))
      await logged('hospitalB', 'patientA', purposes.shareToken, tokenShare)
      for (const by of ['doctorB', 'staffA', 'stranger']) await noPath(by, 'patientA', purposes.shareToken, tokenShare)
      await noPath('hospitalB', 'patientA', purposes.shareToken, shareId) // a named share is no token share
      // emergency: the declaring doctor, while live
      const emergencyId = randomId()
      const { time } = await expectEvents(write('doctorB', 'declareEmergency', [emergencyId, addr('patientA'), hash('r'), HOUR]), (time) => [{
        eventName: 'EmergencyDeclared', args: { emergencyId, doctor: addr('doctorB'), patient: addr('patientA'), reasonHash: hash('r'), expiresAt: time + HOUR },
      }])
      await logged('doctorB', 'patientA', purposes.emergency, emergencyId)
      await noPath('doctorA', 'patientA', purposes.emergency, emergencyId)
      await noPath('doctorB', 'patientB', purposes.emergency, emergencyId)
      // verify: the patient's hospital, or its active staff
      await logged('hospitalA', 'patientA', purposes.verify)
      await logged('staffA', 'patientA', purposes.verify)
      for (const by of ['hospitalB', 'staffB', 'doctorA', 'stranger', 'admin']) await noPath(by, 'patientA', purposes.verify)
      await t.advance(Number(time + HOUR - (await t.now())))
      await noPath('doctorB', 'patientA', purposes.emergency, emergencyId)
    })

    test('the anchor of a record still fits its budget next to the Consent contract', async () => {
      const { gasUsed } = await t.eventsOf(
        await w.doctorA!.writeContract({
          address: ledger, abi: recordLedgerAbi, functionName: 'anchor',
          args: [randomId(), addr('patientA'), addr('hospitalA'), sha256('ciphertext'), sha256('envelopes')], ...noFees,
        }),
        recordLedgerAbi, ledger,
      )
      gas.anchor = gasUsed
      assert.ok(gasUsed <= 60_000n, `anchor used ${gasUsed} gas`)
    })
  })
})
