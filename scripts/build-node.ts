// Compiles the node and the CLI (src/**/*.ts, without tests and without src/web, which Vite
// builds) to JavaScript in dist/, one .js file per .ts file, so bin/medledger.js starts without
// transpiling anything. Runs at npm install after the contracts (src/ledger/abis.ts is generated
// there) and before `npm test`; `--force` rebuilds even when dist/ is newer than every source.
//
// dist/ mirrors src/ at the same depth (src/cli/main.ts → dist/cli/main.js), so every path a
// module computes from its own location (the project root, build/contracts.json, build/web)
// stays right. The compiler is esbuild, the one tsx runs the sources with at test time (same
// transform, same semantics), resolved through tsx: it is a runtime dependency, so this also
// works after `npm install --omit=dev`.
import { existsSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))
const srcDir = join(root, 'src')
const distDir = join(root, 'dist')
/** Its modification time is when the build started: a source changed later makes dist/ stale. */
const stampPath = join(distDir, '.built')

/**
 * The sources dist/ is built from; bin/medledger.js applies the same rule when it checks that
 * dist/ is newer than them.
 */
function listSources(dir: string = srcDir): string[] {
  const files: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (path !== join(srcDir, 'web')) files.push(...listSources(path))
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) {
      files.push(path)
    }
  }
  return files
}

/** True when dist/ has no stamp or one older than a source file. */
function distIsStale(sources: string[]): boolean {
  if (!existsSync(stampPath)) return true
  const built = statSync(stampPath).mtimeMs
  return sources.some((path) => statSync(path).mtimeMs > built)
}

interface EsbuildPlugin {
  name: string
  setup(build: { onResolve(options: { filter: RegExp }, callback: (args: { path: string }) => { path: string; external: boolean }): void }): void
}
interface Esbuild {
  build(options: Record<string, unknown> & { plugins?: EsbuildPlugin[] }): Promise<{ warnings: { text: string }[] }>
}

/**
 * Compiles every source into a fresh directory, then swaps it in, so a CLI started meanwhile
 * finds either the old build, no build (it then runs the sources through tsx) or the new one.
 */
async function buildNode(sources: string[]): Promise<void> {
  const startedAt = new Date()
  const tmp = `${distDir}.tmp-${process.pid}`
  const old = `${distDir}.old-${process.pid}`
  const esbuild = createRequire(createRequire(import.meta.url).resolve('tsx'))('esbuild') as Esbuild
  // Every import stays an import: packages and node: built-ins as they are, our own modules with
  // .ts → .js, so each output file holds its own module only and is loaded only when imported.
  const keepImports: EsbuildPlugin = {
    name: 'keep-imports',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => ({ path: args.path.replace(/\.ts$/, '.js'), external: true }))
    },
  }
  try {
    const result = await esbuild.build({
      entryPoints: sources,
      outbase: srcDir,
      outdir: tmp,
      bundle: true,
      packages: 'external',
      plugins: [keepImports],
      platform: 'node',
      format: 'esm',
      // package.json's engines: the output runs on every Node the package accepts.
      target: 'node20.11',
      tsconfig: join(root, 'tsconfig.json'),
      sourcemap: true,
      logLevel: 'silent',
    })
    for (const warning of result.warnings) console.warn(`warning: ${warning.text}`)
    writeFileSync(join(tmp, '.built'), '')
    utimesSync(join(tmp, '.built'), startedAt, startedAt)
    if (existsSync(distDir)) renameSync(distDir, old)
    renameSync(tmp, distDir)
  } finally {
    rmSync(old, { recursive: true, force: true })
    rmSync(tmp, { recursive: true, force: true })
  }
}

try {
  const started = performance.now()
  const sources = listSources()
  if (process.argv.includes('--force') || distIsStale(sources)) {
    await buildNode(sources)
    console.log(`compiled ${sources.length} modules → ${relative(root, distDir)}/ (${Math.round(performance.now() - started)} ms)`)
  } else {
    console.log(`${relative(root, distDir)}/ is up to date`)
  }
} catch (err) {
  console.error(`the node could not be compiled: ${(err as Error).message}`)
  process.exitCode = 1
}
