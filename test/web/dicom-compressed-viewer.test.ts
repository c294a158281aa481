// The portal's DICOM viewer in Chromium on files it cannot draw as they are: a deflated file is
// inflated in the page and drawn; a compressed image (JPEG Lossless, made by DCMTK from the MR
// fixture at run time, as test/research/deidentify-dicom-compressed.test.ts does) shows its
// header and says why there is no image.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { Api, cleanup, fixtures, seed, startNodeProcess, type NodeProcess } from '../helpers/node-process.ts'
import { launchChromium, newUser, shot, signIn, type BrowserUser } from './browser.ts'

describe('web portal: compressed and deflated DICOM in the record viewer', { timeout: 240_000 }, () => {
  let node: NodeProcess
  let browser: Browser
  let viewer: BrowserUser
  let page: Page
  let dir: string

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'medledger-dicom-view-'))
    const mr = join(fixtures, 'dicom', 'MR_small.dcm')
    execFileSync('dcmconv', ['+td', mr, join(dir, 'deflated.dcm')])
    execFileSync('dcmcjpeg', ['+e1', mr, join(dir, 'jpeg.dcm')])
    browser = await launchChromium()
    node = await startNodeProcess()
    const api = new Api(node.url)
    const world = await seed(api)
    for (const name of ['deflated.dcm', 'jpeg.dcm']) {
      const r = await api.upload(world.doctor.token, world.patient.email, name, readFileSync(join(dir, name)), { 'content-type': 'application/dicom' })
      assert.equal(r.status, 201, `${name}: ${JSON.stringify(r.body)}`)
    }
    viewer = await newUser(browser, node.url)
    page = viewer.page
    await signIn(page, world.patient.email, world.patient.password)
    await page.getByText('✓ Intact').nth(1).waitFor({ timeout: 60_000 })
  })
  after(async () => {
    await browser?.close()
    await node?.stop()
    if (node) cleanup(node.home)
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const view = async (name: string) => {
    await page.getByRole('button', { name: `View ${name}` }).click()
    const region = page.getByRole('region', { name })
    await region.getByText(/Verified · SHA-256 matches|cannot be shown/).first().waitFor({ timeout: 30_000 })
    return region
  }

  it('a deflated file is inflated in the page: its header and its image, with the file\'s window', async () => {
    const region = await view('deflated.dcm')
    await region.getByText('window 600 / 1600 (from the file)').waitFor({ timeout: 30_000 })
    assert.equal(await region.getByRole('row', { name: /^Modality/ }).getByRole('cell').textContent(), 'MR')
    assert.match((await region.getByRole('row', { name: /Transfer Syntax/ }).getByRole('cell').textContent())!, /Deflated Explicit VR Little Endian/)
    await shot(page, 'viewer-dicom-deflated', { fullPage: false })
  })

  it('a JPEG Lossless image shows its header and says it is compressed, to be downloaded', async () => {
    const region = await view('jpeg.dcm')
    await region.getByText(/The image is compressed \(JPEG Lossless SV1\); download the file/).waitFor({ timeout: 30_000 })
    assert.equal(await region.getByRole('row', { name: /^Modality/ }).getByRole('cell').textContent(), 'MR')
  })

  it('no page broke the CSP or threw', () => {
    assert.deepEqual(viewer.problems, [])
  })
})
