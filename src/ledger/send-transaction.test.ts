import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { resolveAnvilBinary } from './anvil.ts'
import { connectLedger } from './connect-ledger.ts'
import { sendTransaction } from './send-transaction.ts'
import { openDatabase } from '../db/open-database.ts'
import { isAppError } from '../errors.ts'

/** The RPC URL anvil prints once it listens. */
function listeningUrl(anvil: ReturnType<typeof spawn>): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = ''
    anvil.stdout!.on('data', (d) => {
      out += d
      const m = /Listening on (\S+):(\d+)/.exec(out)
      if (m) resolve(`http://${m[1]}:${m[2]}`)
    })
    anvil.on('exit', () => reject(new Error(`anvil exited: ${out}`)))
  })
}

test('on a chain that charges gas, an unfunded account gets LEDGER_UNFUNDED and nothing stays in the journal', async () => {
  // anvil with its default fees (1 gwei base fee): not a consortium chain.
  const anvil = spawn(resolveAnvilBinary(), ['--port', '0', '--accounts', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const dir = mkdtempSync(join(tmpdir(), 'ml-gas-'))
  try {
    const rpcUrl = await listeningUrl(anvil)
    const db = await openDatabase({ url: join(dir, 'db.sqlite') })
    const ledger = await connectLedger({ rpcUrl, db })
    const account = privateKeyToAccount(generatePrivateKey())
    await assert.rejects(
      sendTransaction(ledger, { account, to: privateKeyToAccount(generatePrivateKey()).address, data: '0x', purpose: 'test' }),
      (err: unknown) => isAppError(err, 'LEDGER_UNFUNDED') && /operator funds/.test((err as Error).message),
    )
    assert.equal((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM journal'))!.n, 0)
    await db.close()
  } finally {
    anvil.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
})

test('settle: the journal row of a mined transaction is written by the caller with its own record, and the receipt waits for both', async () => {
  const anvil = spawn(resolveAnvilBinary(), ['--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const dir = mkdtempSync(join(tmpdir(), 'ml-settle-'))
  try {
    const rpcUrl = await listeningUrl(anvil)
    const db = await openDatabase({ url: join(dir, 'db.sqlite') })
    const ledger = await connectLedger({ rpcUrl, db })
    // anvil's first default account (funded).
    const account = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
    const seen: { state?: string; sql?: string; block?: bigint }[] = []
    let release!: () => void
    const held = new Promise<void>((r) => { release = r })
    let answered = false
    const sent = sendTransaction(ledger, {
      account, to: privateKeyToAccount(generatePrivateKey()).address, data: '0x', purpose: 'test',
      settle: async (journal, receipt) => {
        const row = await db.get<{ state: string }>('SELECT state FROM journal WHERE purpose = ?', 'test')
        seen.push({ state: row?.state, sql: journal.sql, block: receipt.blockNumber })
        await held
        await Promise.all([db.run(journal.sql, ...journal.params), db.run('INSERT INTO meta (key, value) VALUES (?, ?)', 'mine', receipt.transactionHash)])
      },
    }).then((r) => { answered = true; return r })
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 20))
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(answered, false, 'the receipt waits for settle')
    assert.equal(seen[0]!.state, 'sent', 'the journal row says sent until settle writes it')
    assert.match(seen[0]!.sql!, /UPDATE journal SET state/)
    release()
    const receipt = await sent
    assert.equal(seen.length, 1)
    assert.equal(seen[0]!.block, receipt.blockNumber)
    assert.deepEqual(await db.get('SELECT state, block_number FROM journal WHERE purpose = ?', 'test'), { state: 'mined', block_number: Number(receipt.blockNumber) })
    assert.equal((await db.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', 'mine'))!.value, receipt.transactionHash)
    await db.close()
  } finally {
    anvil.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
})
