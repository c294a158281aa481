// Registry proposals expire (issue 13, item 6): a proposal older than proposalTtl (7 days unless
// the admin set it; the chain's clock) can no longer be voted on, so it can no longer be carried
// out, and a fresh proposal about the same hospital can be opened. Real anvil; the clock is moved
// with evm_increaseTime, never a sleep.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { keccak256, type Address, type Hash, type Hex } from 'viem'
import { registryAbi } from '../../src/ledger/abis.ts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from '../helpers/test-chain.ts'

const Proposal = { None: 0, Admit: 1, Remove: 2 } as const
const X25519 = 1
const DAY = 86_400n
const key = (label: string): Hex => keccak256(new TextEncoder().encode(`public key of ${label}`))

describe('Registry: admission and removal proposals expire', () => {
  let t: TestChain
  let registry: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address

  const write = (by: string, functionName: string, args: readonly unknown[]): Promise<Hash> =>
    w[by]!.writeContract({ address: registry, abi: registryAbi, functionName, args, ...noFees } as never)
  const read = <T>(functionName: string, args: readonly unknown[] = []): Promise<T> =>
    t.client.readContract({ address: registry, abi: registryAbi, functionName, args } as never) as Promise<T>
  const eventsOf = (hash: Hash) => t.eventsOf(hash, registryAbi, registry)
  const propose = (by: string, hospital: string) => write(by, 'proposeHospital', [addr(hospital), X25519, key(hospital)])
  const vote = (by: string, hospital: string, approve = true) => write(by, 'voteOnHospital', [addr(hospital), approve])
  const proposalOf = (hospital: string) => read<{ kind: number; id: bigint; approvals: number; rejections: number; openedAt: bigint }>('proposalOf', [addr(hospital)])
  const isMember = async (hospital: string) => (await read<{ member: boolean }>('hospitalOf', [addr(hospital)])).member

  before(async () => {
    t = await startTestChain()
    for (const name of ['admin', 'hospitalA', 'hospitalB', 'hospitalC', 'hospitalD', 'hospitalE', 'stranger']) w[name] = t.newWallet()
    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    await eventsOf(await write('admin', 'addHospital', [addr('hospitalA'), X25519, key('hospitalA')]))
    await eventsOf(await write('admin', 'addHospital', [addr('hospitalB'), X25519, key('hospitalB')]))
  })
  after(async () => { await t?.stop() })

  test('the lifetime is 7 days after deployment; only the admin sets it, from 1 hour to 365 days', async () => {
    assert.equal(await read('proposalTtl'), 7n * DAY)
    await expectRevert(write('stranger', 'setProposalTtl', [2n * DAY]), 'RegistryUnauthorized', [addr('stranger')])
    await expectRevert(write('hospitalA', 'setProposalTtl', [2n * DAY]), 'RegistryUnauthorized', [addr('hospitalA')])
    for (const bad of [0n, 3_599n, 365n * DAY + 1n]) await expectRevert(write('admin', 'setProposalTtl', [bad]), 'RegistryInvalidTtl', [bad])
    assert.equal(await read('proposalTtl'), 7n * DAY, 'refusals change nothing')
    const { events } = await eventsOf(await write('admin', 'setProposalTtl', [2n * DAY]))
    assert.deepEqual(events, [{ eventName: 'ProposalTtlSet', args: { ttl: 2n * DAY } }])
    assert.equal(await read('proposalTtl'), 2n * DAY)
  })

  test('an expired admission can no longer be voted on nor carried out; a fresh proposal can be opened, and the old votes do not count', async () => {
    const hash = await propose('admin', 'hospitalC')
    await eventsOf(hash)
    const openedAt = (await t.client.getBlock({ blockNumber: (await t.client.getTransactionReceipt({ hash })).blockNumber })).timestamp
    assert.equal((await proposalOf('hospitalC')).openedAt, openedAt, 'openedAt is the block time')
    assert.deepEqual((await eventsOf(await vote('hospitalA', 'hospitalC'))).events.map((e) => e.eventName), ['HospitalVoted'])
    await expectRevert(propose('hospitalB', 'hospitalC'), 'RegistryProposalOpen', [addr('hospitalC')])

    await t.advance(Number(2n * DAY - 3_600n))
    await expectRevert(propose('hospitalB', 'hospitalC'), 'RegistryProposalOpen', [addr('hospitalC')])
    await t.advance(3_601)
    await expectRevert(vote('hospitalB', 'hospitalC'), 'RegistryProposalExpired', [1n])
    await expectRevert(vote('hospitalA', 'hospitalC'), 'RegistryProposalExpired', [1n])
    assert.equal(await isMember('hospitalC'), false, 'B\'s vote would have admitted it: it was not carried out')
    const kept = await proposalOf('hospitalC')
    assert.deepEqual([kept.kind, kept.id, kept.approvals, kept.rejections], [Proposal.Admit, 1n, 1, 0], 'kept as it was until replaced')

    const fresh = await eventsOf(await propose('hospitalB', 'hospitalC'))
    assert.deepEqual(fresh.events, [{
      eventName: 'HospitalProposed',
      args: { hospital: addr('hospitalC'), proposalId: 2n, kind: Proposal.Admit, by: addr('hospitalB'), keyScheme: X25519, emergencyKey: key('hospitalC') },
    }])
    const replaced = await proposalOf('hospitalC')
    assert.deepEqual([replaced.id, replaced.approvals, replaced.rejections], [2n, 0, 0], 'the old tally is gone')
    assert.equal(await read('hasVoted', [addr('hospitalC'), addr('hospitalA')]), false, 'A\'s vote was on proposal 1')
    assert.deepEqual((await eventsOf(await vote('hospitalA', 'hospitalC'))).events, [
      { eventName: 'HospitalVoted', args: { hospital: addr('hospitalC'), proposalId: 2n, voter: addr('hospitalA'), approve: true, approvals: 1, rejections: 0 } },
    ])
    const decided = await eventsOf(await vote('hospitalB', 'hospitalC'))
    assert.deepEqual(decided.events.map((e) => e.eventName), ['HospitalVoted', 'ProposalDecided', 'HospitalAdded'])
    assert.deepEqual(decided.events[1]!.args, { hospital: addr('hospitalC'), proposalId: 2n, kind: Proposal.Admit, accepted: true, memberCount: 2n })
    assert.equal(await isMember('hospitalC'), true)
  })

  test('a removal expires the same way', async () => {
    await eventsOf(await write('hospitalA', 'proposeRemoval', [addr('hospitalB')]))
    const id = (await proposalOf('hospitalB')).id
    await eventsOf(await vote('hospitalA', 'hospitalB'))
    await t.advance(Number(2n * DAY + 1n))
    await expectRevert(vote('hospitalC', 'hospitalB'), 'RegistryProposalExpired', [id])
    assert.equal(await isMember('hospitalB'), true)
    const again = await eventsOf(await write('hospitalC', 'proposeRemoval', [addr('hospitalB')]))
    assert.equal(again.events[0]!.eventName, 'HospitalProposed')
    assert.equal((await proposalOf('hospitalB')).id, id + 1n)
  })

  test('the admin\'s new lifetime applies to open proposals too', async () => {
    await eventsOf(await propose('hospitalA', 'hospitalD'))
    const id = (await proposalOf('hospitalD')).id
    await t.advance(7_200)
    await eventsOf(await vote('hospitalA', 'hospitalD'))
    await eventsOf(await write('admin', 'setProposalTtl', [3_600n]))
    await expectRevert(vote('hospitalC', 'hospitalD'), 'RegistryProposalExpired', [id])
    await eventsOf(await write('admin', 'setProposalTtl', [7n * DAY]))
    assert.deepEqual((await eventsOf(await vote('hospitalC', 'hospitalD'))).events.map((e) => e.eventName), ['HospitalVoted', 'ProposalDecided', 'HospitalAdded'], 'open again under the longer lifetime: 2 of 3 admit')
  })
})
