// The record viewer in Chromium, for each kind of file a record can be: PDF and images from
// blob: URLs, JSON and XML pretty-printed, HL7 v2 and text as text, DICOM header and image,
// anything else offered for download only.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32, deflateSync } from 'node:zlib'
import type { Browser, Page } from 'playwright-core'
import { Api, cleanup, fixtures, seed, startNodeProcess, type NodeProcess } from '../helpers/node-process.ts'
import { accessibilityProblems, launchChromium, newUser, shot, signIn, type BrowserUser } from './browser.ts'

/** A small RGB PNG (a gradient), encoded here so the test needs no image file. */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const out = Buffer.alloc(12 + data.length)
    out.writeUInt32BE(data.length, 0)
    body.copy(out, 4)
    out.writeUInt32BE(crc32(body), 8 + data.length)
    return out
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8)
  const rows = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set([x * 4, y * 4, 160], y * (width * 3 + 1) + 1 + x * 3)
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))])
}

const pdf = Buffer.from('%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>endobj\n4 0 obj<</Length 47>>stream\nBT /F1 24 Tf 30 70 Td (Discharge letter) Tj ET\nendstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n')

describe('web portal: the record viewer, for every kind of record', { timeout: 120_000 }, () => {
  let node: NodeProcess
  let browser: Browser
  let world: Awaited<ReturnType<typeof seed>>
  let viewer: BrowserUser
  let page: Page

  before(async () => {
    browser = await launchChromium()
    node = await startNodeProcess()
    const api = new Api(node.url)
    world = await seed(api)
    const uploads: [string, Buffer, string][] = [
      ['letter.pdf', pdf, 'application/pdf'],
      ['wound.png', png(96, 64), 'image/png'],
      ['bundle.json', readFileSync(join(fixtures, 'fhir', 'hospitalInformation1603148702656.json')), 'application/fhir+json'],
      ['admission.hl7', readFileSync(join(fixtures, 'hl7v2', 'message1.hl7')), 'application/octet-stream'],
      ['note.txt', Buffer.from('Patient seen in clinic.\nNo change to medication.\n<script>document.title="pwned"</script>\n'), 'text/plain'],
      ['page.html', Buffer.from('<html><body><script>document.title="pwned"</script><h1>Not rendered</h1></body></html>'), 'text/html'],
      ['raw.bin', Buffer.from([0, 1, 2, 3, 255, 254, 0, 9]), 'application/octet-stream'],
      ['MR_small.dcm', readFileSync(join(fixtures, 'dicom', 'MR_small.dcm')), 'application/dicom'],
      ['ecg.dcm', readFileSync(join(fixtures, 'dicom', 'waveform_ecg.dcm')), 'application/dicom'],
    ]
    for (const [name, bytes, type] of uploads) {
      const r = await api.upload(world.doctor.token, world.patient.email, name, bytes, { 'content-type': type })
      assert.equal(r.status, 201, `${name}: ${JSON.stringify(r.body)}`)
    }
    viewer = await newUser(browser, node.url)
    page = viewer.page
    await signIn(page, world.patient.email, world.patient.password)
    await page.getByText('✓ Intact').nth(8).waitFor({ timeout: 30_000 })
  })
  after(async () => {
    await browser?.close()
    await node?.stop()
    if (node) cleanup(node.home)
  })

  const view = async (name: string) => {
    await page.getByRole('button', { name: `View ${name}` }).click()
    const region = page.getByRole('region', { name })
    await region.getByText(/Verified · SHA-256 matches|cannot be shown/).first().waitFor({ timeout: 30_000 })
    return region
  }

  it('a PDF is shown in the page by the browser\'s PDF viewer, from a blob: URL of type application/pdf', async () => {
    const region = await view('letter.pdf')
    const frame = region.locator('iframe.viewer-pdf')
    assert.match((await frame.getAttribute('src'))!, /^blob:/)
    await page.waitForTimeout(1500)
    await shot(page, 'viewer-pdf', { fullPage: false })
  })

  it('an image is shown from a blob: URL', async () => {
    const region = await view('wound.png')
    const img = region.getByRole('img', { name: 'The record\'s image' })
    assert.match((await img.getAttribute('src'))!, /^blob:/)
    assert.equal(await img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth), 96)
  })

  it('JSON is pretty-printed, HL7 v2 shows a segment per line, text stays text', async () => {
    let region = await view('bundle.json')
    assert.match((await region.locator('pre').textContent())!, /^\{\n {2}"resourceType": "Bundle",/)
    region = await view('admission.hl7')
    const hl7 = (await region.locator('pre').textContent())!.split('\n')
    assert.match(hl7[0], /^MSH\|/)
    assert.ok(hl7.length > 3)
    region = await view('note.txt')
    assert.match((await region.locator('pre').textContent())!, /<script>document.title="pwned"<\/script>/)
  })

  it('HTML is never rendered: it is shown as markup text and runs nothing', async () => {
    const region = await view('page.html')
    assert.match((await region.locator('pre').textContent())!, /<h1>Not rendered<\/h1>/)
    assert.equal(await page.getByRole('heading', { name: 'Not rendered' }).count(), 0)
    assert.equal(await page.title(), 'MedLedger')
  })

  it('a file that cannot be shown is offered for download, which saves the exact bytes', async () => {
    const region = await view('raw.bin')
    await region.getByText('This file cannot be shown in the page.').waitFor()
    const [download] = await Promise.all([page.waitForEvent('download'), region.getByRole('button', { name: 'Download' }).click()])
    assert.equal(download.suggestedFilename(), 'raw.bin')
    const saved = readFileSync((await download.path())!)
    assert.deepEqual([...saved], [0, 1, 2, 3, 255, 254, 0, 9])
  })

  it('DICOM: the MR slice is drawn with the file\'s window; the ECG waveform shows its header and says why there is no image', async () => {
    let region = await view('MR_small.dcm')
    await region.getByText('window 600 / 1600 (from the file)').waitFor()
    assert.equal(await region.getByRole('row', { name: /^Modality/ }).getByRole('cell').textContent(), 'MR')
    await shot(page, 'viewer-dicom-mr', { fullPage: false })
    region = await view('ecg.dcm')
    await region.getByText('This file holds a waveform, not an image.').waitFor()
    assert.equal(await region.getByRole('row', { name: /^Modality/ }).getByRole('cell').textContent(), 'ECG')
    assert.equal(await region.getByRole('row', { name: /SOP Class/ }).getByRole('cell').textContent(), '12-lead ECG Waveform Storage')
  })

  it('no page broke the CSP or threw; controls, images and buttons are named', () => {
    assert.deepEqual(viewer.problems, [])
    assert.deepEqual(accessibilityProblems, [])
  })
})
