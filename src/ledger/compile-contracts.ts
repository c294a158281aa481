import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, renameSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Abi, Hex } from 'viem'
import { AppError } from '../errors.ts'

/** The project root: the directory holding `contracts/` and `build/`. */
export const projectRoot = fileURLToPath(new URL('../../', import.meta.url))

// The compiler and the libraries are this package's dependencies, whatever `root` is compiled.
const require = createRequire(import.meta.url)

/** Compiler settings, pinned: `cancun` so the bytecode also runs on consortium chains (Besu, geth). */
export const compilerSettings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  viaIR: true,
} as const

export interface ContractArtifact {
  abi: Abi
  /** Creation bytecode; `0x` for an interface. */
  bytecode: Hex
  /** Runtime bytecode, as `eth_getCode` returns it after deployment; `0x` for an interface. */
  deployedBytecode: Hex
}

/** What `build/contracts.json` holds. */
export interface Artifacts {
  solcVersion: string
  /** SHA-256 over the sources, the compiler version and the settings: equal hash, equal output. */
  sourcesHash: string
  /** One entry per contract or interface defined in `contracts/*.sol`, by contract name. */
  contracts: Record<string, ContractArtifact>
}

export interface CompileContractsParams {
  /** Project root; defaults to this checkout. */
  root?: string
  /** Receives each compiler warning, formatted. */
  onWarning?: (message: string) => void
}

export interface BuildContractsParams extends CompileContractsParams {
  /** Compile and write even when `build/contracts.json` matches the sources. */
  force?: boolean
}

export interface BuildContractsResult {
  artifacts: Artifacts
  /** False when the existing file already matched the sources and was left alone. */
  written: boolean
  path: string
}

/** Path of the artifacts file under `root`. */
export function artifactsPath(root: string = projectRoot): string {
  return join(root, 'build', 'contracts.json')
}

/** The `contracts/*.sol` sources under `root`, keyed by source unit name (`contracts/X.sol`). */
export function readContractSources(root: string = projectRoot): Record<string, string> {
  const dir = join(root, 'contracts')
  const sources: Record<string, string> = {}
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sol')).sort()) {
    sources[`contracts/${file}`] = readFileSync(join(dir, file), 'utf8')
  }
  return sources
}

/** Hash of what determines the compiler output, without loading the compiler. */
export function hashContractSources(root: string = projectRoot): string {
  const versions = ['solc', '@openzeppelin/contracts'].map(
    (name) => `${name}@${(require(`${name}/package.json`) as { version: string }).version}`,
  )
  const hash = createHash('sha256')
  hash.update(JSON.stringify({ versions, compilerSettings }))
  for (const [name, content] of Object.entries(readContractSources(root))) {
    hash.update(`\0${name}\0${content}`)
  }
  return hash.digest('hex')
}

interface SolcMessage {
  severity: 'error' | 'warning' | 'info'
  formattedMessage?: string
  message: string
}

interface SolcOutput {
  errors?: SolcMessage[]
  contracts?: Record<string, Record<string, {
    abi: Abi
    evm: { bytecode: { object: string }; deployedBytecode: { object: string } }
  }>>
}

/**
 * Compiles every `contracts/*.sol` with the `solc` npm package (standard JSON, optimizer on,
 * evmVersion pinned), resolving `@openzeppelin/...` imports from `node_modules`.
 * @throws AppError `CONTRACT_BUILD_FAILED` with the compiler's messages in `details`.
 */
