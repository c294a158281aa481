#!/usr/bin/env node
// Runs the JavaScript that `npm install` compiled into dist/ (scripts/build-node.ts). When dist/
// is missing or older than a source file (someone is editing src/), it runs the TypeScript
// sources through tsx instead, so what runs is always the current code: slower to start, and
// said so in one line on stderr. `npm run build:node` (or `npm test`) compiles again.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))
const src = join(root, 'src')
const web = join(src, 'web')

/** True when a source file (src/**\/*.ts, tests and src/web aside: as scripts/build-node.ts) is newer than `builtMs`. */
function changedSince(dir, builtMs) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (path !== web && changedSince(path, builtMs)) return true
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts') && statSync(path).mtimeMs > builtMs) {
      return true
    }
  }
  return false
}

function compiledIsCurrent() {
  const stamp = join(root, 'dist', '.built')
  if (!existsSync(stamp)) return false
  // An installed package without its sources runs what was compiled.
  return !existsSync(src) || !changedSince(src, statSync(stamp).mtimeMs)
}

if (compiledIsCurrent()) {
  const { run } = await import('../dist/cli/main.js')
  run()
} else {
  process.stderr.write('medledger: dist/ is missing or older than src/: running the sources through tsx (`npm run build:node` compiles them)\n')
  const { register } = await import('tsx/esm/api')
  register()
  const { run } = await import('../src/cli/main.ts')
  run()
}
