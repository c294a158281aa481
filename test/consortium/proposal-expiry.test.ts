// Admission votes expire on the node side (issue 13, item 6): a node founded with
// MEDLEDGER_PROPOSAL_TTL_DAYS=2 sets that lifetime in the Registry; once the chain's clock is past
// it, GET /hospitals and `medledger hospital list` show the candidate as expired, and a vote is
// refused with 409 PROPOSAL_EXPIRED before anything is sent. One node in this process (real
// database, anvil, Helia); the clock moves with evm_increaseTime. Runs once: the database does
// not matter to what it checks.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createWalletClient, defineChain, http, keccak256, toHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { registryAbi } from '../../src/ledger/abis.ts'
import { cleanup, runCli, tempDir, testEnv } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'

describe('an admission vote older than MEDLEDGER_PROPOSAL_TTL_DAYS', () => {
  let node: InProcessNode
  let api: InjectApi
  let admin = ''

  before(async () => {
    node = await startInProcessNode({ env: { MEDLEDGER_PROPOSAL_TTL_DAYS: '2', MEDLEDGER_CHAIN_DEV_METHODS: 'true' } })
    api = new InjectApi(node.app, node.url)
    admin = await api.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
  })
  after(async () => { await node?.stop() })

  const ledger = () => node.node.services.ledger
  const advance = async (seconds: number) => {
    await ledger().client.request({ method: 'evm_increaseTime', params: [seconds] } as never)
    await ledger().client.request({ method: 'evm_mine', params: [] } as never)
  }
  const staffOf = async (hospitalId: string, tag: string) => {
    const r = await api.json('POST', '/users', { role: 'staff', hospital: hospitalId, email: `staff-${tag}@example.org`, name: `Staff ${tag}`, password: 'staff-password-123' }, admin)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return api.login(`staff-${tag}@example.org`, 'staff-password-123')
  }
  const statusOf = async (id: string, token: string) => ((await api.json('GET', '/hospitals', undefined, token)).body.hospitals as { id: string; status: string }[]).find((h) => h.id === id)?.status

  it('is set in the Registry at deployment, listed as expired after it, and a vote on it is refused, changing nothing', async () => {
    const ttl = await ledger().client.readContract({ address: ledger().contracts.registry, abi: registryAbi, functionName: 'proposalTtl' })
    assert.equal(ttl, 2n * 86_400n)
    const one = (await api.json('POST', '/hospitals', { name: 'One' }, admin)).body
    const two = (await api.json('POST', '/hospitals', { name: 'Two' }, admin)).body
    const staffOne = await staffOf(one.id, 'one')
    const staffTwo = await staffOf(two.id, 'two')
    const three = await api.json('POST', '/hospitals', { name: 'Three' }, admin)
    assert.equal(three.body.status, 'proposed', JSON.stringify(three.body))
    assert.equal((await api.json('POST', `/hospitals/${three.body.id}/vote`, { approve: true }, staffOne)).body.status, 'proposed')

    await advance(2 * 86_400 - 3_600)
    assert.equal(await statusOf(three.body.id, admin), 'proposed', 'an hour before its end it is still open')
    assert.deepEqual(((await api.json('GET', '/hospitals/proposals', undefined, staffTwo)).body.proposals as { expired: boolean }[]).map((p) => p.expired), [false])
    await advance(3_601)
    assert.equal(await statusOf(three.body.id, admin), 'expired')
    const proposals = (await api.json('GET', '/hospitals/proposals', undefined, staffTwo)).body.proposals as { id: string; expired: boolean; approvals: number }[]
    assert.deepEqual(proposals.map((p) => [p.id, p.expired, p.approvals]), [[three.body.id, true, 1]], 'GET /hospitals/proposals keeps it, marked expired')
    assert.equal(await statusOf(one.id, admin), 'active')

    const late = await api.json('POST', `/hospitals/${three.body.id}/vote`, { approve: true }, staffTwo)
    assert.equal(late.status, 409, JSON.stringify(late.body))
    assert.equal(late.body.code, 'PROPOSAL_EXPIRED')
    const isMember = await ledger().client.readContract({ address: ledger().contracts.registry, abi: registryAbi, functionName: 'hospitalOf', args: [three.body.address] })
    assert.equal(isMember.member, false, 'the second vote would have admitted it')
    assert.equal(await ledger().client.readContract({ address: ledger().contracts.registry, abi: registryAbi, functionName: 'hasVoted', args: [three.body.address, two.address] }), false, 'nothing was sent')

    const cliHome = tempDir('ml-expiry-cli-')
    try {
      const cli = (args: string[], input?: string) => runCli(args, { api: node.url, cliHome, input })
      assert.equal((await cli(['login', '--email', 'staff-two@example.org'], 'staff-password-123\n')).code, 0)
      const listed = await cli(['hospital', 'list'])
      assert.equal(listed.code, 0, listed.stderr)
      assert.match(listed.stdout, new RegExp(`${three.body.id} .*Three {2}\\(expired\\)`))
      const voted = await cli(['hospital', 'vote', three.body.id, '--approve'])
      assert.notEqual(voted.code, 0)
      assert.match(voted.stderr, /PROPOSAL_EXPIRED/)
    } finally {
      cleanup(cliHome)
    }
  })

  it('medledger hospital admit opens a fresh proposal for an applicant whose proposal expired', async () => {
    const ledger = node.node.services.ledger
    const chainRpc = (await api.json('GET', '/status', undefined, admin)).body.chainRpc as string
    const chain = defineChain({ id: ledger.chainId, name: 'test', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [chainRpc] } } })
    const applicant = createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() })
    const hash = await applicant.writeContract({ address: ledger.contracts.registry, abi: registryAbi, functionName: 'applyForMembership', args: [1, keccak256(toHex('emergency key of Four'))], maxFeePerGas: 0n, maxPriorityFeePerGas: 0n })
    assert.equal((await ledger.client.waitForTransactionReceipt({ hash })).status, 'success')
    const address = applicant.account.address
    const admit = () => api.json('POST', '/hospitals/admit', { address, name: 'Four' }, admin)
    const first = await admit()
    assert.equal(first.status, 200, JSON.stringify(first.body))
    assert.equal(first.body.admitted, false, 'two members: a vote')
    const proposalOf = () => ledger.client.readContract({ address: ledger.contracts.registry, abi: registryAbi, functionName: 'proposalOf', args: [address] })
    const firstId = (await proposalOf()).id
    await admit()
    assert.equal((await proposalOf()).id, firstId, 'an open proposal is not opened again')
    await advance(2 * 86_400 + 1)
    const again = await admit()
    assert.equal(again.status, 200, JSON.stringify(again.body))
    const fresh = await proposalOf()
    assert.equal(fresh.id, firstId + 1n, 'a fresh proposal, with a new number')
    assert.deepEqual([fresh.approvals, fresh.rejections], [1, 0], 'fresh tallies: only the vote this node\'s hospital cast again')
  })
})
