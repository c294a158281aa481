// The web portal end to end, in Chromium against a real node: the whole story of issue 4.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { Api, cleanup, fixtures, startNodeProcess, testEnv, type NodeProcess } from '../helpers/node-process.ts'
import { accessibilityProblems, launchChromium, newUser, shot, signIn, type BrowserUser } from './browser.ts'

const dicomFile = join(fixtures, 'dicom', 'CT_small.dcm')
const ccdaName = readdirSync(join(fixtures, 'ccda')).sort()[0]
const ccdaFile = join(fixtures, 'ccda', ccdaName)

const people = {
  staff: { name: 'Sam Staff', email: 'staff@stmary.example.org', password: 'staff-password-123' },
  patient: { name: 'Ann Patient', email: 'ann@example.org', password: 'patient-password-123' },
  doctor: { name: 'Dr Gregory House', email: 'house@stmary.example.org', password: 'doctor-password-123', licence: 'GMC-7654321' },
  other: { name: 'Dr Meredith Grey', email: 'grey@hillside.example.org', password: 'doctor-password-456' },
}

describe('web portal: the whole story in Chromium', { timeout: 300_000 }, () => {
  let node: NodeProcess
  let api: Api
  let browser: Browser
  const users: BrowserUser[] = []
  const requested: string[] = []
  const secrets: string[] = []
  let admin: Page
  let staff: Page
  let doctor: Page
  let other: Page
  let patient: Page
  let hospitals: Record<string, string> = {}

  // The story runs in order: once a step fails, the later ones fail at once instead of each
  // waiting out its timeouts on a page that is not where they expect.
  let broken: string | undefined
  const step = (name: string, fn: () => Promise<void> | void) => it(name, { timeout: 120_000 }, async () => {
    if (broken) throw new Error(`not run: an earlier step failed (${broken})`)
    try {
      await fn()
    } catch (err) {
      broken = name
      throw err
    }
  })

  const user = async () => {
    const u = await newUser(browser, node.url)
    u.page.on('request', (r) => requested.push(r.url()))
    users.push(u)
    return u.page
  }
  const message = (page: Page, text: string | RegExp) => page.getByRole('status').filter({ hasText: text }).first().waitFor({ timeout: 30_000 })
  const alert = (page: Page, text: string | RegExp) => page.getByRole('alert').filter({ hasText: text }).first().waitFor({ timeout: 30_000 })
  const tab = (page: Page, name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true }).click()
  const tokenOf = (page: Page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('medledger.session') ?? '{}').token as string | undefined)

  before(async () => {
    browser = await launchChromium()
    node = await startNodeProcess()
    api = new Api(node.url)
  })
  after(async () => {
    await browser?.close()
    await node?.stop()
    if (node) cleanup(node.home)
  })

  step('the admin signs in (a wrong password is explained), admits hospitals (the third goes to a vote) and adds a hospital\'s staff', async () => {
    admin = await user()
    await admin.goto('/')
    await admin.getByLabel('E-mail').fill(testEnv.MEDLEDGER_ADMIN_EMAIL)
    await admin.getByLabel('Password').fill('not-the-password')
    await admin.getByRole('button', { name: 'Sign in', exact: true }).click()
    await alert(admin, 'Wrong e-mail or password.')
    await shot(admin, '00-sign-in-error', { fullPage: false })
    await signIn(admin, testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
    secrets.push((await tokenOf(admin))!)
    await tab(admin, 'Hospitals')
    for (const name of ['St Mary', 'Hillside']) {
      await admin.getByLabel('Hospital name').fill(name)
      await admin.getByRole('button', { name: 'Admit hospital' }).click()
      await message(admin, `${name} is admitted`)
    }
    // With two members, a third hospital needs their vote.
    await admin.getByLabel('Hospital name').fill('Riverside')
    await admin.getByRole('button', { name: 'Admit hospital' }).click()
    await message(admin, 'Riverside is proposed: the member hospitals\' staff now vote on its admission.')
    const rows = admin.locator('tr[data-hospital-id]')
    await rows.nth(2).getByText('admission vote in progress').waitFor()
    for (const row of await rows.all()) hospitals[(await row.locator('td').first().textContent())!] = (await row.getAttribute('data-hospital-id'))!
    assert.deepEqual(Object.keys(hospitals).sort(), ['Hillside', 'Riverside', 'St Mary'])

    await admin.locator(`tr[data-hospital-id="${hospitals['St Mary']}"]`).getByRole('button', { name: 'Add staff…' }).click()
    const form = admin.getByRole('form', { name: 'Add a staff member' })
    await form.getByLabel('Full name').fill(people.staff.name)
    await form.getByLabel('E-mail').fill(people.staff.email)
    await form.getByLabel('Initial password').fill(people.staff.password)
    await form.getByRole('button', { name: 'Add staff member' }).click()
    await message(admin, `${people.staff.name} was added`)
    const code = await admin.getByRole('textbox', { name: `Recovery code for ${people.staff.email}` }).inputValue()
    assert.match(code, /\S{16,}/, 'the recovery code is shown once')
    secrets.push(code)
    await shot(admin, '01-admin-hospitals')
  })

  step('the hospital\'s staff add a patient, and vote on admitting a hospital', async () => {
    staff = await user()
    await signIn(staff, people.staff.email, people.staff.password)
    await tab(staff, 'Patients')
    const form = staff.getByRole('form', { name: 'Add a patient' })
    await form.getByLabel('Full name').fill(people.patient.name)
    await form.getByLabel('E-mail').fill(people.patient.email)
    await form.getByLabel('Initial password').fill(people.patient.password)
    await form.getByRole('button', { name: 'Add patient' }).click()
    await message(staff, `${people.patient.name} was added`)
    await staff.getByRole('cell', { name: people.patient.email }).waitFor()
    await shot(staff, '02-hospital-patients')
    await tab(staff, 'Admission votes')
    await staff.getByRole('heading', { name: 'Riverside' }).waitFor()
    await staff.getByRole('button', { name: 'Vote to admit' }).click()
    await message(staff, 'Your hospital\'s vote for Riverside is on the ledger.')
  })

  step('a doctor signs up in the portal and the admin confirms them', async () => {
    doctor = await user()
    await doctor.goto(`/signup?hospital=${hospitals['St Mary']}`)
    await doctor.getByRole('radio', { name: 'Doctor' }).check()
    assert.equal(await doctor.getByLabel('Hospital').inputValue(), hospitals['St Mary'])
    await doctor.getByLabel('Full name').fill(people.doctor.name)
    await doctor.getByLabel('E-mail').fill(people.doctor.email)
    await doctor.getByLabel('Password', { exact: true }).fill(people.doctor.password)
    await doctor.getByLabel('Password again').fill(people.doctor.password)
    await doctor.getByLabel('Licence number').fill(people.doctor.licence)
    await shot(doctor, '03-sign-up')
    await doctor.getByRole('button', { name: 'Create account' }).click()
    await doctor.getByRole('heading', { name: 'Account created' }).waitFor({ timeout: 30_000 })
    await doctor.getByText('waiting for confirmation').waitFor()
    secrets.push(await doctor.getByRole('textbox', { name: 'Your recovery code' }).inputValue())

    await tab(admin, 'Doctors to confirm')
    const card = admin.locator(`li[data-doctor-email="${people.doctor.email}"]`)
    await card.getByText(people.doctor.licence).waitFor()
    await shot(admin, '04-admin-doctors-to-confirm')
    await card.getByRole('button', { name: `Confirm ${people.doctor.name}` }).click()
    await message(admin, `${people.doctor.name} is confirmed`)
    await admin.getByText('No sign-up is waiting.').waitFor()
  })

  step('the doctor uploads a DICOM and a C-CDA, sees their progress, and both check intact against the chain', async () => {
    await signIn(doctor, people.doctor.email, people.doctor.password)
    // Not yet in the doctor's care: not listed, found by exact e-mail, and shown without name or e-mail.
    await doctor.getByText('No patient in your care yet').waitFor()
    assert.equal(await doctor.getByText(people.patient.name).count(), 0)
    const find = doctor.getByRole('form', { name: 'Find a patient' })
    await find.getByLabel('Patient\'s exact e-mail').fill('nobody@stmary.example.org')
    await find.getByRole('button', { name: 'Find patient' }).click()
    await alert(doctor, 'No patient you may look up has that e-mail address.')
    await find.getByLabel('Patient\'s exact e-mail').fill(people.patient.email)
    await find.getByRole('button', { name: 'Find patient' }).click()
    await doctor.getByRole('heading', { name: /^Patient 0x/ }).waitFor()
    assert.equal(await doctor.getByText(people.patient.name).count(), 0)
    await doctor.getByLabel('Files').setInputFiles([dicomFile, ccdaFile])
    await doctor.getByLabel('Cipher suite').selectOption('xchacha20-poly1305')
    await doctor.evaluate(() => {
      const seen: string[] = []
      ;(window as unknown as { phases: string[] }).phases = seen
      new MutationObserver(() => {
        for (const li of document.querySelectorAll('[data-upload]')) {
          const v = `${li.getAttribute('data-upload')}|${li.getAttribute('data-phase')}|${li.querySelector('progress')?.getAttribute('data-percent')}`
          if (!seen.includes(v)) seen.push(v)
        }
      }).observe(document.body, { subtree: true, childList: true, attributes: true })
    })
    await doctor.getByRole('button', { name: 'Upload 2 files' }).click()
    await doctor.locator('li[data-upload="CT_small.dcm"][data-phase="done"]').waitFor({ timeout: 60_000 })
    await doctor.locator(`li[data-upload="${ccdaName}"][data-phase="done"]`).waitFor({ timeout: 60_000 })
    const phases = await doctor.evaluate(() => (window as unknown as { phases: string[] }).phases)
    for (const name of ['CT_small.dcm', ccdaName]) {
      const mine = phases.filter((p) => p.startsWith(`${name}|`))
      assert.ok(mine.some((p) => /\|(sending|anchoring)\|/.test(p)), `progress was shown before the upload finished: ${mine.join(', ')}`)
      assert.equal(mine.at(-1), `${name}|done|100`)
    }
    await doctor.getByText('stored and anchored in block').first().waitFor()
    // Now in the doctor's care: named on the page.
    await doctor.getByRole('heading', { name: people.patient.name, exact: true }).waitFor()
    await shot(doctor, '05-doctor-upload-progress')
    const rows = doctor.locator('table.records tbody tr[data-record-id]')
    await doctor.getByText('✓ Intact').nth(1).waitFor({ timeout: 30_000 })
    assert.equal(await rows.count(), 2)
    // The list's search box (README "Search"): the file name's word and the DICOM modality find the
    // CT alone; an empty search lists both again.
    const search = doctor.getByRole('search')
    await search.getByLabel('Search records').fill('small CT')
    await search.getByRole('button', { name: 'Search' }).click()
    await doctor.waitForFunction(() => document.querySelectorAll('table.records tbody tr[data-record-id]').length === 1)
    assert.match((await rows.first().textContent())!, /CT_small\.dcm/)
    await search.getByLabel('Search records').fill('')
    await search.getByRole('button', { name: 'Search' }).click()
    await doctor.waitForFunction(() => document.querySelectorAll('table.records tbody tr[data-record-id]').length === 2)
    await doctor.getByRole('button', { name: 'Ledger proof of CT_small.dcm' }).click()
    const proof = doctor.locator('.proof-row')
    await proof.getByText('IPFS CID').waitFor()
    assert.match((await proof.textContent())!, /bafy/)
    assert.match((await proof.textContent())!, /XChaCha20-Poly1305/)
    await shot(doctor, '06-doctor-patient-records')
  })

  step('a doctor of another hospital asks the patient for access and follows its state', async () => {
    const adminToken = await api.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
    const created = await api.json('POST', '/users', { role: 'doctor', hospital: hospitals.Hillside, ...people.other }, adminToken)
    assert.equal(created.status, 201, JSON.stringify(created.body))
    other = await user()
    await signIn(other, people.other.email, people.other.password)
    await other.getByText('Ask a patient of another hospital for access').click()
    const form = other.getByRole('form', { name: 'Request access' })
    await form.getByLabel('Patient\'s e-mail').fill(people.patient.email)
    await form.getByLabel('Purpose').fill('Second opinion on the CT')
    await form.getByLabel('Days').fill('30')
    await form.getByRole('button', { name: 'Send request' }).click()
    await message(other, `Request sent to ${people.patient.name}`)
    await tab(other, 'Access requests')
    await other.locator('tr[data-status="pending"]').waitFor()
    await shot(other, '07-doctor-request-pending')
  })

  step('the patient sees the records in the page (DICOM header and image, C-CDA pretty-printed) and approves, for fewer days', async () => {
    patient = await user()
    await signIn(patient, people.patient.email, people.patient.password)
    secrets.push((await tokenOf(patient))!)
    await patient.getByText('✓ Intact').nth(1).waitFor({ timeout: 30_000 })
    await patient.getByRole('button', { name: 'View CT_small.dcm' }).click()
    const header = patient.getByRole('table', { name: 'DICOM header' })
    await header.waitFor({ timeout: 30_000 })
    assert.equal(await header.getByRole('row', { name: /Patient Name/ }).getByRole('cell').textContent(), 'CompressedSamples, CT1')
    assert.equal(await header.getByRole('row', { name: /^Modality/ }).getByRole('cell').textContent(), 'CT')
    assert.equal(await header.getByRole('row', { name: /Study Date/ }).getByRole('cell').textContent(), '2004-01-19')
    assert.equal(await header.getByRole('row', { name: /^Rows/ }).getByRole('cell').textContent(), '128')
    const canvas = patient.getByTestId('dicom-canvas')
    const levels = await canvas.evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data
      const grey = new Set<number>()
      for (let i = 0; i < d.length; i += 4) grey.add(d[i])
      return grey.size
    })
    assert.ok(levels > 100, `the CT slice is drawn (${levels} grey levels)`)
    await patient.getByText('Verified · SHA-256 matches').waitFor()
    await shot(patient, '08-patient-dicom-viewer')

    await patient.getByRole('button', { name: `View ${ccdaName}` }).click()
    const xml = patient.getByRole('region', { name: ccdaName }).locator('pre.viewer-text')
    await xml.waitFor({ timeout: 30_000 })
    const text = (await xml.textContent())!
    assert.match(text, /^<\?xml[^\n]*\n<ClinicalDocument/)
    assert.match(text, /\n  <title>/, 'indented two spaces per level')
    await patient.locator('.cda-summary').getByText('Sections:').waitFor()
    await shot(patient, '09-patient-ccda-viewer', { fullPage: false })

    await tab(patient, 'Access')
    const card = patient.locator('li.request').filter({ hasText: people.other.name })
    await card.getByText('Second opinion on the CT').waitFor()
    await card.getByRole('button', { name: 'Approve…' }).click()
    await card.getByLabel('Days of access').fill('7')
    await shot(patient, '10-patient-approve')
    await card.getByRole('button', { name: 'Approve access' }).click()
    await message(patient, `Approved: ${people.other.name} can read your records`)
    await patient.locator('li.grant').filter({ hasText: people.other.name }).waitFor()

    // The doctor's list follows the state by itself.
    await other.locator('tr[data-status="approved"]').waitFor({ timeout: 15_000 })
  })

  step('the other hospital\'s doctor views the record', async () => {
    await tab(other, 'Patients')
    await other.getByRole('row', { name: new RegExp(people.patient.name) }).getByText('granted until').waitFor()
    await other.getByRole('link', { name: `Open ${people.patient.name}` }).click()
    await other.getByText('Checked when opened').first().waitFor({ timeout: 30_000 })
    await other.getByRole('button', { name: 'View CT_small.dcm' }).click()
    const header = other.getByRole('table', { name: 'DICOM header' })
    await header.waitFor({ timeout: 30_000 })
    assert.equal(await header.getByRole('row', { name: /^Modality/ }).getByRole('cell').textContent(), 'CT')
    await other.getByTestId('dicom-canvas').waitFor()
    await shot(other, '11-other-doctor-views-record')
  })

  step('the patient revokes; the doctor can no longer open the record', async () => {
    const grant = patient.locator('li.grant').filter({ hasText: people.other.name })
    await grant.getByRole('button', { name: 'Revoke…' }).click()
    await grant.getByRole('button', { name: 'Revoke now' }).click()
    await message(patient, `${people.other.name} can no longer open your records`)
    await patient.getByText('Nobody has access through a request right now.').waitFor()
    await patient.locator('tr[data-status="revoked"]').waitFor()

    await other.getByRole('button', { name: 'Close' }).click()
    await other.getByRole('button', { name: 'View CT_small.dcm' }).click()
    await alert(other, 'No such record, or you may not see it.')
    await other.getByTestId('dicom-canvas').waitFor({ state: 'detached' })
    await shot(other, '12-other-doctor-after-revoke', { fullPage: false })
    await other.reload()
    await alert(other, 'No such patient in your hospital.')
  })

  step('after revoking, the patient is offered to re-key the records the grant covered, and does: same records, new ids', async () => {
    const before = (await api.json('GET', '/records?limit=100', undefined, await tokenOf(patient))).body.records as { recordId: string; fileName: string }[]
    const offer = patient.getByRole('region', { name: 'Re-key after revoking' })
    await offer.getByText(`${people.other.name} may still hold the keys of the ${before.length} records they could open`).waitFor()
    await shot(patient, '12b-patient-rekey-offer', { fullPage: false })
    await offer.getByRole('button', { name: `Re-key ${before.length} records` }).click()
    await message(patient, `Re-keyed ${before.length} records`)
    await offer.waitFor({ state: 'detached' })
    const after = (await api.json('GET', '/records?limit=100', undefined, await tokenOf(patient))).body.records as { recordId: string; fileName: string }[]
    assert.deepEqual(after.map((r) => r.fileName).sort(), before.map((r) => r.fileName).sort())
    assert.ok(after.every((r) => !before.some((b) => b.recordId === r.recordId)), 'every record has a new id')
    const old = await api.json('GET', `/records/${before[0]!.recordId}/meta`, undefined, await tokenOf(patient))
    assert.equal(old.status, 410)
    assert.equal(old.body.code, 'RECORD_SUPERSEDED')
  })

  step('break-glass: a clear warning, then the access is on the patient\'s timeline, highlighted, and in the admin\'s review', async () => {
    await tab(other, 'Patients')
    await other.getByRole('button', { name: 'Break the glass…' }).click()
    const warning = other.getByRole('note')
    await warning.getByText('before any key is released').waitFor()
    assert.match((await warning.textContent())!, /notified at once/)
    const glass = other.getByRole('region', { name: 'Emergency access (break-glass)' })
    await glass.getByLabel('Patient\'s e-mail').fill(people.patient.email)
    await glass.getByLabel('Reason').fill('Unconscious in A&E, suspected head injury')
    const open = glass.getByRole('button', { name: 'Open emergency access' })
    assert.equal(await open.isDisabled(), true, 'disabled until the warning is acknowledged')
    await glass.getByRole('checkbox', { name: /logged and that the patient is told/ }).check()
    await shot(other, '13-break-glass-warning')
    await open.click()
    await message(other, /Emergency access open until .* Ann Patient has been told/)

    await tab(patient, 'Who accessed my records')
    const emergencyItems = patient.locator('li.timeline-item.emergency')
    await emergencyItems.first().waitFor({ timeout: 30_000 })
    const texts = await emergencyItems.allTextContents()
    assert.ok(texts.some((t) => t.includes('Emergency access declared') && t.includes(people.other.name) && t.includes('Unconscious in A&E')), texts.join('\n'))
    await patient.locator('li.card.emergency').filter({ hasText: `${people.other.name} opened your records` }).waitFor()
    const reads = await patient.locator('li.timeline-item[data-event="AccessLogged"]').allTextContents()
    assert.ok(reads.some((t) => t.includes('Read under an approved request') && t.includes(people.other.name)), `the granted read is on the trail: ${reads.join(' / ')}`)
    assert.ok(await emergencyItems.first().evaluate((el) => getComputedStyle(el).backgroundColor !== 'rgba(0, 0, 0, 0)'), 'highlighted')
    await shot(patient, '14-patient-timeline')

    await tab(admin, 'Emergencies')
    await admin.locator('li.card.emergency').filter({ hasText: 'Unconscious in A&E' }).waitFor()
    await shot(admin, '15-admin-emergencies')
    await tab(admin, 'Audit trail')
    await admin.getByLabel('Patient e-mail, id or ledger address').fill(people.patient.email)
    await admin.getByRole('button', { name: 'Search' }).click()
    await admin.locator('li.timeline-item.emergency').first().waitFor({ timeout: 30_000 })
    await shot(admin, '16-admin-audit')
    await tab(admin, 'Node status')
    await admin.getByText('Records stored').waitFor()
    assert.equal(await admin.locator('.stat').filter({ hasText: 'Records stored' }).locator('.stat-value').textContent(), '2')
    await shot(admin, '17-admin-status')
  })

  step('the patient shares a record by link and code (the code shown once, never in a URL), and revokes it', async () => {
    await tab(patient, 'Sharing')
    await patient.getByRole('checkbox', { name: /CT_small\.dcm/ }).check()
    await patient.getByRole('button', { name: 'Create share' }).click()
    const box = patient.getByRole('textbox', { name: 'Share link and code' })
    await box.waitFor({ timeout: 30_000 })
    const text = await box.inputValue()
    const link = /Open (\S+)/.exec(text)![1]
    const code = /share code: (\S+)/.exec(text)![1]
    assert.ok(!link.includes(code))
    secrets.push(code)
    await shot(patient, '18-patient-share-created', { fullPage: false })
    await patient.getByRole('button', { name: 'I have saved it — hide it' }).click()
    assert.equal(await box.count(), 0, 'gone once dismissed')

    const stranger = await user()
    await stranger.goto(link)
    await stranger.getByLabel('Share code').fill(code)
    await stranger.getByRole('button', { name: 'Open' }).click()
    await stranger.getByRole('table', { name: 'DICOM header' }).waitFor({ timeout: 30_000 })
    await shot(stranger, '19-shared-record')

    await patient.locator('tr[data-share-id]').getByRole('button', { name: 'Revoke' }).click()
    await message(patient, 'The share is revoked.')
    await stranger.reload()
    await stranger.getByLabel('Share code').fill(code)
    await stranger.getByRole('button', { name: 'Open' }).click()
    await alert(stranger, 'This share link is not valid')
  })

  step('notifications; sign-out; a notification\'s link opens its page after signing in', async () => {
    await tab(patient, 'Notifications')
    await patient.locator('.mail li[data-kind]').first().waitFor()
    const kinds = await patient.locator('.mail li[data-kind]').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')))
    assert.ok(kinds.some((k) => k?.includes('emergency')), kinds.join(', '))
    await shot(patient, '20-patient-notifications')
    await patient.getByRole('button', { name: 'Sign out' }).click()
    await message(patient, 'You are signed out.')
    assert.equal(await patient.evaluate(() => sessionStorage.getItem('medledger.session')), null)
    // The links in notifications are short paths (/audit): after sign-in they open the right page.
    await patient.goto('/audit')
    await patient.getByRole('heading', { name: 'Sign in to MedLedger' }).waitFor()
    await patient.getByLabel('E-mail').fill(people.patient.email)
    await patient.getByLabel('Password').fill(people.patient.password)
    await patient.getByRole('button', { name: 'Sign in', exact: true }).click()
    await patient.getByRole('heading', { name: 'Who accessed my records' }).waitFor()
    assert.equal(new URL(patient.url()).pathname, '/patient/activity')
  })

  step('no token, password, recovery or share code ever appeared in a URL; no page broke the CSP or threw', () => {
    const all = Object.values(people).map((p) => p.password).concat(secrets.filter(Boolean))
    for (const url of requested) for (const s of all) assert.ok(!url.includes(s), `a secret appeared in ${url}`)
    assert.ok(requested.length > 50)
    const problems = users.flatMap((u) => u.problems)
    assert.deepEqual(problems, [])
    assert.deepEqual(accessibilityProblems, [], 'every control labelled, every image described, every button named')
  })
})
