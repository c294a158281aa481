// Signing in through the portal in Chromium: a wallet through an injected EIP-1193 provider
// (Sign-In with Ethereum), two-factor enrolment and codes, recovery with a recovery code.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Secret, TOTP } from 'otpauth'
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { createSiweMessage } from 'viem/siwe'
import type { Browser, Page } from 'playwright-core'
import { Api, cleanup, seed, startNodeProcess, type NodeProcess } from '../helpers/node-process.ts'
import { accessibilityProblems, launchChromium, newUser, shot, signIn, type BrowserUser } from './browser.ts'

/**
 * Puts an EIP-1193 provider at window.ethereum whose requests are answered here, by a viem
 * account holding a test key; `decline` answers personal_sign as a user pressing "Reject".
 */
async function injectWallet(page: Page, wallet: PrivateKeyAccount, { decline = false }: { decline?: boolean } = {}): Promise<string[]> {
  const calls: string[] = []
  await page.exposeFunction('medledgerTestWallet', async (method: string, params: unknown[]) => {
    calls.push(method)
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [wallet.address]
      case 'eth_chainId':
        return '0x7a69'
      case 'personal_sign': {
        const [message, address] = params as [`0x${string}`, string]
        if (address.toLowerCase() !== wallet.address.toLowerCase()) return { error: { code: 4100, message: 'unknown account' } }
        if (decline) return { error: { code: 4001, message: 'User rejected the request.' } }
        return wallet.signMessage({ message: { raw: message } })
      }
      default:
        return { error: { code: 4200, message: `unsupported method ${method}` } }
    }
  })
  await page.addInitScript(() => {
    const w = window as unknown as { ethereum: unknown; medledgerTestWallet: (m: string, p: unknown[]) => Promise<unknown> }
    w.ethereum = {
      async request({ method, params }: { method: string; params?: unknown[] }) {
        const r = await w.medledgerTestWallet(method, params ?? []) as { error?: { code: number; message: string } }
        if (r && typeof r === 'object' && 'error' in r && r.error) throw Object.assign(new Error(r.error.message), { code: r.error.code })
        return r
      },
    }
  })
  return calls
}

/** TOTP codes for strictly increasing steps within the node's ±1 window (a step is never accepted twice). */
class Authenticator {
  private last = -Infinity
  constructor(readonly secret: string) {}
  next(): string {
    const step = Math.max(Math.floor(Date.now() / 30_000), this.last + 1)
    this.last = step
    return TOTP.generate({ secret: Secret.fromBase32(this.secret), timestamp: step * 30_000 })
  }
}

