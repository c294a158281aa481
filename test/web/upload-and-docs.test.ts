// In Chromium against a real node: a doctor uploads a FHIR bundle (.json) through the portal's
// file input, with the browser's own media type; and the API docs page renders its operations
// under the same Content-Security-Policy and frame protection as the portal.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { Browser } from 'playwright-core'
import { Api, cleanup, fixtures, seed, startNodeProcess, type NodeProcess } from '../helpers/node-process.ts'
import { docsCsp, portalCsp } from '../../src/api/build-app.ts'
import { launchChromium, newUser, signIn, type BrowserUser } from './browser.ts'

const fhirFile = join(fixtures, 'fhir', 'Cris921_Rath779_d4519c92-d241-b2b2-7360-291d60be699e.json')

describe('web portal: any media type uploads; the API docs page runs under the portal\'s CSP', { timeout: 180_000 }, () => {
  let node: NodeProcess
  let api: Api
  let browser: Browser
  let world: Awaited<ReturnType<typeof seed>>
  const users: BrowserUser[] = []

  before(async () => {
    browser = await launchChromium()
    node = await startNodeProcess()
    api = new Api(node.url)
    world = await seed(api)
  })
  after(async () => {
    await browser?.close()
    await node?.stop()
    if (node) cleanup(node.home)
  })

  it('the doctor uploads a FHIR bundle .json through the file input; it is stored as application/json, reads back byte for byte, and its FHIR view shows its DocumentReference', async () => {
    const doctor = await newUser(browser, node.url)
    users.push(doctor)
    const page = doctor.page
    // A record the doctor wrote makes the patient one of theirs (a care relationship).
    const first = await api.upload(world.doctor.token, world.patient.email, 'admission.hl7', readFileSync(join(fixtures, 'hl7v2', 'message1.hl7')), { 'content-type': 'x-application/hl7-v2+er7' })
    assert.equal(first.status, 201, JSON.stringify(first.body))
    await signIn(page, world.doctor.email, world.doctor.password)
    await page.getByRole('link', { name: `Open ${world.patient.name}` }).click()
    await page.getByRole('heading', { name: world.patient.name, exact: true }).waitFor()
    await page.getByLabel('Files').setInputFiles(fhirFile)
    await page.getByRole('button', { name: 'Upload', exact: true }).click()
    await page.locator(`li[data-upload="${basename(fhirFile)}"][data-phase="done"]`).waitFor({ timeout: 60_000 })

    const listed = await api.json('GET', `/records?patient=${world.patient.id}`, undefined, world.doctor.token)
    assert.equal(listed.status, 200)
    const record = listed.body.records.find((r: { fileName: string }) => r.fileName === basename(fhirFile))
    assert.ok(record, 'the upload is listed')
    assert.equal(record.mediaType, 'application/json', 'the browser\'s own type for a .json file')
    const got = await api.download(world.patient.token, record.recordId)
    assert.equal(got.status, 200)
    assert.equal(got.headers.get('content-type'), 'application/json')
    assert.ok(got.bytes.equals(readFileSync(fhirFile)), 'read back byte for byte')

    await page.getByRole('button', { name: `View ${basename(fhirFile)}` }).click()
    const region = page.getByRole('region', { name: basename(fhirFile) })
    await region.getByText('Verified · SHA-256 matches').first().waitFor({ timeout: 30_000 })
    assert.match((await region.locator('pre').textContent())!, /^\{\n {2}"resourceType": "Bundle",/)

    // The record's FHIR view (issue 11): its DocumentReference, read with the session in a header, never in a URL.
    const urls: string[] = []
    page.on('request', (r) => urls.push(r.url()))
    await page.getByRole('button', { name: `FHIR view of ${basename(fhirFile)}` }).click()
    const fhirView = page.locator('pre[data-fhir-resource="DocumentReference"]')
    await fhirView.waitFor({ timeout: 30_000 })
    const shown = JSON.parse((await fhirView.textContent())!)
    assert.equal(shown.resourceType, 'DocumentReference')
    assert.equal(shown.id, record.recordId.slice(2))
    assert.equal(shown.content[0].attachment.title, basename(fhirFile))
    assert.ok(urls.some((u) => u.endsWith(`/fhir/R4/DocumentReference/${record.recordId.slice(2)}`)), urls.join('\n'))
    const session = JSON.parse((await page.evaluate(() => sessionStorage.getItem('medledger.session')))!) as { token: string }
    assert.ok(!urls.some((u) => u.includes(session.token)), 'no session token in a URL')
    assert.deepEqual(doctor.problems, [])
  })

  it('the API docs page has the portal\'s CSP, X-Frame-Options DENY and COOP, and still renders every operation', async () => {
    // The portal's policy, but for one inline <style> of swagger-ui allowed by its hash.
    assert.equal(docsCsp.replace(/ 'sha256-[A-Za-z0-9+/=]+'/, ''), portalCsp)
    for (const path of ['/api/v1/docs', '/api/v1/docs/', '/api/v1/docs/static/swagger-initializer.js']) {
      const res = await fetch(`${node.url}${path}`, { redirect: 'manual' })
      assert.ok(res.status === 200 || res.status === 302, `${path}: ${res.status}`)
      assert.equal(res.headers.get('content-security-policy'), docsCsp, path)
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path)
      assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin', path)
      await res.arrayBuffer()
    }
    const reader = await newUser(browser, node.url)
    users.push(reader)
    const page = reader.page
    const external: string[] = []
    page.on('request', (r) => { if (!r.url().startsWith(node.url)) external.push(r.url()) })
    await page.goto('/api/v1/docs/')
    await page.locator('.opblock-summary-path[data-path="/api/v1/records"]').first().waitFor({ timeout: 30_000 })
    const doc = await (await fetch(`${node.url}/api/v1/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> }
    const operations = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0)
    assert.equal(await page.locator('.opblock').count(), operations, 'one block per operation')
    await page.locator('.opblock-post .opblock-summary-path[data-path="/api/v1/records"]').click()
    await page.getByText('X-Medledger-Patient').first().waitFor()
    assert.deepEqual(reader.problems, [], 'no CSP violation, no script error')
    assert.deepEqual(external, [], 'the page reaches only this node')
  })
})
