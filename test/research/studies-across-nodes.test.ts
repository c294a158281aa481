// Studies across nodes (issue 12): a study proposed on another member's node reaches this one
// through the chain's Research events, its text fetched from IPFS by the protocol hash on chain
// and checked against it; this node's admin may decide it and its patients see it and consent.
// One node in this process (real anvil, Helia, database); the other member hospital, its staff
// and its researcher are keys this test holds, and what their node would send goes to the chain
// from a wallet of their own (not through this node's journal, so the follower takes it as
// another node's). The protocol block is put in this node's block store here, where a real
// member's block would come from its node over the peering (the same fetching block store).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { bytesToHex, createWalletClient, defineChain, http, type Address, type Hex, type LocalAccount } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { researchAbi } from '../../src/ledger/abis.ts'
import { hashSha256 } from '../../src/crypto/hashes.ts'
import { generateEncryptionKeyPair, keySchemeId } from '../../src/crypto/key-wrap.ts'
import { openKeystore, type Keystore } from '../../src/crypto/keystore.ts'
import { decodeAccountSecrets } from '../../src/accounts/account-secrets.ts'
import { unlockHospital } from '../../src/accounts/hospital-keys.ts'
import { putRawBlock } from '../../src/storage/raw-block.ts'
import { sendHospitalProposal } from '../../src/ledger/registry/send-hospital-proposal.ts'
import { sendHospitalVote } from '../../src/ledger/registry/send-hospital-vote.ts'
import { registerAccount } from '../../src/ledger/register-account.ts'
import { protocolBytes, publishStudyProtocols } from '../../src/consent/studies.ts'
import { cidFromDigest } from '../../src/storage/read-verified.ts'
import { seed, testEnv } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import type { Services } from '../../src/services.ts'

type Study = { studyId: string; title: string; purpose?: string; status: string; researcher: { name: string }; consent?: string | null }

