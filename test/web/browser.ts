// Chromium for the portal tests: Debian's /usr/bin/chromium driven by playwright-core. A
// missing browser fails the tests (CI installs it, see .ci/run); it never skips them.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { root } from '../helpers/node-process.ts'

export const chromiumPath = process.env.MEDLEDGER_CHROMIUM ?? '/usr/bin/chromium'
export const artifacts = join(root, 'test-artifacts', 'web')

/** Launches headless Chromium with a fresh profile. */
export async function launchChromium(): Promise<Browser> {
  assert.ok(existsSync(chromiumPath), `Chromium is missing at ${chromiumPath}: install it (apt-get install -y chromium) or set MEDLEDGER_CHROMIUM. The portal tests do not skip without it.`)
  mkdirSync(artifacts, { recursive: true })
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // launch() gives every run a fresh temporary profile (user-data-dir), removed on close.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  })
}

/** A browser user: an isolated context (its own sessionStorage) and page, recording CSP violations and script errors. */
export interface BrowserUser { context: BrowserContext; page: Page; problems: string[] }

export async function newUser(browser: Browser, baseURL: string): Promise<BrowserUser> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 860 }, locale: 'en-GB', timezoneId: 'UTC' })
  context.setDefaultTimeout(20_000)
  const page = await context.newPage()
  const problems: string[] = []
  page.on('console', (m) => { if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`) })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  return { context, page, problems }
}

/** Signs in through the portal's form and waits for the portal to open. */
export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/signin')
  await page.getByLabel('E-mail').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
}

/** Accessibility problems found on the pages screenshotted so far. */
export const accessibilityProblems: string[] = []

/**
 * Saves a screenshot, and checks the page the way a screen reader meets it: every form control
 * has a label, every image a text alternative, every button and link a name.
 */
export async function shot(page: Page, name: string, { fullPage = true }: { fullPage?: boolean } = {}): Promise<void> {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage })
  // No named inner functions here: tsx would wrap them in a helper that the page does not have.
  const problems = await page.evaluate(() => {
    const found: string[] = []
    for (const el of document.querySelectorAll('input, select, textarea')) {
      const c = el as HTMLInputElement
      if (c.type !== 'hidden' && !c.labels?.length && !c.getAttribute('aria-label') && !c.getAttribute('aria-labelledby')) found.push(`control without a label: ${el.outerHTML.slice(0, 120)}`)
    }
    for (const el of document.querySelectorAll('img')) if (!el.hasAttribute('alt')) found.push(`image without alt: ${el.outerHTML.slice(0, 120)}`)
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (!(el.textContent ?? '').trim() && !el.getAttribute('aria-label') && !el.querySelector('img[alt]:not([alt=""])')) found.push(`unnamed ${el.tagName.toLowerCase()}: ${el.outerHTML.slice(0, 120)}`)
    }
    if (!document.querySelector('h1, h2')) found.push('no heading')
    return found
  })
  accessibilityProblems.push(...problems.map((p) => `${name}: ${p}`))
}
