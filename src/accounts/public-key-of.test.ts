import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bytesToHex, type Address } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { openDatabase, type Db } from '../db/open-database.ts'
import { connectLedger, type Ledger } from '../ledger/connect-ledger.ts'
import { deployContracts } from '../ledger/deploy-contracts.ts'
import { addHospital } from '../ledger/add-hospital.ts'
import { registerAccount } from '../ledger/register-account.ts'
import { openIpfs, type Ipfs } from '../storage/open-ipfs.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { generateEncryptionKeyPair, type KeyScheme } from '../crypto/key-wrap.ts'
import { isAppError } from '../errors.ts'
import { startTestChain, type TestChain } from '../../test/helpers/test-chain.ts'
import { publicKeyOf } from './directory.ts'

// The chain holds only the SHA-256 of a public key: a node that fetches another member's key
// by that digest checks it is a key of the account's scheme before it wraps anything for it.
describe('publicKeyOf: a registered key must fit its scheme (real SQLite, anvil, Helia)', () => {
  const home = mkdtempSync(join(tmpdir(), 'ml-public-key-'))
  let db: Db
  let t: TestChain
  let ledger: Ledger
  let ipfs: Ipfs
  const admin = privateKeyToAccount(generatePrivateKey())
  const hospital = privateKeyToAccount(generatePrivateKey()).address

  /** Registers a fresh account of `scheme` whose registered key is `key`, published in IPFS. */
  async function registered(scheme: KeyScheme, key: Uint8Array) {
    const address = privateKeyToAccount(generatePrivateKey()).address
    await putRawBlock(ipfs, key)
    await registerAccount(ledger, { registrar: admin, account: address, role: 'doctor', hospital, keyScheme: scheme === 'x25519-hpke' ? 1 : 2, encryptionKey: bytesToHex(hashSha256(key)) })
    return { id: address, address: address as Address, public_key: Buffer.alloc(0), key_scheme: scheme }
  }

  before(async () => {
    db = await openDatabase({ url: join(home, 'medledger.db') })
    t = await startTestChain()
    ledger = await connectLedger({ rpcUrl: t.anvil.rpcUrl, db })
    ledger.contracts = await deployContracts(ledger, { admin })
    await addHospital(ledger, { admin, hospital, keyScheme: 1, emergencyKey: bytesToHex(hashSha256(randomBytes(32))) })
    ipfs = await openIpfs({ dir: join(home, 'ipfs') })
  })
  after(async () => {
    await ipfs?.stop()
    await t?.stop()
    await db?.close()
    rmSync(home, { recursive: true, force: true })
  })

  it('accepts a 32-byte X25519 key and an SPKI RSA-4096 key', async () => {
    const x = (await generateEncryptionKeyPair('x25519-hpke')).publicKey
    assert.deepEqual(new Uint8Array(await publicKeyOf({ db, ledger, ipfs }, await registered('x25519-hpke', x))), x)
    const rsa = (await generateEncryptionKeyPair('rsa-oaep-4096')).publicKey
    assert.deepEqual(new Uint8Array(await publicKeyOf({ db, ledger, ipfs }, await registered('rsa-oaep-4096', rsa))), new Uint8Array(rsa))
  })

  it('refuses a key of the wrong length or kind for the account\'s scheme', async () => {
    const rsa2048 = new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } }).publicKey)
    const x = (await generateEncryptionKeyPair('x25519-hpke')).publicKey
    for (const [scheme, key] of [
      ['x25519-hpke', randomBytes(31)], ['x25519-hpke', randomBytes(33)], ['x25519-hpke', rsa2048],
      ['rsa-oaep-4096', x], ['rsa-oaep-4096', rsa2048], ['rsa-oaep-4096', randomBytes(550)],
    ] as const) {
      await assert.rejects(publicKeyOf({ db, ledger, ipfs }, await registered(scheme, new Uint8Array(key))), (err) => isAppError(err, 'INVALID_KEY'), `${scheme}, ${key.length} bytes`)
    }
  })
})
