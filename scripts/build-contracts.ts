// Compiles contracts/*.sol into build/contracts.json and regenerates src/ledger/abis.ts.
// Runs as the package's postinstall; `--force` recompiles even when nothing changed.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { isAppError } from '../src/errors.ts'
import {
  abiModulePath,
  buildContracts,
  projectRoot,
  renderAbiModule,
  writeFileAtomic,
} from '../src/ledger/compile-contracts.ts'

try {
  const started = performance.now()
  const { artifacts, written, path } = buildContracts({
    force: process.argv.includes('--force'),
    onWarning: (message) => console.warn(message),
  })
  const names = Object.keys(artifacts.contracts).join(', ')
  const where = relative(projectRoot, path)
  console.log(
    written
      ? `compiled ${names} with solc ${artifacts.solcVersion} → ${where} (${Math.round(performance.now() - started)} ms)`
      : `${where} is up to date (${names})`,
  )

  const abiPath = abiModulePath()
  const module = renderAbiModule(artifacts)
  let current = ''
  try {
    current = readFileSync(abiPath, 'utf8')
  } catch {
    // not generated yet
  }
  if (current !== module) {
    writeFileAtomic(abiPath, module)
    console.log(`wrote ${relative(projectRoot, abiPath)}`)
  }
} catch (err) {
  if (isAppError(err, 'CONTRACT_BUILD_FAILED')) {
    console.error(`${err.message}\n${err.details ?? ''}`)
  } else {
    console.error(err)
  }
  process.exitCode = 1
}
