// Erasure requests in the portal (issue 13 item 3), in Chromium against a real node: the patient
// asks to erase two records from the Records tab; the hospital's staff see the requests on their
// Erasure requests tab, reject one with a reason (the record stays readable) and confirm the other
// (the record answers 410 RECORD_ERASED).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Browser, Page } from 'playwright-core'
import { Api, cleanup, seed, startNodeProcess, type NodeProcess } from '../helpers/node-process.ts'
import { launchChromium, newUser, shot, signIn } from './browser.ts'

describe('web portal: erasure requests (the patient asks; the staff reject one and confirm another)', { timeout: 300_000 }, () => {
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
})
