// The patient's research consent in the portal, in Chromium against a real node (issue 12).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Browser } from 'playwright-core'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Api, cleanup, fixtures, seed, startNodeProcess, type NodeProcess } from '../helpers/node-process.ts'
import { unzip } from '../helpers/unzip.ts'
import { identifyingStrings, leaks } from '../research/identifying-strings.ts'
import { launchChromium, newUser, shot, signIn } from './browser.ts'

describe('web portal: a patient consents to a research study and withdraws', { timeout: 300_000 }, () => {
  let node: NodeProcess
  let browser: Browser
  let api: Api
  let patient: { email: string; password: string; token: string }
  let doctor: { token: string }
  let studyId = ''

  before(async () => {
    browser = await launchChromium()
    node = await startNodeProcess()
    api = new Api(node.url)
    const a = await seed(api, { hospitalName: 'Research General', tag: 'w' })
    patient = a.patient
    doctor = a.doctor
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

  it('the researcher\'s Export button downloads the de-identified files and manifest.json as one ZIP, as the ledger records it', { timeout: 120_000 }, async () => {
    const bundle = readdirSync(join(fixtures, 'fhir')).filter((f) => /^[A-Z].*\.json$/.test(f)).sort()[0]!
    const original = readFileSync(join(fixtures, 'fhir', bundle))
    assert.equal((await api.upload(doctor.token, patient.email, bundle, original)).status, 201)
    assert.equal((await api.json('POST', `/studies/${studyId}/consent`, undefined, patient.token)).status, 200)
    const { page, problems } = await newUser(browser, node.url)
    await signIn(page, 'rita@example.org', 'researcher-password-123')
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }),
      page.getByRole('button', { name: 'Export "Asthma in children"' }).click(),
    ])
    assert.match(download.suggestedFilename(), new RegExp(`^study-${studyId.slice(2, 10)}-export-\\d+\\.zip$`))
    const files = unzip(readFileSync((await download.path())!))
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8'))
    assert.equal(manifest.studyId, studyId)
    assert.equal(manifest.patients, 1)
    // every file the manifest names is in the archive with its SHA-256, and nothing else
    const sha = (b: Buffer) => `0x${createHash('sha256').update(b).digest('hex')}`
    assert.deepEqual([...files.keys()].filter((n) => n !== 'manifest.json').sort(), (manifest.output as { url: string }[]).map((o) => o.url).sort())
    for (const o of manifest.output as { url: string; sha256: string }[]) assert.equal(sha(files.get(o.url)!), o.sha256, o.url)
    assert.ok(files.has('Patient.ndjson'))
    const text = [...files.values()].map((b) => b.toString('utf8')).join('\n')
    assert.deepEqual(leaks(identifyingStrings(JSON.parse(original.toString('utf8'))), text), [])
    const status = page.getByRole('status').filter({ hasText: 'Export ' }).first()
    await status.waitFor()
    assert.match(await status.innerText(), /1 patient\(s\).*saved as study-/)
    // the manifest as saved is the one on the ledger: its SHA-256 starts the hash the status shows
    assert.ok((await status.innerText()).includes(sha(files.get('manifest.json')!).slice(0, 10)))
    await shot(page, 'research-export')
    assert.deepEqual(problems, [])
  })
})
