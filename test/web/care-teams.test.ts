// Care teams in the portal (issue 13 item 5), in Chromium against a real node: the hospital's
// staff create a team and add a doctor, the patient grants the team and revokes the grant, the
// staff remove the member.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { Api, cleanup, seed, startNodeProcess, type NodeProcess } from '../helpers/node-process.ts'
import { launchChromium, newUser, shot, signIn } from './browser.ts'

describe('web portal: care teams (staff make a team, the patient grants and revokes it)', { timeout: 300_000 }, () => {
  let node: NodeProcess
  let browser: Browser
  let api: Api
  let a: Awaited<ReturnType<typeof seed>>
  let recordId = ''
  const staff = { email: 'staff-teams@example.org', password: 'staff-password-123' }
  const ward = { name: 'Wendy Ward', email: 'wendy@example.org', password: 'doctor-password-123', token: '' }

  const status = (page: Page, text: string | RegExp) => page.getByRole('status').filter({ hasText: text }).first().waitFor({ timeout: 30_000 })
  const tab = (page: Page) => page.getByRole('navigation').getByRole('link', { name: 'Care teams', exact: true }).click()
  const teamId = async () => ((await api.json('GET', '/teams', undefined, a.admin)).body.teams as { teamId: string }[])[0]?.teamId

  before(async () => {
    browser = await launchChromium()
    node = await startNodeProcess()
    api = new Api(node.url)
    a = await seed(api, { hospitalName: 'Teams General', tag: 't' })
    const r = await api.json('POST', '/users', { role: 'staff', hospital: a.hospital.id, email: staff.email, name: 'Sam Staff', password: staff.password }, a.admin)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    const d = await api.json('POST', '/users', { role: 'doctor', hospital: a.hospital.id, email: ward.email, name: ward.name, password: ward.password }, a.admin)
    assert.equal(d.status, 201, JSON.stringify(d.body))
    ward.token = await api.login(ward.email, ward.password)
    const up = await api.upload(a.doctor.token, a.patient.email, 'note.txt', randomBytes(500))
    assert.equal(up.status, 201)
    recordId = up.body.recordId
  })
  after(async () => {
    await browser?.close()
    await node?.stop()
    if (node) cleanup(node.home)
  })

  it('the staff create a team and add a doctor from the Care teams tab', { timeout: 120_000 }, async () => {
    const { page, problems } = await newUser(browser, node.url)
    await signIn(page, staff.email, staff.password)
    await tab(page)
    await page.getByLabel('Team name').fill('Cardiology ward')
    await page.getByRole('button', { name: 'Create team' }).click()
    await status(page, 'Team Cardiology ward is on the ledger')
    await page.getByLabel('Add a doctor to Cardiology ward').selectOption({ label: ward.name })
    await page.getByRole('button', { name: 'Add to team' }).click()
    await status(page, `${ward.name} joined Cardiology ward`)
    await page.getByRole('list', { name: 'Members of Cardiology ward' }).getByText(ward.name).waitFor()
    await shot(page, 'care-teams-staff')
    assert.deepEqual(problems, [])
  })

  it('the patient grants the team from the portal (the member then reads), and revokes it (then not)', { timeout: 120_000 }, async () => {
    assert.equal((await api.download(ward.token, recordId)).status, 404, 'not granted yet')
    const { page, problems } = await newUser(browser, node.url)
    await signIn(page, a.patient.email, a.patient.password)
    await tab(page)
    const card = page.locator(`li[data-team="${await teamId()}"]`)
    await card.getByText('Not granted').waitFor()
    await card.getByRole('button', { name: 'Grant Cardiology ward' }).click()
    await status(page, 'Cardiology ward may read your records until')
    await card.getByText(/Granted until/).waitFor()
    await shot(page, 'care-teams-patient')
    assert.equal((await api.download(ward.token, recordId)).status, 200, 'the member reads under the team grant')
    const listed = (await api.json('GET', '/teams', undefined, a.patient.token)).body.teams as { grantExpiresAt: string | null }[]
    assert.ok(listed[0]?.grantExpiresAt)
    await card.getByRole('button', { name: 'Revoke Cardiology ward' }).click()
    await status(page, 'Cardiology ward can no longer read your records')
    await card.getByText('Not granted').waitFor()
    assert.equal((await api.download(ward.token, recordId)).status, 404, 'revoked: the member reads nothing')
    assert.deepEqual(problems, [])
  })

  it('the staff remove the member: the team gets a new key', { timeout: 120_000 }, async () => {
    const { page, problems } = await newUser(browser, node.url)
    await signIn(page, staff.email, staff.password)
    await tab(page)
    await page.getByRole('button', { name: `Remove ${ward.name}` }).click()
    await status(page, `${ward.name} left Cardiology ward; the team has a new key`)
    await page.getByText('key epoch 2').waitFor()
    assert.deepEqual(problems, [])
  })
})
