import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bytesToHex, hexToBytes, zeroAddress, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { openDatabase, type Db } from '../db/open-database.ts'
import { connectLedger, type Ledger } from '../ledger/connect-ledger.ts'
import { deployContracts } from '../ledger/deploy-contracts.ts'
import { addHospital } from '../ledger/add-hospital.ts'
import { registerAccount } from '../ledger/register-account.ts'
import { consentAbi } from '../ledger/abis.ts'
import { openIpfs, type Ipfs } from '../storage/open-ipfs.ts'
import { getRawBlockVerified, putRawBlock } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { AppError } from '../errors.ts'
import { noFees, startTestChain, type TestChain } from '../../test/helpers/test-chain.ts'
import { FOLLOW_FETCH_MS, FOLLOW_LOCAL_MS, startFollower, type EventHandler, type Follower } from './follower.ts'

// The follower's waits for IPFS (real anvil, SQLite and Helia on libp2p; the handler fetches the
// block a `Shared` event names, as the consortium's handlers do). A node with no peer connected
// (one joining, not admitted yet) does not wait for blocks no one can send it; a peered one
// waits FOLLOW_FETCH_MS per pass at most for events it sets aside. What follows on chain (an
// account registered) is applied in the same pass either way; a hospital added, when catching
// up, ahead of the rest. Its stop ends the waits in flight at once, and what they were applying
// is applied after a restart. Background retries wait RETRY_MS here (20 s in a node), so that
// the retries of the events no one can send come round often.
const RETRY_MS = 5_000

