import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { concat, keccak256, toHex, type Hex, type TransactionReceipt } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { startAnvil, type StartAnvilResult } from './anvil.ts'
import { connectLedger, type Ledger } from './connect-ledger.ts'
import { deployContracts } from './deploy-contracts.ts'
import { GroupCommitter, type Committed } from './group-commit.ts'
import { sendTransaction } from './send-transaction.ts'
import { openDatabase, type Db } from '../db/open-database.ts'
import { isAppError } from '../errors.ts'

const item = (label: string): Hex => keccak256(toHex(label))
const poison = item('poison')

describe('GroupCommitter on a real chain', () => {
  let home: string
  let anvil: StartAnvilResult
  let db: Db
  let ledger: Ledger
  const admin = privateKeyToAccount(generatePrivateKey())
  const sender = privateKeyToAccount(generatePrivateKey())
  const sink = privateKeyToAccount(generatePrivateKey()).address
  /** Batches as they left, in order. */
  let sent: Hex[][] = []

  // One transaction per batch carrying the items as its data; a batch holding `poison` goes to
  // the Registry contract, which has no fallback: the chain refuses it.
  const send = async (items: readonly Hex[]): Promise<TransactionReceipt> => {
    sent.push([...items])
    const to = items.includes(poison) ? ledger.contracts.registry : sink
    return sendTransaction(ledger, { account: sender, to, data: concat([...items]), purpose: 'test-batch' })
  }
  const inputOf = async (c: Committed<TransactionReceipt>) => (await ledger.client.getTransaction({ hash: c.result.transactionHash })).input

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'ml-group-'))
    anvil = await startAnvil({ home, port: 0 })
    db = await openDatabase({ url: `sqlite:${join(home, 'node.db')}` })
    ledger = await connectLedger({ rpcUrl: anvil.rpcUrl, db })
    ledger.contracts = await deployContracts(ledger, { admin })
  })

  after(async () => {
    await db?.close()
    await anvil?.stop()
    rmSync(home, { recursive: true, force: true })
  })

  test('an item submitted when nothing is in flight goes out at once, alone', async () => {
    sent = []
    const committer = new GroupCommitter({ send })
    const a = await committer.submit(item('a'))
    assert.equal(a.result.status, 'success')
    assert.deepEqual({ index: a.index, size: a.size }, { index: 0, size: 1 })
    assert.equal(await inputOf(a), item('a'))
    assert.deepEqual(sent, [[item('a')]])
  })

  test('items submitted while one is in flight go together when it is mined, at most maxBatch per transaction', async () => {
    sent = []
    const committer = new GroupCommitter({ send, maxBatch: 4 })
    const labels = ['first', ...Array.from({ length: 9 }, (_, i) => `later ${i}`)]
    const all = await Promise.all(labels.map((l) => committer.submit(item(l))))
    assert.deepEqual(sent.map((b) => b.length), [1, 4, 4, 1])
    assert.deepEqual(sent.flat(), labels.map(item))
    // Each item knows its transaction and its place in it, and the transaction carries exactly its batch.
    assert.deepEqual(all.map((c) => `${c.index}/${c.size}`), ['0/1', '0/4', '1/4', '2/4', '3/4', '0/4', '1/4', '2/4', '3/4', '0/1'])
    const hashes = [...new Set(all.map((c) => c.result.transactionHash))]
    assert.equal(hashes.length, 4)
    for (const [i, c] of [all[0]!, all[1]!, all[5]!, all[9]!].entries()) {
      assert.equal(await inputOf(c), concat(sent[i]!))
    }
    assert.equal(committer.queued + committer.inFlight, 0)
    await committer.idle()
  })

  test('a refused batch rejects exactly its own items; the batches before and after are mined', async () => {
    sent = []
    const committer = new GroupCommitter({ send })
    const journalRows = async () => (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM journal WHERE purpose = 'test-batch'`))!.n
    const rowsBefore = await journalRows()
    const a = committer.submit(item('a'))
    const failing = [item('b'), poison, item('c')].map((i) => committer.submit(i))
    const settled = Promise.allSettled(failing)
    await a
    // `a` is mined, so b, poison and c are in flight now: these two wait for the next transaction.
    assert.equal(committer.inFlight, 3)
    const d = committer.submit(item('d'))
    const e = committer.submit(item('e'))
    for (const outcome of await settled) {
      assert.equal(outcome.status, 'rejected')
      assert.ok(isAppError(outcome.reason, 'LEDGER_REVERTED'), String(outcome.reason))
    }
    const [dc, ec] = await Promise.all([d, e])
    assert.equal(dc.result.transactionHash, ec.result.transactionHash)
    assert.equal(await inputOf(dc), concat([item('d'), item('e')]))
    assert.deepEqual(sent, [[item('a')], [item('b'), poison, item('c')], [item('d'), item('e')]])
    // The refused batch was refused at estimation: nothing of it stays in the journal.
    assert.equal(await journalRows(), rowsBefore + 2)
    await committer.idle()
  })

  test('maxBatch must be a positive integer', () => {
    assert.throws(() => new GroupCommitter({ send, maxBatch: 0 }), RangeError)
    assert.throws(() => new GroupCommitter({ send, maxBatch: 1.5 }), RangeError)
  })
})