export function compileContracts({ root = projectRoot, onWarning }: CompileContractsParams = {}): Artifacts {
  // Loaded here, not at module load: the compiler is ~10 MB of wasm and most runs never need it.
  const solc = require('solc') as { version(): string; compile(input: string, callbacks: object): string }

  const sources = readContractSources(root)
  const names = Object.keys(sources)
  if (names.length === 0) {
    throw new AppError('CONTRACT_BUILD_FAILED', { details: `no contracts/*.sol under ${root}` })
  }

  const findImports = (path: string): { contents: string } | { error: string } => {
    // Only the pinned library may be imported from outside contracts/.
    if (!path.startsWith('@openzeppelin/') || path.includes('..')) return { error: `import not allowed: ${path}` }
    try {
      const file = require.resolve(path)
      return { contents: readFileSync(file, 'utf8') }
    } catch {
      return { error: `not found in node_modules: ${path}` }
    }
  }

  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(names.map((name) => [name, { content: sources[name] }])),
    settings: {
      ...compilerSettings,
      outputSelection: Object.fromEntries(
        names.map((name) => [name, { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] }]),
      ),
    },
  }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports })) as SolcOutput

  const messages = output.errors ?? []
  const errors = messages.filter((m) => m.severity === 'error')
  if (errors.length > 0) {
    throw new AppError('CONTRACT_BUILD_FAILED', {
      details: errors.map((m) => m.formattedMessage ?? m.message).join('\n'),
    })
  }
  for (const m of messages) if (m.severity === 'warning') onWarning?.(m.formattedMessage ?? m.message)

  const contracts: Record<string, ContractArtifact> = {}
  for (const name of names) {
    for (const [contractName, c] of Object.entries(output.contracts?.[name] ?? {})) {
      if (contracts[contractName]) {
        throw new AppError('CONTRACT_BUILD_FAILED', { details: `contract name ${contractName} is defined twice` })
      }
      contracts[contractName] = {
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
      }
    }
  }
  return { solcVersion: solc.version(), sourcesHash: hashContractSources(root), contracts }
}

/** Reads `build/contracts.json`, or undefined when it is missing or unreadable. */
export function readArtifactsFile(path: string): Artifacts | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Artifacts>
    if (typeof parsed.sourcesHash !== 'string' || typeof parsed.contracts !== 'object' || !parsed.contracts) return undefined
    return parsed as Artifacts
  } catch {
    return undefined
  }
}

/** Writes `data` to `path` through a temporary file and a rename, so readers never see half a file. */
export function writeFileAtomic(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`
  writeFileSync(tmp, data)
  renameSync(tmp, path)
}

/**
 * Compiles the contracts and writes `build/contracts.json`, unless the file already matches the
 * sources (same hash) and `force` is not set.
 * @throws AppError `CONTRACT_BUILD_FAILED` when the compiler reports errors.
 */
export function buildContracts({ root = projectRoot, onWarning, force = false }: BuildContractsParams = {}): BuildContractsResult {
  const path = artifactsPath(root)
  if (!force && existsSync(path)) {
    const existing = readArtifactsFile(path)
    if (existing && existing.sourcesHash === hashContractSources(root)) return { artifacts: existing, written: false, path }
  }
  const artifacts = compileContracts({ root, onWarning })
  writeFileAtomic(path, `${JSON.stringify(artifacts, null, 2)}\n`)
  return { artifacts, written: true, path }
}

/** The TypeScript module of typed ABIs (`as const`) for the deployable contracts. */
export function renderAbiModule(artifacts: Artifacts): string {
  const lines = [
    '// Generated by scripts/build-contracts.ts from contracts/*.sol. Do not edit: run `npm run build:contracts`.',
    '// test/contracts.test.ts fails when this file no longer matches the compiled contracts.',
    '',
  ]
  for (const [name, c] of Object.entries(artifacts.contracts).sort(([a], [b]) => a.localeCompare(b))) {
    if (c.bytecode === '0x') continue // interfaces: their contracts' ABIs include them
    const id = `${name[0]!.toLowerCase()}${name.slice(1)}Abi`
    lines.push(`export const ${id} = ${JSON.stringify(c.abi, null, 2)} as const`, '')
  }
  return lines.join('\n')
}

/** Path of the generated ABI module under `root`. */
export function abiModulePath(root: string = projectRoot): string {
  return join(root, 'src', 'ledger', 'abis.ts')
}