describe('the follower\'s waits for IPFS (real anvil, SQLite, Helia)', () => {
  const home = mkdtempSync(join(tmpdir(), 'ml-follower-'))
  let db: Db
  let t: TestChain
  let ledger: Ledger
  let ipfs: Ipfs
  let peer: Ipfs | undefined
  let follower: Follower | undefined
  const admin = privateKeyToAccount(generatePrivateKey())
  /** Every call of the handler: the event, its transaction and the wait it was given. */
  const seen: { eventName: string; txHash: string; fetchMs: number }[] = []
  /** The handler's waits for a block: under way, and how each one ended ('ok', or the error's name: TimeoutError, AbortError). */
  const waiting = new Map<string, { fetchMs: number }>()
  const ended: { txHash: string; fetchMs: number; how: string }[] = []
  let onWait: (() => void) | undefined

  const handler: EventHandler = async (event, ctx) => {
    const txHash = event.transactionHash.toLowerCase()
    seen.push({ eventName: event.eventName, txHash, fetchMs: ctx.fetchMs })
    if (event.eventName !== 'Shared') return
    const envelopes = (event.args as { envelopes: Hex }).envelopes
    waiting.set(txHash, { fetchMs: ctx.fetchMs })
    onWait?.()
    // As the consortium's handlers do: a block not served in time is RECORD_UNAVAILABLE; the wait also ends when the follower stops.
    const signal = AbortSignal.any([AbortSignal.timeout(ctx.fetchMs), ctx.signal!])
    try {
      await getRawBlockVerified(ipfs.blockstore, cidFromDigest(hexToBytes(envelopes), 'raw'), { signal })
      ended.push({ txHash, fetchMs: ctx.fetchMs, how: 'ok' })
    } catch (cause) {
      ended.push({ txHash, fetchMs: ctx.fetchMs, how: (cause as Error).name })
      throw new AppError('RECORD_UNAVAILABLE', { cause, details: `block ${envelopes} not served within ${ctx.fetchMs} ms` })
    } finally {
      waiting.delete(txHash)
    }
  }
  const follow = () => startFollower({ db, ledger, log: () => {} }, { handlers: [handler], intervalMs: 100, reachable: () => ipfs.network!.peers().length > 0, retryFetchMs: RETRY_MS })
  /** Resolves once the handler waits for a block under the condition (at once when one does already). */
  async function waitStarted(which: (txHash: string, w: { fetchMs: number }) => boolean): Promise<string[]> {
    const now = () => [...waiting].filter(([tx, w]) => which(tx, w)).map(([tx]) => tx)
    while (now().length === 0) await new Promise<void>((resolve) => { onWait = resolve })
    onWait = undefined
    return now()
  }

  let patient: ReturnType<TestChain['newWallet']>

  /** The block each share names, by its transaction. */
  const blockOf = new Map<string, Uint8Array>()
  /** A share by token from the patient, naming `block` (held nowhere unless put somewhere); its transaction. */
  async function share(block: Uint8Array): Promise<string> {
    const hash = await patient.writeContract({
      address: ledger.contracts.consent, abi: consentAbi, functionName: 'share',
      args: [generatePrivateKey(), zeroAddress, bytesToHex(hashSha256(randomBytes(32))), bytesToHex(hashSha256(randomBytes(32))), 86_400n, false, bytesToHex(hashSha256(block))],
      ...noFees,
    })
    assert.equal((await t.client.waitForTransactionReceipt({ hash })).status, 'success')
    blockOf.set(hash.toLowerCase(), block)
    return hash.toLowerCase()
  }
  async function hospitalAdded(): Promise<string> {
    const hospital = privateKeyToAccount(generatePrivateKey()).address
    return (await addHospital(ledger, { admin, hospital, keyScheme: 1, emergencyKey: bytesToHex(hashSha256(randomBytes(32))) })).transactionHash.toLowerCase()
  }
  let hospital: Hex
  async function accountRegistered(): Promise<string> {
    const account = privateKeyToAccount(generatePrivateKey()).address
    return (await registerAccount(ledger, { registrar: admin, account, role: 'patient', hospital, keyScheme: 1, encryptionKey: bytesToHex(hashSha256(randomBytes(32))) })).transactionHash.toLowerCase()
  }
  const waitsOf = (txs: string[]) => txs.map((tx) => seen.find((x) => x.txHash === tx)?.fetchMs)

  before(async () => {
    db = await openDatabase({ url: join(home, 'medledger.db') })
    t = await startTestChain()
    ledger = await connectLedger({ rpcUrl: t.anvil.rpcUrl, db })
    ledger.contracts = await deployContracts(ledger, { admin })
    hospital = privateKeyToAccount(generatePrivateKey()).address
    await addHospital(ledger, { admin, hospital, keyScheme: 1, emergencyKey: bytesToHex(hashSha256(randomBytes(32))) })
    patient = t.newWallet()
    await registerAccount(ledger, { registrar: admin, account: patient.account.address, role: 'patient', hospital, keyScheme: 1, encryptionKey: bytesToHex(hashSha256(randomBytes(32))) })
    ipfs = await openIpfs({ dir: join(home, 'ipfs'), network: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [] } })
  })
  after(async () => {
    await follower?.stop()
    await peer?.stop()
    await ipfs?.stop()
    await t?.stop()
    await db?.close()
    rmSync(home, { recursive: true, force: true })
  })

  it('with no peer connected, events naming blocks not held here are set aside at once, retried without counting, and due at once when a peer connects', async () => {
    const blocks = [randomBytes(64), randomBytes(64), randomBytes(64)]
    const shares = [await share(blocks[0]!), await share(blocks[1]!), await share(blocks[2]!)]
    const added = await hospitalAdded()
    follower = await follow()
    await follower.caughtUp()
    assert.deepEqual(waitsOf(shares), [FOLLOW_LOCAL_MS, FOLLOW_LOCAL_MS, FOLLOW_LOCAL_MS])
    // The admission, after them on chain, was applied ahead of them (membership events first when catching up).
    const at = (tx: string) => seen.findIndex((x) => x.txHash === tx)
    assert.ok(at(added) >= 0 && at(added) < at(shares[0]!), 'the hospital added applied first')
    assert.deepEqual((await follower.quarantined()).map((q) => q.txHash), shares)

    // Retried in the background while no peer is connected (only the local store can answer): not counted.
    await waitUntil(() => seen.filter((x) => x.txHash === shares[0]).length >= 2)
    await waitUntil(async () => (await follower!.quarantined()).every((q) => Date.parse(q.nextAttemptAt!) > Date.now() + 10_000))
    const waiting = await follower.quarantined()
    assert.deepEqual(waiting.map((q) => q.attempts), [1, 1, 1])
    for (const q of waiting) assert.match(q.reason, /^RECORD_UNAVAILABLE/)
    assert.ok(seen.some((x) => x.txHash === shares[0] && x.fetchMs === FOLLOW_FETCH_MS), 'a retry with the follower\'s wait')

    // A peer connects that holds the first block: every waiting event is retried then (with the
    // retries' longer wait), the first applied, the two no one has counted as attempts.
    const peerDir = join(home, 'peer')
    peer = await openIpfs({ dir: peerDir, network: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [ipfs.network!.addrs()[0]!] } })
    await putRawBlock(peer, blocks[0]!)
    ipfs.network!.setMembers([peer.network!.addrs()[0]!])
    await waitUntil(async () => (await follower!.quarantined()).length === 2, 60_000)
    assert.deepEqual((await follower.quarantined()).map((q) => q.txHash), shares.slice(1))
    assert.ok(seen.some((x) => x.txHash === shares[0] && x.fetchMs === RETRY_MS))
  })

  it('with a peer connected, one pass waits FOLLOW_FETCH_MS for the first event it sets aside, then only the local wait', async () => {
    assert.ok(ipfs.network!.peers().length > 0, 'runs after the first test, peered')
    await follower!.stop()
    // Sent while the follower is stopped, so that one pass meets them all.
    const shares = [await share(randomBytes(64)), await share(randomBytes(64)), await share(randomBytes(64))]
    const registered = await accountRegistered()
    follower = await follow()
    await follower.caughtUp()
    assert.deepEqual(waitsOf(shares), [FOLLOW_FETCH_MS, FOLLOW_LOCAL_MS, FOLLOW_LOCAL_MS])
    assert.ok(seen.some((x) => x.txHash === registered), 'the event after them applied in the same pass')
    const aside = (await follower.quarantined()).map((q) => q.txHash)
    for (const tx of shares) assert.ok(aside.includes(tx), `${tx} set aside`)
  })

  it('stop ends the waits in flight at once, changing nothing; what they were applying is applied after a restart', async () => {
    // Background retries of the events no one can send, peered: each waits RETRY_MS.
    await waitStarted((_, w) => w.fetchMs === RETRY_MS)
    const before = await follower!.quarantined()
    // Those under way as stop is called (a row changes only when its retry ends, so `before` holds theirs).
    const retried = [...waiting].filter(([, w]) => w.fetchMs === RETRY_MS).map(([tx]) => tx)
    assert.ok(retried.length > 0)
    await follower!.stop()
    for (const tx of retried) assert.deepEqual(ended.filter((e) => e.txHash === tx).at(-1), { txHash: tx, fetchMs: RETRY_MS, how: 'AbortError' })
    // Their rows as they were: not counted an attempt, reason and next attempt unchanged.
    const after = await follower!.quarantined()
    for (const tx of retried) assert.deepEqual(after.find((q) => q.txHash === tx), before.find((q) => q.txHash === tx))

    // On the follower's path: a share sent while it is stopped is the first event of its next pass.
    const onPath = await share(randomBytes(64))
    const block = Number((await t.client.getTransactionReceipt({ hash: onPath as Hex })).blockNumber)
    follower = await follow()
    assert.deepEqual(await waitStarted((tx) => tx === onPath), [onPath])
    assert.equal(waiting.get(onPath)?.fetchMs, FOLLOW_FETCH_MS)
    await follower.stop()
    assert.deepEqual(ended.filter((e) => e.txHash === onPath), [{ txHash: onPath, fetchMs: FOLLOW_FETCH_MS, how: 'AbortError' }])
    assert.ok(!(await follower.quarantined()).some((q) => q.txHash === onPath), 'not quarantined')
    assert.ok(follower.status().lastBlock < block, 'its block not passed')

    // Nothing lost: with the blocks here, a restart applies the share on its path and the retried events from quarantine.
    for (const tx of [onPath, ...retried]) await putRawBlock(ipfs, blockOf.get(tx)!)
    follower = await follow()
    await follower.caughtUp()
    assert.deepEqual(ended.filter((e) => e.txHash === onPath).map((e) => e.how), ['AbortError', 'ok'])
    assert.ok(!(await follower.quarantined()).some((q) => q.txHash === onPath))
    await waitUntil(async () => !(await follower!.quarantined()).some((q) => retried.includes(q.txHash)), 60_000)
    for (const tx of retried) assert.equal(ended.filter((e) => e.txHash === tx).at(-1)?.how, 'ok')
  })
})

async function waitUntil(fn: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 100))
  }
}
