import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { keccak256, parseTransaction, recoverAddress, recoverTransactionAddress, toHex, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { offThreadAccount, signOffThread, signThreadOnline } from './sign-worker.ts'
import { accessEntryTypes, consentDomain } from './consent/sign-access-entry.ts'

const typedData = {
  domain: consentDomain({ chainId: 31337, consent: '0x5FbDB2315678afecb367f032d93F642f64180aa3' }),
  types: accessEntryTypes,
  primaryType: 'AccessEntry' as const,
  message: { entryId: keccak256('0x01'), recordId: keccak256('0x02'), patient: '0x70997970c51812dc3a010c7d01b50e20d4dc79c8' as Hex, purpose: 1, ref: keccak256('0x03'), readAt: 1_700_000_000n },
}
const tx = { chainId: 31337, type: 'eip1559' as const, nonce: 7, gas: 60_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n, to: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Hex, data: '0xdeadbeef' as Hex }

/** Every kind of signature by both accounts: the same bytes, recovering to the key's address. */
async function assertSameSignatures(key: Hex): Promise<void> {
  const mine = offThreadAccount(key)
  const viems = privateKeyToAccount(key)
  assert.equal(mine.address, viems.address)
  const hash = keccak256(toHex(`hash ${key}`))
  const signature = await mine.sign!({ hash })
  assert.equal(signature, await viems.sign({ hash }))
  assert.equal(await recoverAddress({ hash, signature }), viems.address)
  assert.equal(await mine.signMessage({ message: 'hello' }), await viems.signMessage({ message: 'hello' }))
  assert.equal(await mine.signTypedData(typedData), await viems.signTypedData(typedData))
  const raw = await mine.signTransaction(tx)
  assert.equal(raw, await viems.signTransaction(tx))
  assert.equal(await recoverTransactionAddress({ serializedTransaction: raw as `0x02${string}` }), viems.address)
  assert.equal(parseTransaction(raw).nonce, 7)
}

describe('signing thread', () => {
  it('signs hashes, messages, typed data and transactions as the key\'s own account would, before and after its thread is up, many at once', async () => {
    await assertSameSignatures(generatePrivateKey()) // the first call starts the thread: signed here meanwhile
    for (let i = 0; i < 200 && !signThreadOnline(); i++) await new Promise((r) => setTimeout(r, 25))
    assert.equal(signThreadOnline(), true, 'the signing thread came up')
    await Promise.all(Array.from({ length: 12 }, () => assertSameSignatures(generatePrivateKey())))
  })

  it('refuses a malformed key, on the thread as here, with an error that does not quote it', async () => {
    const bad = `0x${'a1'.repeat(31)}zz` as Hex
    for (const attempt of ['before or while', 'once']) {
      if (attempt === 'once') for (let i = 0; i < 200 && !signThreadOnline(); i++) await new Promise((r) => setTimeout(r, 25))
      await assert.rejects(signOffThread(keccak256('0x01'), bad), (err: Error) => !err.message.includes('a1'.repeat(31)), `${attempt} the thread is up`)
    }
  })
})
