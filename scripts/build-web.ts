// Builds the web portal with Vite (src/web → build/web). Runs at npm install, after the
// contracts; `--force` rebuilds even when the build is newer than its sources.
import { buildWeb, webBuildIsStale } from '../src/cli/web-build.ts'

try {
  if (process.argv.includes('--force') || webBuildIsStale()) await buildWeb({ log: (m) => console.log(m) })
  else console.log('build/web is up to date')
} catch (err) {
  console.error(`the web portal could not be built: ${(err as Error).message}`)
  process.exitCode = 1
}
