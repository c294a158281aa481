import { existsSync } from 'node:fs'
import {
  artifactsPath,
  buildContracts,
  hashContractSources,
  projectRoot,
  readArtifactsFile,
  type Artifacts,
  type ContractArtifact,
} from './compile-contracts.ts'

export type { Artifacts, ContractArtifact }

export interface LoadArtifactsParams {
  /** Project root holding `contracts/` and `build/`; defaults to this checkout. */
  root?: string
}

/**
 * Loads the compiled contracts from `build/contracts.json`, compiling in-process (and rewriting
 * the file) when it is missing or does not match `contracts/*.sol`, the compiler or its settings.
 * Staleness is decided by a hash of the sources rather than file times, which a checkout or a
 * copy does not preserve.
 * @throws AppError `CONTRACT_BUILD_FAILED` when the contracts must be compiled and fail to.
 */
export function loadArtifacts({ root = projectRoot }: LoadArtifactsParams = {}): Artifacts {
  const path = artifactsPath(root)
  if (existsSync(path)) {
    const existing = readArtifactsFile(path)
    if (existing && existing.sourcesHash === hashContractSources(root)) return existing
  }
  return buildContracts({ root, force: true }).artifacts
}
