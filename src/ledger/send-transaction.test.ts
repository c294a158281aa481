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

test('on a chain that charges gas, an unfunded account gets LEDGER_UNFUNDED and nothing stays in the journal', async () => {
  // anvil with its default fees (1 gwei base fee): not a consortium chain.
  const anvil = spawn(resolveAnvilBinary(), ['--port', '0', '--accounts', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const dir = mkdtempSync(join(tmpdir(), 'ml-gas-'))
  try {
    const rpcUrl = await new Promise<string>((resolve, reject) => {
      let out = ''
      anvil.stdout.on('data', (d) => {
        out += d
        const m = /Listening on (\S+):(\d+)/.exec(out)
        if (m) resolve(`http://${m[1]}:${m[2]}`)
      })
      anvil.on('exit', () => reject(new Error(`anvil exited: ${out}`)))
    })
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
