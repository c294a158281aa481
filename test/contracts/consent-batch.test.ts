import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { concat, keccak256, pad, toHex, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey, type PrivateKeyAccount } from 'viem/accounts'
import { consentAbi, registryAbi } from '../../src/ledger/abis.ts'
import { purposes } from '../../src/ledger/purposes.ts'
import { accessEntryTypes, consentDomain, type AccessEntry, type SignedAccessEntry } from '../../src/ledger/consent/sign-access-entry.ts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from '../helpers/test-chain.ts'

const Role = { Staff: 1, Doctor: 2, Patient: 3 } as const
const X25519 = 1
const HOUR = 3600n
const DAY = 86_400n
const hash = (label: string): Hex => keccak256(new TextEncoder().encode(label))
const randomId = (): Hex => generatePrivateKey()

describe('Consent.logAccessBatch: reads signed by their readers, logged by a hospital node', () => {
  let t: TestChain
  let registry: Address
  let consent: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address

  const write = (by: string, functionName: string, args: readonly unknown[]) =>
    w[by]!.writeContract({ address: consent, abi: consentAbi, functionName, args, ...noFees } as never) as Promise<Hex>
  const batch = (by: string, entries: SignedAccessEntry[]) => write(by, 'logAccessBatch', [entries])
  const isLogged = (entryId: Hex) => t.client.readContract({ address: consent, abi: consentAbi, functionName: 'isAccessLogged', args: [entryId] })

  /** Entry ids as a hospital's node gives them: its address, then its next number (a block of 256 from a random start). */
  const numbers: Record<string, bigint> = {}
  const nextId = (hospital: string): Hex => {
    numbers[hospital] ??= BigInt(randomId()) >> 168n << 8n
    return concat([addr(hospital).toLowerCase() as Hex, pad(toHex(numbers[hospital]++), { size: 12 })])
  }
  async function sign(by: string, entry: Partial<AccessEntry> & Pick<AccessEntry, 'patient' | 'purpose'>, hospital = 'hospitalA'): Promise<SignedAccessEntry> {
    const full: AccessEntry = { entryId: nextId(hospital), recordId: randomId(), ref: zeroHash, readAt: await t.now(), ...entry }
    const signature = await (w[by]!.account as PrivateKeyAccount).signTypedData({ domain: consentDomain({ chainId: t.chain.id, consent }), types: accessEntryTypes, primaryType: 'AccessEntry', message: full })
    return { ...full, reader: addr(by), signature }
  }
  const loggedEvent = (e: SignedAccessEntry) => ({ eventName: 'AccessLogged', args: { recordId: e.recordId, patient: e.patient, actor: e.reader, purpose: e.purpose, ref: e.ref } })

  /** A live grant of patientA to doctorB (hospital B) for all records. */
  async function grant(duration = DAY): Promise<Hex> {
    const id = randomId()
    await t.eventsOf(await write('doctorB', 'requestAccess', [id, addr('patientA'), zeroHash, purposes.grant, hash('treatment'), duration]), consentAbi, consent)
    await t.eventsOf(await write('patientA', 'approve', [id, zeroHash, duration, hash('envelopes')]), consentAbi, consent)
    return id
  }

  before(async () => {
    t = await startTestChain()
    for (const name of ['admin', 'hospitalA', 'hospitalB', 'staffA', 'staffB', 'doctorA', 'doctorB', 'patientA', 'patientA2', 'stranger']) {
      w[name] = t.newWallet()
    }
    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    consent = (await t.deploy(w.admin!, 'Consent', [registry])).address
    const reg = async (by: string, functionName: string, args: readonly unknown[]) =>
      t.eventsOf(await w[by]!.writeContract({ address: registry, abi: registryAbi, functionName, args, ...noFees } as never) as Hex, registryAbi, registry)
    await reg('admin', 'addHospital', [addr('hospitalA'), X25519, hash('emergency key A')])
    await reg('admin', 'addHospital', [addr('hospitalB'), X25519, hash('emergency key B')])
    await reg('admin', 'registerAccount', [addr('staffA'), Role.Staff, addr('hospitalA'), X25519, hash('staffA')])
    await reg('admin', 'registerAccount', [addr('staffB'), Role.Staff, addr('hospitalB'), X25519, hash('staffB')])
    for (const [staff, who, role, hospital] of [
      ['staffA', 'doctorA', Role.Doctor, 'hospitalA'], ['staffB', 'doctorB', Role.Doctor, 'hospitalB'],
      ['staffA', 'patientA', Role.Patient, 'hospitalA'], ['staffA', 'patientA2', Role.Patient, 'hospitalA'],
    ] as const) await reg(staff, 'registerAccount', [addr(who), role, addr(hospital), X25519, hash(who)])
  })

  after(async () => {
    await t?.stop()
  })

  test('a member hospital logs entries of several readers in one transaction: one AccessLogged each, actor the reader', async () => {
    const ref = await grant()
    const entries = [
      await sign('patientA', { patient: addr('patientA'), purpose: purposes.own }, 'hospitalB'),
      await sign('doctorB', { patient: addr('patientA'), purpose: purposes.grant, ref }, 'hospitalB'),
      await sign('doctorA', { patient: addr('patientA'), purpose: purposes.author }, 'hospitalB'),
    ]
    for (const e of entries) assert.equal(await isLogged(e.entryId), false)
    const { events } = await t.eventsOf(await batch('hospitalB', entries), consentAbi, consent)
    assert.deepEqual(events, entries.map(loggedEvent))
    for (const e of entries) assert.equal(await isLogged(e.entryId), true)
  })

  test('only a member hospital\'s own account sends a batch, and never an empty one', async () => {
    const entry = await sign('patientA', { patient: addr('patientA'), purpose: purposes.own })
    for (const by of ['admin', 'staffA', 'doctorA', 'patientA', 'stranger']) {
      await expectRevert(batch(by, [entry]), 'ConsentNotMemberHospital', [addr(by)])
    }
    await expectRevert(batch('hospitalA', []), 'ConsentEmptyBatch')
    assert.equal(await isLogged(entry.entryId), false)
  })

  test('a forged or altered signature is refused, and the whole batch with it', async () => {
    const ref = await grant()
    const good = await sign('patientA', { patient: addr('patientA'), purpose: purposes.own })
    // doctorA signs an entry claiming to be doctorB's read under doctorB's grant
    const forged = { ...(await sign('doctorA', { patient: addr('patientA'), purpose: purposes.grant, ref })), reader: addr('doctorB') }
    await expectRevert(batch('hospitalA', [good, forged]), 'ConsentBadSignature', [forged.entryId, addr('doctorB')])
    // doctorB's own signature, with the record changed after signing
    const signed = await sign('doctorB', { patient: addr('patientA'), purpose: purposes.grant, ref })
    const altered = { ...signed, recordId: randomId() }
    await expectRevert(batch('hospitalA', [altered]), 'ConsentBadSignature', [altered.entryId, addr('doctorB')])
    const garbage = { ...signed, signature: `0x${'11'.repeat(65)}` as Hex }
    await expectRevert(batch('hospitalA', [garbage]), 'ConsentBadSignature', [signed.entryId, addr('doctorB')])
    assert.equal(await isLogged(good.entryId), false)
  })

  test('an entry is logged once, and only by the hospital its id names: replays and other hospitals\' entries are refused', async () => {
    const entry = await sign('patientA', { patient: addr('patientA'), purpose: purposes.own })
    const other = await sign('patientA', { patient: addr('patientA'), purpose: purposes.own })
    await expectRevert(batch('hospitalA', [entry, entry]), 'ConsentEntryLogged', [entry.entryId])
    await expectRevert(batch('hospitalB', [entry]), 'ConsentEntryNotSenders', [entry.entryId, addr('hospitalB')])
    await t.eventsOf(await batch('hospitalA', [entry]), consentAbi, consent)
    await expectRevert(batch('hospitalA', [other, entry]), 'ConsentEntryLogged', [entry.entryId])
    assert.equal(await isLogged(other.entryId), false)
    // The next id in the same word is not taken by its neighbour's bit.
    assert.equal(await isLogged(entry.entryId), true)
    await t.eventsOf(await batch('hospitalA', [other]), consentAbi, consent)
    assert.equal(await isLogged(other.entryId), true)
  })

  test('a signer without an access path is refused: no one writes into a patient\'s trail', async () => {
    const ref = await grant()
    const cases: [string, Partial<AccessEntry> & Pick<AccessEntry, 'patient' | 'purpose'>][] = [
      ['doctorA', { patient: addr('patientA'), purpose: purposes.grant, ref }], // not the grantee
      ['doctorB', { patient: addr('patientA2'), purpose: purposes.grant, ref }], // another patient
      ['stranger', { patient: addr('patientA'), purpose: purposes.own }],
      ['doctorB', { patient: addr('patientA'), purpose: purposes.author }], // not of the patient's hospital
      ['doctorB', { patient: addr('patientA'), purpose: purposes.emergency, ref: randomId() }],
      ['staffB', { patient: addr('patientA'), purpose: purposes.verify }],
    ]
    for (const [by, entry] of cases) {
      const e = await sign(by, entry)
      await expectRevert(batch('hospitalA', [e]), 'ConsentNoAccessPath', [addr(by), e.patient, e.purpose, e.ref])
    }
    const bad = await sign('patientA', { patient: addr('patientA'), purpose: 9 })
    await expectRevert(batch('hospitalA', [bad]), 'ConsentInvalidPurpose', [9])
    const zero = await sign('patientA', { patient: addr('patientA'), purpose: purposes.own, recordId: zeroHash })
    await expectRevert(batch('hospitalA', [zero]), 'ConsentZeroId')
  })

  test('a read served while its grant was live is logged after the grant is revoked or expired; a read after is not', async () => {
    const revoked = await grant()
    const before = await sign('doctorB', { patient: addr('patientA'), purpose: purposes.grant, ref: revoked })
    await t.advance(10)
    const revokeTx = await write('patientA', 'revoke', [revoked])
    assert.equal((await t.eventsOf(revokeTx, consentAbi, consent)).events[0]!.eventName, 'AccessRevoked')
    // Through the revocation's own second a read may have been decided in an earlier block; after it, none.
    const revokedAt = (await t.client.getBlock({ blockNumber: (await t.client.getTransactionReceipt({ hash: revokeTx })).blockNumber })).timestamp
    const sameSecond = await sign('doctorB', { patient: addr('patientA'), purpose: purposes.grant, ref: revoked, readAt: revokedAt })
    await t.advance(2)
    const after = await sign('doctorB', { patient: addr('patientA'), purpose: purposes.grant, ref: revoked })
    await expectRevert(batch('hospitalA', [after]), 'ConsentNoAccessPath', [addr('doctorB'), addr('patientA'), purposes.grant, revoked])
    // a read entry backdated to before the revocation, signed now, is not refused: the window bounds it (see README)
    const { events } = await t.eventsOf(await batch('hospitalA', [before, sameSecond]), consentAbi, consent)
    assert.deepEqual(events, [loggedEvent(before), loggedEvent(sameSecond)])

    const expiring = await grant(HOUR)
    const inTime = await sign('doctorB', { patient: addr('patientA'), purpose: purposes.grant, ref: expiring })
    await t.advance(Number(HOUR))
    const late = await sign('doctorB', { patient: addr('patientA'), purpose: purposes.grant, ref: expiring })
    await expectRevert(batch('hospitalA', [late]), 'ConsentNoAccessPath', [addr('doctorB'), addr('patientA'), purposes.grant, expiring])
    assert.deepEqual((await t.eventsOf(await batch('hospitalA', [inTime]), consentAbi, consent)).events, [loggedEvent(inTime)])
  })

  test('readAt is at most the block\'s time and at most LOG_WINDOW (7 days) before it', async () => {
    const window = await t.client.readContract({ address: consent, abi: consentAbi, functionName: 'LOG_WINDOW' })
    assert.equal(window, 7n * DAY)
    const now = await t.now()
    const future = await sign('patientA', { patient: addr('patientA'), purpose: purposes.own, readAt: now + HOUR })
    await expectRevert(batch('hospitalA', [future]), 'ConsentStaleEntry', [future.entryId, future.readAt])
    const old = await sign('patientA', { patient: addr('patientA'), purpose: purposes.own, readAt: now })
    await t.advance(Number(7n * DAY) + 60)
    await expectRevert(batch('hospitalA', [old]), 'ConsentStaleEntry', [old.entryId, old.readAt])
  })

  test('100 entries in one batch: gas per entry, printed', async () => {
    const ref = await grant()
    const entries = await Promise.all(Array.from({ length: 100 }, () => sign('doctorB', { patient: addr('patientA'), purpose: purposes.grant, ref })))
    const { gasUsed, events } = await t.eventsOf(await batch('hospitalA', entries), consentAbi, consent)
    assert.equal(events.length, 100)
    const single = await t.eventsOf(await write('doctorB', 'logAccess', [randomId(), addr('patientA'), purposes.grant, ref]), consentAbi, consent)
    console.log(`logAccessBatch: ${gasUsed} gas for 100 entries, ${gasUsed / 100n} per entry; logAccess alone: ${single.gasUsed}`)
  })
})
