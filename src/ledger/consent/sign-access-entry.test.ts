import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { randomBytes } from 'node:crypto'
import { getAddress, hashTypedData, recoverTypedDataAddress, type Address, type Hex } from 'viem'
import { accessEntryTypes, consentDomain, hashAccessEntry, signAccessEntry, type AccessEntry } from './sign-access-entry.ts'

const word = (byte: string) => `0x${byte.repeat(32)}` as Hex
const entry = (over: Partial<AccessEntry> = {}): AccessEntry => ({
  entryId: word('11'), recordId: word('22'), patient: `0x${'33'.repeat(20)}` as Address, purpose: 1, ref: word('00'), readAt: 1_700_000_000n, ...over,
})

test('signAccessEntry gives the bytes viem\'s signTypedData gives, on two domains, and the signature recovers to the reader', async () => {
  const reader = privateKeyToAccount(generatePrivateKey())
  const domains = [{ chainId: 31337, consent: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Address }, { chainId: 1, consent: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512' as Address }]
  for (const d of domains) {
    for (const e of [entry(), entry({ purpose: 8, ref: word('ab'), readAt: 2n ** 64n - 1n }), entry({ entryId: word('01'), purpose: 0, readAt: 0n })]) {
      const signed = await signAccessEntry({ chainId: d.chainId, contracts: { consent: d.consent } } as unknown as Parameters<typeof signAccessEntry>[0], { reader, entry: e })
      const domain = consentDomain(d)
      const expected = await reader.signTypedData({ domain, types: accessEntryTypes, primaryType: 'AccessEntry', message: e })
      assert.equal(signed.signature, expected)
      assert.equal(signed.reader, reader.address)
      assert.equal(await recoverTypedDataAddress({ domain, types: accessEntryTypes, primaryType: 'AccessEntry', message: e, signature: signed.signature }), reader.address)
    }
  }
})

test('hashAccessEntry refuses a purpose that is not a uint8 and a readAt that is not a uint64, as the typed-data check would', () => {
  const d = { chainId: 31337, consent: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Address }
  for (const bad of [entry({ purpose: 256 }), entry({ purpose: -1 }), entry({ purpose: 1.5 }), entry({ readAt: 2n ** 64n }), entry({ readAt: -1n })]) {
    assert.throws(() => hashAccessEntry(d, bad), RangeError)
  }
})

test('hashAccessEntry is viem\'s hashTypedData of the entry, for random entries (addresses lower-case or checksummed)', () => {
  const d = { chainId: 31337, consent: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Address }
  const hex = (n: number) => `0x${randomBytes(n).toString('hex')}` as Hex
  for (let i = 0; i < 200; i++) {
    const patient = i % 2 === 0 ? hex(20) : getAddress(hex(20))
    const e = entry({ entryId: hex(32), recordId: hex(32), patient, purpose: i % 256, ref: i % 3 === 0 ? word('00') : hex(32), readAt: BigInt(`0x${randomBytes(8).toString('hex')}`) })
    assert.equal(hashAccessEntry(d, e), hashTypedData({ domain: consentDomain(d), types: accessEntryTypes, primaryType: 'AccessEntry', message: e }))
  }
  for (const bad of [entry({ entryId: '0x11' as Hex }), entry({ ref: `0x${'zz'.repeat(32)}` as Hex }), entry({ patient: '0x70997970C51812dc3A010C7d01b50e20d4dc79C8' as Address }), entry({ patient: `0x${'33'.repeat(21)}` as Address })]) {
    assert.throws(() => hashAccessEntry(d, bad), RangeError)
  }
})
