import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createHash } from 'node:crypto'
import { bytesToHex, createPublicClient, createWalletClient, defineChain, getAddress, http, zeroAddress, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { consentAbi, recordLedgerAbi, registryAbi } from '../src/ledger/abis.ts'
import { purposes } from '../src/ledger/purposes.ts'
import { hashSha256 } from '../src/crypto/hashes.ts'
import { openIpfs } from '../src/storage/open-ipfs.ts'
import { putRawBlock } from '../src/storage/raw-block.ts'
import { Api, cleanup, runCli, seed, startNodeProcess, tempDir, testEnv, type NodeProcess } from './helpers/node-process.ts'
import { launchChromium, newUser, shot, signIn } from './web/browser.ts'
import { waitFor } from './helpers/mail-fixtures.ts'
import { expectRevert, noFees } from './helpers/test-chain.ts'

// An outsider holding nothing but a fresh key on the chain a node follows sends what the
// contracts let anyone send; events the node cannot apply (a share naming an envelopes block no
// one has) are quarantined, and the follower keeps up and applies what comes after.

const Role = { Staff: 1, Doctor: 2, Patient: 3 } as const
const X25519 = 1
const DAY = 86_400n
const sha256 = (text: string): Hex => `0x${createHash('sha256').update(text).digest('hex')}`
const randomId = (): Hex => generatePrivateKey()

interface Status {
  records: number
  quarantinedEvents: number
  blockNumber: number
  chainRpc: string
  chainId: number
  contracts: { registry: Address; recordLedger: Address; consent: Address }
  follow: { lastBlock: number; headBlock: number; lagBlocks: number; error: string | null }
}

describe('the ledger follower against hostile transactions', () => {
  let node: NodeProcess
  let api: Api
  let seeded: Awaited<ReturnType<typeof seed>>
  const cliHome = tempDir('ml-quarantine-cli-')
  let st: Status
  /** What the second test builds on: the admitted clinic, its active patient and record, and how to send. */
  let clinicSide: { clinic: Wallet; patient: Wallet; recordId: Hex; send: Send }
  const hostileTxs: Hex[] = []

  const status = async () => (await api.json<Status>('GET', '/status')).body

  before(async () => {
    // With IPFS networking on, a block no one has is looked for among peers: the wait must be
    // bounded. A background retry waits 2 s here instead of 20 s, so that the share whose block
    // arrives late is tried again soon, and a stop need not outwait one.
    node = await startNodeProcess({ args: ['--ipfs-listen', '/ip4/127.0.0.1/tcp/0'], env: { MEDLEDGER_FOLLOW_RETRY_MS: '2000' } })
    api = new Api(node.url)
    seeded = await seed(api, { hospitalName: 'Home Hospital', tag: 'q' })
    st = await status()
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home, cliHome)
  })

  test('an outsider\'s events that cannot be applied are quarantined; the follower stays at the head and applies a later legitimate event', async () => {
    const chain = defineChain({ id: st.chainId, name: 'node chain', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [st.chainRpc] } } })
    const client = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
    const wallet = () => createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() })
    const send: Send = async (w, to, abi, functionName, args) => {
      const hash = await w.writeContract({ address: to, abi, functionName, args, ...noFees } as never) as Hex
      const receipt = await client.waitForTransactionReceipt({ hash })
      assert.equal(receipt.status, 'success', `${functionName} reverted`)
      return hash
    }
    const { registry, consent, recordLedger } = st.contracts
    const home = seeded.hospital.address as Address
    const recordsBefore = st.records

    // A fresh key signs up as a patient of the node's hospital: the contracts let anyone do so,
    // but no longer with a key scheme no node can use.
    const outsider = wallet()
    await expectRevert(outsider.writeContract({ address: registry, abi: registryAbi, functionName: 'requestRegistration', args: [Role.Patient, home, 0, sha256('outsider key')], ...noFees }), 'RegistryInvalidKeyScheme', [0])
    await send(outsider, registry, registryAbi, 'requestRegistration', [Role.Patient, home, X25519, sha256('outsider key')])
    // It may not write into a real patient's trail.
    const ref = randomId()
    await expectRevert(
      outsider.writeContract({ address: consent, abi: consentAbi, functionName: 'logAccess', args: [randomId(), seeded.patient.address, purposes.emergency, ref], ...noFees }),
      'ConsentNoAccessPath', [outsider.account.address, getAddress(seeded.patient.address), purposes.emergency, ref],
    )
    // Shares naming envelopes blocks that exist nowhere: one to the node's doctor, one by token.
    hostileTxs.push(await send(outsider, consent, consentAbi, 'share', [randomId(), seeded.doctor.address, zeroHash, sha256('scope'), DAY, false, sha256('no such block 1')]))
    hostileTxs.push(await send(outsider, consent, consentAbi, 'share', [randomId(), zeroAddress, sha256('a token'), sha256('scope'), DAY, true, sha256('no such block 2')]))

    // Then a legitimate event from elsewhere: a hospital applies from its own key, the admin
    // admits it, and its doctor anchors a record of its patient.
    const clinic = wallet()
    const staff = wallet()
    const doctor = wallet()
    const patient = wallet()
    await send(clinic, registry, registryAbi, 'applyForMembership', [X25519, sha256('clinic emergency key')])
    const admitted = await api.json('POST', '/hospitals/admit', { address: clinic.account.address, name: 'Outside Clinic' }, seeded.admin)
    assert.equal(admitted.status, 200, JSON.stringify(admitted.body))
    await send(clinic, registry, registryAbi, 'registerAccount', [staff.account.address, Role.Staff, clinic.account.address, X25519, sha256('staff key')])
    await send(staff, registry, registryAbi, 'registerAccount', [doctor.account.address, Role.Doctor, clinic.account.address, X25519, sha256('doctor key')])
    await send(staff, registry, registryAbi, 'registerAccount', [patient.account.address, Role.Patient, clinic.account.address, X25519, sha256('patient key')])
    const recordId = randomId()
    const anchored = await send(doctor, recordLedger, recordLedgerAbi, 'anchor', [recordId, patient.account.address, clinic.account.address, sha256('ciphertext'), sha256('envelopes')])
    const head = Number((await client.getTransactionReceipt({ hash: anchored })).blockNumber)
    clinicSide = { clinic, patient, recordId, send }

    // The follower reaches the anchor's block, having set the two shares aside.
    const reached = await waitFor(async () => {
      const s = await status()
      return s.follow.lastBlock >= head && s.records === recordsBefore + 1 ? s : undefined
    }, { timeoutMs: 30_000, everyMs: 200, what: 'the follower applying the anchor after the hostile shares' })
    assert.equal(reached.quarantinedEvents, 2)
    assert.equal(reached.follow.error, null)
    assert.ok(reached.follow.lagBlocks <= 1, `lag ${reached.follow.lagBlocks}`)

    // The admin sees which events, where and why; nothing personal.
    const list = await api.json<{ events: { txHash: string; contract: string; eventName: string; reason: string; blockNumber: number; logIndex: number; attempts: number }[] }>('GET', '/status/quarantine', undefined, seeded.admin)
    assert.equal(list.status, 200)
    assert.deepEqual(list.body.events.map((e) => e.txHash).sort(), hostileTxs.map((h) => h.toLowerCase()).sort())
    for (const e of list.body.events) {
      assert.equal(e.contract, 'Consent')
      assert.equal(e.eventName, 'Shared')
      assert.match(e.reason, /^RECORD_UNAVAILABLE/)
      assert.ok(e.attempts >= 1)
    }
    const text = JSON.stringify(list.body)
    for (const secret of [seeded.patient.email, seeded.doctor.email, seeded.patient.name, seeded.doctor.name]) assert.ok(!text.includes(secret))
    assert.equal((await api.json('GET', '/status/quarantine', undefined, seeded.doctor.token)).status, 403)
    assert.equal((await api.json('GET', '/status/quarantine', undefined, null)).status, 401)

    // The same count in `medledger status --json`.
    const cli = await runCli(['status', '--json'], { api: node.url, cliHome })
    assert.equal(cli.code, 0, cli.stderr)
    assert.equal(JSON.parse(cli.stdout).quarantinedEvents, 2)

    // The record's trail shows the reads of parties with an access path; the contract lets any
    // active doctor of the patient's hospital log an author's read, the trail only the author's.
    const colleague = wallet()
    await send(staff, registry, registryAbi, 'registerAccount', [colleague.account.address, Role.Doctor, clinic.account.address, X25519, sha256('colleague key')])
    const authorRead = await send(doctor, consent, consentAbi, 'logAccess', [recordId, patient.account.address, purposes.author, zeroHash])
    const ownRead = await send(patient, consent, consentAbi, 'logAccess', [recordId, patient.account.address, purposes.own, zeroHash])
    const posing = await send(colleague, consent, consentAbi, 'logAccess', [recordId, patient.account.address, purposes.author, zeroHash])
    await expectRevert(outsider.writeContract({ address: consent, abi: consentAbi, functionName: 'logAccess', args: [recordId, patient.account.address, purposes.author, zeroHash], ...noFees }),
      'ConsentNoAccessPath', [outsider.account.address, patient.account.address, purposes.author, zeroHash])
    const trail = await api.json<{ entries: { event: string; txHash: string; actor: { address: string } }[] }>('GET', `/audit?record=${recordId}`, undefined, seeded.admin)
    assert.equal(trail.status, 200, JSON.stringify(trail.body))
    const logged = trail.body.entries.filter((e) => e.event === 'AccessLogged').map((e) => e.txHash).sort()
    assert.deepEqual(logged, [authorRead, ownRead].sort())
    assert.ok(!trail.body.entries.some((e) => e.txHash === posing))
    assert.ok(trail.body.entries.some((e) => e.event === 'RecordAnchored' && e.txHash === anchored))

    // Still at the head a while later (the quarantined events are retried off its path).
    await new Promise((r) => setTimeout(r, 1_500))
    const later = await status()
    assert.equal(later.follow.error, null)
    assert.ok(later.follow.lastBlock >= head + 4)
    assert.equal(later.quarantinedEvents, 2)

    // The admin's status page shows the count and the list.
    const browser = await launchChromium()
    try {
      const { page, problems } = await newUser(browser, node.url)
      await signIn(page, testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
      await page.getByRole('navigation').getByRole('link', { name: 'Node status', exact: true }).click()
      const stat = page.locator('.stat').filter({ hasText: 'Quarantined events' })
      await stat.waitFor()
      assert.equal(await stat.locator('.stat-value').textContent(), '2')
      const rows = page.locator('tr[data-quarantined="Shared"]')
      await rows.nth(1).waitFor()
      assert.equal(await rows.count(), 2)
      assert.match(await rows.first().textContent() ?? '', /Consent\.Shared.*RECORD_UNAVAILABLE/)
      await shot(page, 'admin-status-quarantine')
      assert.deepEqual(problems, [])
    } finally {
      await browser.close()
    }
  })

  test('an event quarantined because its envelopes block had not arrived is applied once a member\'s node serves it', async () => {
    assert.ok(clinicSide, 'runs after the first test')
    const { clinic, patient, recordId, send } = clinicSide
    const home = await status() as Status & { ipfsAddrs: string[] }
    // The clinic's node: real Helia on libp2p, allowing the home node; the clinic publishes where it is.
    const peerDir = tempDir('ml-quarantine-peer-')
    const peer = await openIpfs({ dir: peerDir, network: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [home.ipfsAddrs[0]!] } })
    try {
      await send(clinic, st.contracts.registry, registryAbi, 'setNodeInfo', ['Outside Clinic', peer.network!.addrs().slice(0, 8)])
      // The clinic's patient shares a record with the home node's doctor; the envelopes block is not served yet.
      const shareId = randomId()
      const block = new TextEncoder().encode(JSON.stringify({
        v: 1, type: 'medledger/grant-envelopes', grantId: shareId, kind: 'share', to: seeded.doctor.address.toLowerCase(), scheme: 'x25519-hpke',
        keys: [{ recordId, wrapped: 'AAAA' }],
      }))
      const envelopes = bytesToHex(hashSha256(block))
      const shared = await send(patient, st.contracts.consent, consentAbi, 'share', [shareId, seeded.doctor.address, zeroHash, sha256('one record'), DAY, false, envelopes])
      await waitFor(async () => (await status()).quarantinedEvents === 3, { timeoutMs: 30_000, everyMs: 200, what: 'the share waiting for its envelopes' })
      const waiting = (await api.json<{ events: { txHash: string; reason: string }[] }>('GET', '/status/quarantine', undefined, seeded.admin)).body.events.find((e) => e.txHash === shared)
      assert.match(waiting!.reason, /^RECORD_UNAVAILABLE/)
      assert.ok(!((await api.json<{ shares: { shareId: string }[] }>('GET', '/shares', undefined, seeded.doctor.token)).body.shares.some((x) => x.shareId === shareId)))

      // The patient revokes it meanwhile: that event finds nothing to mark yet.
      await send(patient, st.contracts.consent, consentAbi, 'revokeShare', [shareId])

      // The block arrives: a background retry applies the share, revoked as the chain says; the hostile two stay aside.
      await putRawBlock(peer, block)
      await waitFor(async () => (await status()).quarantinedEvents === 2, { timeoutMs: 90_000, everyMs: 250, what: 'the retried share being applied' })
      const shares = (await api.json<{ shares: { shareId: string; recordIds: string[]; revoked: boolean; live: boolean }[] }>('GET', '/shares', undefined, seeded.doctor.token)).body.shares
      const applied = shares.find((x) => x.shareId === shareId)
      assert.deepEqual(applied?.recordIds, [recordId])
      assert.equal(applied?.revoked, true)
      assert.equal(applied?.live, false)
      assert.equal((await status()).follow.error, null)
    } finally {
      await peer.stop()
      cleanup(peerDir)
    }
  })
})

type Wallet = ReturnType<typeof createWalletClient<ReturnType<typeof http>, ReturnType<typeof defineChain>, ReturnType<typeof privateKeyToAccount>>>
type Send = (w: Wallet, to: Address, abi: typeof registryAbi | typeof consentAbi | typeof recordLedgerAbi, functionName: string, args: readonly unknown[]) => Promise<Hex>