describe('a study proposed on another member\'s node', () => {
  let n: InProcessNode
  let s: Services
  let api: InjectApi
  let world: Awaited<ReturnType<typeof seed>>
  let researcher: LocalAccount
  let wallet: (account: LocalAccount) => ReturnType<typeof createWalletClient>

  /** Polls `f` until it gives a value (the follower polls the chain every 300 ms). */
  const until = async <T>(f: () => Promise<T | undefined>, what: string): Promise<T> => {
    for (let i = 0; i < 150; i++) {
      const v = await f()
      if (v !== undefined) return v
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`timed out waiting for ${what}`)
  }
  const studies = async (token: string) => (await api.json('GET', '/studies', undefined, token)).body.studies as Study[]
  const listed = (token: string, id: string, status?: string) => until(async () => (await studies(token)).find((x) => x.studyId === id && (!status || x.status === status)), `study ${id} ${status ?? ''}`)
  const send = async (from: LocalAccount, functionName: 'proposeStudy' | 'decideStudy', args: readonly unknown[]) => {
    const hash = await wallet(from).writeContract({ address: s.ledger.contracts.research!, abi: researchAbi, functionName, args, maxFeePerGas: 0n, maxPriorityFeePerGas: 0n, chain: undefined, account: from } as never)
    assert.equal((await s.ledger.client.waitForTransactionReceipt({ hash })).status, 'success')
  }
  /** The other node's researcher proposes a study; its text is in IPFS unless `put` is false. */
  const propose = async (bytes: Uint8Array, { put = true } = {}) => {
    if (put) await putRawBlock(s.ipfs, bytes)
    const studyId = bytesToHex(randomBytes(32))
    await send(researcher, 'proposeStudy', [studyId, bytesToHex(hashSha256(bytes))])
    return studyId
  }

  before(async () => {
    n = await startInProcessNode()
    s = n.node.services
    api = new InjectApi(n.app, n.url)
    world = await seed(api, { hospitalName: 'H1', tag: 'x1' })
    const chainRpc = (await api.json('GET', '/status', undefined, world.admin)).body.chainRpc as string
    const chain = defineChain({ id: s.ledger.chainId, name: 'test', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [chainRpc] } } })
    wallet = (account) => createWalletClient({ account, chain, transport: http() })
    // H2, another member hospital, admitted by H1's vote; its staff registers its researcher.
    const h1 = (await unlockHospital(s, world.hospital.id)).keys.ledger
    const h2 = privateKeyToAccount(generatePrivateKey())
    const keys = await generateEncryptionKeyPair('x25519-hpke')
    await putRawBlock(s.ipfs, keys.publicKey)
    const digest = bytesToHex(hashSha256(keys.publicKey))
    await sendHospitalProposal(s.ledger, { by: h1, hospital: h2.address, keyScheme: keySchemeId('x25519-hpke'), emergencyKey: digest })
    await sendHospitalVote(s.ledger, { voter: h1, candidate: h2.address, approve: true })
    const staff = privateKeyToAccount(generatePrivateKey())
    await registerAccount(s.ledger, { registrar: h2, account: staff.address, role: 'staff', hospital: h2.address, keyScheme: keySchemeId('x25519-hpke'), encryptionKey: digest })
    researcher = privateKeyToAccount(generatePrivateKey())
    await registerAccount(s.ledger, { registrar: staff, account: researcher.address, role: 'researcher', hospital: h2.address, keyScheme: keySchemeId('x25519-hpke'), encryptionKey: digest })
  })
  after(async () => { await n?.stop() })

  it('is mirrored with its text from IPFS; the admin here approves it; this node\'s patient sees it, consents on chain and withdraws', async () => {
    const title = 'Asthma control in adults'
    const purpose = 'Retrospective cohort; de-identified FHIR only.\nSecond line of the protocol.'
    const id = await propose(protocolBytes(title, purpose))
    const mirrored = await listed(world.admin, id)
    assert.deepEqual([mirrored.title, mirrored.purpose, mirrored.status], [title, purpose, 'proposed'])
    assert.match(mirrored.researcher.name, /^Researcher 0x/, 'the researcher is mirrored from the Registry')
    assert.equal((await studies(world.patient.token)).find((x) => x.studyId === id), undefined, 'not approved: not shown to patients')
    const approved = await api.json('POST', `/studies/${id}/approve`, undefined, world.admin)
    assert.equal(approved.status, 200, JSON.stringify(approved.body))
    const seen = await listed(world.patient.token, id, 'approved')
    assert.equal(seen.consent, null)
    assert.equal(seen.purpose, undefined, 'the protocol text is the researcher\'s and the admin\'s')
    const consent = await api.json('POST', `/studies/${id}/consent`, undefined, world.patient.token)
    assert.equal(consent.status, 200, JSON.stringify(consent.body))
    const onChain = () => s.ledger.client.readContract({ address: s.ledger.contracts.research!, abi: researchAbi, functionName: 'hasConsent', args: [id as Hex, world.patient.address as Address] })
    assert.equal(await onChain(), true)
    assert.equal((await listed(world.patient.token, id)).consent, 'given')
    assert.equal((await api.json('POST', `/studies/${id}/withdraw`, undefined, world.patient.token)).status, 200)
    assert.equal(await onChain(), false)
  })

  it('takes a decision sent from another node, and tells a researcher of this node by mail', async () => {
    const remote = await propose(protocolBytes('Remote decision', 'Decided by the admin from another node.'))
    await listed(world.admin, remote)
    // A researcher of this node proposes one here; the admin decides both from elsewhere.
    const signup = await api.json('POST', '/signup', { role: 'researcher', hospital: world.hospital.id, email: 'rex@example.org', name: 'Rex Local', password: 'researcher-password-123' }, null)
    assert.equal(signup.status, 201, JSON.stringify(signup.body))
    assert.equal((await api.json('POST', `/researchers/${signup.body.account.id}/confirm`, undefined, world.admin)).status, 200)
    const rex = await api.login('rex@example.org', 'researcher-password-123')
    const local = await api.json('POST', '/studies', { title: 'Local cohort', purpose: 'Proposed on this node.' }, rex)
    assert.equal(local.status, 201, JSON.stringify(local.body))
    const row = await s.db.get<{ keystore: string }>('SELECT keystore FROM accounts WHERE email = ?', testEnv.MEDLEDGER_ADMIN_EMAIL)
    const admin = decodeAccountSecrets((await openKeystore(JSON.parse(row!.keystore) as Keystore, { password: testEnv.MEDLEDGER_ADMIN_PASSWORD })).payload).ledger
    await send(admin, 'decideStudy', [remote, false])
    await send(admin, 'decideStudy', [local.body.studyId, true])
    assert.equal((await listed(world.admin, remote, 'rejected')).title, 'Remote decision')
    await listed(rex, local.body.studyId, 'approved')
    const mail = (await api.json('GET', '/mail', undefined, rex)).body.mail as { kind: string; body: string }[]
    assert.deepEqual(mail.filter((m) => m.kind.startsWith('study-')).map((m) => m.kind), ['study-approved'])
    assert.match(mail[0]!.body, /\(consortium admin\) approved one of your studies/)
  })

  it('quarantines a proposal whose block is not a protocol text, and mirrors one whose text arrives late', async () => {
    const quarantined = async () => (await s.consortium!.follower.quarantined()) as { eventName: string; reason: string; contract: string }[]
    const bad = await propose(new TextEncoder().encode('no title line, and a control character \u0007'))
    const late = protocolBytes('Late protocol', 'Its block reaches IPFS after the event.')
    const lateId = await propose(late, { put: false })
    const held = await until(async () => { const q = await quarantined(); return q.filter((e) => e.eventName === 'StudyProposed').length >= 2 ? q : undefined }, 'two quarantined proposals')
    assert.deepEqual(held.filter((e) => e.eventName === 'StudyProposed').map((e) => [e.contract, e.reason.split(':')[0]]).sort(), [['Research', 'RECORD_INTEGRITY'], ['Research', 'RECORD_UNAVAILABLE']])
    assert.equal((await studies(world.admin)).find((x) => x.studyId === bad), undefined)
    await putRawBlock(s.ipfs, late)
    assert.equal((await listed(world.admin, lateId)).title, 'Late protocol')
  })

  it('at start, the node puts the text of each study proposed here in IPFS again (one stored before the text went there too)', async () => {
    const cid = cidFromDigest(hashSha256(protocolBytes('Local cohort', 'Proposed on this node.')), 'raw')
    const blocks = s.ipfs.helia
    for await (const _ of blocks.pins.rm(cid)) { /* unpinned */ }
    await blocks.blockstore.delete(cid)
    assert.equal(await blocks.blockstore.has(cid), false)
    // the studies proposed here: the local one only (the others are mirrors of another node's)
    assert.equal(await publishStudyProtocols(s), 1)
    assert.equal(await blocks.blockstore.has(cid), true)
  })
})
