// Consent.releaseRecoveryShare (issue 13 items 1 and 4): after the Registry approved a patient's
// recovery, a member hospital publishes the block of its Shamir shares of the patient's split
// records, re-wrapped for the new account. Refused for a recovery not approved (or unknown), from
// anyone but a member hospital, and with an empty block. Real anvil; exact custom errors and events.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { keccak256, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { consentAbi, registryAbi } from '../../src/ledger/abis.ts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from '../helpers/test-chain.ts'

const Role = { Staff: 1, Patient: 3 } as const
const X25519 = 1
const hash = (label: string): Hex => keccak256(new TextEncoder().encode(label))

describe('Consent: releaseRecoveryShare', () => {
  let t: TestChain
  let registry: Address
  let consent: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address
  const reg = (by: string, functionName: string, args: readonly unknown[]) => w[by]!.writeContract({ address: registry, abi: registryAbi, functionName, args, ...noFees } as never) as Promise<Hex>
  const release = (by: string, args: readonly unknown[]) => w[by]!.writeContract({ address: consent, abi: consentAbi, functionName: 'releaseRecoveryShare', args, ...noFees } as never) as Promise<Hex>

  before(async () => {
    t = await startTestChain()
    for (const name of ['admin', 'hospitalA', 'hospitalB', 'staff1', 'staff2', 'patient', 'patientNew', 'stranger']) w[name] = t.newWallet()
    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    consent = (await t.deploy(w.admin!, 'Consent', [registry])).address
    const mined = async (p: Promise<Hex>) => t.eventsOf(await p, registryAbi, registry)
    await mined(reg('admin', 'addHospital', [addr('hospitalA'), X25519, hash('emergency key A')]))
    await mined(reg('admin', 'addHospital', [addr('hospitalB'), X25519, hash('emergency key B')]))
    for (const name of ['staff1', 'staff2']) await mined(reg('hospitalA', 'registerAccount', [addr(name), Role.Staff, addr('hospitalA'), X25519, hash(name)]))
    await mined(reg('staff1', 'registerAccount', [addr('patient'), Role.Patient, addr('hospitalA'), X25519, hash('patient')]))
  })
  after(async () => { await t?.stop() })

  test('only for an approved recovery, only from a member hospital, with a non-empty block; the event names the new account', async () => {
    const id = generatePrivateKey() as Hex
    await expectRevert(release('hospitalB', [id, hash('shares')]), 'ConsentRecoveryNotApproved', [id])
    await t.eventsOf(await reg('staff1', 'proposeRecovery', [id, addr('patient'), addr('patientNew'), X25519, hash('new key'), hash('verified')]), registryAbi, registry)
    await expectRevert(release('hospitalB', [id, hash('shares')]), 'ConsentRecoveryNotApproved', [id])
    await t.eventsOf(await reg('staff2', 'approveRecovery', [id, hash('re-wrapped')]), registryAbi, registry)

    for (const by of ['stranger', 'staff1', 'patientNew']) await expectRevert(release(by, [id, hash('shares')]), 'ConsentNotMemberHospital', [addr(by)])
    await expectRevert(release('hospitalB', [id, zeroHash]), 'ConsentEmptyEnvelopes')
    const mined = await t.eventsOf(await release('hospitalB', [id, hash('shares B')]), consentAbi, consent)
    assert.deepEqual(mined.events, [{
      eventName: 'RecoveryShareReleased',
      args: { recoveryId: id, patient: addr('patientNew'), hospital: addr('hospitalB'), shares: hash('shares B') },
    }])
  })
})
