// Builds the web portal (src/web → build/web) with Vite when the build is missing or older
// than its sources: `npm install` runs it, and so does `medledger start`, so a fresh clone
// never needs a separate step.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
export const webSourceDir = join(root, 'src', 'web')
export const webBuildDir = join(root, 'build', 'web')

/** Newest modification time of the portal's sources (tests excluded). */
function newestSource(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path))
    else if (!entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs)
  }
  return newest
}

/** True when build/web has no index.html or one older than a source file. */
export function webBuildIsStale(): boolean {
  const index = join(webBuildDir, 'index.html')
  if (!existsSync(index)) return true
  return statSync(index).mtimeMs < newestSource(webSourceDir)
}

/**
 * Builds the portal into a fresh directory, then swaps it in, so a node serving the old build
 * (or another process building at the same time) never sees a half-written one.
 */
export async function buildWeb({ log = () => {} }: { log?: (msg: string) => void } = {}): Promise<void> {
  const started = performance.now()
  const tmp = `${webBuildDir}.tmp-${process.pid}`
  const old = `${webBuildDir}.old-${process.pid}`
  mkdirSync(join(root, 'build'), { recursive: true })
  const { build } = await import('vite')
  await build({ configFile: join(webSourceDir, 'vite.config.ts'), build: { outDir: tmp, emptyOutDir: true }, logLevel: 'warn' })
  try {
    if (existsSync(webBuildDir)) renameSync(webBuildDir, old)
    renameSync(tmp, webBuildDir)
  } finally {
    rmSync(old, { recursive: true, force: true })
    rmSync(tmp, { recursive: true, force: true })
  }
  log(`built the web portal → build/web (${Math.round(performance.now() - started)} ms)`)
}

/**
 * Builds the portal when stale, in a child process (Vite's bundler keeps a few hundred MiB that
 * a long-running node should not carry). Answers the directory to serve, or null when there is
 * none: the API is then served without the portal.
 */
export async function ensureWebBuild({ log = () => {} }: { log?: (level: string, msg: string) => void } = {}): Promise<string | null> {
  if (!existsSync(webSourceDir)) return existsSync(join(webBuildDir, 'index.html')) ? webBuildDir : null
  try {
    if (webBuildIsStale()) {
      log('info', 'the web portal is older than its sources: building it')
      log('info', await runBuildScript())
    }
  } catch (err) {
    log('error', `the web portal could not be built: ${(err as Error).message}; the API is served without it`)
  }
  return existsSync(join(webBuildDir, 'index.html')) ? webBuildDir : null
}

function runBuildScript(): Promise<string> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, join(root, 'scripts', 'build-web.ts')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(out.trim() || `exit ${code}`))))
  })
}
