// Erasure requests in the portal (issue 13 item 3), in Chromium against a real node: the patient
// asks to erase two records from the Records tab; the hospital's staff see the requests on their
// Erasure requests tab, reject one with a reason (the record stays readable) and confirm the other
// (the record answers 410 RECORD_ERASED).
// Account recovery in the portal (issue 13 item 4), on the same node: staff A starts the recovery of
// a patient who lost every secret and sees the one-time code once; the admin and staff B see it
// proposed; staff B approves; the admin's stale Approve is refused as already approved; the patient
// sets a new password with the code on the recover page and reads their record.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Browser, Page } from 'playwright-core'
import { Api, cleanup, seed, startNodeProcess, testEnv, type NodeProcess } from '../helpers/node-process.ts'
import { accessibilityProblems, launchChromium, newUser, shot, signIn } from './browser.ts'

describe('web portal: erasure requests (the patient asks; the staff reject one and confirm another) and account recovery (staff start, a second staff member approves)', { timeout: 300_000 }, () => {
  let node: NodeProcess
  let browser: Browser
  let api: Api
  let a: Awaited<ReturnType<typeof seed>>
  const staff = { email: 'staff-erasure@example.org', password: 'staff-password-123' }
  const records: string[] = []
  const erasures: string[] = []

  const status = (page: Page, text: string | RegExp) => page.getByRole('status').filter({ hasText: text }).first().waitFor({ timeout: 30_000 })

  before(async () => {
    browser = await launchChromium()
    node = await startNodeProcess()
    api = new Api(node.url)
    a = await seed(api, { hospitalName: 'Erasure General', tag: 'e' })
    const r = await api.json('POST', '/users', { role: 'staff', hospital: a.hospital.id, email: staff.email, name: 'Sam Staff', password: staff.password }, a.admin)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    for (const name of ['keep.txt', 'erase.txt']) {
      const up = await api.upload(a.doctor.token, a.patient.email, name, Buffer.from(`contents of ${name}`))
      assert.equal(up.status, 201)
      records.push(up.body.recordId)
    }
  })
  after(async () => {
    await browser?.close()
    await node?.stop()
    if (node) cleanup(node.home)
  })

  it('the patient asks to erase two records from the Records tab; they read as before', { timeout: 120_000 }, async () => {
    const { page, problems } = await newUser(browser, node.url)
    await signIn(page, a.patient.email, a.patient.password)
    for (const [i, name, reason] of [[0, 'keep.txt', 'Please remove my old note'], [1, 'erase.txt', 'Recorded under the wrong name']] as const) {
      await page.getByLabel('Record to erase').selectOption(records[i]!)
      await page.getByLabel('Reason', { exact: true }).fill(reason)
      await page.getByRole('button', { name: 'Ask to erase' }).click()
      await status(page, `Your hospital was asked to erase ${name}`)
    }
    await page.getByRole('list', { name: 'My erasure requests' }).getByText('pending').nth(1).waitFor()
    await shot(page, 'erasure-patient-asks')
    const listed = (await api.json('GET', '/erasures', undefined, a.patient.token)).body.erasures as { erasureId: string; recordId: string }[]
    for (const id of records) erasures.push(listed.find((e) => e.recordId === id)!.erasureId)
    for (const id of records) assert.equal((await api.download(a.patient.token, id)).status, 200, 'reads as before until decided')
    assert.deepEqual(problems, [])
  })

  it('the staff reject one request with a reason and confirm the other from the Erasure requests tab', { timeout: 120_000 }, async () => {
    const { page, problems } = await newUser(browser, node.url)
    await signIn(page, staff.email, staff.password)
    await page.getByRole('navigation').getByRole('link', { name: 'Erasure requests', exact: true }).click()
    const [keep, erase] = erasures.map((id) => page.locator(`li[data-erasure-id="${id}"]`))
    await keep!.getByText('Reason: Please remove my old note').waitFor()
    await erase!.getByText('Reason: Recorded under the wrong name').waitFor()
    await shot(page, 'erasure-requests-staff')

    await keep!.getByRole('button', { name: `Reject the erasure for ${a.patient.name}` }).click()
    await keep!.getByLabel('Reason for rejecting').fill('Retention duty of ten years')
    await keep!.getByRole('button', { name: 'Reject request' }).click()
    await status(page, 'was rejected; the record stays')
    await keep!.getByText('Rejected because: Retention duty of ten years').waitFor()
    assert.equal((await api.download(a.patient.token, records[0]!)).status, 200, 'a rejected erasure leaves the record readable')

    await erase!.getByRole('button', { name: `Confirm the erasure for ${a.patient.name}` }).click()
    await status(page, 'is erased: its keys and blocks are destroyed on every node')
    await erase!.getByText('confirmed').first().waitFor()
    const gone = await api.download(a.patient.token, records[1]!)
    assert.equal(gone.status, 410)
    assert.equal(gone.json.code, 'RECORD_ERASED')
    await shot(page, 'erasure-requests-decided')
    assert.deepEqual(problems, [])
  })

  const lost = { email: 'lost-everything@example.org', name: 'Lou Lost', password: 'forgotten-password-1', newPassword: 'brand-new-password-2' }
  const staffB = { email: 'staff-b-recovery@example.org', name: 'Bea Second', password: 'staff-b-password-123' }
  let code = ''
  let recoveryId = ''

  it('staff A starts a recovery for a patient verified in person and sees the one-time code once, never stored or in a URL', { timeout: 120_000 }, async () => {
    const made = await api.json('POST', '/users', { role: 'patient', hospital: a.hospital.id, email: lost.email, name: lost.name, password: lost.password }, a.admin)
    assert.equal(made.status, 201, JSON.stringify(made.body))
    assert.equal((await api.json('POST', '/users', { role: 'staff', hospital: a.hospital.id, email: staffB.email, name: staffB.name, password: staffB.password }, a.admin)).status, 201)
    assert.equal((await api.upload(a.doctor.token, lost.email, 'before-the-loss.txt', Buffer.from('contents of before-the-loss.txt'))).status, 201)

    const { page, context, problems } = await newUser(browser, node.url)
    await context.grantPermissions(['clipboard-read', 'clipboard-write'])
    await signIn(page, staff.email, staff.password)
    await page.getByRole('navigation').getByRole('link', { name: 'Recoveries', exact: true }).click()
    await page.getByText('The patient must come in person').waitFor()
    const form = page.getByRole('form', { name: 'Start a recovery' })
    // An unknown patient: a readable refusal, and no recovery is started.
    await form.getByLabel('Patient', { exact: true }).fill('nobody-here@example.org')
    await form.getByLabel('Verified by ID').fill('Passport checked at the front desk')
    await form.getByLabel(/here in person/).check()
    await form.getByRole('button', { name: 'Start recovery' }).click()
    await form.getByRole('alert').getByText('No active patient of your hospital has that e-mail or id').waitFor()
    assert.deepEqual((await api.json('GET', '/recoveries', undefined, a.admin)).body.recoveries, [])

    await form.getByLabel('Patient', { exact: true }).fill(lost.email)
    await form.getByLabel(/here in person/).check()
    await form.getByRole('button', { name: 'Start recovery' }).click()
    await status(page, `The recovery of ${lost.name} is proposed on the ledger`)
    const shown = page.getByRole('textbox', { name: `One-time code for ${lost.name}` })
    code = await shown.inputValue()
    assert.ok(code.length >= 16, code)
    await page.getByText('Hand this code to the patient in person').waitFor()
    await page.getByRole('button', { name: 'Copy', exact: true }).click()
    await page.getByText('Copied to the clipboard.').waitFor()
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), code)
    const kept = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }) + location.href + document.cookie)
    assert.ok(!kept.includes(code), 'the code is in no storage, cookie or URL')
    const card = page.locator('li[data-recovery-id]').filter({ hasText: lost.name })
    await card.getByText('proposed').waitFor()
    await card.getByText('You started this recovery').waitFor()
    assert.equal(await card.getByRole('button', { name: 'Approve' }).isDisabled(), true, 'the proposer cannot approve')
    await shot(page, 'recovery-staff-code-once')
    recoveryId = (await card.getAttribute('data-recovery-id'))!

    await page.getByRole('button', { name: 'I have saved it — hide it' }).click()
    await shown.waitFor({ state: 'detached' })
    await page.reload()
    await page.locator(`li[data-recovery-id="${recoveryId}"]`).waitFor()
    assert.ok(!(await page.content()).includes(code), 'once hidden, the code is shown nowhere again')
    assert.ok((await api.login(lost.email, lost.password)).length > 0, 'until approved, the old password still works')
    assert.deepEqual(problems, [])
  })

  it('staff B approves (the admin\'s stale Approve then reads as already approved); the patient sets a new password with the code and reads their record', { timeout: 180_000 }, async () => {
    const admin = await newUser(browser, node.url)
    await signIn(admin.page, testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
    await admin.page.getByRole('navigation').getByRole('link', { name: 'Recoveries', exact: true }).click()
    const seenByAdmin = admin.page.locator(`li[data-recovery-id="${recoveryId}"]`)
    await seenByAdmin.getByText(/Started .* by Sam Staff/).waitFor()
    assert.equal(await admin.page.getByRole('form', { name: 'Start a recovery' }).count(), 0, 'the admin approves, staff start')

    const b = await newUser(browser, node.url)
    await signIn(b.page, staffB.email, staffB.password)
    await b.page.getByRole('navigation').getByRole('link', { name: 'Recoveries', exact: true }).click()
    const card = b.page.locator(`li[data-recovery-id="${recoveryId}"]`)
    await card.getByRole('button', { name: `Approve the recovery of ${lost.name}` }).click()
    await card.getByText('Approve only if the patient was verified in person').waitFor()
    await shot(b.page, 'recovery-staff-b-approves')
    await card.getByRole('button', { name: 'Confirm approval' }).click()
    await status(b.page, `The recovery of ${lost.name} is approved: 1 record(s) re-wrapped for the new key`)
    await card.getByText('approved', { exact: true }).waitFor()
    await card.getByText(`by ${staffB.name}`).waitFor()
    await card.getByText('Re-wrapped: 1 · Not re-wrapped (key split into shares): 0').waitFor()
    await shot(b.page, 'recovery-approved')
    const listed = (await api.json('GET', '/recoveries', undefined, a.admin)).body.recoveries as { recoveryId: string; state: string; proposedByName: string; approvedByName: string; rewrapped: number; notRewrapped: number }[]
    assert.deepEqual(listed.map((r) => [r.recoveryId, r.state, r.proposedByName, r.approvedByName, r.rewrapped, r.notRewrapped]), [[recoveryId, 'approved', 'Sam Staff', staffB.name, 1, 0]])

    await seenByAdmin.getByRole('button', { name: `Approve the recovery of ${lost.name}` }).click()
    await seenByAdmin.getByRole('button', { name: 'Confirm approval' }).click()
    await admin.page.getByRole('alert').getByText('This recovery is already approved').waitFor()
    await seenByAdmin.getByText('approved', { exact: true }).waitFor()
    await shot(admin.page, 'recovery-admin-already-approved')

    const patient = await newUser(browser, node.url)
    await patient.page.goto('/signin')
    await patient.page.getByRole('link', { name: 'Forgot your password?' }).click()
    await patient.page.getByText('enter here the one-time code they handed you').waitFor()
    await patient.page.getByLabel('E-mail').fill(lost.email)
    await patient.page.getByLabel('Recovery code').fill(code)
    await patient.page.getByLabel('New password', { exact: true }).fill(lost.newPassword)
    await patient.page.getByLabel('New password again').fill(lost.newPassword)
    await patient.page.getByRole('button', { name: 'Set new password' }).click()
    await patient.page.getByRole('textbox', { name: 'Your new recovery code' }).waitFor()
    await shot(patient.page, 'recovery-patient-new-password')
    await patient.page.getByRole('button', { name: 'I have saved it — hide it' }).click()
    await signIn(patient.page, lost.email, lost.newPassword)
    await patient.page.getByRole('button', { name: 'View before-the-loss.txt' }).click()
    await patient.page.getByText('contents of before-the-loss.txt').first().waitFor()
    await shot(patient.page, 'recovery-patient-reads')
    assert.equal((await api.json('POST', '/auth/login', { email: lost.email, password: lost.password }, null)).status, 401, 'the old password no longer opens the account')
    assert.deepEqual([...admin.problems, ...b.problems, ...patient.problems], [])
    assert.deepEqual(accessibilityProblems.filter((p) => p.startsWith('recovery-')), [])
  })
})
