import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createSiweMessage } from 'viem/siwe'
import { Secret, TOTP } from 'otpauth'
import { isAppError, type ErrorCode } from '../errors.ts'
import { issueSiweNonce, linkWallet, signInWithEthereum, siweNonceLifetimeMs, siweSite } from './siwe.ts'
import { authenticate, login } from './sessions.ts'
import { confirmTotpEnrolment, startTotpEnrolment } from './mfa.ts'
import { insertSignInAccount, openSignInNode, signInRows } from '../../test/helpers/sign-in-fixtures.ts'

const refused = (code: ErrorCode) => (err: unknown) => isAppError(err, code)

describe('Sign-In with Ethereum (EIP-4361)', async () => {
  const node = await openSignInNode({ MEDLEDGER_MFA_ROLES: 'none' })
  const wallet = privateKeyToAccount(generatePrivateKey())
  const site = { domain: 'node.example.org:8443' }
  let now = Date.UTC(2030, 2, 1, 9, 0, 0)
  const clock = () => now
  let patientId = ''

  const message = (nonce: string, over: Partial<Parameters<typeof createSiweMessage>[0]> = {}) => createSiweMessage({
    address: wallet.address, chainId: 31337, domain: site.domain, nonce, uri: `https://${site.domain}/login`, version: '1', issuedAt: new Date(now), statement: 'Sign in to MedLedger.', ...over,
  })
  const signed = async (m: string, by = wallet) => ({ message: m, signature: await by.signMessage({ message: m }) })

  before(async () => {
    patientId = (await insertSignInAccount(node, { role: 'patient', email: 'ann@example.org', password: 'ann-password-1234', wallet: wallet.address })).id
  })
  after(() => node.close())

  it('signs in the account linked to the wallet; the session has no keys', async () => {
    const { nonce, expiresAt } = await issueSiweNonce(node, { clock })
    assert.match(nonce, /^[0-9a-f]{32}$/)
    assert.equal(Date.parse(expiresAt) - now, siweNonceLifetimeMs)
    const r = await signInWithEthereum(node, { ...(await signed(message(nonce))), site, clock })
    assert.equal(r.account.id, patientId)
    assert.equal(r.keysUnlocked, false)
    const actor = await authenticate(node, r.token)
    assert.equal(actor.keys, undefined)
  })

  it('refuses a used nonce, an expired one and an unknown one, writing nothing', async () => {
    const { nonce } = await issueSiweNonce(node, { clock })
    const first = await signed(message(nonce))
    await signInWithEthereum(node, { ...first, site, clock })
    const rows = await signInRows(node.db)
    await assert.rejects(signInWithEthereum(node, { ...first, site, clock }), refused('SIWE_NONCE_INVALID'))
    const late = (await issueSiweNonce(node, { clock })).nonce
    const lateMessage = await signed(message(late))
    now += siweNonceLifetimeMs
    await assert.rejects(signInWithEthereum(node, { ...lateMessage, site, clock }), refused('SIWE_NONCE_INVALID'))
    await assert.rejects(signInWithEthereum(node, { ...(await signed(message('0123456789abcdef0123456789abcdef'))), site, clock }), refused('SIWE_NONCE_INVALID'))
    assert.deepEqual(await signInRows(node.db), rows)
  })

  it('refuses a message past its expiration time or before its not-before time, and keeps the nonce usable', async () => {
    const { nonce } = await issueSiweNonce(node, { clock })
    const rows = await signInRows(node.db)
    await assert.rejects(signInWithEthereum(node, { ...(await signed(message(nonce, { expirationTime: new Date(now - 1) }))), site, clock }), refused('SIWE_MESSAGE_EXPIRED'))
    await assert.rejects(signInWithEthereum(node, { ...(await signed(message(nonce, { notBefore: new Date(now + 60_000) }))), site, clock }), refused('SIWE_MESSAGE_EXPIRED'))
    await assert.rejects(signInWithEthereum(node, { ...(await signed(message(nonce, { issuedAt: new Date(now + 3_600_000) }))), site, clock }), refused('SIWE_MESSAGE_EXPIRED'))
    assert.deepEqual(await signInRows(node.db), rows)
    const ok = await signInWithEthereum(node, { ...(await signed(message(nonce, { expirationTime: new Date(now + 60_000), notBefore: new Date(now - 1000) }))), site, clock })
    assert.equal(ok.account.id, patientId)
  })

  it('checks domain, URI, chain and signature, each with its own code', async () => {
    const { nonce } = await issueSiweNonce(node, { clock })
    const rows = await signInRows(node.db)
    const cases: [string, ErrorCode, { message: string; signature: string }][] = [
      ['domain', 'SIWE_DOMAIN_MISMATCH', await signed(message(nonce, { domain: 'evil.example.org' }))],
      ['port', 'SIWE_DOMAIN_MISMATCH', await signed(message(nonce, { domain: 'node.example.org:8444', uri: 'https://node.example.org:8444/' }))],
      ['uri', 'SIWE_DOMAIN_MISMATCH', await signed(message(nonce, { uri: 'https://evil.example.org/login' }))],
      ['chain', 'SIWE_CHAIN_MISMATCH', await signed(message(nonce, { chainId: 1 }))],
      ['signer', 'SIWE_SIGNATURE_INVALID', { message: message(nonce), signature: (await signed(message(nonce), privateKeyToAccount(generatePrivateKey()))).signature }],
      ['altered', 'SIWE_SIGNATURE_INVALID', { message: message(nonce).replace('Sign in to MedLedger.', 'Sign in to MedLedger!'), signature: (await signed(message(nonce))).signature }],
      ['garbage signature', 'SIWE_SIGNATURE_INVALID', { message: message(nonce), signature: '0x1234' }],
      ['not hex', 'SIWE_SIGNATURE_INVALID', { message: message(nonce), signature: 'zz' }],
      ['not SIWE', 'SIWE_MESSAGE_INVALID', { message: 'hello', signature: '0x' }],
    ]
    for (const [what, code, body] of cases) {
      await assert.rejects(signInWithEthereum(node, { ...body, site, clock }), refused(code), what)
    }
    assert.deepEqual(await signInRows(node.db), rows)
  })

  it('takes the site from the configured public URL, else the listening address, never from the request', async () => {
    assert.equal(node.config.publicUrl, '')
    assert.deepEqual(siweSite(node, 'http://127.0.0.1:8443'), { domain: '127.0.0.1:8443', origin: 'http://127.0.0.1:8443' })
    const configured = { config: { ...node.config, publicUrl: 'https://records.example.org' } }
    assert.deepEqual(siweSite(configured, 'http://127.0.0.1:8443'), { domain: 'records.example.org', origin: 'https://records.example.org' })
    // Listening on every interface names no one site: wallet sign-in then needs --public-url.
    assert.deepEqual(siweSite(node, 'http://0.0.0.0:8080'), { domain: '' })
    assert.deepEqual(siweSite(node, undefined), { domain: '' })
    const { nonce } = await issueSiweNonce(node, { clock })
    await assert.rejects(signInWithEthereum(node, { ...(await signed(message(nonce))), site: siweSite(node, undefined), clock }), (err: unknown) => isAppError(err, 'SIWE_DOMAIN_MISMATCH') && /--public-url/.test(err.message))
  })

  it('with a configured origin, refuses another scheme', async () => {
    const { nonce } = await issueSiweNonce(node, { clock })
    const httpsSite = { domain: site.domain, origin: `https://${site.domain}` }
    await assert.rejects(signInWithEthereum(node, { ...(await signed(message(nonce, { uri: `http://${site.domain}/` }))), site: httpsSite, clock }), refused('SIWE_DOMAIN_MISMATCH'))
    assert.ok((await signInWithEthereum(node, { ...(await signed(message(nonce))), site: httpsSite, clock })).token)
  })

  it('refuses a wallet no account is linked to, and keeps its nonce', async () => {
    const stranger = privateKeyToAccount(generatePrivateKey())
    const { nonce } = await issueSiweNonce(node, { clock })
    const rows = await signInRows(node.db)
    await assert.rejects(signInWithEthereum(node, { ...(await signed(message(nonce, { address: stranger.address }), stranger)), site, clock }), refused('UNKNOWN_WALLET'))
    assert.deepEqual(await signInRows(node.db), rows)
  })

  it('links a wallet from a password session only, and never one that another account holds', async () => {
    const bob = await insertSignInAccount(node, { role: 'patient', email: 'bob@example.org', password: 'bob-password-1234' })
    const bobWallet = privateKeyToAccount(generatePrivateKey())
    const bobSession = await authenticate(node, (await login(node, { email: bob.email, password: 'bob-password-1234', clock })).token)
    const walletOf = async () => (await node.db.get('SELECT wallet_address FROM accounts WHERE id = ?', bob.id) as { wallet_address: string | null }).wallet_address

    const taken = (await issueSiweNonce(node, { clock })).nonce
    await assert.rejects(linkWallet(node, { actor: bobSession, password: 'bob-password-1234', ...(await signed(message(taken))), site, clock }), refused('WALLET_TAKEN'))
    assert.equal(await walletOf(), null)

    const nonce = (await issueSiweNonce(node, { clock })).nonce
    const proof = await signed(message(nonce, { address: bobWallet.address }), bobWallet)
    const annWalletSession = await authenticate(node, (await signInWithEthereum(node, { ...(await signed(message((await issueSiweNonce(node, { clock })).nonce))), site, clock })).token)
    await assert.rejects(linkWallet(node, { actor: annWalletSession, password: 'ann-password-1234', ...proof, site, clock }), refused('KEYS_LOCKED'))
    await assert.rejects(linkWallet(node, { actor: bobSession, password: 'not-bobs-password', ...proof, site, clock }), refused('WRONG_PASSWORD'))
    await assert.rejects(linkWallet(node, { actor: bobSession, password: undefined, ...proof, site, clock }), refused('PASSWORD_REQUIRED'))
    assert.equal(await walletOf(), null)
    assert.deepEqual(await linkWallet(node, { actor: bobSession, password: 'bob-password-1234', ...proof, site, clock }), { walletAddress: bobWallet.address })
    assert.equal(await walletOf(), bobWallet.address.toLowerCase())
    const again = await signInWithEthereum(node, { ...(await signed(message((await issueSiweNonce(node, { clock })).nonce, { address: bobWallet.address }), bobWallet)), site, clock })
    assert.equal(again.account.id, bob.id)
  })

  it('asks an account with an authenticator for its code as well', async () => {
    const annActor = await authenticate(node, (await login(node, { email: 'ann@example.org', password: 'ann-password-1234', clock })).token)
    const { secret } = await startTotpEnrolment(node, { actor: annActor, password: 'ann-password-1234', clock })
    await confirmTotpEnrolment(node, { actor: annActor, password: 'ann-password-1234', code: TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: now }), clock })
    now += 30_000
    const { nonce } = await issueSiweNonce(node, { clock })
    const proof = await signed(message(nonce))
    const rows = await signInRows(node.db)
    await assert.rejects(signInWithEthereum(node, { ...proof, site, clock }), refused('MFA_REQUIRED'))
    assert.deepEqual(await signInRows(node.db), rows, 'the nonce stays usable for the retry with a code')
    const r = await signInWithEthereum(node, { ...proof, totp: TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: now }), site, clock })
    assert.equal(r.account.id, patientId)
  })
})
