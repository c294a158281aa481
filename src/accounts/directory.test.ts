import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Address } from 'viem'
import { openDatabase, type Db } from '../db/open-database.ts'
import { connectLedger, type Ledger } from '../ledger/connect-ledger.ts'
import { startTestChain, type TestChain } from '../../test/helpers/test-chain.ts'
import { ensureHospital, mirrorHospital } from './directory.ts'

describe('ensureHospital: a name another member publishes on chain (real SQLite, real anvil)', () => {
  const home = mkdtempSync(join(tmpdir(), 'ml-directory-'))
  let db: Db
  let t: TestChain
  let ledger: Ledger
  const address = '0x00000000000000000000000000000000000000a1' as Address

  before(async () => {
    db = await openDatabase({ url: join(home, 'medledger.db') })
    t = await startTestChain()
    ledger = await connectLedger({ rpcUrl: t.anvil.rpcUrl, db })
    await mirrorHospital({ db }, { address, keyScheme: 1, state: 'remote' })
  })
  after(async () => {
    await t?.stop()
    await db?.close()
    rmSync(home, { recursive: true, force: true })
  })

  it('takes a valid name (in NFC) and ignores one with control, format or only invisible characters', async () => {
    const label = (await ensureHospital({ db, ledger }, address)).name
    assert.match(label, /^Hospital 0x0000…00a1$/)
    for (const hostile of ['St Mary\u202e', 'St\u0000Mary', '\u200b\u200b', '   ', 'x'.repeat(201)]) {
      assert.equal((await ensureHospital({ db, ledger }, address, hostile)).name, label, JSON.stringify(hostile.slice(0, 12)))
      assert.equal((await db.get<{ name: string }>('SELECT name FROM hospitals WHERE address = ?', address))!.name, label)
    }
    assert.equal((await ensureHospital({ db, ledger }, address, ' Ho\u0302pital Saint-Louis ')).name, 'H\u00f4pital Saint-Louis')
    assert.equal((await db.get<{ name: string }>('SELECT name FROM hospitals WHERE address = ?', address))!.name, 'H\u00f4pital Saint-Louis')
  })
})
