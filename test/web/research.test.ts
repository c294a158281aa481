// The patient's research consent in the portal, in Chromium against a real node (issue 12).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Browser } from 'playwright-core'
import { Api, cleanup, seed, startNodeProcess, type NodeProcess } from '../helpers/node-process.ts'
import { launchChromium, newUser, shot, signIn } from './browser.ts'

describe('web portal: a patient consents to a research study and withdraws', { timeout: 300_000 }, () => {
  let node: NodeProcess
  let browser: Browser
  let api: Api
  let patient: { email: string; password: string; token: string }
  let studyId = ''

  before(async () => {
    browser = await launchChromium()
    node = await startNodeProcess()
    api = new Api(node.url)
    const a = await seed(api, { hospitalName: 'Research General', tag: 'w' })
    patient = a.patient
    const signup = await api.json('POST', '/signup', { role: 'researcher', hospital: a.hospital.id, email: 'rita@example.org', name: 'Rita Search', password: 'researcher-password-123' }, null)
    assert.equal((await api.json('POST', `/researchers/${signup.body.account.id}/confirm`, undefined, a.admin)).status, 200)
    const researcher = await api.login('rita@example.org', 'researcher-password-123')
    studyId = (await api.json('POST', '/studies', { title: 'Asthma in children', purpose: 'Retrospective, de-identified.' }, researcher)).body.studyId
    assert.equal((await api.json('POST', `/studies/${studyId}/approve`, undefined, a.admin)).status, 200)
  })
  after(async () => {
    await browser?.close()
    await node?.stop()
    if (node) cleanup(node.home)
  })

  it('a researcher sees their studies and proposes one from the portal', { timeout: 120_000 }, async () => {
    const { page, problems } = await newUser(browser, node.url)
    await signIn(page, 'rita@example.org', 'researcher-password-123')
    await page.locator(`tr[data-study-id="${studyId}"]`).getByText('approved').waitFor()
    const form = page.getByRole('form', { name: 'Propose a study' })
    await form.getByLabel('Title').fill('Sleep in teenagers')
    await form.getByLabel('Protocol').fill('Prospective; de-identified exports only.')
    await form.getByLabel('Minimum k (optional)').fill('5')
    await form.getByRole('button', { name: 'Propose study' }).click()
    await page.getByRole('status').filter({ hasText: '"Sleep in teenagers" is proposed' }).first().waitFor({ timeout: 30_000 })
    await page.locator('tr', { hasText: 'Sleep in teenagers' }).getByText('proposed').waitFor()
    await shot(page, 'research-studies')
    assert.deepEqual(problems, [])
  })

  it('the Access tab lists the approved study; Consent and Withdraw go on the ledger', { timeout: 120_000 }, async () => {
    const { page, problems } = await newUser(browser, node.url)
    await signIn(page, patient.email, patient.password)
    await page.getByRole('navigation').getByRole('link', { name: 'Access', exact: true }).click()
    const card = page.locator(`li[data-study-id="${studyId}"]`)
    await card.getByText('by Rita Search · no consent').waitFor()
    await card.getByRole('button', { name: 'Consent' }).click()
    await page.getByRole('status').filter({ hasText: 'You consent to "Asthma in children"' }).first().waitFor({ timeout: 30_000 })
    await card.getByText('you consent').waitFor()
    const consent = async () => ((await api.json('GET', '/studies', undefined, patient.token)).body.studies as { studyId: string; consent: string | null }[]).find((s) => s.studyId === studyId)?.consent
    assert.equal(await consent(), 'given')
    await shot(page, 'research-consent')
    await card.getByRole('button', { name: 'Withdraw' }).click()
    await page.getByRole('status').filter({ hasText: 'its next export leaves your records out' }).first().waitFor({ timeout: 30_000 })
    await card.getByText('you withdrew').waitFor()
    assert.equal(await consent(), 'withdrawn')
    // all of the hospital's studies at once; the one withdrawn from on its own stays out
    await page.getByRole('button', { name: 'Consent to all of my hospital\'s studies' }).click()
    await page.getByRole('status').filter({ hasText: 'You consent to every approved study of your hospital' }).first().waitFor({ timeout: 30_000 })
    await page.getByRole('button', { name: 'Withdraw from all of my hospital\'s studies' }).waitFor()
    assert.equal((await api.json('GET', '/studies', undefined, patient.token)).body.hospitalConsent, 'given')
    await page.getByRole('button', { name: 'Withdraw from all of my hospital\'s studies' }).click()
    await page.getByRole('button', { name: 'Consent to all of my hospital\'s studies' }).waitFor()
    assert.equal((await api.json('GET', '/studies', undefined, patient.token)).body.hospitalConsent, 'withdrawn')
    assert.deepEqual(problems, [])
  })
})
