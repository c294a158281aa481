import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createSiweMessage } from 'viem/siwe'
import { AppError } from '../errors.ts'
import { issueSiweNonce, signInWithEthereum } from './siwe.ts'
import { insertSignInAccount, openSignInNode, signInRows, type SignInNode } from '../../test/helpers/sign-in-fixtures.ts'

/** Fixed seeds and bounded runs: the same inputs on every run. */
const runs = { seed: 0x5eed_0003, numRuns: 150, timeout: 10_000 }

describe('Sign-In with Ethereum messages under random and mutated input', () => {
  let node: SignInNode
  const wallet = privateKeyToAccount(generatePrivateKey())
  const site = { domain: 'node.example.org:8443', origin: 'https://node.example.org:8443' }
  const now = Date.UTC(2030, 2, 1, 9, 0, 0)
  const clock = () => now
  before(async () => {
    node = await openSignInNode({ MEDLEDGER_MFA_ROLES: 'none' })
    await insertSignInAccount(node, { role: 'patient', email: 'fuzz@example.org', password: 'fuzz-password-1234', wallet: wallet.address })
  })
  after(() => node.close())

  /** A refusal is an AppError with a stable code, and writes nothing (no session, no nonce used). */
  async function refused(message: unknown, signature: unknown): Promise<void> {
    const rows = await signInRows(node.db)
    try {
      await signInWithEthereum(node, { message, signature, site, clock })
    } catch (err) {
      assert.ok(err instanceof AppError, `expected an AppError, got ${(err as Error)?.stack ?? String(err)}`)
      assert.match(err.code, /^(SIWE_[A-Z_]+|UNKNOWN_WALLET|RATE_LIMITED|ACCOUNT_LOCKED)$/)
      assert.ok(err.status >= 400 && err.status < 500, `${err.code} is a client error`)
      assert.deepEqual(await signInRows(node.db), rows, 'a refusal writes nothing')
      return
    }
    assert.fail('signed in with a random or altered message')
  }

  const valid = async () => {
    const { nonce } = await issueSiweNonce(node, { clock })
    const message = createSiweMessage({ address: wallet.address, chainId: 31337, domain: site.domain, nonce, uri: `${site.origin}/login`, version: '1', issuedAt: new Date(now), statement: 'Sign in to MedLedger.' })
    return { message, signature: await wallet.signMessage({ message }) }
  }

  it('random strings, random values and random signatures are refused with a SIWE code', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: 'binary', maxLength: 400 }), fc.jsonValue(), fc.string({ minLength: 10_000, maxLength: 12_000 })),
      fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue(), fc.uint8Array({ minLength: 65, maxLength: 65 }).map((b) => `0x${Buffer.from(b).toString('hex')}`)),
      async (message, signature) => refused(message, signature),
    ), runs)
  })

  it('a valid message with one line replaced, a character flipped, cut short or padded is refused under its signature', async () => {
    const { message: template } = await valid()
    const lines = template.split('\n').length
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.record({ kind: fc.constant('line' as const), at: fc.nat(), text: fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('Chain ID: 1', 'Chain ID: 99999999999999999999', 'Issued At: not-a-date', 'Expiration Time: 1999-01-01T00:00:00Z', 'URI: javascript:alert(1)', 'Version: 2', 'Nonce: ', `${'a'.repeat(5000)}`)) }),
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), char: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }),
        fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('pad' as const), text: fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }) }),
      ),
      async (m) => {
        const { message, signature } = await valid()
        let altered: string
        if (m.kind === 'line') {
          const parts = message.split('\n')
          parts[m.at % lines] = m.text
          altered = parts.join('\n')
        } else if (m.kind === 'flip') {
          const at = m.at % message.length
          altered = message.slice(0, at) + m.char + message.slice(at + 1)
        } else if (m.kind === 'truncate') {
          altered = message.slice(0, m.at % message.length)
        } else {
          altered = message + m.text
        }
        fc.pre(altered !== message)
        await refused(altered, signature)
        // The untouched message still signs in: the refusal left its nonce usable.
        const ok = await signInWithEthereum(node, { message, signature, site, clock })
        assert.ok(ok.token)
      },
    ), { ...runs, numRuns: 100 })
  })
})