describe('web portal: signing in with a wallet, two-factor codes and a recovery code', { timeout: 180_000 }, () => {
  let node: NodeProcess
  let api: Api
  let browser: Browser
  let world: Awaited<ReturnType<typeof seed>>
  const users: BrowserUser[] = []
  const patientWallet = privateKeyToAccount(generatePrivateKey())
  const doctorWallet = privateKeyToAccount(generatePrivateKey())
  const newDoctor = { email: 'new-doctor@example.org', name: 'Dr New', password: 'new-doctor-password-1' }

  const user = async () => {
    const u = await newUser(browser, node.url)
    users.push(u)
    return u.page
  }
  const alert = (page: Page, text: string | RegExp) => page.getByRole('alert').filter({ hasText: text }).first().waitFor({ timeout: 20_000 })

  before(async () => {
    browser = await launchChromium()
    // Doctors must enrol a second factor on this node; patients may.
    node = await startNodeProcess({ env: { MEDLEDGER_MFA_ROLES: 'doctor' } })
    api = new Api(node.url)
    world = await seed(api)
    // The patient links a wallet over the API, signing a SIWE message for this node with the test key.
    const nonce = (await api.json('POST', '/auth/siwe/nonce', undefined, null)).body.nonce
    const message = createSiweMessage({ address: patientWallet.address, chainId: 31337, domain: new URL(node.url).host, nonce, uri: node.url, version: '1', issuedAt: new Date() })
    const linked = await api.json('POST', '/auth/wallet', { message, signature: await patientWallet.signMessage({ message }), password: world.patient.password }, world.patient.token)
    assert.equal(linked.status, 200, JSON.stringify(linked.body))
    // The patient has a record (uploaded by a doctor who enrolled an authenticator over the API).
    const enrol = await api.json('POST', '/mfa/totp', { password: world.doctor.password }, world.doctor.token)
    assert.equal((await api.json('POST', '/mfa/totp/verify', { code: new Authenticator(enrol.body.secret).next(), password: world.doctor.password }, world.doctor.token)).status, 200)
    const up = await api.upload(world.doctor.token, world.patient.email, 'note.txt', Buffer.from('A clinical note.'))
    assert.equal(up.status, 201, JSON.stringify(up.body))
    const second = await api.json('POST', '/users', { role: 'doctor', hospital: world.hospital.id, ...newDoctor }, world.admin)
    assert.equal(second.status, 201, JSON.stringify(second.body))
  })
  after(async () => {
    await browser?.close()
    await node?.stop()
    if (node) cleanup(node.home)
  })

  it('without a wallet extension, "Connect wallet" is off and says why', async () => {
    const page = await user()
    await page.goto('/')
    assert.equal(await page.getByRole('button', { name: 'Connect wallet' }).isDisabled(), true)
    await page.getByText('No wallet extension was found in this browser.').waitFor()
  })

  it('a linked wallet signs in with Sign-In with Ethereum; the session cannot use the account\'s keys, and says so', async () => {
    const page = await user()
    const calls = await injectWallet(page, patientWallet)
    await page.goto('/')
    await page.getByText('Signs a Sign-In with Ethereum message in your wallet').waitFor()
    await shot(page, 'wallet-01-sign-in', { fullPage: false })
    await page.getByRole('button', { name: 'Connect wallet' }).click()
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
    assert.deepEqual(calls, ['eth_requestAccounts', 'personal_sign'])
    await page.getByText(world.patient.name).first().waitFor()
    await page.getByText('You signed in with a wallet').waitFor()
    // Listing records decrypts their metadata, which needs the keys a wallet session does not have.
    await alert(page, 'This session cannot use your keys; sign in with your password.')
    await shot(page, 'wallet-02-wallet-session', { fullPage: false })
    const session = await page.evaluate(() => JSON.parse(sessionStorage.getItem('medledger.session')!))
    assert.equal(session.keysUnlocked, false)
    assert.equal(session.account.email, world.patient.email)
  })

  it('an unknown wallet and a declined signature are explained in plain words', async () => {
    const stranger = await user()
    await injectWallet(stranger, privateKeyToAccount(generatePrivateKey()))
    await stranger.goto('/')
    await stranger.getByRole('button', { name: 'Connect wallet' }).click()
    await alert(stranger, 'No account is linked to this wallet address.')
    const declining = await user()
    await injectWallet(declining, patientWallet, { decline: true })
    await declining.goto('/')
    await declining.getByRole('button', { name: 'Connect wallet' }).click()
    await alert(declining, 'The request was declined in the wallet.')
    assert.equal(await declining.evaluate(() => sessionStorage.getItem('medledger.session')), null)
  })

  it('a doctor must enrol an authenticator first, links a wallet, then signs in with a code, and with the wallet and a recovery code', async () => {
    const page = await user()
    await injectWallet(page, doctorWallet)
    await signIn(page, newDoctor.email, newDoctor.password)
    await page.getByText('Your role needs two-factor sign-in').waitFor()
    // Changing how one signs in needs the current password, even right after signing in.
    await page.getByLabel('Current password').fill('not-the-password')
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click()
    await alert(page, 'The current password is wrong.')
    await page.getByLabel('Current password').fill(newDoctor.password)
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click()
    await page.getByRole('img', { name: 'QR code to scan with an authenticator app' }).waitFor()
    const app = new Authenticator((await page.locator('code.secret-key').textContent())!.trim())
    await shot(page, 'mfa-01-enrol', { fullPage: false })
    await page.getByLabel('First code from the app').fill(app.next())
    await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click()
    const codes = (await page.getByRole('textbox', { name: 'Your ten recovery codes' }).inputValue()).split('\n')
    assert.equal(codes.length, 10)
    await page.getByRole('button', { name: 'I have saved it — hide it' }).click()
    await page.getByRole('navigation').getByRole('link', { name: 'Patients', exact: true }).waitFor()

    await page.getByRole('navigation').getByRole('link', { name: 'Account', exact: true }).click()
    await page.getByText('Two-factor sign-in').first().waitFor()
    await page.getByLabel('Current password').fill(newDoctor.password)
    await page.getByRole('button', { name: 'Link a wallet' }).click()
    await page.getByRole('status').filter({ hasText: `Wallet ${doctorWallet.address} is linked` }).waitFor()

    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('E-mail').fill(newDoctor.email)
    await page.getByLabel('Password').fill(newDoctor.password)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.getByLabel('Authenticator code').fill(app.next())
    await shot(page, 'mfa-02-code', { fullPage: false })
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
    await page.getByRole('button', { name: 'Sign out' }).click()

    await page.getByRole('button', { name: 'Connect wallet' }).click()
    await page.getByLabel('Authenticator code').fill(codes[0])
    await page.getByRole('button', { name: 'Continue' }).click()
    await page.getByText('You signed in with a wallet').waitFor()
    await page.getByText(newDoctor.name).first().waitFor()
  })

  it('hospital staff reset a doctor\'s two-factor sign-in from the portal: the doctor signs in with the password alone and must enrol again; the reset is in the account events', async () => {
    const staff = { email: 'staff-portal@example.org', password: 'staff-portal-password-1' }
    assert.equal((await api.json('POST', '/users', { role: 'staff', hospital: world.hospital.id, name: 'Sam Staff', ...staff }, world.admin)).status, 201)
    const page = await user()
    await signIn(page, staff.email, staff.password)
    await page.getByRole('heading', { name: /Doctors/ }).first().waitFor()
    await page.getByLabel('Member').selectOption({ label: `${newDoctor.name} (${newDoctor.email})` })
    await page.getByLabel('Your password').fill(staff.password)
    await shot(page, 'mfa-03-staff-reset', { fullPage: false })
    await page.getByRole('button', { name: 'Reset two-factor sign-in' }).click()
    await page.getByRole('status').filter({ hasText: `Two-factor sign-in of ${newDoctor.name} is reset` }).waitFor()
    const signedIn = await api.json('POST', '/auth/login', { email: newDoctor.email, password: newDoctor.password }, null)
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body))
    assert.equal(signedIn.body.mfaEnrollmentRequired, true, 'the doctor enrols again')
    // (The mail itself is checked in test/sign-in-hardening.test.ts; the doctor may only enrol now.)
    const events = (await api.json('GET', `/account-events?account=${signedIn.body.account.id}`, undefined, world.admin)).body.events as { kind: string }[]
    assert.equal(events[0].kind, 'mfa-reset')
  })

  it('a patient turns two-factor sign-in off on the account page, with the password and a code', async () => {
    const who = { email: 'toggle@example.org', password: 'toggle-password-123' }
    assert.equal((await api.json('POST', '/users', { role: 'patient', hospital: world.hospital.id, name: 'Toni Toggle', ...who }, world.admin)).status, 201)
    const token = (await api.json('POST', '/auth/login', who, null)).body.token
    const app = new Authenticator((await api.json('POST', '/mfa/totp', { password: who.password }, token)).body.secret)
    const { recoveryCodes } = (await api.json('POST', '/mfa/totp/verify', { code: app.next(), password: who.password }, token)).body
    const page = await user()
    await page.goto('/signin')
    await page.getByLabel('E-mail').fill(who.email)
    await page.getByLabel('Password').fill(who.password)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.getByLabel('Authenticator code').fill(app.next())
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.getByRole('navigation').getByRole('link', { name: 'Account', exact: true }).click()
    const off = page.getByRole('form', { name: 'Turn off two-factor sign-in' })
    await off.getByLabel('Current password').fill('not-the-password')
    // A recovery code stands in for the app's code (the next TOTP step was just used to sign in).
    await off.getByLabel('Code from the app').fill(recoveryCodes[0])
    await off.getByRole('button', { name: 'Turn off two-factor sign-in' }).click()
    await alert(page, 'The current password is wrong.')
    await off.getByLabel('Current password').fill(who.password)
    await off.getByRole('button', { name: 'Turn off two-factor sign-in' }).click()
    await page.getByRole('button', { name: 'Set up' }).waitFor()
    assert.equal((await api.json('POST', '/auth/login', who, null)).status, 200, 'the password alone signs in again')
  })

  it('a page opened under another name than the node\'s address explains why wallet sign-in is refused there, before asking the wallet', async () => {
    const page = await user()
    const calls = await injectWallet(page, patientWallet)
    const elsewhere = node.url.replace('127.0.0.1', 'localhost')
    await page.goto(`${elsewhere}/`)
    await page.getByRole('button', { name: 'Connect wallet' }).click()
    await alert(page, `Wallet sign-in works only at this node's own address, ${node.url}.`)
    assert.deepEqual(calls, [], 'the wallet was not asked to sign a message the node would refuse')
    assert.equal(await page.evaluate(() => sessionStorage.getItem('medledger.session')), null)
  })

  it('a forgotten password is reset with the recovery code; the new code is shown once and the new password works', async () => {
    const created = await api.json('POST', '/users', { role: 'patient', hospital: world.hospital.id, email: 'forgetful@example.org', name: 'Fran Forgetful', password: 'first-password-123' }, world.admin)
    assert.equal(created.status, 201)
    const page = await user()
    await page.goto('/signin')
    await page.getByRole('link', { name: 'Forgot your password?' }).click()
    await page.getByLabel('E-mail').fill('forgetful@example.org')
    await page.getByLabel('Recovery code').fill(created.body.recoveryCode)
    await page.getByLabel('New password', { exact: true }).fill('second-password-456')
    await page.getByLabel('New password again').fill('second-password-456')
    await page.getByRole('button', { name: 'Set new password' }).click()
    const fresh = await page.getByRole('textbox', { name: 'Your new recovery code' }).inputValue()
    assert.ok(fresh.length >= 16 && fresh !== created.body.recoveryCode)
    await shot(page, 'recover-01-new-code', { fullPage: false })
    await page.getByRole('button', { name: 'I have saved it — hide it' }).click()
    await page.getByRole('button', { name: 'Sign in' }).click()
    await signIn(page, 'forgetful@example.org', 'second-password-456')
    await page.getByRole('heading', { name: 'My records' }).waitFor()
  })

  it('keyboard only: sign in and move between the portal\'s pages, with a visible focus', async () => {
    const page = await user()
    await page.goto('/')
    const focused = () => page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null
      return { name: el?.getAttribute('name') ?? el?.textContent?.trim() ?? '', outline: el ? getComputedStyle(el).outlineStyle : 'none' }
    })
    for (let i = 0; i < 10 && (await focused()).name !== 'email'; i++) await page.keyboard.press('Tab')
    assert.equal((await focused()).name, 'email')
    assert.notEqual((await focused()).outline, 'none', 'the focused field is outlined')
    await page.keyboard.type(world.patient.email)
    await page.keyboard.press('Tab')
    await page.keyboard.type(world.patient.password)
    await page.keyboard.press('Enter')
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
    for (let i = 0; i < 15 && (await focused()).name !== 'Sharing'; i++) await page.keyboard.press('Tab')
    assert.equal((await focused()).name, 'Sharing')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Sharing', exact: true }).waitFor()
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main', 'focus moves to the new page\'s content')
  })

  it('no page broke the CSP or threw; controls, images and buttons are named', () => {
    assert.deepEqual(users.flatMap((u) => u.problems), [])
    assert.deepEqual(accessibilityProblems, [])
  })
})
